package acrtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const allScopes = "repository:hello:pull,push,delete"

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// seedBlob stores content in the blob store and links it into repo, as a
// completed upload would, without depending on the upload handlers.
func seedBlob(t *testing.T, srv *Server, repo string, content []byte) string {
	t.Helper()
	d := sha256Digest(content)
	require.NoError(t, srv.state.blobs.put(d, content))
	srv.state.mu.Lock()
	srv.state.repo(repo, true, srv.now()).Blobs[d] = int64(len(content))
	srv.state.mu.Unlock()
	return d
}

type testDesc struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Platform     map[string]string `json:"platform,omitempty"`
}

// imageManifest seeds a config and layers into repo and returns the JSON
// of a manifest of mediaType referencing them.
func imageManifest(t *testing.T, srv *Server, repo, mediaType, configType string, config []byte, layers ...[]byte) []byte {
	t.Helper()
	doc := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaType,
		"config":        testDesc{MediaType: configType, Digest: seedBlob(t, srv, repo, config), Size: int64(len(config))},
	}
	ls := []testDesc{}
	for _, l := range layers {
		ls = append(ls, testDesc{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: seedBlob(t, srv, repo, l), Size: int64(len(l))})
	}
	doc["layers"] = ls
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return b
}

func ociImage(t *testing.T, srv *Server, repo string, layers ...string) []byte {
	t.Helper()
	var bs [][]byte
	for _, l := range layers {
		bs = append(bs, []byte(l))
	}
	return imageManifest(t, srv, repo, mediaTypeOCIManifest, mediaTypeOCIConfig, []byte(`{"architecture":"amd64","os":"linux"}`), bs...)
}

func putManifestHTTP(t *testing.T, srv *Server, token, repo, ref, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return do(t, srv, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, token, bytes.NewReader(body), h)
}

func acceptHeader(values ...string) http.Header {
	return http.Header{"Accept": values}
}

type wireError struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail"`
}

func decodeWireError(t *testing.T, resp *http.Response, body []byte) wireError {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	var e struct{ Errors []wireError }
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.Len(t, e.Errors, 1)
	return e.Errors[0]
}

func TestManifestPutThenGetByTagAndDigest(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	body := ociImage(t, srv, "hello", "layer-one")
	digest := sha256Digest(body)

	resp, got := putManifestHTTP(t, srv, tok, "hello", "v1", mediaTypeOCIManifest, body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(got))
	require.Empty(t, got)
	require.Equal(t, "0", resp.Header.Get("Content-Length"))
	require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))
	require.Equal(t, "/v2/hello/manifests/"+digest, resp.Header.Get("Location"))
	require.Empty(t, resp.Header.Values("OCI-Subject"))

	for _, ref := range []string{"v1", digest} {
		resp, got := do(t, srv, http.MethodGet, "/v2/hello/manifests/"+ref, tok, nil, acceptHeader(mediaTypeOCIManifest))
		require.Equal(t, http.StatusOK, resp.StatusCode, ref)
		require.Equal(t, body, got, "byte-identical body by %s", ref)
		require.Equal(t, mediaTypeOCIManifest, resp.Header.Get("Content-Type"))
		require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))
		require.Equal(t, `"`+digest+`"`, resp.Header.Get("ETag"))
		require.Equal(t, fmt.Sprint(len(body)), resp.Header.Get("Content-Length"))
	}

	// A path-escaped digest and a repository name with '/' both work.
	nested := ociImage(t, srv, "library/hello", "x")
	resp, got = putManifestHTTP(t, srv, accessToken(t, srv, "repository:library/hello:pull,push"), "library/hello", "latest", mediaTypeOCIManifest, nested)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(got))
	require.Equal(t, "/v2/library/hello/manifests/"+sha256Digest(nested), resp.Header.Get("Location"))
	esc := strings.Replace(digest, ":", "%3A", 1)
	resp, got = do(t, srv, http.MethodGet, "/v2/hello/manifests/"+esc, tok, nil, acceptHeader(mediaTypeOCIManifest))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, body, got)
}

func TestManifestHeadHasHeadersNoBody(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	body := ociImage(t, srv, "hello", "l")
	_, err := srv.PutManifest("hello", "v1", mediaTypeOCIManifest, body)
	require.NoError(t, err)
	digest := sha256Digest(body)

	resp, got := do(t, srv, http.MethodHead, "/v2/hello/manifests/v1", tok, nil, acceptHeader(mediaTypeOCIManifest))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, got)
	require.Equal(t, mediaTypeOCIManifest, resp.Header.Get("Content-Type"))
	require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))
	require.Equal(t, `"`+digest+`"`, resp.Header.Get("ETag"))
	require.Equal(t, int64(len(body)), resp.ContentLength)

	resp, got = do(t, srv, http.MethodHead, "/v2/hello/manifests/nope", tok, nil, acceptHeader(mediaTypeOCIManifest))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Empty(t, got)
}

func TestManifestAcceptNegotiation(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	oci := ociImage(t, srv, "hello", "l")
	ociDigest, err := srv.PutManifest("hello", "oci", mediaTypeOCIManifest, oci)
	require.NoError(t, err)
	docker := imageManifest(t, srv, "hello", mediaTypeDockerManifest, mediaTypeDockerConfig, []byte(`{"os":"linux"}`), []byte("d"))
	dockerDigest, err := srv.PutManifest("hello", "docker", mediaTypeDockerManifest, docker)
	require.NoError(t, err)
	index := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		mediaTypeOCIIndex, mediaTypeOCIManifest, ociDigest, len(oci)))
	_, err = srv.PutManifest("hello", "index", mediaTypeOCIIndex, index)
	require.NoError(t, err)

	const refuseOCI = "OCI manifest found, but accept header does not support OCI manifests"
	cases := []struct {
		name   string
		ref    string
		accept []string
		refuse string // "" means 200
	}{
		{"oci/none", "oci", nil, refuseOCI},
		{"oci/docker only", "oci", []string{mediaTypeDockerManifest}, refuseOCI},
		{"oci/application json", "oci", []string{"application/json"}, refuseOCI},
		{"oci/by digest still negotiated", ociDigest, []string{mediaTypeDockerManifest}, refuseOCI},
		{"oci/comma joined", "oci", []string{mediaTypeDockerManifest + ", " + mediaTypeOCIManifest + ", application/json"}, ""},
		{"oci/multiple lines", "oci", []string{mediaTypeDockerManifest, mediaTypeOCIManifest}, ""},
		{"oci/wildcard", "oci", []string{"*/*"}, ""},
		{"oci/parameters", "oci", []string{mediaTypeOCIManifest + "; q=0.5"}, ""},
		{"oci/q=0 refuses", "oci", []string{mediaTypeOCIManifest + ";q=0"}, refuseOCI},
		{"oci/case", "oci", []string{strings.ToUpper(mediaTypeOCIManifest)}, ""},
		{"index/none", "index", []string{mediaTypeOCIManifest}, "OCI index found, but accept header does not support OCI indexes"},
		{"index/own type", "index", []string{mediaTypeOCIIndex}, ""},
		{"docker/own type", "docker", []string{mediaTypeDockerManifest}, ""},
		{"docker/application json", "docker", []string{"application/json"}, ""},
		{"docker/oci only", "docker", []string{mediaTypeOCIManifest}, "Docker manifest found, but accept header does not support Docker manifests"},
		{"docker/by digest", dockerDigest, nil, ""},
	}
	bodies := map[string][]byte{"oci": oci, ociDigest: oci, "docker": docker, dockerDigest: docker, "index": index}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, got := do(t, srv, http.MethodGet, "/v2/hello/manifests/"+c.ref, tok, nil, acceptHeader(c.accept...))
			if c.refuse == "" {
				require.Equal(t, http.StatusOK, resp.StatusCode, string(got))
				require.Equal(t, bodies[c.ref], got)
				return
			}
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			require.Equal(t, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"`+c.refuse+`"}]}`, string(got))
		})
	}
}

func TestManifestMissing(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	_, err := srv.PutManifest("hello", "v1", mediaTypeOCIManifest, ociImage(t, srv, "hello", "l"))
	require.NoError(t, err)

	// As recorded from ACR: detail is the object {"Tag":"<tag>"}.
	resp, got := do(t, srv, http.MethodGet, "/v2/hello/manifests/wrong-tag", tok, nil, acceptHeader(mediaTypeOCIManifest))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	e := decodeWireError(t, resp, got)
	require.Equal(t, CodeManifestUnknown, e.Code)
	require.JSONEq(t, `{"Tag":"wrong-tag"}`, string(e.Detail))

	missing := sha256Digest([]byte("missing"))
	resp, got = do(t, srv, http.MethodGet, "/v2/hello/manifests/"+missing, tok, nil, acceptHeader(mediaTypeOCIManifest))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, CodeManifestUnknown, decodeWireError(t, resp, got).Code)

	// An unknown repository reports the manifest as unknown too.
	other := accessToken(t, srv, "repository:nothing:pull")
	resp, got = do(t, srv, http.MethodGet, "/v2/nothing/manifests/latest", other, nil, acceptHeader(mediaTypeOCIManifest))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	e = decodeWireError(t, resp, got)
	require.Equal(t, CodeManifestUnknown, e.Code)
	require.JSONEq(t, `{"Tag":"latest"}`, string(e.Detail))
}

func TestManifestInvalidNameAndReference(t *testing.T) {
	srv := NewServer(t, nil)
	cases := []struct{ repo, ref, code string }{
		{"Hello", "v1", CodeNameInvalid},
		{"hello", "-bad", CodeTagInvalid},
		{"hello", "sha256:xyz", CodeDigestInvalid},
	}
	for _, c := range cases {
		tok := accessToken(t, srv, "repository:"+c.repo+":pull")
		resp, got := do(t, srv, http.MethodGet, "/v2/"+c.repo+"/manifests/"+c.ref, tok, nil, acceptHeader("*/*"))
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, c)
		require.Equal(t, c.code, decodeWireError(t, resp, got).Code)
	}
}

func TestManifestDeleteByTagUnsupported(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	_, err := srv.PutManifest("hello", "v1", mediaTypeOCIManifest, ociImage(t, srv, "hello", "l"))
	require.NoError(t, err)
	resp, got := do(t, srv, http.MethodDelete, "/v2/hello/manifests/v1", tok, nil, nil)
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, `{"errors":[{"code":"UNSUPPORTED","message":"A manifest can only be deleted by digest."}]}`, string(got))
	_, _, ok := srv.Manifest("hello", "v1")
	require.True(t, ok)
}

func TestManifestDeleteByDigestRemovesTags(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	body := ociImage(t, srv, "hello", "l")
	digest, err := srv.PutManifest("hello", "v1", mediaTypeOCIManifest, body)
	require.NoError(t, err)
	_, err = srv.PutManifest("hello", "latest", mediaTypeOCIManifest, body)
	require.NoError(t, err)
	keep, err := srv.PutManifest("hello", "other", mediaTypeOCIManifest, ociImage(t, srv, "hello", "k"))
	require.NoError(t, err)

	resp, got := do(t, srv, http.MethodDelete, "/v2/hello/manifests/"+digest, tok, nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(got))
	require.Empty(t, got)
	for _, ref := range []string{"v1", "latest", digest} {
		_, _, ok := srv.Manifest("hello", ref)
		require.False(t, ok, ref)
	}
	_, _, ok := srv.Manifest("hello", "other")
	require.True(t, ok)
	_, _, ok = srv.Manifest("hello", keep)
	require.True(t, ok)

	resp, got = do(t, srv, http.MethodDelete, "/v2/hello/manifests/"+digest, tok, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, CodeManifestUnknown, decodeWireError(t, resp, got).Code)
}

func TestManifestDeleteLocked(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	digest, err := srv.PutManifest("hello", "v1", mediaTypeOCIManifest, ociImage(t, srv, "hello", "l"))
	require.NoError(t, err)
	locks := map[string]func(r *repository, lock bool){
		"manifest deleteEnabled": func(r *repository, lock bool) { r.Manifests[digest].Attrs.DeleteEnabled = !lock },
		"tag deleteEnabled":      func(r *repository, lock bool) { r.Tags["v1"].Attrs.DeleteEnabled = !lock },
		"repo deleteEnabled":     func(r *repository, lock bool) { r.Attrs.DeleteEnabled = !lock },
		"manifest writeEnabled":  func(r *repository, lock bool) { r.Manifests[digest].Attrs.WriteEnabled = !lock },
	}
	for name, set := range locks {
		srv.state.mu.Lock()
		set(srv.state.repos["hello"], true)
		srv.state.mu.Unlock()
		resp, got := do(t, srv, http.MethodDelete, "/v2/hello/manifests/"+digest, tok, nil, nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, name)
		require.Equal(t, CodeDenied, decodeWireError(t, resp, got).Code, name)
		srv.state.mu.Lock()
		set(srv.state.repos["hello"], false)
		srv.state.mu.Unlock()
	}
	_, _, ok := srv.Manifest("hello", "v1")
	require.True(t, ok)
}

func TestManifestSizeLimit(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	cfg := seedBlob(t, srv, "hello", []byte("{}"))
	// A manifest padded through an annotation to exactly n bytes.
	manifestOfSize := func(n int) []byte {
		head := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"annotations":{"pad":"`, mediaTypeOCIManifest, cfg)
		tail := `"}}`
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	atLimit := manifestOfSize(4 * 1024 * 1024)
	resp, got := putManifestHTTP(t, srv, tok, "hello", "max", mediaTypeOCIManifest, atLimit)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(got))

	over := manifestOfSize(4*1024*1024 + 1)
	resp, got = putManifestHTTP(t, srv, tok, "hello", "over", mediaTypeOCIManifest, over)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	e := decodeWireError(t, resp, got)
	require.Equal(t, CodeManifestInvalid, e.Code)
	require.Contains(t, e.Message, "4 MiB")

	// Without a Content-Length (chunked) the cap applies while reading.
	chunked := io.MultiReader(bytes.NewReader(over))
	resp, got = do(t, srv, http.MethodPut, "/v2/hello/manifests/chunked", tok, chunked, http.Header{"Content-Type": {mediaTypeOCIManifest}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, decodeWireError(t, resp, got).Message, "4 MiB")

	_, err := srv.PutManifest("hello", "helper", mediaTypeOCIManifest, over)
	require.ErrorContains(t, err, "4 MiB")
}

func TestManifestBlobUnknown(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	// Blobs linked into another repository do not count.
	body := ociImage(t, srv, "elsewhere", "layer")
	resp, got := putManifestHTTP(t, srv, tok, "hello", "v1", mediaTypeOCIManifest, body)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	e := decodeWireError(t, resp, got)
	require.Equal(t, CodeManifestBlobUnknown, e.Code)
	var detail string
	require.NoError(t, json.Unmarshal(e.Detail, &detail))
	require.True(t, isDigest(detail), detail)

	// A layer missing while the config is present.
	cfg := seedBlob(t, srv, "hello", []byte("{}"))
	missing := sha256Digest([]byte("never pushed"))
	body = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":12}]}`,
		mediaTypeOCIManifest, mediaTypeOCIConfig, cfg, missing))
	resp, got = putManifestHTTP(t, srv, tok, "hello", "v1", mediaTypeOCIManifest, body)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	e = decodeWireError(t, resp, got)
	require.Equal(t, CodeManifestBlobUnknown, e.Code)
	require.Equal(t, `"`+missing+`"`, string(e.Detail))

	// An index whose child manifest is not in the repository.
	index := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":1}]}`, mediaTypeOCIIndex, mediaTypeOCIManifest, missing))
	resp, got = putManifestHTTP(t, srv, tok, "hello", "idx", mediaTypeOCIIndex, index)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	e = decodeWireError(t, resp, got)
	require.Equal(t, CodeManifestBlobUnknown, e.Code)
	require.Equal(t, `"`+missing+`"`, string(e.Detail))
}

func TestManifestDigestMismatch(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	body := ociImage(t, srv, "hello", "l")
	resp, got := putManifestHTTP(t, srv, tok, "hello", sha256Digest([]byte("other")), mediaTypeOCIManifest, body)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, CodeDigestInvalid, decodeWireError(t, resp, got).Code)

	// By its own digest the push succeeds and creates no tag.
	resp, got = putManifestHTTP(t, srv, tok, "hello", sha256Digest(body), mediaTypeOCIManifest, body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(got))
	srv.state.mu.Lock()
	require.Empty(t, srv.state.repos["hello"].Tags)
	srv.state.mu.Unlock()
}

func TestManifestInvalidBodies(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	body := ociImage(t, srv, "hello", "l")
	cfg := seedBlob(t, srv, "hello", []byte("{}"))
	cases := []struct {
		name, contentType string
		body              []byte
	}{
		{"content type differs from mediaType", mediaTypeDockerManifest, body},
		{"unknown content type", "application/octet-stream", body},
		{"no content type", "", body},
		{"not json", mediaTypeOCIManifest, []byte("{not json")},
		{"schema version 1", mediaTypeOCIManifest, []byte(fmt.Sprintf(`{"schemaVersion":1,"config":{"digest":%q,"size":2}}`, cfg))},
		{"no config", mediaTypeOCIManifest, []byte(`{"schemaVersion":2,"layers":[]}`)},
		{"docker without mediaType", mediaTypeDockerManifest, []byte(fmt.Sprintf(`{"schemaVersion":2,"config":{"digest":%q,"size":2},"layers":[]}`, cfg))},
	}
	for _, c := range cases {
		resp, got := putManifestHTTP(t, srv, tok, "hello", "v1", c.contentType, c.body)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, c.name)
		require.Equal(t, CodeManifestInvalid, decodeWireError(t, resp, got).Code, c.name)
	}
	// OCI makes the body's mediaType optional.
	noMediaType := []byte(fmt.Sprintf(`{"schemaVersion":2,"config":{"mediaType":%q,"digest":%q,"size":2},"layers":[]}`, mediaTypeOCIConfig, cfg))
	resp, got := putManifestHTTP(t, srv, tok, "hello", "v1", mediaTypeOCIManifest+"; charset=utf-8", noMediaType)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(got))
}

func TestManifestDerivedFieldsAndIndexReferences(t *testing.T) {
	srv := NewServer(t, nil)
	config := []byte(`{"architecture":"arm64","os":"linux","rootfs":{"type":"layers"}}`)
	img := imageManifest(t, srv, "hello", mediaTypeDockerManifest, mediaTypeDockerConfig, config, []byte("12345"), []byte("1234567"))
	imgDigest, err := srv.PutManifest("hello", "arm", mediaTypeDockerManifest, img)
	require.NoError(t, err)
	amd := ociImage(t, srv, "hello", "abc")
	amdDigest, err := srv.PutManifest("hello", "amd", mediaTypeOCIManifest, amd)
	require.NoError(t, err)

	index := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[`+
		`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"arm64","os":"linux"}},`+
		`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"amd64","os":"linux"}}],"annotations":{"a":"b"}}`,
		mediaTypeDockerList, mediaTypeDockerManifest, imgDigest, len(img), mediaTypeOCIManifest, amdDigest, len(amd)))
	indexDigest, err := srv.PutManifest("hello", "multi", mediaTypeDockerList, index)
	require.NoError(t, err)

	srv.state.mu.Lock()
	defer srv.state.mu.Unlock()
	repo := srv.state.repos["hello"]
	m := repo.Manifests[imgDigest]
	require.Equal(t, mediaTypeDockerManifest, m.MediaType)
	require.Equal(t, mediaTypeDockerConfig, m.ConfigMediaType)
	require.Equal(t, "arm64", m.Architecture)
	require.Equal(t, "linux", m.OS)
	require.Equal(t, int64(12), m.ImageSize, "ACR's imageSize: layers only, config excluded")
	require.Nil(t, m.References)

	l := repo.Manifests[indexDigest]
	require.Equal(t, mediaTypeDockerList, l.MediaType)
	require.Empty(t, l.Architecture)
	require.Empty(t, l.OS)
	require.Empty(t, l.ConfigMediaType)
	require.Equal(t, []platformRef{
		{Digest: imgDigest, Architecture: "arm64", OS: "linux"},
		{Digest: amdDigest, Architecture: "amd64", OS: "linux"},
	}, l.References)
	require.Equal(t, map[string]string{"a": "b"}, l.Annotations)
	require.Equal(t, "multi", repo.Tags["multi"].Name)
	require.Equal(t, indexDigest, repo.Tags["multi"].Digest)
	require.NotZero(t, l.Seq)
	require.False(t, l.Created.IsZero())
}

func TestManifestTagMoveUpdatesTag(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	srv := NewServer(t, &Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	tok := accessToken(t, srv, allScopes)
	first, err := srv.PutManifest("hello", "v1", mediaTypeOCIManifest, ociImage(t, srv, "hello", "a"))
	require.NoError(t, err)
	srv.state.mu.Lock()
	created, seq := srv.state.repos["hello"].Tags["v1"].Created, srv.state.repos["hello"].Tags["v1"].Seq
	srv.state.mu.Unlock()

	clock.Add(int64(time.Minute))
	second := ociImage(t, srv, "hello", "b")
	resp, got := putManifestHTTP(t, srv, tok, "hello", "v1", mediaTypeOCIManifest, second)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(got))

	srv.state.mu.Lock()
	tg := srv.state.repos["hello"].Tags["v1"]
	require.Equal(t, sha256Digest(second), tg.Digest)
	require.Equal(t, created, tg.Created)
	require.Equal(t, created.Add(time.Minute), tg.Updated)
	require.Greater(t, tg.Seq, seq)
	require.NotNil(t, srv.state.repos["hello"].Manifests[first], "the old manifest stays, untagged")
	srv.state.mu.Unlock()
}

func TestManifestLocks(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	original, err := srv.PutManifest("hello", "v1", mediaTypeOCIManifest, ociImage(t, srv, "hello", "a"))
	require.NoError(t, err)
	other := ociImage(t, srv, "hello", "b")
	set := func(f func(r *repository)) {
		srv.state.mu.Lock()
		f(srv.state.repos["hello"])
		srv.state.mu.Unlock()
	}
	denied := func(resp *http.Response, got []byte) {
		t.Helper()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Equal(t, CodeDenied, decodeWireError(t, resp, got).Code)
	}

	// Locked tag: it cannot be moved.
	set(func(r *repository) { r.Tags["v1"].Attrs.WriteEnabled = false })
	denied(putManifestHTTP(t, srv, tok, "hello", "v1", mediaTypeOCIManifest, other))
	set(func(r *repository) { require.Equal(t, original, r.Tags["v1"].Digest) })
	resp, got := putManifestHTTP(t, srv, tok, "hello", "v2", mediaTypeOCIManifest, other)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(got))
	set(func(r *repository) { r.Tags["v1"].Attrs.WriteEnabled = true })

	// Locked manifest: re-pushing its digest is refused.
	body, _, _ := srv.Manifest("hello", original)
	set(func(r *repository) { r.Manifests[original].Attrs.WriteEnabled = false })
	denied(putManifestHTTP(t, srv, tok, "hello", "v3", mediaTypeOCIManifest, body))
	set(func(r *repository) { r.Manifests[original].Attrs.WriteEnabled = true })

	// Locked repository: no pushes at all.
	set(func(r *repository) { r.Attrs.WriteEnabled = false })
	denied(putManifestHTTP(t, srv, tok, "hello", "v4", mediaTypeOCIManifest, other))
	set(func(r *repository) { r.Attrs.WriteEnabled = true })

	// readEnabled=false on the repository, the tag or the manifest refuses pulls.
	for _, f := range []func(r *repository, v bool){
		func(r *repository, v bool) { r.Attrs.ReadEnabled = v },
		func(r *repository, v bool) { r.Tags["v1"].Attrs.ReadEnabled = v },
		func(r *repository, v bool) { r.Manifests[original].Attrs.ReadEnabled = v },
	} {
		set(func(r *repository) { f(r, false) })
		denied(do(t, srv, http.MethodGet, "/v2/hello/manifests/v1", tok, nil, acceptHeader(mediaTypeOCIManifest)))
		set(func(r *repository) { f(r, true) })
	}
	resp, _ = do(t, srv, http.MethodGet, "/v2/hello/manifests/v1", tok, nil, acceptHeader(mediaTypeOCIManifest))
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestReferrers(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	subject := ociImage(t, srv, "hello", "l")
	subjectDigest, err := srv.PutManifest("hello", "v1", mediaTypeOCIManifest, subject)
	require.NoError(t, err)

	empty := seedBlob(t, srv, "hello", []byte("{}"))
	sig := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/vnd.example.signature","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":%d},"annotations":{"org.example":"yes"}}`,
		mediaTypeOCIManifest, empty, mediaTypeOCIManifest, subjectDigest, len(subject)))
	resp, got := putManifestHTTP(t, srv, tok, "hello", sha256Digest(sig), mediaTypeOCIManifest, sig)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(got))
	require.Equal(t, subjectDigest, resp.Header.Get("OCI-Subject"))

	sbomCfg := seedBlob(t, srv, "hello", []byte(`{"sbom":true}`))
	sbom := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.example.sbom","digest":%q,"size":13},"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
		mediaTypeOCIManifest, sbomCfg, mediaTypeOCIManifest, subjectDigest, len(subject)))
	_, err = srv.PutManifest("hello", "sbom", mediaTypeOCIManifest, sbom)
	require.NoError(t, err)

	type desc struct {
		MediaType    string            `json:"mediaType"`
		Digest       string            `json:"digest"`
		Size         int64             `json:"size"`
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
	}
	type index struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Manifests     []desc `json:"manifests"`
	}
	sigDesc := desc{mediaTypeOCIManifest, sha256Digest(sig), int64(len(sig)), "application/vnd.example.signature", map[string]string{"org.example": "yes"}}
	sbomDesc := desc{mediaTypeOCIManifest, sha256Digest(sbom), int64(len(sbom)), "application/vnd.example.sbom", nil}
	want := []desc{sigDesc, sbomDesc}
	if want[0].Digest > want[1].Digest {
		want[0], want[1] = want[1], want[0]
	}

	get := func(path string) (*http.Response, index) {
		t.Helper()
		resp, got := do(t, srv, http.MethodGet, path, tok, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(got))
		require.Equal(t, mediaTypeOCIIndex, resp.Header.Get("Content-Type"))
		var idx index
		require.NoError(t, json.Unmarshal(got, &idx))
		require.Equal(t, 2, idx.SchemaVersion)
		require.Equal(t, mediaTypeOCIIndex, idx.MediaType)
		require.NotNil(t, idx.Manifests, "manifests is [] rather than null")
		return resp, idx
	}

	resp, idx := get("/v2/hello/referrers/" + subjectDigest)
	require.Equal(t, want, idx.Manifests)
	require.Empty(t, resp.Header.Values("OCI-Filters-Applied"))

	resp, idx = get("/v2/hello/referrers/" + subjectDigest + "?artifactType=application%2Fvnd.example.sbom")
	require.Equal(t, []desc{sbomDesc}, idx.Manifests)
	require.Equal(t, "artifactType", resp.Header.Get("OCI-Filters-Applied"))

	_, idx = get("/v2/hello/referrers/" + sha256Digest([]byte("unknown")))
	require.Empty(t, idx.Manifests)

	resp, got = do(t, srv, http.MethodGet, "/v2/hello/referrers/sha256:nope", tok, nil, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, CodeDigestInvalid, decodeWireError(t, resp, got).Code)
}

func TestV2TagsListPaging(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, allScopes)
	body := ociImage(t, srv, "hello", "l")
	for _, tg := range []string{"c", "a", "b"} {
		_, err := srv.PutManifest("hello", tg, mediaTypeOCIManifest, body)
		require.NoError(t, err)
	}

	resp, got := do(t, srv, http.MethodGet, "/v2/hello/tags/list?n=2", tok, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(got))
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	require.JSONEq(t, `{"name":"hello","tags":["a","b"]}`, string(got))
	require.Equal(t, `</v2/hello/tags/list?last=b&n=2>; rel="next"`, resp.Header.Get("Link"))

	resp, got = do(t, srv, http.MethodGet, "/v2/hello/tags/list?last=b&n=2", tok, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"name":"hello","tags":["c"]}`, string(got))
	require.Empty(t, resp.Header.Values("Link"))

	resp, got = do(t, srv, http.MethodGet, "/v2/hello/tags/list", tok, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"name":"hello","tags":["a","b","c"]}`, string(got))
	require.Empty(t, resp.Header.Values("Link"))

	resp, got = do(t, srv, http.MethodGet, "/v2/hello/tags/list?n=x", tok, nil, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(got))

	other := accessToken(t, srv, "repository:nothing:pull")
	resp, got = do(t, srv, http.MethodGet, "/v2/nothing/tags/list", other, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, CodeNameUnknown, decodeWireError(t, resp, got).Code)
}

func TestManifestHelpers(t *testing.T) {
	srv := NewServer(t, nil)
	body := ociImage(t, srv, "hello", "l")
	digest, err := srv.PutManifest("hello", "v1", mediaTypeOCIManifest, body)
	require.NoError(t, err)
	require.Equal(t, sha256Digest(body), digest)

	for _, ref := range []string{"v1", digest} {
		got, mt, ok := srv.Manifest("hello", ref)
		require.True(t, ok, ref)
		require.Equal(t, body, got)
		require.Equal(t, mediaTypeOCIManifest, mt)
	}
	_, _, ok := srv.Manifest("hello", "nope")
	require.False(t, ok)
	_, _, ok = srv.Manifest("nothing", "v1")
	require.False(t, ok)

	_, err = srv.PutManifest("hello", "v2", mediaTypeOCIManifest, ociImage(t, srv, "elsewhere", "x"))
	require.ErrorContains(t, err, CodeManifestBlobUnknown)
	_, err = srv.PutManifest("Bad Name", "v2", mediaTypeOCIManifest, body)
	require.ErrorContains(t, err, CodeNameInvalid)
	_, err = srv.PutManifest("hello", "v2", mediaTypeDockerManifest, body)
	require.ErrorContains(t, err, CodeManifestInvalid)
}

func TestManifestChallengeScopes(t *testing.T) {
	srv := NewServer(t, nil)
	digest := sha256Digest([]byte("x"))
	cases := []struct{ method, path, scope string }{
		{http.MethodGet, "/v2/hello/manifests/v1", "repository:hello:pull"},
		{http.MethodHead, "/v2/hello/manifests/v1", "repository:hello:pull"},
		{http.MethodPut, "/v2/hello/manifests/v1", "repository:hello:push,pull"},
		{http.MethodDelete, "/v2/hello/manifests/" + digest, "repository:hello:delete"},
		// Authorization comes first, even for a tag delete.
		{http.MethodDelete, "/v2/hello/manifests/v1", "repository:hello:delete"},
		{http.MethodGet, "/v2/hello/tags/list", "repository:hello:pull"},
		{http.MethodGet, "/v2/hello/referrers/" + digest, "repository:hello:pull"},
	}
	for _, c := range cases {
		resp, _ := do(t, srv, c.method, c.path, "", nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, c)
		want := fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",scope="%s"`, srv.Host, srv.Host, c.scope)
		require.Equal(t, want, resp.Header.Get("WWW-Authenticate"), c)
	}

	// A pull-only token cannot push.
	pull := accessToken(t, srv, "repository:hello:pull")
	resp, _ := putManifestHTTP(t, srv, pull, "hello", "v1", mediaTypeOCIManifest, []byte("{}"))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), `scope="repository:hello:push,pull",error="insufficient_scope"`)
}
