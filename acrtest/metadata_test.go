package acrtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metaClock is a settable clock for Options.Now, so timestamps and the
// time orders are deterministic.
type metaClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *metaClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *metaClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// metaStart is a recorded ACR timestamp.
var metaStart = time.Date(2022, 12, 13, 1, 30, 2, 737099500, time.UTC)

func newMetaServer(t *testing.T, opts *Options) (*Server, *metaClock) {
	t.Helper()
	clock := &metaClock{t: metaStart}
	o := Options{}
	if opts != nil {
		o = *opts
	}
	o.Now = clock.Now
	return NewServer(t, &o), clock
}

func metaDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// metaSeed inserts a manifest and tags pointing at it straight into the
// data model, filling in a single-arch Docker image's fields where m leaves
// them zero. Timestamps default to the server clock.
func metaSeed(t *testing.T, srv *Server, repoName string, m manifest, tags ...string) {
	t.Helper()
	require.NotEmpty(t, m.Digest)
	now := srv.now()
	if m.MediaType == "" {
		m.MediaType = "application/vnd.docker.distribution.manifest.v2+json"
	}
	if m.ConfigMediaType == "" && len(m.References) == 0 && m.ArtifactType == "" {
		m.ConfigMediaType = "application/vnd.docker.container.image.v1+json"
	}
	if m.Architecture == "" && len(m.References) == 0 && m.ArtifactType == "" {
		m.Architecture, m.OS = "amd64", "linux"
	}
	if m.ImageSize == 0 {
		m.ImageSize = 2479
	}
	if m.Attrs == (attributes{}) {
		m.Attrs = defaultAttributes
	}
	if m.Created.IsZero() {
		m.Created = now
	}
	if m.Updated.IsZero() {
		m.Updated = m.Created
	}
	st := srv.state
	st.mu.Lock()
	defer st.mu.Unlock()
	repo := st.repo(repoName, true, m.Created)
	m.Seq = st.nextSeq()
	mm := m
	repo.Manifests[m.Digest] = &mm
	if m.Updated.After(repo.Updated) {
		repo.Updated = m.Updated
	}
	for _, name := range tags {
		repo.Tags[name] = &tag{
			Name: name, Digest: m.Digest, Created: m.Updated, Updated: m.Updated,
			Seq: st.nextSeq(), Attrs: defaultAttributes,
		}
	}
}

// metaEdit runs f on the registry state under its lock.
func metaEdit(srv *Server, f func(st *registry)) {
	srv.state.mu.Lock()
	defer srv.state.mu.Unlock()
	f(srv.state)
}

// metaToken returns a token for the catalog and every metadata action on
// the given repositories.
func metaToken(t *testing.T, srv *Server, repos ...string) string {
	t.Helper()
	scopes := []string{"registry:catalog:*"}
	for _, r := range repos {
		scopes = append(scopes, "repository:"+r+":metadata_read,metadata_write,delete")
	}
	return accessToken(t, srv, strings.Join(scopes, " "))
}

// metaJSON sends a request and decodes a JSON object response.
func metaJSON(t *testing.T, srv *Server, method, path, token string, body string) (*http.Response, map[string]any) {
	t.Helper()
	var h http.Header
	var rd *strings.Reader
	if body != "" {
		h = http.Header{"Content-Type": {"application/json"}}
		rd = strings.NewReader(body)
	}
	var resp *http.Response
	var raw []byte
	if rd != nil {
		resp, raw = do(t, srv, method, path, token, rd, h)
	} else {
		resp, raw = do(t, srv, method, path, token, nil, h)
	}
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	}
	return resp, out
}

// metaAssertJSON checks the headers every JSON answer carries.
func metaAssertJSON(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	require.Equal(t, status, resp.StatusCode)
	assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "registry/2.0", resp.Header.Get("Docker-Distribution-Api-Version"))
}

// metaAssertError checks an errors[] body: one error with the code, and
// the detail field absent when noDetail.
func metaAssertError(t *testing.T, resp *http.Response, body map[string]any, status int, code string, noDetail bool) map[string]any {
	t.Helper()
	metaAssertJSON(t, resp, status)
	errs, ok := body["errors"].([]any)
	require.True(t, ok, "errors[] in %v", body)
	require.Len(t, errs, 1)
	e := errs[0].(map[string]any)
	assert.Equal(t, code, e["code"])
	assert.NotEmpty(t, e["message"])
	if noDetail {
		assert.NotContains(t, e, "detail")
	}
	return e
}

var metaTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)

func metaAssertTime(t *testing.T, v any) {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "timestamp %v is not a string", v)
	assert.Regexp(t, metaTimeRE, s)
}

func metaKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// metaLinkTarget extracts the target between the first '<' and '>' of a
// Link header.
func metaLinkTarget(t *testing.T, link string) string {
	t.Helper()
	i, j := strings.Index(link, "<"), strings.Index(link, ">")
	require.True(t, i >= 0 && j > i, "Link %q", link)
	require.True(t, strings.HasSuffix(link, `>; rel="next"`), "Link %q", link)
	return link[i+1 : j]
}

func metaWantChallenge(srv *Server, scope string) string {
	return fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",scope="%s"`, srv.Host, srv.Host, scope)
}

// seedHelloWorld stores hello-world with one tagged image.
func seedHelloWorld(t *testing.T, srv *Server) string {
	d := metaDigest("hello-world v1")
	metaSeed(t, srv, "hello-world", manifest{Digest: d}, "latest")
	return d
}

func TestMetadataChallengeScopes(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	d := seedHelloWorld(t, srv)
	cases := []struct{ method, path, scope string }{
		{"GET", "/acr/v1/_catalog", "registry:catalog:*"},
		{"GET", "/v2/_catalog", "registry:catalog:*"},
		{"GET", "/acr/v1/hello-world", "repository:hello-world:metadata_read"},
		{"PATCH", "/acr/v1/hello-world", "repository:hello-world:metadata_write"},
		{"DELETE", "/acr/v1/hello-world", "repository:hello-world:delete"},
		{"GET", "/acr/v1/hello-world/_tags", "repository:hello-world:metadata_read"},
		{"GET", "/acr/v1/hello-world/_tags/latest", "repository:hello-world:metadata_read"},
		{"PATCH", "/acr/v1/hello-world/_tags/latest", "repository:hello-world:metadata_write"},
		{"DELETE", "/acr/v1/hello-world/_tags/latest", "repository:hello-world:delete"},
		{"GET", "/acr/v1/hello-world/_manifests", "repository:hello-world:metadata_read"},
		{"GET", "/acr/v1/hello-world/_manifests/" + d, "repository:hello-world:metadata_read"},
		{"PATCH", "/acr/v1/hello-world/_manifests/" + d, "repository:hello-world:metadata_write"},
		// Authorization comes before the 404 of an unknown repository.
		{"GET", "/acr/v1/nope", "repository:nope:metadata_read"},
		{"GET", "/acr/v1/nope/_tags/latest", "repository:nope:metadata_read"},
		{"GET", "/acr/v1/library/hello-world/_tags", "repository:library/hello-world:metadata_read"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			resp, body := metaJSON(t, srv, c.method, c.path, "", "")
			e := metaAssertError(t, resp, body, http.StatusUnauthorized, CodeUnauthorized, false)
			assert.Equal(t, metaWantChallenge(srv, c.scope), resp.Header.Get("WWW-Authenticate"))
			assert.Equal(t, "authentication required, visit https://aka.ms/acr/authorization for more information.", e["message"])
			detail := e["detail"].([]any)
			require.NotEmpty(t, detail)
			assert.Contains(t, metaKeys(detail[0].(map[string]any)), "Type")
		})
	}
}

func TestMetadataChallengeInsufficientScope(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	seedHelloWorld(t, srv)
	read := accessToken(t, srv, "repository:hello-world:metadata_read")

	resp, _ := metaJSON(t, srv, "GET", "/acr/v1/hello-world", read, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, body := metaJSON(t, srv, "PATCH", "/acr/v1/hello-world", read, `{"deleteEnabled":false}`)
	metaAssertError(t, resp, body, http.StatusUnauthorized, CodeUnauthorized, false)
	assert.Equal(t, metaWantChallenge(srv, "repository:hello-world:metadata_write")+`,error="insufficient_scope"`, resp.Header.Get("WWW-Authenticate"))

	// A token for another repository does not open this one.
	resp, _ = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags", accessToken(t, srv, "repository:other:metadata_read"), "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, _ = metaJSON(t, srv, "GET", "/acr/v1/_catalog", read, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, metaWantChallenge(srv, "registry:catalog:*")+`,error="insufficient_scope"`, resp.Header.Get("WWW-Authenticate"))
}

func metaSeedCatalog(t *testing.T, srv *Server) []string {
	names := []string{"library/hello-world", "hello-world", "alpine", "b/c", "zeta"}
	for _, n := range names {
		metaSeed(t, srv, n, manifest{Digest: metaDigest(n)}, "latest")
	}
	return []string{"alpine", "b/c", "hello-world", "library/hello-world", "zeta"}
}

func TestMetadataCatalogPagingFollowsLink(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	want := metaSeedCatalog(t, srv)
	tok := metaToken(t, srv)

	var got []string
	var links []string
	path := "/acr/v1/_catalog?n=1&api-version=2021-07-01"
	for i := 0; path != ""; i++ {
		require.Less(t, i, 10, "paging did not end")
		resp, body := metaJSON(t, srv, "GET", path, tok, "")
		metaAssertJSON(t, resp, http.StatusOK)
		// The link property of the REST API specification never appears.
		assert.Equal(t, []string{"repositories"}, metaKeys(body))
		repos := body["repositories"].([]any)
		require.Len(t, repos, 1)
		got = append(got, repos[0].(string))
		path = ""
		if link := resp.Header.Get("Link"); link != "" {
			links = append(links, link)
			path = metaLinkTarget(t, link)
		}
	}
	assert.Equal(t, want, got)
	require.Len(t, links, len(want)-1)
	assert.Equal(t, `</acr/v1/_catalog?last=alpine&n=1&orderby=>; rel="next"`, links[0])
	// A name with a slash is query-escaped; there is never an api-version.
	assert.Equal(t, `</acr/v1/_catalog?last=library%2Fhello-world&n=1&orderby=>; rel="next"`, links[3])
	for _, l := range links {
		assert.NotContains(t, l, "api-version")
	}
}

func TestMetadataCatalogLastAndPageSize(t *testing.T) {
	srv, _ := newMetaServer(t, &Options{MaxPageSize: 2})
	metaSeedCatalog(t, srv)
	tok := metaToken(t, srv)

	// No n: the page size is MaxPageSize, and the Link says so.
	resp, body := metaJSON(t, srv, "GET", "/acr/v1/_catalog", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Equal(t, []any{"alpine", "b/c"}, body["repositories"])
	assert.Equal(t, `</acr/v1/_catalog?last=b%2Fc&n=2&orderby=>; rel="next"`, resp.Header.Get("Link"))

	// n above the cap is capped.
	resp, body = metaJSON(t, srv, "GET", "/acr/v1/_catalog?n=50", tok, "")
	assert.Equal(t, []any{"alpine", "b/c"}, body["repositories"])
	assert.Equal(t, `</acr/v1/_catalog?last=b%2Fc&n=2&orderby=>; rel="next"`, resp.Header.Get("Link"))

	// last need not name an existing repository; escaped or not.
	resp, body = metaJSON(t, srv, "GET", "/acr/v1/_catalog?last=hello&n=2", tok, "")
	assert.Equal(t, []any{"hello-world", "library/hello-world"}, body["repositories"])
	assert.Equal(t, `</acr/v1/_catalog?last=library%2Fhello-world&n=2&orderby=>; rel="next"`, resp.Header.Get("Link"))

	// The last page has no Link.
	resp, body = metaJSON(t, srv, "GET", "/acr/v1/_catalog?last=library%2Fhello-world&n=2", tok, "")
	assert.Equal(t, []any{"zeta"}, body["repositories"])
	assert.Empty(t, resp.Header.Values("Link"))

	// Past the end: an empty list, not null.
	resp, body = metaJSON(t, srv, "GET", "/acr/v1/_catalog?last=zzz", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Equal(t, []any{}, body["repositories"])
	assert.Empty(t, resp.Header.Values("Link"))
}

func TestMetadataCatalogOmitsUnlisted(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	metaSeedCatalog(t, srv)
	metaEdit(srv, func(st *registry) { st.repos["b/c"].Attrs.ListEnabled = false })
	// A repository that holds only blobs has no image to list.
	metaEdit(srv, func(st *registry) { st.repo("blobs-only", true, srv.now()) })
	tok := metaToken(t, srv, "blobs-only")

	_, body := metaJSON(t, srv, "GET", "/acr/v1/_catalog", tok, "")
	assert.Equal(t, []any{"alpine", "hello-world", "library/hello-world", "zeta"}, body["repositories"])
	_, body = metaJSON(t, srv, "GET", "/v2/_catalog", tok, "")
	assert.Equal(t, []any{"alpine", "hello-world", "library/hello-world", "zeta"}, body["repositories"])

	resp, body := metaJSON(t, srv, "GET", "/acr/v1/blobs-only", tok, "")
	metaAssertError(t, resp, body, http.StatusNotFound, CodeNameUnknown, true)
}

func TestMetadataV2CatalogPaging(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	want := metaSeedCatalog(t, srv)
	tok := metaToken(t, srv)

	resp, body := metaJSON(t, srv, "GET", "/v2/_catalog?n=1", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Equal(t, []string{"repositories"}, metaKeys(body))
	assert.Equal(t, `</v2/_catalog?last=alpine&n=1>; rel="next"`, resp.Header.Get("Link"))

	var got []string
	path := "/v2/_catalog?n=2"
	for i := 0; path != ""; i++ {
		require.Less(t, i, 10)
		resp, body := metaJSON(t, srv, "GET", path, tok, "")
		metaAssertJSON(t, resp, http.StatusOK)
		for _, r := range body["repositories"].([]any) {
			got = append(got, r.(string))
		}
		path = ""
		if l := resp.Header.Get("Link"); l != "" {
			path = metaLinkTarget(t, l)
			assert.NotContains(t, l, "orderby")
		}
	}
	assert.Equal(t, want, got)

	resp, _ = metaJSON(t, srv, "GET", "/v2/_catalog", "", "")
	assert.Equal(t, metaWantChallenge(srv, "registry:catalog:*"), resp.Header.Get("WWW-Authenticate"))
}

func TestMetadataInvalidPageSize(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	seedHelloWorld(t, srv)
	tok := metaToken(t, srv, "hello-world")
	for _, p := range []string{
		"/acr/v1/_catalog?n=0", "/acr/v1/_catalog?n=-1", "/acr/v1/_catalog?n=abc", "/v2/_catalog?n=x",
		"/acr/v1/hello-world/_tags?n=0", "/acr/v1/hello-world/_manifests?n=1.5",
	} {
		resp, body := metaJSON(t, srv, "GET", p, tok, "")
		metaAssertError(t, resp, body, http.StatusBadRequest, codePaginationNumberInvalid, false)
	}
}

func TestMetadataRepositoryGet(t *testing.T) {
	srv, clock := newMetaServer(t, nil)
	created := srv.now()
	metaSeed(t, srv, "hello-world", manifest{Digest: metaDigest("a")}, "latest", "v1")
	clock.Advance(time.Minute)
	metaSeed(t, srv, "hello-world", manifest{Digest: metaDigest("b"), Created: srv.now()})
	tok := metaToken(t, srv, "hello-world")

	resp, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world?api-version=2021-07-01", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.ElementsMatch(t, []string{"registry", "imageName", "createdTime", "lastUpdateTime", "manifestCount", "tagCount", "changeableAttributes"}, metaKeys(body))
	assert.Equal(t, srv.Host, body["registry"])
	assert.Equal(t, "hello-world", body["imageName"])
	assert.Equal(t, "2022-12-13T01:30:02.7370995Z", body["createdTime"])
	assert.Equal(t, formatTime(created.Add(time.Minute)), body["lastUpdateTime"])
	metaAssertTime(t, body["lastUpdateTime"])
	assert.Equal(t, float64(2), body["manifestCount"])
	assert.Equal(t, float64(2), body["tagCount"])
	assert.Equal(t, map[string]any{"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true}, body["changeableAttributes"])
}

func TestMetadataRepositoryUnknownAndInvalid(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	seedHelloWorld(t, srv)
	tok := metaToken(t, srv, "nope", "Bad_Name")
	for _, p := range []string{"/acr/v1/nope", "/acr/v1/nope/_tags", "/acr/v1/nope/_manifests", "/acr/v1/nope/_tags/latest", "/acr/v1/nope/_manifests/" + metaDigest("x")} {
		resp, body := metaJSON(t, srv, "GET", p, tok, "")
		// NAME_UNKNOWN carries no detail field.
		metaAssertError(t, resp, body, http.StatusNotFound, CodeNameUnknown, true)
	}
	resp, body := metaJSON(t, srv, "DELETE", "/acr/v1/nope", tok, "")
	metaAssertError(t, resp, body, http.StatusNotFound, CodeNameUnknown, true)

	resp, body = metaJSON(t, srv, "GET", "/acr/v1/Bad_Name", tok, "")
	metaAssertError(t, resp, body, http.StatusBadRequest, CodeNameInvalid, true)
}

func TestMetadataRepositoryPatch(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	seedHelloWorld(t, srv)
	tok := metaToken(t, srv, "hello-world")

	resp, body := metaJSON(t, srv, "PATCH", "/acr/v1/hello-world?api-version=2021-07-01", tok, `{"deleteEnabled":false,"teleportEnabled":true}`)
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Equal(t, "hello-world", body["imageName"])
	assert.Equal(t, float64(1), body["manifestCount"])
	assert.Equal(t, map[string]any{"deleteEnabled": false, "writeEnabled": true, "readEnabled": true, "listEnabled": true}, body["changeableAttributes"])

	resp, body = metaJSON(t, srv, "PATCH", "/acr/v1/hello-world", tok, `{"listEnabled":false}`)
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Equal(t, map[string]any{"deleteEnabled": false, "writeEnabled": true, "readEnabled": true, "listEnabled": false}, body["changeableAttributes"])

	_, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world", tok, "")
	assert.Equal(t, map[string]any{"deleteEnabled": false, "writeEnabled": true, "readEnabled": true, "listEnabled": false}, body["changeableAttributes"])

	for _, bad := range []string{`{"deleteEnabled":`, `{"deleteEnabled":"no"}`, `[]`} {
		resp, body = metaJSON(t, srv, "PATCH", "/acr/v1/hello-world", tok, bad)
		metaAssertError(t, resp, body, http.StatusBadRequest, CodeUnsupported, false)
	}
}

func TestMetadataRepositoryDelete(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	d1, d2, d3 := metaDigest("one"), metaDigest("two"), metaDigest("untagged")
	metaSeed(t, srv, "hello-world", manifest{Digest: d1}, "latest", "v1")
	metaSeed(t, srv, "hello-world", manifest{Digest: d2}, "v2")
	metaSeed(t, srv, "hello-world", manifest{Digest: d3})
	seedBoth := metaDigest("other")
	metaSeed(t, srv, "other", manifest{Digest: seedBoth}, "latest")
	tok := metaToken(t, srv, "hello-world")

	resp, body := metaJSON(t, srv, "DELETE", "/acr/v1/hello-world?api-version=2021-07-01", tok, "")
	metaAssertJSON(t, resp, http.StatusAccepted)
	assert.ElementsMatch(t, []string{"manifestsDeleted", "tagsDeleted"}, metaKeys(body))
	wantDigests := []any{d1, d2, d3}
	assert.ElementsMatch(t, wantDigests, body["manifestsDeleted"])
	assert.Equal(t, []any{"latest", "v1", "v2"}, body["tagsDeleted"])

	resp, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world", tok, "")
	metaAssertError(t, resp, body, http.StatusNotFound, CodeNameUnknown, true)
	_, body = metaJSON(t, srv, "GET", "/acr/v1/_catalog", tok, "")
	assert.Equal(t, []any{"other"}, body["repositories"])

	resp, body = metaJSON(t, srv, "DELETE", "/acr/v1/hello-world", tok, "")
	metaAssertError(t, resp, body, http.StatusNotFound, CodeNameUnknown, true)
}

func TestMetadataRepositoryDeleteLocked(t *testing.T) {
	cases := map[string]func(st *registry){
		"repository deleteEnabled": func(st *registry) { st.repos["hello-world"].Attrs.DeleteEnabled = false },
		"repository writeEnabled":  func(st *registry) { st.repos["hello-world"].Attrs.WriteEnabled = false },
		"manifest deleteEnabled": func(st *registry) {
			for _, m := range st.repos["hello-world"].Manifests {
				m.Attrs.DeleteEnabled = false
			}
		},
		"tag deleteEnabled": func(st *registry) { st.repos["hello-world"].Tags["v1"].Attrs.DeleteEnabled = false },
		"tag writeEnabled":  func(st *registry) { st.repos["hello-world"].Tags["v1"].Attrs.WriteEnabled = false },
	}
	for name, lock := range cases {
		t.Run(name, func(t *testing.T) {
			srv, _ := newMetaServer(t, nil)
			metaSeed(t, srv, "hello-world", manifest{Digest: metaDigest("a")}, "latest", "v1")
			metaEdit(srv, lock)
			tok := metaToken(t, srv, "hello-world")
			resp, body := metaJSON(t, srv, "DELETE", "/acr/v1/hello-world", tok, "")
			e := metaAssertError(t, resp, body, http.StatusForbidden, CodeDenied, true)
			assert.Equal(t, "The operation is disallowed on this registry, repository or image.", e["message"])
			resp, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world", tok, "")
			metaAssertJSON(t, resp, http.StatusOK)
			assert.Equal(t, float64(2), body["tagCount"])
		})
	}
}

func TestMetadataRepositoryNameWithSlash(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	d := metaDigest("library")
	metaSeed(t, srv, "library/hello-world", manifest{Digest: d}, "latest")
	tok := metaToken(t, srv, "library/hello-world")

	// Go clients send the name raw, Python and .NET ones with %2F.
	for _, name := range []string{"library/hello-world", "library%2Fhello-world"} {
		t.Run(name, func(t *testing.T) {
			resp, body := metaJSON(t, srv, "GET", "/acr/v1/"+name, tok, "")
			metaAssertJSON(t, resp, http.StatusOK)
			assert.Equal(t, "library/hello-world", body["imageName"])

			resp, body = metaJSON(t, srv, "GET", "/acr/v1/"+name+"/_tags", tok, "")
			metaAssertJSON(t, resp, http.StatusOK)
			assert.Equal(t, "library/hello-world", body["imageName"])
			assert.Len(t, body["tags"], 1)

			resp, body = metaJSON(t, srv, "GET", "/acr/v1/"+name+"/_tags/latest", tok, "")
			metaAssertJSON(t, resp, http.StatusOK)
			assert.Equal(t, d, body["tag"].(map[string]any)["digest"])

			resp, body = metaJSON(t, srv, "GET", "/acr/v1/"+name+"/_manifests/"+strings.Replace(d, ":", "%3A", 1), tok, "")
			metaAssertJSON(t, resp, http.StatusOK)
			assert.Equal(t, d, body["manifest"].(map[string]any)["digest"])
		})
	}

	// The challenge names the decoded repository.
	resp, _ := metaJSON(t, srv, "GET", "/acr/v1/library%2Fhello-world/_manifests", "", "")
	assert.Equal(t, metaWantChallenge(srv, "repository:library/hello-world:metadata_read"), resp.Header.Get("WWW-Authenticate"))

	// Links keep the name as a path.
	metaSeed(t, srv, "library/hello-world", manifest{Digest: metaDigest("library 2")}, "v2")
	resp, _ = metaJSON(t, srv, "GET", "/acr/v1/library%2Fhello-world/_tags?n=1", tok, "")
	assert.Equal(t, `</acr/v1/library/hello-world/_tags?last=latest&n=1&orderby=>; rel="next"`, resp.Header.Get("Link"))
}

// metaTagNames collects the tag names of a _tags page.
func metaTagNames(t *testing.T, body map[string]any) []string {
	t.Helper()
	var out []string
	for _, v := range body["tags"].([]any) {
		out = append(out, v.(map[string]any)["name"].(string))
	}
	return out
}

// metaFollow pages a list to the end with n=1, following Link verbatim,
// and returns the item keys and the Links seen.
func metaFollow(t *testing.T, srv *Server, tok, path, field, key string) ([]string, []string) {
	t.Helper()
	var items, links []string
	for i := 0; path != ""; i++ {
		require.Less(t, i, 20, "paging did not end")
		resp, body := metaJSON(t, srv, "GET", path, tok, "")
		metaAssertJSON(t, resp, http.StatusOK)
		for _, v := range body[field].([]any) {
			items = append(items, v.(map[string]any)[key].(string))
		}
		path = ""
		if l := resp.Header.Get("Link"); l != "" {
			links = append(links, l)
			path = metaLinkTarget(t, l)
		}
	}
	return items, links
}

func TestMetadataTagListShapeAndPaging(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	d := metaDigest("a")
	metaSeed(t, srv, "hello-world", manifest{Digest: d}, "v2", "latest", "v1")
	tok := metaToken(t, srv, "hello-world")

	resp, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?api-version=2021-07-01", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.ElementsMatch(t, []string{"registry", "imageName", "tags"}, metaKeys(body))
	assert.Equal(t, srv.Host, body["registry"])
	assert.Equal(t, "hello-world", body["imageName"])
	assert.Equal(t, []string{"latest", "v1", "v2"}, metaTagNames(t, body))
	assert.Empty(t, resp.Header.Values("Link"))
	tg := body["tags"].([]any)[0].(map[string]any)
	assert.ElementsMatch(t, []string{"name", "digest", "createdTime", "lastUpdateTime", "signed", "changeableAttributes"}, metaKeys(tg))
	assert.Equal(t, d, tg["digest"])
	assert.Equal(t, false, tg["signed"])
	metaAssertTime(t, tg["createdTime"])
	metaAssertTime(t, tg["lastUpdateTime"])
	assert.Equal(t, map[string]any{"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true}, tg["changeableAttributes"])

	names, links := metaFollow(t, srv, tok, "/acr/v1/hello-world/_tags?n=1&api-version=2021-07-01", "tags", "name")
	assert.Equal(t, []string{"latest", "v1", "v2"}, names)
	assert.Equal(t, []string{
		`</acr/v1/hello-world/_tags?last=latest&n=1&orderby=>; rel="next"`,
		`</acr/v1/hello-world/_tags?last=v1&n=1&orderby=>; rel="next"`,
	}, links)

	// last in the default order: names after it, present or not.
	_, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?last=m", tok, "")
	assert.Equal(t, []string{"v1", "v2"}, metaTagNames(t, body))
	_, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?last=v1", tok, "")
	assert.Equal(t, []string{"v2"}, metaTagNames(t, body))
	_, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?last=v2", tok, "")
	assert.Equal(t, []any{}, body["tags"])
}

// metaSeedTimed stores four tags updated at distinct times, with two
// sharing a timestamp, out of name order.
func metaSeedTimed(t *testing.T, srv *Server, clock *metaClock) (string, string) {
	d1, d2 := metaDigest("one"), metaDigest("two")
	metaSeed(t, srv, "hello-world", manifest{Digest: d1}, "c")
	clock.Advance(time.Second)
	metaSeed(t, srv, "hello-world", manifest{Digest: d2}, "a")
	clock.Advance(time.Second)
	// b and d share a timestamp; d was written later (higher Seq).
	now := srv.now()
	metaEdit(srv, func(st *registry) {
		repo := st.repos["hello-world"]
		repo.Tags["b"] = &tag{Name: "b", Digest: d1, Created: now, Updated: now, Seq: st.nextSeq(), Attrs: defaultAttributes}
		repo.Tags["d"] = &tag{Name: "d", Digest: d2, Created: now, Updated: now, Seq: st.nextSeq(), Attrs: defaultAttributes}
	})
	return d1, d2
}

func TestMetadataTagListOrderBy(t *testing.T) {
	srv, clock := newMetaServer(t, &Options{MaxPageSize: 2})
	metaSeedTimed(t, srv, clock)
	tok := metaToken(t, srv, "hello-world")

	// orderby without n returns the whole set in one page, even beyond
	// the page size, with no Link.
	resp, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?orderby=timedesc", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Equal(t, []string{"d", "b", "a", "c"}, metaTagNames(t, body))
	assert.Empty(t, resp.Header.Values("Link"))

	resp, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?orderby=timeasc", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Equal(t, []string{"c", "a", "b", "d"}, metaTagNames(t, body))
	assert.Empty(t, resp.Header.Values("Link"))

	// Without orderby the page size applies.
	resp, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags", tok, "")
	assert.Equal(t, []string{"a", "b"}, metaTagNames(t, body))
	assert.Equal(t, `</acr/v1/hello-world/_tags?last=b&n=2&orderby=>; rel="next"`, resp.Header.Get("Link"))

	// Paging in a time order continues after the tag named last, and the
	// Link echoes the requested orderby.
	names, links := metaFollow(t, srv, tok, "/acr/v1/hello-world/_tags?n=1&orderby=timedesc", "tags", "name")
	assert.Equal(t, []string{"d", "b", "a", "c"}, names)
	assert.Equal(t, `</acr/v1/hello-world/_tags?last=d&n=1&orderby=timedesc>; rel="next"`, links[0])
	names, _ = metaFollow(t, srv, tok, "/acr/v1/hello-world/_tags?n=1&orderby=timeasc", "tags", "name")
	assert.Equal(t, []string{"c", "a", "b", "d"}, names)

	// "none" is the default order.
	_, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?orderby=none&n=10", tok, "")
	assert.Equal(t, []string{"a", "b"}, metaTagNames(t, body))

	resp, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?orderby=sideways", tok, "")
	metaAssertError(t, resp, body, http.StatusBadRequest, CodeUnsupported, false)
}

func TestMetadataTagListDigestFilter(t *testing.T) {
	srv, clock := newMetaServer(t, nil)
	d1, d2 := metaSeedTimed(t, srv, clock)
	tok := metaToken(t, srv, "hello-world")

	_, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?digest="+url.QueryEscape(d1), tok, "")
	assert.Equal(t, []string{"b", "c"}, metaTagNames(t, body))

	// The recorded .NET request: orderby=timeasc with digest.
	_, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?orderby=timeasc&digest="+url.QueryEscape(d2), tok, "")
	assert.Equal(t, []string{"a", "d"}, metaTagNames(t, body))

	names, links := metaFollow(t, srv, tok, "/acr/v1/hello-world/_tags?n=1&digest="+url.QueryEscape(d1), "tags", "name")
	assert.Equal(t, []string{"b", "c"}, names)
	require.Len(t, links, 1)
	assert.Equal(t, `</acr/v1/hello-world/_tags?last=b&n=1&orderby=&digest=`+strings.Replace(d1, ":", "%3A", 1)+`>; rel="next"`, links[0])

	_, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags?digest="+url.QueryEscape(metaDigest("none")), tok, "")
	assert.Equal(t, []any{}, body["tags"])
}

func TestMetadataTagListOmitsUnlisted(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	metaSeed(t, srv, "hello-world", manifest{Digest: metaDigest("a")}, "a", "b", "c")
	metaEdit(srv, func(st *registry) { st.repos["hello-world"].Tags["b"].Attrs.ListEnabled = false })
	tok := metaToken(t, srv, "hello-world")

	_, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags", tok, "")
	assert.Equal(t, []string{"a", "c"}, metaTagNames(t, body))
	names, _ := metaFollow(t, srv, tok, "/acr/v1/hello-world/_tags?n=1&orderby=timedesc", "tags", "name")
	assert.ElementsMatch(t, []string{"a", "c"}, names)

	// Still reachable by name.
	resp, _ := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags/b", tok, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestMetadataTagGetPatchDelete(t *testing.T) {
	srv, clock := newMetaServer(t, nil)
	d := metaDigest("a")
	metaSeed(t, srv, "hello-world", manifest{Digest: d}, "latest", "v1")
	tok := metaToken(t, srv, "hello-world")

	resp, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags/latest?api-version=2021-07-01", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.ElementsMatch(t, []string{"registry", "imageName", "tag"}, metaKeys(body))
	assert.Equal(t, srv.Host, body["registry"])
	tg := body["tag"].(map[string]any)
	assert.ElementsMatch(t, []string{"name", "digest", "createdTime", "lastUpdateTime", "signed", "changeableAttributes"}, metaKeys(tg))
	assert.Equal(t, "latest", tg["name"])
	assert.Equal(t, d, tg["digest"])

	resp, body = metaJSON(t, srv, "PATCH", "/acr/v1/hello-world/_tags/latest", tok, `{"writeEnabled":false,"readEnabled":false}`)
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Equal(t, map[string]any{"deleteEnabled": true, "writeEnabled": false, "readEnabled": false, "listEnabled": true}, body["tag"].(map[string]any)["changeableAttributes"])
	_, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags/latest", tok, "")
	assert.Equal(t, false, body["tag"].(map[string]any)["changeableAttributes"].(map[string]any)["writeEnabled"])

	resp, body = metaJSON(t, srv, "PATCH", "/acr/v1/hello-world/_tags/latest", tok, `not json`)
	metaAssertError(t, resp, body, http.StatusBadRequest, CodeUnsupported, false)

	// Unknown tag: TAG_UNKNOWN with the recorded message and no detail.
	resp, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags/wrong-tag", tok, "")
	e := metaAssertError(t, resp, body, http.StatusNotFound, CodeTagUnknown, true)
	assert.Equal(t, "the specified tag does not exist", e["message"])
	resp, body = metaJSON(t, srv, "DELETE", "/acr/v1/hello-world/_tags/wrong-tag", tok, "")
	metaAssertError(t, resp, body, http.StatusNotFound, CodeTagUnknown, true)

	// Delete: 202 with an empty body; the repository is updated.
	clock.Advance(time.Hour)
	resp, raw := do(t, srv, "DELETE", "/acr/v1/hello-world/_tags/v1?api-version=2021-07-01", tok, nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	assert.Empty(t, raw)
	assert.Equal(t, "0", resp.Header.Get("Content-Length"))
	assert.Equal(t, "registry/2.0", resp.Header.Get("Docker-Distribution-Api-Version"))

	resp, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags/v1", tok, "")
	metaAssertError(t, resp, body, http.StatusNotFound, CodeTagUnknown, true)
	_, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world", tok, "")
	assert.Equal(t, float64(1), body["tagCount"])
	assert.Equal(t, formatTime(metaStart.Add(time.Hour)), body["lastUpdateTime"])
	_, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_manifests/"+d, tok, "")
	assert.Equal(t, []any{"latest"}, body["manifest"].(map[string]any)["tags"])
}

func TestMetadataTagDeleteLocked(t *testing.T) {
	cases := map[string]func(st *registry){
		"tag deleteEnabled":       func(st *registry) { st.repos["hello-world"].Tags["latest"].Attrs.DeleteEnabled = false },
		"tag writeEnabled":        func(st *registry) { st.repos["hello-world"].Tags["latest"].Attrs.WriteEnabled = false },
		"repository deleteEnable": func(st *registry) { st.repos["hello-world"].Attrs.DeleteEnabled = false },
	}
	for name, lock := range cases {
		t.Run(name, func(t *testing.T) {
			srv, _ := newMetaServer(t, nil)
			seedHelloWorld(t, srv)
			metaEdit(srv, lock)
			tok := metaToken(t, srv, "hello-world")
			resp, body := metaJSON(t, srv, "DELETE", "/acr/v1/hello-world/_tags/latest", tok, "")
			metaAssertError(t, resp, body, http.StatusForbidden, CodeDenied, true)
			resp, _ = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags/latest", tok, "")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

func TestMetadataTagInvalidReference(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	seedHelloWorld(t, srv)
	tok := metaToken(t, srv, "hello-world")

	resp, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags/.bad", tok, "")
	metaAssertError(t, resp, body, http.StatusBadRequest, CodeTagInvalid, true)

	// A reference spanning segments matches no route: plain-text 404, no
	// challenge.
	resp, raw := do(t, srv, "GET", "/acr/v1/hello-world/_tags/a/b", "", nil, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "404 page not found\n", string(raw))
}

// metaSeedManifests stores a single-arch image, an untagged artifact and a
// tagged index, at increasing times.
func metaSeedManifests(t *testing.T, srv *Server, clock *metaClock) (img, art, idx string) {
	img, art, idx = metaDigest("image"), metaDigest("artifact"), metaDigest("index")
	metaSeed(t, srv, "hello-world", manifest{Digest: img}, "v1")
	clock.Advance(time.Second)
	metaSeed(t, srv, "hello-world", manifest{
		Digest: art, MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactType: "application/vnd.example.sbom", ConfigMediaType: "application/vnd.oci.empty.v1+json",
		ImageSize: 120,
	})
	clock.Advance(time.Second)
	metaSeed(t, srv, "hello-world", manifest{
		Digest: idx, MediaType: "application/vnd.docker.distribution.manifest.list.v2+json", ImageSize: 61630,
		// The emulator derives these from the body; an index must not
		// report them even if set.
		Architecture: "amd64", OS: "linux", ConfigMediaType: "x",
		References: []platformRef{{Digest: img, Architecture: "amd64", OS: "linux"}, {Digest: metaDigest("arm"), Architecture: "arm64", OS: "linux"}},
	}, "latest", "multi")
	return img, art, idx
}

func metaManifestByDigest(t *testing.T, body map[string]any, d string) map[string]any {
	t.Helper()
	for _, v := range body["manifests"].([]any) {
		m := v.(map[string]any)
		if m["digest"] == d {
			return m
		}
	}
	t.Fatalf("manifest %s not listed", d)
	return nil
}

func TestMetadataManifestListShape(t *testing.T) {
	srv, clock := newMetaServer(t, nil)
	img, art, idx := metaSeedManifests(t, srv, clock)
	tok := metaToken(t, srv, "hello-world")

	resp, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_manifests?api-version=2021-07-01", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.ElementsMatch(t, []string{"registry", "imageName", "manifests"}, metaKeys(body))
	assert.Equal(t, srv.Host, body["registry"])
	assert.Equal(t, "hello-world", body["imageName"])
	assert.Empty(t, resp.Header.Values("Link"))

	// Default order: lexical by digest.
	var got []string
	for _, v := range body["manifests"].([]any) {
		got = append(got, v.(map[string]any)["digest"].(string))
	}
	want := []string{img, art, idx}
	assert.ElementsMatch(t, want, got)
	assert.IsIncreasing(t, got)

	m := metaManifestByDigest(t, body, img)
	assert.ElementsMatch(t, []string{"digest", "imageSize", "createdTime", "lastUpdateTime", "architecture", "os", "mediaType", "configMediaType", "tags", "changeableAttributes"}, metaKeys(m))
	assert.Equal(t, float64(2479), m["imageSize"])
	assert.Equal(t, "amd64", m["architecture"])
	assert.Equal(t, "linux", m["os"])
	assert.Equal(t, "application/vnd.docker.distribution.manifest.v2+json", m["mediaType"])
	assert.Equal(t, "application/vnd.docker.container.image.v1+json", m["configMediaType"])
	assert.Equal(t, []any{"v1"}, m["tags"])
	metaAssertTime(t, m["createdTime"])
	metaAssertTime(t, m["lastUpdateTime"])
	// Quarantine fields appear only once set.
	assert.Equal(t, map[string]any{"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true}, m["changeableAttributes"])

	// Index: references instead of architecture, os, configMediaType.
	m = metaManifestByDigest(t, body, idx)
	assert.ElementsMatch(t, []string{"digest", "imageSize", "createdTime", "lastUpdateTime", "mediaType", "tags", "changeableAttributes", "references"}, metaKeys(m))
	assert.Equal(t, []any{"latest", "multi"}, m["tags"])
	assert.Equal(t, []any{
		map[string]any{"digest": img, "architecture": "amd64", "os": "linux"},
		map[string]any{"digest": metaDigest("arm"), "architecture": "arm64", "os": "linux"},
	}, m["references"])

	// Untagged artifact: no tags, artifactType present.
	m = metaManifestByDigest(t, body, art)
	assert.NotContains(t, m, "tags")
	assert.NotContains(t, m, "references")
	assert.Equal(t, "application/vnd.example.sbom", m["artifactType"])
	assert.Equal(t, "application/vnd.oci.empty.v1+json", m["configMediaType"])
}

func TestMetadataManifestListPagingAndOrder(t *testing.T) {
	srv, clock := newMetaServer(t, &Options{MaxPageSize: 2})
	img, art, idx := metaSeedManifests(t, srv, clock)
	tok := metaToken(t, srv, "hello-world")
	lexical := []string{img, art, idx}
	for i := range lexical {
		for j := i + 1; j < len(lexical); j++ {
			if lexical[j] < lexical[i] {
				lexical[i], lexical[j] = lexical[j], lexical[i]
			}
		}
	}

	digests, links := metaFollow(t, srv, tok, "/acr/v1/hello-world/_manifests?n=1", "manifests", "digest")
	assert.Equal(t, lexical, digests)
	require.Len(t, links, 2)
	assert.Equal(t, `</acr/v1/hello-world/_manifests?last=`+strings.Replace(lexical[0], ":", "%3A", 1)+`&n=1&orderby=>; rel="next"`, links[0])

	// The Link's escaped digest works as last, and so does a raw one.
	_, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_manifests?last="+lexical[1], tok, "")
	assert.Len(t, body["manifests"], 1)

	digests, _ = metaFollow(t, srv, tok, "/acr/v1/hello-world/_manifests?n=1&orderby=timedesc", "manifests", "digest")
	assert.Equal(t, []string{idx, art, img}, digests)
	digests, links = metaFollow(t, srv, tok, "/acr/v1/hello-world/_manifests?n=1&orderby=timeasc", "manifests", "digest")
	assert.Equal(t, []string{img, art, idx}, digests)
	assert.Equal(t, `</acr/v1/hello-world/_manifests?last=`+strings.Replace(img, ":", "%3A", 1)+`&n=1&orderby=timeasc>; rel="next"`, links[0])

	// orderby without n: one page, beyond MaxPageSize.
	resp, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_manifests?orderby=timedesc", tok, "")
	assert.Len(t, body["manifests"], 3)
	assert.Empty(t, resp.Header.Values("Link"))

	// Unlisted manifests are left out.
	metaEdit(srv, func(st *registry) { st.repos["hello-world"].Manifests[art].Attrs.ListEnabled = false })
	digests, _ = metaFollow(t, srv, tok, "/acr/v1/hello-world/_manifests?n=1", "manifests", "digest")
	assert.ElementsMatch(t, []string{img, idx}, digests)
}

func TestMetadataManifestProperties(t *testing.T) {
	srv, clock := newMetaServer(t, nil)
	img, _, idx := metaSeedManifests(t, srv, clock)
	tok := metaToken(t, srv, "hello-world")

	// The digest works raw and with ':' escaped.
	for _, p := range []string{img, strings.Replace(img, ":", "%3A", 1)} {
		resp, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_manifests/"+p+"?api-version=2021-07-01", tok, "")
		metaAssertJSON(t, resp, http.StatusOK)
		assert.ElementsMatch(t, []string{"registry", "imageName", "manifest"}, metaKeys(body))
		assert.Equal(t, srv.Host, body["registry"])
		m := body["manifest"].(map[string]any)
		assert.Equal(t, img, m["digest"])
		assert.Equal(t, "amd64", m["architecture"])
		assert.Equal(t, []any{"v1"}, m["tags"])
	}

	_, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_manifests/"+idx, tok, "")
	m := body["manifest"].(map[string]any)
	assert.NotContains(t, m, "architecture")
	assert.NotContains(t, m, "os")
	assert.NotContains(t, m, "configMediaType")
	assert.Len(t, m["references"], 2)

	resp, body := metaJSON(t, srv, "GET", "/acr/v1/hello-world/_manifests/"+metaDigest("missing"), tok, "")
	metaAssertError(t, resp, body, http.StatusNotFound, CodeManifestUnknown, true)

	// A tag in the digest position is a routing 404 before any challenge.
	resp, raw := do(t, srv, "GET", "/acr/v1/hello-world/_manifests/wrong-digest", "", nil, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "404 page not found\n", string(raw))
}

func TestMetadataManifestPatch(t *testing.T) {
	srv, clock := newMetaServer(t, nil)
	img, _, _ := metaSeedManifests(t, srv, clock)
	tok := metaToken(t, srv, "hello-world")
	path := "/acr/v1/hello-world/_manifests/" + img

	resp, body := metaJSON(t, srv, "PATCH", path+"?api-version=2021-07-01", tok, `{"deleteEnabled":false}`)
	metaAssertJSON(t, resp, http.StatusOK)
	assert.ElementsMatch(t, []string{"registry", "imageName", "manifest"}, metaKeys(body))
	assert.Equal(t, map[string]any{"deleteEnabled": false, "writeEnabled": true, "readEnabled": true, "listEnabled": true}, body["manifest"].(map[string]any)["changeableAttributes"])

	resp, body = metaJSON(t, srv, "PATCH", path, tok, `{"quarantineState":"Passed","quarantineDetails":"{\"state\":\"scan passed\"}"}`)
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Equal(t, map[string]any{
		"deleteEnabled": false, "writeEnabled": true, "readEnabled": true, "listEnabled": true,
		"quarantineState": "Passed", "quarantineDetails": `{"state":"scan passed"}`,
	}, body["manifest"].(map[string]any)["changeableAttributes"])

	_, body = metaJSON(t, srv, "GET", path, tok, "")
	assert.Equal(t, "Passed", body["manifest"].(map[string]any)["changeableAttributes"].(map[string]any)["quarantineState"])

	for _, bad := range []string{`{"quarantineState":"Maybe"}`, `{"listEnabled":1}`, `{`} {
		resp, body = metaJSON(t, srv, "PATCH", path, tok, bad)
		metaAssertError(t, resp, body, http.StatusBadRequest, CodeUnsupported, false)
	}

	// Quarantine fields are manifest-only: a repository PATCH ignores them.
	_, body = metaJSON(t, srv, "PATCH", "/acr/v1/hello-world", tok, `{"quarantineState":"Failed"}`)
	assert.NotContains(t, body["changeableAttributes"], "quarantineState")

	resp, body = metaJSON(t, srv, "PATCH", "/acr/v1/hello-world/_manifests/"+metaDigest("missing"), tok, `{"deleteEnabled":true}`)
	metaAssertError(t, resp, body, http.StatusNotFound, CodeManifestUnknown, true)
}

func TestMetadataMethodNotAllowed(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	d := seedHelloWorld(t, srv)
	tok := metaToken(t, srv, "hello-world")
	for _, c := range []struct{ method, path string }{
		{"POST", "/acr/v1/_catalog"},
		{"DELETE", "/v2/_catalog"},
		{"PUT", "/acr/v1/hello-world"},
		{"POST", "/acr/v1/hello-world/_tags"},
		{"PUT", "/acr/v1/hello-world/_tags/latest"},
		{"PATCH", "/acr/v1/hello-world/_manifests"},
		{"DELETE", "/acr/v1/hello-world/_manifests/" + d},
	} {
		resp, body := metaJSON(t, srv, c.method, c.path, tok, "")
		metaAssertError(t, resp, body, http.StatusMethodNotAllowed, CodeUnsupported, true)
		assert.NotEmpty(t, resp.Header.Get("Allow"), c.path)
	}
}

func TestMetadataAnonymousPull(t *testing.T) {
	srv, _ := newMetaServer(t, &Options{AnonymousPull: true})
	d := seedHelloWorld(t, srv)
	// The body Go clients send, with an empty refresh_token.
	tok := postForm(t, srv, "/oauth2/token", url.Values{
		"grant_type": {"password"}, "refresh_token": {""}, "service": {srv.Host}, "scope": {"registry:catalog:*"},
	})["access_token"]
	require.NotEmpty(t, tok)

	resp, body := metaJSON(t, srv, "GET", "/acr/v1/_catalog", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Equal(t, []any{"hello-world"}, body["repositories"])

	resp, body = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags", tok, "")
	metaAssertJSON(t, resp, http.StatusOK)
	assert.Len(t, body["tags"], 1)
	resp, _ = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_manifests/"+d, tok, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// Anonymous writes fail with insufficient_scope.
	resp, body = metaJSON(t, srv, "PATCH", "/acr/v1/hello-world", tok, `{"deleteEnabled":true}`)
	metaAssertError(t, resp, body, http.StatusUnauthorized, CodeUnauthorized, false)
	assert.Equal(t, metaWantChallenge(srv, "repository:hello-world:metadata_write")+`,error="insufficient_scope"`, resp.Header.Get("WWW-Authenticate"))
	resp, _ = metaJSON(t, srv, "DELETE", "/acr/v1/hello-world/_tags/latest", tok, "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `scope="repository:hello-world:delete"`)

	// Nothing changed.
	resp, _ = metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags/latest", tok, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestMetadataRequestLogScope(t *testing.T) {
	srv, _ := newMetaServer(t, nil)
	seedHelloWorld(t, srv)
	tok := metaToken(t, srv, "hello-world")
	srv.ResetRequests()
	metaJSON(t, srv, "GET", "/acr/v1/hello-world/_tags", tok, "")
	metaJSON(t, srv, "DELETE", "/acr/v1/hello-world/_tags/latest", tok, "")
	log := srv.Requests()
	require.Len(t, log, 2)
	assert.Equal(t, "repository:hello-world:metadata_read", log[0].Scope)
	assert.Equal(t, http.StatusOK, log[0].Status)
	assert.Equal(t, "bearer", log[0].Auth)
	assert.Equal(t, "repository:hello-world:delete", log[1].Scope)
	assert.Equal(t, http.StatusAccepted, log[1].Status)
}
