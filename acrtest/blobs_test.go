package acrtest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const blobScopes = "repository:hello:pull,push,delete"

func blobDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func blobRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// blobErr decodes the single entry of an ACR error body.
func blobErr(t *testing.T, body []byte) errorInfo {
	t.Helper()
	var eb errorBody
	require.NoError(t, json.Unmarshal(body, &eb), string(body))
	require.Len(t, eb.Errors, 1, string(body))
	return eb.Errors[0]
}

var blobLocationRE = regexp.MustCompile(`^/v2/(.+)/blobs/uploads/([0-9a-f-]{36})\?_nouploadcache=false&_state=([^&]+)$`)

// blobStart POSTs a new session and returns its Location.
func blobStart(t *testing.T, srv *Server, token, name string) string {
	t.Helper()
	resp, body := do(t, srv, http.MethodPost, "/v2/"+name+"/blobs/uploads/", token, nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	return resp.Header.Get("Location")
}

// blobPatch PATCHes data to loc, with Content-Range when cr is set.
func blobPatch(t *testing.T, srv *Server, token, loc string, data []byte, cr string) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if cr != "" {
		h.Set("Content-Range", cr)
	}
	return do(t, srv, http.MethodPatch, loc, token, bytes.NewReader(data), h)
}

// blobComplete PUTs loc&digest= with an empty body.
func blobComplete(t *testing.T, srv *Server, token, loc, digest string) (*http.Response, []byte) {
	t.Helper()
	return do(t, srv, http.MethodPut, loc+"&digest="+url.QueryEscape(digest), token, http.NoBody, nil)
}

// blobUpload pushes content in chunks of chunk bytes and completes it.
func blobUpload(t *testing.T, srv *Server, token, name string, content []byte, chunk int, digest string) {
	t.Helper()
	loc := blobStart(t, srv, token, name)
	for off := 0; off < len(content); off += chunk {
		end := min(off+chunk, len(content))
		resp, body := blobPatch(t, srv, token, loc, content[off:end], fmt.Sprintf("%d-%d", off, end-1))
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
		require.Equal(t, fmt.Sprintf("0-%d", end-1), resp.Header.Get("Range"))
		loc = resp.Header.Get("Location")
	}
	resp, body := blobComplete(t, srv, token, loc, digest)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
}

func TestUploadStart(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	resp, body := do(t, srv, http.MethodPost, "/v2/hello/blobs/uploads/", tok, nil, http.Header{"Content-Length": {"0"}})
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	require.Empty(t, body)
	require.Equal(t, "0", resp.Header.Get("Content-Length"))
	require.Equal(t, "0-0", resp.Header.Get("Range"))
	m := blobLocationRE.FindStringSubmatch(resp.Header.Get("Location"))
	require.NotNil(t, m, "Location %q", resp.Header.Get("Location"))
	require.Equal(t, "hello", m[1])
	require.Equal(t, m[2], resp.Header.Get("Docker-Upload-Uuid"))
	require.Equal(t, "registry/2.0", resp.Header.Get("Docker-Distribution-Api-Version"))
}

func TestUploadStartNestedNameUnescapedInLocation(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, "repository:library/hello:pull,push")
	// Python and .NET escape the slash; the Location
	// carries the name as a plain path.
	resp, body := do(t, srv, http.MethodPost, "/v2/library%2Fhello/blobs/uploads/", tok, nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/v2/library/hello/blobs/uploads/"), loc)

	content := []byte("nested")
	resp, body = blobPatch(t, srv, tok, loc, content, "0-5")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	resp, body = blobComplete(t, srv, tok, resp.Header.Get("Location"), blobDigest(content))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Equal(t, "/v2/library/hello/blobs/"+blobDigest(content), resp.Header.Get("Location"))
}

func TestUploadChunkedWithContentRangeRoundTrip(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	content := blobRandom(t, 2479)
	digest := blobDigest(content)

	loc := blobStart(t, srv, tok, "hello")
	// The recorded chunking: 0-1238 then 1239-2478.
	resp, body := blobPatch(t, srv, tok, loc, content[:1239], "0-1238")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	require.Empty(t, body)
	require.Equal(t, "0", resp.Header.Get("Content-Length"))
	require.Equal(t, "0-1238", resp.Header.Get("Range"))
	require.NotEmpty(t, resp.Header.Get("Docker-Upload-Uuid"))
	loc2 := resp.Header.Get("Location")
	require.Regexp(t, blobLocationRE, loc2)

	resp, body = blobPatch(t, srv, tok, loc2, content[1239:], "1239-2478")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	require.Equal(t, "0-2478", resp.Header.Get("Range"))

	resp, body = blobComplete(t, srv, tok, resp.Header.Get("Location"), digest)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Empty(t, body)
	require.Equal(t, "0", resp.Header.Get("Content-Length"))
	require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))
	require.Equal(t, "/v2/hello/blobs/"+digest, resp.Header.Get("Location"))

	resp, body = do(t, srv, http.MethodGet, resp.Header.Get("Location"), tok, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, content, body)

	stored, ok := srv.Blob("hello", digest)
	require.True(t, ok)
	require.Equal(t, content, stored)

	// The session is gone once completed.
	resp, body = do(t, srv, http.MethodGet, loc2, tok, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, CodeBlobUploadUnknown, blobErr(t, body).Code)
}

func TestUploadStateChangesAndStaleLocationRefused(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc0 := blobStart(t, srv, tok, "hello")

	resp, _ := blobPatch(t, srv, tok, loc0, []byte("abc"), "0-2")
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	loc1 := resp.Header.Get("Location")
	require.NotEqual(t, loc0, loc1)
	uuid := blobLocationRE.FindStringSubmatch(loc0)[2]
	require.Equal(t, uuid, blobLocationRE.FindStringSubmatch(loc1)[2], "same session, new state")

	// Even an empty chunk moves the state on.
	resp, _ = blobPatch(t, srv, tok, loc1, nil, "")
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "0-2", resp.Header.Get("Range"))
	loc2 := resp.Header.Get("Location")
	require.NotEqual(t, loc1, loc2)

	for _, stale := range []string{loc0, loc1} {
		resp, body := blobPatch(t, srv, tok, stale, []byte("def"), "")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, CodeBlobUploadInvalid, blobErr(t, body).Code)
		resp, body = blobComplete(t, srv, tok, stale, blobDigest([]byte("abc")))
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, CodeBlobUploadInvalid, blobErr(t, body).Code)
	}

	// A forged state (the state of another session, or garbage, or none).
	other := blobStart(t, srv, tok, "hello")
	otherState := blobLocationRE.FindStringSubmatch(other)[3]
	base := strings.SplitN(loc2, "&_state=", 2)[0]
	for _, forged := range []string{base + "&_state=" + otherState, base + "&_state=AAAA", base} {
		resp, body := blobPatch(t, srv, tok, forged, []byte("def"), "")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, forged)
		require.Equal(t, CodeBlobUploadInvalid, blobErr(t, body).Code)
	}

	// The refusals changed nothing: the newest Location still works.
	resp, body := blobPatch(t, srv, tok, loc2, []byte("def"), "3-5")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	require.Equal(t, "0-5", resp.Header.Get("Range"))
	resp, body = blobComplete(t, srv, tok, resp.Header.Get("Location"), blobDigest([]byte("abcdef")))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
}

func TestUploadCumulativeRange(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	content := blobRandom(t, 1000)
	blobUpload(t, srv, tok, "hello", content, 256, blobDigest(content)) // asserts Range after each PATCH
	got, ok := srv.Blob("hello", blobDigest(content))
	require.True(t, ok)
	require.Equal(t, content, got)
}

func TestUploadStatus(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc := blobStart(t, srv, tok, "hello")

	resp, body := do(t, srv, http.MethodGet, loc, tok, nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Empty(t, body)
	require.Equal(t, "0-0", resp.Header.Get("Range"))

	resp, _ = blobPatch(t, srv, tok, loc, make([]byte, 512), "0-511")
	loc = resp.Header.Get("Location")
	resp, body = do(t, srv, http.MethodGet, loc, tok, nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Empty(t, body)
	require.Equal(t, "0-511", resp.Header.Get("Range"))
	require.Equal(t, blobLocationRE.FindStringSubmatch(loc)[2], resp.Header.Get("Docker-Upload-Uuid"))
	require.Regexp(t, blobLocationRE, resp.Header.Get("Location"))
	_, hasLength := resp.Header["Content-Length"]
	require.False(t, hasLength, "204 status has no Content-Length")

	// The Location from the status answer continues the upload.
	resp, body = blobPatch(t, srv, tok, resp.Header.Get("Location"), make([]byte, 10), "512-521")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	require.Equal(t, "0-521", resp.Header.Get("Range"))
}

func TestUploadPatchWithoutContentRange(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	content := []byte("0123456789012345678901234567") // 28 bytes, as recorded
	loc := blobStart(t, srv, tok, "hello")
	resp, body := blobPatch(t, srv, tok, loc, content, "")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	require.Equal(t, "0-27", resp.Header.Get("Range"))
	resp, body = blobComplete(t, srv, tok, resp.Header.Get("Location"), blobDigest(content))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
}

func TestUploadContentRangeMismatch416(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc := blobStart(t, srv, tok, "hello")
	resp, _ := blobPatch(t, srv, tok, loc, []byte("abcd"), "0-3")
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	loc = resp.Header.Get("Location")

	for _, cr := range []string{
		"5-8",          // start is not the current offset
		"0-3",          // a chunk sent again
		"4-9",          // span longer than the body
		"bytes 4-7/8",  // RFC 9110 form: ACR's has no unit and no total
		"4-7/8",        // no total either
		"not-a-number", // malformed
	} {
		resp, body := blobPatch(t, srv, tok, loc, []byte("efgh"), cr)
		require.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode, cr)
		require.Equal(t, CodeBlobUploadInvalid, blobErr(t, body).Code, cr)
		require.Equal(t, "0-3", resp.Header.Get("Range"), cr)
	}
	// A refused chunk neither moves the offset nor invalidates the state.
	resp, body := blobPatch(t, srv, tok, loc, []byte("efgh"), "4-7")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	require.Equal(t, "0-7", resp.Header.Get("Range"))
}

func TestUploadChunkedTransferEncodingRefused(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc := blobStart(t, srv, tok, "hello")

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPatch, srv.URL+loc, io.MultiReader(strings.NewReader("abc")))
	require.NoError(t, err)
	req.ContentLength = -1 // unknown length: net/http sends it chunked
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "CONTENT_LENGTH_INVALID", blobErr(t, body).Code)

	// Nothing was appended and the Location is still current.
	resp, body = do(t, srv, http.MethodGet, loc, tok, nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, string(body))
	require.Equal(t, "0-0", resp.Header.Get("Range"))
	resp, body = blobPatch(t, srv, tok, loc, []byte("abc"), "0-2")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
}

func TestUploadCompleteWrongDigest(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc := blobStart(t, srv, tok, "hello")
	resp, _ := blobPatch(t, srv, tok, loc, []byte("hello"), "0-4")
	loc = resp.Header.Get("Location")

	resp, body := blobComplete(t, srv, tok, loc, blobDigest([]byte("other")))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	e := blobErr(t, body)
	require.Equal(t, CodeDigestInvalid, e.Code)
	require.Equal(t, "provided digest did not match uploaded content", e.Message)
	require.JSONEq(t, `"digest parsing failed"`, string(e.Detail), "detail is a string")

	// The session was discarded.
	resp, body = do(t, srv, http.MethodGet, loc, tok, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, CodeBlobUploadUnknown, blobErr(t, body).Code)
	_, ok := srv.Blob("hello", blobDigest([]byte("hello")))
	require.False(t, ok)
}

func TestUploadCompleteMalformedDigest(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc := blobStart(t, srv, tok, "hello")
	resp, _ := blobPatch(t, srv, tok, loc, []byte("hello"), "0-4")
	loc = resp.Header.Get("Location")

	for _, d := range []string{"", "sha256:xyz", "md5:" + strings.Repeat("a", 32), "sha256:" + strings.Repeat("A", 64)} {
		resp, body := do(t, srv, http.MethodPut, loc+"&digest="+url.QueryEscape(d), tok, http.NoBody, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, d)
		require.Equal(t, CodeDigestInvalid, blobErr(t, body).Code, d)
	}
	// A malformed request leaves the session intact.
	resp, body := blobComplete(t, srv, tok, loc, blobDigest([]byte("hello")))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
}

func TestUploadCompleteWithFinalBody(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	content := []byte("first part|final part")
	loc := blobStart(t, srv, tok, "hello")
	resp, _ := blobPatch(t, srv, tok, loc, content[:11], "0-10")
	loc = resp.Header.Get("Location")
	digest := blobDigest(content)
	resp, body := do(t, srv, http.MethodPut, loc+"&digest="+url.QueryEscape(digest), tok, bytes.NewReader(content[11:]),
		http.Header{"Content-Type": {"application/octet-stream"}})
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))
	got, ok := srv.Blob("hello", digest)
	require.True(t, ok)
	require.Equal(t, content, got)
}

func TestUploadCancel(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc := blobStart(t, srv, tok, "hello")
	resp, _ := blobPatch(t, srv, tok, loc, []byte("abc"), "0-2")
	loc = resp.Header.Get("Location")
	uuid := resp.Header.Get("Docker-Upload-Uuid")

	resp, body := do(t, srv, http.MethodDelete, loc, tok, nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Empty(t, body)
	require.Equal(t, uuid, resp.Header.Get("Docker-Upload-Uuid"))

	for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		resp, body := do(t, srv, method, loc, tok, nil, nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, method)
		require.Equal(t, CodeBlobUploadUnknown, blobErr(t, body).Code, method)
	}
}

func TestUploadUnknownSession(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	resp, body := blobPatch(t, srv, tok, "/v2/hello/blobs/uploads/"+newID()+"?_nouploadcache=false&_state=AAAA", []byte("x"), "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, CodeBlobUploadUnknown, blobErr(t, body).Code)

	// A session belongs to its repository.
	tok2 := accessToken(t, srv, blobScopes+" repository:other:pull,push")
	loc := blobStart(t, srv, tok2, "hello")
	resp, body = blobPatch(t, srv, tok2, strings.Replace(loc, "/v2/hello/", "/v2/other/", 1), []byte("x"), "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, CodeBlobUploadUnknown, blobErr(t, body).Code)
}

func TestUploadPartialBodyResumesFromStatus(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc := blobStart(t, srv, tok, "hello")
	content := blobRandom(t, 100)

	// Send a PATCH announcing 100 bytes, deliver 40 and hang up.
	conn, err := tls.Dial("tcp", srv.Host, srv.TLSConfig())
	require.NoError(t, err)
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/octet-stream\r\nContent-Range: 0-99\r\nContent-Length: 100\r\n\r\n", loc, srv.Host, tok)
	_, err = conn.Write(content[:40])
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	// The old Location is good for asking where the upload stands; what
	// arrived was kept.
	var resp *http.Response
	require.Eventually(t, func() bool {
		resp, _ = do(t, srv, http.MethodGet, loc, tok, nil, nil)
		return resp.StatusCode == http.StatusNoContent && resp.Header.Get("Range") == "0-39"
	}, 5*time.Second, 10*time.Millisecond)

	// ... but not for sending more: the state moved on.
	r2, body := blobPatch(t, srv, tok, loc, content[40:], "40-99")
	require.Equal(t, http.StatusBadRequest, r2.StatusCode)
	require.Equal(t, CodeBlobUploadInvalid, blobErr(t, body).Code)

	r2, body = blobPatch(t, srv, tok, resp.Header.Get("Location"), content[40:], "40-99")
	require.Equal(t, http.StatusAccepted, r2.StatusCode, string(body))
	require.Equal(t, "0-99", r2.Header.Get("Range"))
	r2, body = blobComplete(t, srv, tok, r2.Header.Get("Location"), blobDigest(content))
	require.Equal(t, http.StatusCreated, r2.StatusCode, string(body))
}

func TestUploadWriteDisabledDenied(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc := blobStart(t, srv, tok, "hello")
	srv.PutBlob("hello", []byte("x")) // creates the repository
	srv.state.mu.Lock()
	srv.state.repos["hello"].Attrs.WriteEnabled = false
	srv.state.mu.Unlock()

	resp, body := do(t, srv, http.MethodPost, "/v2/hello/blobs/uploads/", tok, nil, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, CodeDenied, blobErr(t, body).Code)
	resp, body = blobPatch(t, srv, tok, loc, []byte("abc"), "0-2")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, CodeDenied, blobErr(t, body).Code)
	resp, body = blobComplete(t, srv, tok, loc, blobDigest(nil))
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, CodeDenied, blobErr(t, body).Code)
}

func TestUploadMonolithicPost(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	content := blobRandom(t, 3000)
	digest := blobDigest(content)
	resp, body := do(t, srv, http.MethodPost, "/v2/hello/blobs/uploads/?digest="+url.QueryEscape(digest), tok,
		bytes.NewReader(content), http.Header{"Content-Type": {"application/octet-stream"}})
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Empty(t, body)
	require.Equal(t, "0", resp.Header.Get("Content-Length"))
	require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))
	require.Equal(t, "/v2/hello/blobs/"+digest, resp.Header.Get("Location"))
	got, ok := srv.Blob("hello", digest)
	require.True(t, ok)
	require.Equal(t, content, got)

	// The empty blob, with Content-Length: 0.
	empty := blobDigest(nil)
	resp, body = do(t, srv, http.MethodPost, "/v2/hello/blobs/uploads/?digest="+url.QueryEscape(empty), tok, http.NoBody, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Equal(t, empty, resp.Header.Get("Docker-Content-Digest"))
	resp, body = do(t, srv, http.MethodGet, "/v2/hello/blobs/"+empty, tok, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "0", resp.Header.Get("Content-Length"))
	require.Empty(t, body)

	// A wrong digest stores nothing.
	resp, body = do(t, srv, http.MethodPost, "/v2/hello/blobs/uploads/?digest="+url.QueryEscape(blobDigest([]byte("x"))), tok,
		bytes.NewReader([]byte("y")), nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, CodeDigestInvalid, blobErr(t, body).Code)
	_, ok = srv.Blob("hello", blobDigest([]byte("x")))
	require.False(t, ok)
}

func TestMountBlobCreated(t *testing.T) {
	srv := NewServer(t, nil)
	content := []byte("layer to share")
	digest := srv.PutBlob("src", content)
	tok := accessToken(t, srv, "repository:hello:pull,push repository:src:pull")

	resp, body := do(t, srv, http.MethodPost, "/v2/hello/blobs/uploads/?from=src&mount="+url.QueryEscape(digest), tok, nil, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Empty(t, body)
	require.Equal(t, "0", resp.Header.Get("Content-Length"))
	require.Equal(t, "/v2/hello/blobs/"+digest, resp.Header.Get("Location"))
	require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))
	require.Empty(t, resp.Header.Get("Docker-Upload-Uuid"))

	got, ok := srv.Blob("hello", digest)
	require.True(t, ok)
	require.Equal(t, content, got)
}

func TestMountFallsBackToUploadSession(t *testing.T) {
	srv := NewServer(t, nil)
	elsewhere := srv.PutBlob("third", []byte("stored, but not in src"))
	srv.PutBlob("src", []byte("something else"))
	tok := accessToken(t, srv, "repository:hello:pull,push repository:src:pull")

	for _, digest := range []string{elsewhere, blobDigest([]byte("never pushed"))} {
		resp, body := do(t, srv, http.MethodPost, "/v2/hello/blobs/uploads/?from=src&mount="+url.QueryEscape(digest), tok, nil, nil)
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
		require.Empty(t, body)
		require.Equal(t, "0-0", resp.Header.Get("Range"))
		m := blobLocationRE.FindStringSubmatch(resp.Header.Get("Location"))
		require.NotNil(t, m, resp.Header.Get("Location"))
		require.Equal(t, m[2], resp.Header.Get("Docker-Upload-Uuid"))
		require.Empty(t, resp.Header.Get("Docker-Content-Digest"))
		_, ok := srv.Blob("hello", digest)
		require.False(t, ok)
	}
}

func TestMountChallengeNamesBothRepositories(t *testing.T) {
	srv := NewServer(t, nil)
	digest := srv.PutBlob("src", []byte("x"))
	resp, body := do(t, srv, http.MethodPost, "/v2/hello/blobs/uploads/?from=src&mount="+url.QueryEscape(digest), "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",scope="repository:hello:pull,push repository:src:pull"`, srv.Host, srv.Host),
		resp.Header.Get("WWW-Authenticate"))
	require.Equal(t, CodeUnauthorized, blobErr(t, body).Code)

	// A token for the destination alone is not enough.
	tok := accessToken(t, srv, "repository:hello:pull,push")
	resp, _ = do(t, srv, http.MethodPost, "/v2/hello/blobs/uploads/?from=src&mount="+url.QueryEscape(digest), tok, nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`)
}

func TestUploadChallengeScopes(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc := blobStart(t, srv, tok, "hello")
	digest := srv.PutBlob("hello", []byte("x"))
	challenge := func(sc string) string {
		return fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",scope="%s"`, srv.Host, srv.Host, sc)
	}
	// The action order differs between the POST and what follows.
	for _, c := range []struct{ method, path, scope string }{
		{http.MethodPost, "/v2/hello/blobs/uploads/", "repository:hello:push,pull"},
		{http.MethodPatch, loc, "repository:hello:pull,push"},
		{http.MethodPut, loc + "&digest=" + url.QueryEscape(digest), "repository:hello:pull,push"},
		{http.MethodGet, loc, "repository:hello:pull,push"},
		{http.MethodDelete, loc, "repository:hello:delete"},
		{http.MethodGet, "/v2/hello/blobs/" + digest, "repository:hello:pull"},
		{http.MethodHead, "/v2/hello/blobs/" + digest, "repository:hello:pull"},
		{http.MethodDelete, "/v2/hello/blobs/" + digest, "repository:hello:delete"},
	} {
		resp, _ := do(t, srv, c.method, c.path, "", nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, c.method+" "+c.path)
		require.Equal(t, challenge(c.scope), resp.Header.Get("WWW-Authenticate"), c.method+" "+c.path)
	}

	// A pull-only token cannot push: insufficient_scope.
	pull := accessToken(t, srv, "repository:hello:pull")
	resp, _ := blobPatch(t, srv, pull, loc, []byte("x"), "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, challenge("repository:hello:pull,push")+`,error="insufficient_scope"`, resp.Header.Get("WWW-Authenticate"))
}

func TestBlobGetAndHead(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	content := blobRandom(t, 1024)
	digest := srv.PutBlob("hello", content)

	resp, body := do(t, srv, http.MethodGet, "/v2/hello/blobs/"+digest, tok, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, content, body)
	require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "1024", resp.Header.Get("Content-Length"))
	require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))
	require.Equal(t, "bytes", resp.Header.Get("Accept-Ranges"))

	// The escaped digest form works as well.
	resp, body = do(t, srv, http.MethodGet, "/v2/hello/blobs/"+url.PathEscape(digest), tok, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, content, body)

	for _, rng := range []string{"", "bytes=512-767"} {
		h := http.Header{}
		if rng != "" {
			h.Set("Range", rng)
		}
		resp, body := do(t, srv, http.MethodHead, "/v2/hello/blobs/"+digest, tok, nil, h)
		require.Equal(t, http.StatusOK, resp.StatusCode, "HEAD ignores Range")
		require.Empty(t, body)
		require.Equal(t, "1024", resp.Header.Get("Content-Length"))
		require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))
		require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
		require.Empty(t, resp.Header.Get("Content-Range"))
	}
}

func TestBlobRangedGet(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	content := blobRandom(t, 1024)
	digest := srv.PutBlob("hello", content)

	for _, c := range []struct {
		rng        string
		start, end int
	}{
		{"bytes=512-767", 512, 767},
		{"bytes=1000-", 1000, 1023},
		{"bytes=1000-5000", 1000, 1023},
		{"bytes=-24", 1000, 1023},
		{"bytes=0-0", 0, 0},
	} {
		resp, body := do(t, srv, http.MethodGet, "/v2/hello/blobs/"+digest, tok, nil, http.Header{"Range": {c.rng}})
		require.Equal(t, http.StatusPartialContent, resp.StatusCode, c.rng)
		require.Equal(t, fmt.Sprintf("bytes %d-%d/1024", c.start, c.end), resp.Header.Get("Content-Range"), c.rng)
		require.Equal(t, fmt.Sprint(c.end-c.start+1), resp.Header.Get("Content-Length"), c.rng)
		require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"), c.rng)
		require.Equal(t, content[c.start:c.end+1], body, c.rng)
	}

	resp, _ := do(t, srv, http.MethodGet, "/v2/hello/blobs/"+digest, tok, nil, http.Header{"Range": {"bytes=1024-"}})
	require.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)
	require.Equal(t, "bytes */1024", resp.Header.Get("Content-Range"))
}

func TestBlobUnknown(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	// Stored for another repository: unknown in this one.
	digest := srv.PutBlob("other", []byte("not yours"))
	srv.PutBlob("hello", []byte("mine"))

	resp, body := do(t, srv, http.MethodGet, "/v2/hello/blobs/"+digest, tok, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, CodeBlobUnknown, blobErr(t, body).Code)

	resp, body = do(t, srv, http.MethodHead, "/v2/hello/blobs/"+digest, tok, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Empty(t, body)

	resp, body = do(t, srv, http.MethodDelete, "/v2/hello/blobs/"+digest, tok, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, CodeBlobUnknown, blobErr(t, body).Code)
	_, ok := srv.Blob("other", digest)
	require.True(t, ok, "a refused DELETE leaves other repositories alone")
}

func TestBlobInvalidDigestAndName(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes+" repository:Hello:pull,push")
	for _, d := range []string{"sha256:abc", "latest", "sha256:" + strings.Repeat("g", 64)} {
		resp, body := do(t, srv, http.MethodGet, "/v2/hello/blobs/"+d, tok, nil, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, d)
		require.Equal(t, CodeDigestInvalid, blobErr(t, body).Code, d)
	}
	resp, body := do(t, srv, http.MethodGet, "/v2/Hello/blobs/"+blobDigest(nil), tok, nil, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, CodeNameInvalid, blobErr(t, body).Code)
	resp, body = do(t, srv, http.MethodPost, "/v2/Hello/blobs/uploads/", tok, nil, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, CodeNameInvalid, blobErr(t, body).Code)

	// Without a token the challenge still comes first.
	resp, _ = do(t, srv, http.MethodGet, "/v2/hello/blobs/sha256:abc", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestBlobDelete(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	shared := []byte("shared layer")
	digest := srv.PutBlob("hello", shared)
	srv.PutBlob("other", shared)
	only := srv.PutBlob("hello", []byte("only here"))

	resp, body := do(t, srv, http.MethodDelete, "/v2/hello/blobs/"+digest, tok, nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	require.Empty(t, body)
	require.Equal(t, "0", resp.Header.Get("Content-Length"))
	_, has := resp.Header["Docker-Content-Digest"]
	require.False(t, has, "no Docker-Content-Digest on blob DELETE")

	resp, _ = do(t, srv, http.MethodGet, "/v2/hello/blobs/"+digest, tok, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	got, ok := srv.Blob("other", digest)
	require.True(t, ok, "still linked elsewhere")
	require.Equal(t, shared, got)

	resp, _ = do(t, srv, http.MethodDelete, "/v2/hello/blobs/"+only, tok, nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	_, stored := srv.state.blobs.stat(only)
	require.False(t, stored, "content linked nowhere is dropped")
}

// blobNoRedirect is srv.Client() without following redirects.
func blobNoRedirect(srv *Server) *http.Client {
	c := *srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func blobSend(t *testing.T, c *http.Client, method, target string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func TestBlobRedirectToStorage(t *testing.T) {
	srv := NewServer(t, &Options{RedirectBlobs: true})
	tok := accessToken(t, srv, blobScopes)
	content := blobRandom(t, 1024)
	digest := srv.PutBlob("hello", content)
	hx := strings.TrimPrefix(digest, "sha256:")
	client := blobNoRedirect(srv)
	auth := http.Header{"Authorization": {"Bearer " + tok}}

	resp, body := blobSend(t, client, http.MethodGet, srv.URL+"/v2/hello/blobs/"+digest, auth)
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
	require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	loc := resp.Header.Get("Location")
	require.Regexp(t, `^`+regexp.QuoteMeta(srv.StorageURL()+"/docker/registry/v2/blobs/sha256/"+hx[:2]+"/"+hx+"/data?se=")+
		`[^&]+&sig=[^&]+&sp=r&spr=https&sr=b&sv=2016-05-31$`, loc)
	require.Equal(t, `<a href="`+html.EscapeString(loc)+`">Temporary Redirect</a>.`+"\n\n", string(body))

	// Storage serves the bytes without any credentials.
	resp, body = blobSend(t, client, http.MethodGet, loc, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, content, body)
	require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "1024", resp.Header.Get("Content-Length"))
	require.Equal(t, "bytes", resp.Header.Get("Accept-Ranges"))
	require.Regexp(t, `^"0x8D[0-9A-F]{13}"$`, resp.Header.Get("ETag"))
	_, err := http.ParseTime(resp.Header.Get("Last-Modified"))
	require.NoError(t, err)
	require.Equal(t, "Windows-Azure-Blob/1.0", resp.Header.Get("Server"))
	require.NotEmpty(t, resp.Header.Get("X-Ms-Request-Id"))
	require.Equal(t, "2016-05-31", resp.Header.Get("X-Ms-Version"))
	_, has := resp.Header["Docker-Content-Digest"]
	require.False(t, has, "storage sends no Docker-Content-Digest")

	// Ranged read: the registry redirects anyway, storage answers 206.
	rng := http.Header{"Range": {"bytes=512-767"}, "Authorization": auth["Authorization"]}
	resp, _ = blobSend(t, client, http.MethodGet, srv.URL+"/v2/hello/blobs/"+digest, rng)
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
	resp, body = blobSend(t, client, http.MethodGet, resp.Header.Get("Location"), http.Header{"Range": {"bytes=512-767"}})
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, "bytes 512-767/1024", resp.Header.Get("Content-Range"))
	require.Equal(t, "256", resp.Header.Get("Content-Length"))
	require.Equal(t, content[512:768], body)

	resp, body = blobSend(t, client, http.MethodGet, loc, http.Header{"Range": {"bytes=4096-"}})
	require.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)
	require.Contains(t, string(body), "<Code>InvalidRange</Code>")

	// HEAD is answered by the registry itself.
	resp, body = blobSend(t, client, http.MethodHead, srv.URL+"/v2/hello/blobs/"+digest, auth)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, body)
	require.Equal(t, "1024", resp.Header.Get("Content-Length"))
	require.Equal(t, digest, resp.Header.Get("Docker-Content-Digest"))

	// Storage reads are logged under the storage host.
	storageHost := strings.TrimPrefix(srv.StorageURL(), "https://")
	var logged int
	for _, r := range srv.Requests() {
		if r.Host == storageHost {
			logged++
			require.Equal(t, "", r.Auth)
			require.True(t, strings.HasPrefix(r.Path, "/docker/registry/v2/blobs/"), r.Path)
		}
	}
	require.Equal(t, 3, logged)
}

func TestStorageRefusesAuthorization(t *testing.T) {
	srv := NewServer(t, &Options{RedirectBlobs: true})
	tok := accessToken(t, srv, blobScopes)
	digest := srv.PutBlob("hello", []byte("secret-free"))
	client := blobNoRedirect(srv)
	auth := http.Header{"Authorization": {"Bearer " + tok}}

	resp, _ := blobSend(t, client, http.MethodGet, srv.URL+"/v2/hello/blobs/"+digest, auth)
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
	loc := resp.Header.Get("Location")

	srv.ResetRequests()
	resp, body := blobSend(t, client, http.MethodGet, loc, auth)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "application/xml", resp.Header.Get("Content-Type"))
	require.Contains(t, string(body), "<Code>InvalidAuthenticationInfo</Code>")
	require.Contains(t, string(body), "Authentication information is not given in the correct format")

	log := srv.Requests()
	require.Len(t, log, 1)
	require.Equal(t, strings.TrimPrefix(srv.StorageURL(), "https://"), log[0].Host)
	require.Equal(t, "bearer", log[0].Auth)
	require.Equal(t, http.StatusBadRequest, log[0].Status)
}

func TestStorageRefusesForgedOrExpiredSAS(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := NewServer(t, &Options{RedirectBlobs: true, Now: clock})
	tok := accessToken(t, srv, blobScopes)
	digest := srv.PutBlob("hello", []byte("content"))
	other := srv.PutBlob("hello", []byte("other content"))
	client := blobNoRedirect(srv)

	resp, _ := blobSend(t, client, http.MethodGet, srv.URL+"/v2/hello/blobs/"+digest, http.Header{"Authorization": {"Bearer " + tok}})
	loc := resp.Header.Get("Location")
	u, err := url.Parse(loc)
	require.NoError(t, err)

	// The signature covers the blob and the expiry.
	forged := *u
	forged.Path = storagePath(other)
	resp, body := blobSend(t, client, http.MethodGet, forged.String(), nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, string(body), "<Code>AuthenticationFailed</Code>")
	q := u.Query()
	q.Set("se", "2099-01-01T00:00:00Z")
	forged = *u
	forged.RawQuery = q.Encode()
	resp, _ = blobSend(t, client, http.MethodGet, forged.String(), nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	resp, _ = blobSend(t, client, http.MethodGet, loc, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	mu.Lock()
	now = now.Add(21 * time.Minute)
	mu.Unlock()
	resp, body = blobSend(t, client, http.MethodGet, loc, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "SAS URLs expire after about 20 minutes")
	require.Contains(t, string(body), "<Code>AuthenticationFailed</Code>")
}

func TestUploadSHA512(t *testing.T) {
	srv := NewServer(t, &Options{RedirectBlobs: true})
	tok := accessToken(t, srv, blobScopes)
	content := blobRandom(t, 5000)
	sum := sha512.Sum512(content)
	digest := "sha512:" + hex.EncodeToString(sum[:])
	blobUpload(t, srv, tok, "hello", content, 2048, digest)

	got, ok := srv.Blob("hello", digest)
	require.True(t, ok)
	require.Equal(t, content, got)

	client := blobNoRedirect(srv)
	resp, _ := blobSend(t, client, http.MethodGet, srv.URL+"/v2/hello/blobs/"+digest, http.Header{"Authorization": {"Bearer " + tok}})
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.Contains(t, loc, "/docker/registry/v2/blobs/sha512/"+hex.EncodeToString(sum[:1])+"/"+hex.EncodeToString(sum[:])+"/data?")
	resp, body := blobSend(t, client, http.MethodGet, loc, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, content, body)

	// The wrong sha512 is refused like the wrong sha256.
	loc = blobStart(t, srv, tok, "hello")
	resp, _ = blobPatch(t, srv, tok, loc, content, "")
	resp, body = blobComplete(t, srv, tok, resp.Header.Get("Location"), "sha512:"+strings.Repeat("0", 128))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, CodeDigestInvalid, blobErr(t, body).Code)
}

func TestUploadDirMode(t *testing.T) {
	dir := t.TempDir()
	srv := NewServer(t, &Options{Dir: dir})
	tok := accessToken(t, srv, blobScopes)
	content := blobRandom(t, 3<<20+12345)
	digest := blobDigest(content)
	blobUpload(t, srv, tok, "hello", content, 1<<20, digest)

	hx := strings.TrimPrefix(digest, "sha256:")
	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	}))
	require.Len(t, files, 1, "only the committed blob remains: %v", files)
	require.Contains(t, files[0], hx)
	fi, err := os.Stat(files[0])
	require.NoError(t, err)
	require.EqualValues(t, len(content), fi.Size())

	resp, body := do(t, srv, http.MethodGet, "/v2/hello/blobs/"+digest, tok, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, bytes.Equal(content, body))
	resp, body = do(t, srv, http.MethodGet, "/v2/hello/blobs/"+digest, tok, nil, http.Header{"Range": {"bytes=3145728-"}})
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, content[3<<20:], body)

	// A cancelled session leaves no spool file behind.
	loc := blobStart(t, srv, tok, "hello")
	resp, _ = blobPatch(t, srv, tok, loc, content[:1000], "0-999")
	entries, err := os.ReadDir(filepath.Join(dir, "uploads"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	resp, _ = do(t, srv, http.MethodDelete, resp.Header.Get("Location"), tok, nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	entries, err = os.ReadDir(filepath.Join(dir, "uploads"))
	require.NoError(t, err)
	require.Empty(t, entries)

	// Deleting the blob removes its file.
	resp, _ = do(t, srv, http.MethodDelete, "/v2/hello/blobs/"+digest, tok, nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	_, err = os.Stat(files[0])
	require.True(t, os.IsNotExist(err))
}

func TestUploadConcurrentSessions(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	var wg sync.WaitGroup
	contents := make([][]byte, 8)
	for i := range contents {
		contents[i] = blobRandom(t, 4096+i)
	}
	for i := range contents {
		wg.Go(func() {
			blobUpload(t, srv, tok, "hello", contents[i], 1000, blobDigest(contents[i]))
		})
	}
	wg.Wait()
	for _, c := range contents {
		got, ok := srv.Blob("hello", blobDigest(c))
		require.True(t, ok)
		require.Equal(t, c, got)
	}
}

func TestBlobSeedingHelpers(t *testing.T) {
	srv := NewServer(t, nil)
	digest := srv.PutBlob("library/hello", []byte("seeded"))
	require.Equal(t, blobDigest([]byte("seeded")), digest)
	got, ok := srv.Blob("library/hello", digest)
	require.True(t, ok)
	require.Equal(t, []byte("seeded"), got)
	_, ok = srv.Blob("other", digest)
	require.False(t, ok)
	require.Panics(t, func() { srv.PutBlob("Not Valid", nil) })
}

// TestUploadRawLocationSpliced checks the Location works when appended to
// the endpoint verbatim, as the generated SDKs do.
func TestUploadRawLocationSpliced(t *testing.T) {
	srv := NewServer(t, nil)
	tok := accessToken(t, srv, blobScopes)
	loc := blobStart(t, srv, tok, "hello")
	conn, err := tls.Dial("tcp", srv.Host, srv.TLSConfig())
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", loc, srv.Host, tok)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func TestStorageFaultsOnlyByPath(t *testing.T) {
	srv := NewServer(t, &Options{RedirectBlobs: true})
	tok := accessToken(t, srv, blobScopes)
	digest := srv.PutBlob("hello", []byte("faulty"))
	client := blobNoRedirect(srv)
	auth := http.Header{"Authorization": {"Bearer " + tok}}
	resp, _ := blobSend(t, client, http.MethodGet, srv.URL+"/v2/hello/blobs/"+digest, auth)
	loc := resp.Header.Get("Location")

	// A fault without a Path stays on the registry host.
	srv.InjectFault(Fault{Method: http.MethodGet, Status: http.StatusServiceUnavailable})
	resp, _ = blobSend(t, client, http.MethodGet, loc, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	srv.ClearFaults()

	srv.InjectFault(Fault{Path: "/docker/registry/v2/blobs/", Nth: 1, Status: http.StatusServiceUnavailable})
	resp, _ = blobSend(t, client, http.MethodGet, loc, nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	resp, body := blobSend(t, client, http.MethodGet, loc, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []byte("faulty"), body)
}
