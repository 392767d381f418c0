package azacr

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hitCounter is a TLS server standing for "another host" that must never
// be reached, or never with credentials.
type hitCounter struct {
	*httptest.Server
	hits  atomic.Int32
	auths atomic.Int32
}

func newHitCounter(t *testing.T) *hitCounter {
	h := &hitCounter{}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		if r.Header.Get("Authorization") != "" {
			h.auths.Add(1)
		}
		w.Write([]byte("elsewhere"))
	}))
	t.Cleanup(h.Close)
	return h
}

func TestChallengeRealmOnAnotherHostIsIgnored(t *testing.T) {
	evil := newHitCounter(t)
	var tokenCalls atomic.Int32
	c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/oauth2/token":
			tokenCalls.Add(1)
			fmt.Fprint(w, `{"access_token":"tok"}`)
		case r.Header.Get("Authorization") != "Bearer tok":
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+evil.URL+`/token",service="svc",scope="repository:a:metadata_read"`)
			w.WriteHeader(http.StatusUnauthorized)
		default:
			fmt.Fprint(w, `{"imageName":"a"}`)
		}
	})
	_, err := c.GetRepositoryProperties(t.Context(), "a", nil)
	require.NoError(t, err)
	assert.EqualValues(t, 1, tokenCalls.Load(), "the token comes from the registry itself")
	assert.Zero(t, evil.hits.Load(), "the realm's host is never contacted")
}

func TestUploadLocationOnAnotherHostIsRefused(t *testing.T) {
	evil := newHitCounter(t)
	for _, size := range []int{10, 3000} {
		c := fakeBlobRegistry(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", evil.URL+"/v2/a/blobs/uploads/x")
			w.WriteHeader(http.StatusAccepted)
		})
		_, err := c.UploadBlob(t.Context(), "a", bytes.NewReader(make([]byte, size)), &BlobClientUploadBlobOptions{ChunkSize: 1000, SkipExistenceCheck: true})
		assert.ErrorIs(t, err, ErrInvalidLocation, size)
	}
	assert.Zero(t, evil.hits.Load(), "no byte of the blob goes to the other host")
}

func TestRedirectsKeepCredentialsOnTheRegistryOnly(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		other := newHitCounter(t) // another port of the same host name
		// Through the client's transport: a redirect to another origin.
		redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/data", status)
		}))
		defer redirector.Close()
		transport := withSafeRedirects(redirector.Client())
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, redirector.URL+"/v2/a/blobs/x", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer secret")
		resp, err := transport.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.EqualValues(t, 1, other.hits.Load())
		assert.Zero(t, other.auths.Load(), "status %d: the token stays behind", status)
	}
	// The same redirect within the origin keeps the header: the check is
	// about origins, not about dropping credentials blindly.
	var got atomic.Value
	same := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/end", http.StatusTemporaryRedirect)
			return
		}
		got.Store(r.Header.Get("Authorization"))
	}))
	defer same.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, same.URL+"/start", nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := withSafeRedirects(same.Client()).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "Bearer secret", got.Load())
}

// recordingTransport keeps every token that crosses the wire, to search
// the logs for them afterwards.
type recordingTransport struct {
	next    policy.Transporter
	mu      sync.Mutex
	secrets map[string]bool
}

func (r *recordingTransport) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && strings.HasPrefix(req.URL.Path, "/oauth2/") {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		r.remember(string(b))
	}
	if a := req.Header.Get("Authorization"); a != "" {
		r.remember(a)
	}
	resp, err := r.next.Do(req)
	if err == nil && strings.HasPrefix(req.URL.Path, "/oauth2/") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		r.remember(string(b))
	}
	return resp, err
}

// remember extracts token-looking values (JWTs, form values, Basic).
func (r *recordingTransport) remember(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range strings.FieldsFunc(s, func(c rune) bool { return strings.ContainsRune(`&="{}: ,`, c) }) {
		if strings.Count(f, ".") == 2 && len(f) > 40 || strings.HasPrefix(f, "YWRt") {
			r.secrets[f] = true
		}
	}
}

func TestLogsNeverContainSecrets(t *testing.T) {
	const password = "pa55word-never-logged"
	srv := acrtest.NewServer(t, &acrtest.Options{Users: []acrtest.User{{Name: "admin", Password: password}}})
	rec := &recordingTransport{next: srv.Client(), secrets: map[string]bool{}}
	opts := testClientOptions(srv)
	opts.Transport = rec
	opts.Logging.IncludeBody = true // the most a user can ask for

	var logMu sync.Mutex
	var logs strings.Builder
	azlog.SetListener(func(_ azlog.Event, msg string) {
		logMu.Lock()
		logs.WriteString(msg + "\n")
		logMu.Unlock()
	})
	azlog.SetEvents() // every event
	defer azlog.SetListener(nil)

	ctx := t.Context()
	for _, cred := range []azcore.TokenCredential{srv.Credential(), NewPasswordCredential("admin", password)} {
		c, err := NewContainerRegistryClient(srv.URL, cred, &ContainerRegistryClientOptions{ClientOptions: opts})
		require.NoError(t, err)
		b, err := NewBlobClient(srv.URL, cred, &BlobClientOptions{ClientOptions: opts})
		require.NoError(t, err)
		up, err := b.UploadBlob(ctx, "repo", bytes.NewReader([]byte("content")), nil)
		require.NoError(t, err)
		got, err := b.GetBlob(ctx, "repo", up.Digest, nil)
		require.NoError(t, err)
		_, err = io.ReadAll(got.Body)
		require.NoError(t, err)
		seedImage(t, srv, "repo", "v1")
		_, err = c.GetRepositoryProperties(ctx, "repo", nil)
		require.NoError(t, err)
		_, err = c.GetManifest(ctx, "repo", "v1", nil)
		require.NoError(t, err)
	}
	aad, err := srv.Credential().GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{acrtest.ACRAudience + "/.default"}})
	require.NoError(t, err)
	rec.secrets[aad.Token] = true

	out := logs.String()
	require.Contains(t, out, "/oauth2/token", "the token calls were logged")
	require.GreaterOrEqual(t, len(rec.secrets), 4, "refresh and access tokens were seen on the wire")
	for s := range rec.secrets {
		assert.NotContains(t, out, s, "a secret reached the log")
		// The middle of a JWT alone would also betray it.
		if parts := strings.Split(s, "."); len(parts) == 3 && len(parts[1]) > 20 {
			assert.NotContains(t, out, parts[1])
		}
	}
	assert.NotContains(t, out, password)
}

func TestLyingBlobRegistry(t *testing.T) {
	data := []byte("0123456789abcdef")
	d := ComputeDigest(data)
	cases := map[string]struct {
		h    http.HandlerFunc
		call func(*BlobClient) error
	}{
		"longer than announced": {
			h: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "16")
				w.Write(data)
			},
			call: func(c *BlobClient) error {
				res, err := c.GetBlob(t.Context(), "a", ComputeDigest(data[:8]), nil)
				if err != nil {
					return err
				}
				_, err = io.ReadAll(res.Body)
				return err
			},
		},
		"chunk with the wrong Content-Range": {
			h: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Range", "bytes 0-3/16")
				w.WriteHeader(http.StatusPartialContent)
				w.Write(data[:4])
			},
			call: func(c *BlobClient) error {
				_, err := c.GetChunk(t.Context(), "a", d, 4, 7, nil)
				return err
			},
		},
		"chunk shorter than its range": {
			h: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Range", "bytes 4-7/16")
				w.WriteHeader(http.StatusPartialContent)
				w.Write(data[4:6])
			},
			call: func(c *BlobClient) error {
				res, err := c.GetChunk(t.Context(), "a", d, 4, 7, nil)
				if err != nil {
					return err
				}
				_, err = io.ReadAll(res.Body)
				return err
			},
		},
		"parallel download with a lying size": {
			h: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Range", "bytes 0-15/99")
				w.WriteHeader(http.StatusPartialContent)
				w.Write(data)
			},
			call: func(c *BlobClient) error {
				f, err := os.Create(filepath.Join(t.TempDir(), "x"))
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = c.DownloadBlob(t.Context(), "a", d, f, &BlobClientDownloadBlobOptions{Concurrency: 2, BlockSize: 16, MaxRetries: -1})
				return err
			},
		},
	}
	for name, tc := range cases {
		c := fakeBlobRegistry(t, tc.h)
		err := tc.call(c)
		assert.Error(t, err, name)
		assert.True(t, errorsIsAny(err, ErrSizeMismatch, ErrDigestMismatch, io.ErrUnexpectedEOF), "%s: %v", name, err)
	}
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// fakeBlobRegistry is fakeRegistry for the blob client.
func fakeBlobRegistry(t *testing.T, h http.HandlerFunc) *BlobClient {
	t.Helper()
	ts := httptest.NewTLSServer(h)
	t.Cleanup(ts.Close)
	c, err := NewBlobClient(ts.URL, nil, &BlobClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: ts.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	require.NoError(t, err)
	return c
}

// TestBadInputRefusedBeforeRequest: every malformed argument is refused
// with a typed error before anything is sent.
func TestBadInputRefusedBeforeRequest(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestClient(t, srv, srv.Credential())
	b := newTestBlobClient(t, srv, srv.Credential())
	ctx := t.Context()
	good := ComputeDigest([]byte("x"))
	long := strings.Repeat("a", 256)
	repo := func(name string) func() error {
		return func() error { _, err := c.GetRepositoryProperties(ctx, name, nil); return err }
	}
	tag := func(name string) func() error {
		return func() error { _, err := c.GetTagProperties(ctx, "ok", name, nil); return err }
	}
	blob := func(digest string) func() error {
		return func() error { _, err := b.GetBlob(ctx, "ok", digest, nil); return err }
	}
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"empty repository", repo(""), ErrInvalidRepository},
		{"uppercase repository", repo("Hello"), ErrInvalidRepository},
		{"dot-dot", repo(".."), ErrInvalidRepository},
		{"dot-dot component", repo("a/../b"), ErrInvalidRepository},
		{"leading slash", repo("/a"), ErrInvalidRepository},
		{"trailing slash", repo("a/"), ErrInvalidRepository},
		{"double slash", repo("a//b"), ErrInvalidRepository},
		{"256 characters", repo(long), ErrInvalidRepository},
		{"question mark", repo("a?b"), ErrInvalidRepository},
		{"hash", repo("a#b"), ErrInvalidRepository},
		{"percent", repo("a%2fb"), ErrInvalidRepository},
		{"space", repo("a b"), ErrInvalidRepository},
		{"unicode", repo("é"), ErrInvalidRepository},
		{"separator first", repo("-a"), ErrInvalidRepository},
		{"NUL", repo("a\x00b"), ErrInvalidRepository},
		{"tag of 129 characters", tag(strings.Repeat("t", 129)), ErrInvalidTag},
		{"tag starting with dash", tag("-x"), ErrInvalidTag},
		{"tag starting with dot", tag(".x"), ErrInvalidTag},
		{"tag with slash", tag("a/b"), ErrInvalidTag},
		{"empty tag", tag(""), ErrInvalidTag},
		{"tag with space", tag("a b"), ErrInvalidTag},
		{"digest without algorithm", blob("abc"), ErrInvalidDigest},
		{"unknown algorithm", blob("md5:" + strings.Repeat("a", 32)), ErrInvalidDigest},
		{"short hex", blob("sha256:" + strings.Repeat("a", 63)), ErrInvalidDigest},
		{"uppercase hex", blob("sha256:" + strings.Repeat("A", 64)), ErrInvalidDigest},
		{"sha512 with sha256 length", blob("sha512:" + strings.Repeat("a", 64)), ErrInvalidDigest},
		{"empty hex", blob("sha256:"), ErrInvalidDigest},
		{"manifest reference with colon", func() error { _, err := c.GetManifest(ctx, "ok", "latest:1", nil); return err }, ErrInvalidReference},
		{"delete manifest bad reference", func() error { _, err := c.DeleteManifest(ctx, "ok", "sha256:zz", nil); return err }, ErrInvalidReference},
		{"mount from bad repository", func() error { _, err := b.MountBlob(ctx, "ok", "Bad", good, nil); return err }, ErrInvalidRepository},
		{"referrers of a tag", func() error { _, err := c.NewListReferrersPager("ok", "v1", nil).NextPage(ctx); return err }, ErrInvalidDigest},
		{"list tags of bad repository", func() error { _, err := c.NewListTagsPager("A", nil).NextPage(ctx); return err }, ErrInvalidRepository},
		{"upload location elsewhere", func() error {
			_, err := b.CompleteUpload(ctx, "https://evil.example/v2/ok/blobs/uploads/1", good, nil)
			return err
		}, ErrInvalidLocation},
		{"upload location not an upload", func() error { _, err := b.GetUploadStatus(ctx, "/v2/ok/blobs/"+good, nil); return err }, ErrInvalidLocation},
		{"manifest over 4 MiB", func() error {
			_, err := c.UploadManifest(ctx, "ok", "v1", ContentTypeApplicationVndOCIImageManifestV1JSON, streaming.NopCloser(bytes.NewReader(make([]byte, MaxManifestSize+1))), nil)
			return err
		}, ErrManifestTooLarge},
	}
	others := []struct {
		name string
		call func() error
	}{
		{"negative chunk size", func() error {
			_, err := b.UploadBlob(ctx, "ok", strings.NewReader("x"), &BlobClientUploadBlobOptions{ChunkSize: -5})
			return err
		}},
		{"nil upload body", func() error { _, err := b.UploadBlob(ctx, "ok", nil, nil); return err }},
		{"nil manifest data", func() error {
			_, err := c.UploadManifest(ctx, "ok", "v1", ContentTypeApplicationVndOCIImageManifestV1JSON, nil, nil)
			return err
		}},
		{"empty content type", func() error {
			_, err := c.UploadManifest(ctx, "ok", "v1", "", streaming.NopCloser(strings.NewReader("{}")), nil)
			return err
		}},
		{"nil download writer", func() error { _, err := b.DownloadBlob(ctx, "ok", good, nil, nil); return err }},
		{"negative concurrency", func() error {
			_, err := b.DownloadBlob(ctx, "ok", good, &bytesWriterAt{}, &BlobClientDownloadBlobOptions{Concurrency: -1})
			return err
		}},
		{"inverted chunk range", func() error { _, err := b.GetChunk(ctx, "ok", good, 10, 5, nil); return err }},
		{"negative chunk start", func() error { _, err := b.GetChunk(ctx, "ok", good, -1, 5, nil); return err }},
		{"half a Content-Range", func() error {
			st := "/v2/ok/blobs/uploads/x"
			_, err := b.UploadChunk(ctx, st, streaming.NopCloser(strings.NewReader("x")), &BlobClientUploadChunkOptions{RangeStart: new(int64)})
			return err
		}},
	}
	endpoints := []string{"", "registry.example", "ftp://r.example", "https://", "https://r.example/path", "https://r.example?q=1", "https://u:p@r.example", "https://r.example#f"}

	srv.ResetRequests()
	for _, tc := range cases {
		err := tc.call()
		assert.ErrorIs(t, err, tc.want, tc.name)
	}
	for _, tc := range others {
		assert.Error(t, tc.call(), tc.name)
	}
	for _, ep := range endpoints {
		_, err := NewBlobClient(ep, nil, nil)
		assert.ErrorIs(t, err, ErrInvalidEndpoint, ep)
	}
	assert.GreaterOrEqual(t, len(cases)+len(others)+len(endpoints), 40)
	assert.Empty(t, srv.Requests(), "nothing was sent")
	assert.Empty(t, srv.Credential().Scopes(), "no token was even fetched")
}

// bytesWriterAt is an in-memory io.WriterAt.
type bytesWriterAt struct {
	mu  sync.Mutex
	buf []byte
}

func (w *bytesWriterAt) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if end := int(off) + len(p); end > len(w.buf) {
		w.buf = append(w.buf, make([]byte, end-len(w.buf))...)
	}
	return copy(w.buf[off:], p), nil
}

var faultLoadFull = flag.Bool("faultload.full", false, "run the fault-load test at full size: 200 uploads and downloads of up to 32 MiB")

// TestFaultLoad uploads and downloads many blobs while the emulator
// injects random faults into one request in ten: throttling, server errors,
// resets mid-request, truncated and delayed answers. Operations may fail;
// none may lose or corrupt a blob. With -faultload.full it runs the issue's
// full size; the default keeps CI quick.
func TestFaultLoad(t *testing.T) {
	n, maxSize := 40, 1<<20
	if *faultLoadFull {
		n, maxSize = 200, 32<<20
	}
	srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true, Dir: t.TempDir()})
	c := newTestBlobClient(t, srv, srv.Credential())
	rng := rand.New(rand.NewPCG(1, 2))
	type item struct {
		data []byte
		kind int // 0: seekable reader, 1: stream, 2: file
	}
	items := make([]item, n)
	for i := range items {
		size := rng.IntN(maxSize + 1)
		if i%10 == 0 {
			size = rng.IntN(10) // some tiny and empty blobs
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		items[i] = item{data: data, kind: i % 3}
	}
	srv.InjectRandomFaults(0.1, 7)
	files := t.TempDir()

	var upOK, upErr, downOK, downErr, corrupt atomic.Int32
	uploaded := make([]string, n)
	work := func(f func(i int)) {
		var wg sync.WaitGroup
		next := atomic.Int32{}
		for range 8 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					f(i)
				}
			})
		}
		wg.Wait()
	}
	work(func(i int) {
		var body io.Reader = bytes.NewReader(items[i].data)
		switch items[i].kind {
		case 1:
			body = plainReader{body}
		case 2:
			path := filepath.Join(files, fmt.Sprint(i))
			if err := os.WriteFile(path, items[i].data, 0o600); err != nil {
				t.Error(err)
				return
			}
			f, err := os.Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			body = f
		}
		res, err := c.UploadBlob(context.Background(), "load", body, &BlobClientUploadBlobOptions{ChunkSize: 256 << 10})
		if err != nil {
			upErr.Add(1)
			return
		}
		upOK.Add(1)
		uploaded[i] = res.Digest
		if stored, ok := srv.Blob("load", res.Digest); !ok || !bytes.Equal(stored, items[i].data) || res.Digest != ComputeDigest(items[i].data) {
			corrupt.Add(1)
		}
	})
	work(func(i int) {
		if uploaded[i] == "" {
			return
		}
		var got []byte
		var err error
		if i%2 == 0 {
			var res BlobClientGetBlobResponse
			if res, err = c.GetBlob(context.Background(), "load", uploaded[i], nil); err == nil {
				got, err = io.ReadAll(res.Body)
				res.Body.Close()
			}
		} else {
			w := &bytesWriterAt{}
			_, err = c.DownloadBlob(context.Background(), "load", uploaded[i], w, &BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 128 << 10})
			got = w.buf
		}
		if err != nil {
			if downErr.Add(1) <= 5 {
				t.Logf("download %d (%d bytes): %v", i, len(items[i].data), err)
			}
			return
		}
		downOK.Add(1)
		if !bytes.Equal(got, items[i].data) {
			corrupt.Add(1)
		}
	})
	t.Logf("fault load: %d uploads ok, %d failed; %d downloads ok, %d failed; %d faults fired; %d corrupted or lost",
		upOK.Load(), upErr.Load(), downOK.Load(), downErr.Load(), srv.FaultsFired(), corrupt.Load())
	assert.Zero(t, corrupt.Load(), "no blob may be lost or corrupted")
	assert.Positive(t, srv.FaultsFired())
	assert.Greater(t, int(upOK.Load()), n/2, "most uploads survive one fault in ten")
	assert.Greater(t, int(downOK.Load()), int(upOK.Load())/2)
}
