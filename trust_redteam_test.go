package azacr

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regression tests for what a red team found by attacking the public API
// from outside the repository.

// TestBlobOverTheBodyLimitIsFoundByHEAD: a HEAD's Content-Length is the
// blob's size, not a body to buffer; the existence check (and with it the
// skipped re-upload) works for blobs larger than the metadata body limit.
func TestBlobOverTheBodyLimitIsFoundByHEAD(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := bytes.Repeat([]byte("L"), metadataBodyLimit+1<<20)
	digest := srv.PutBlob("big", data)
	exists, err := c.CheckBlobExists(t.Context(), "big", digest, nil)
	require.NoError(t, err)
	require.True(t, exists.Exists)
	assert.EqualValues(t, len(data), *exists.ContentLength)
	up, err := c.UploadBlob(t.Context(), "big", bytes.NewReader(data), nil)
	require.NoError(t, err)
	assert.True(t, up.Skipped)
}

// TestAChallengeCannotLockTheClientOut: a 401 from where a blob read was
// redirected (storage) has no say in how the client authenticates, and a
// stray challenge from the registry naming a service its token endpoint
// refuses is forgotten, not kept for good.
func TestAChallengeCannotLockTheClientOut(t *testing.T) {
	t.Run("from storage", func(t *testing.T) {
		srv := acrtest.NewServer(t, nil)
		seedImage(t, srv, "hello", "v1")
		blob := srv.PutBlob("hello", []byte("content"))
		f := newHostileFront(t, srv)
		f.sinkAnswer = func(w http.ResponseWriter) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://evil.example/token",service="evil.example",scope="registry:catalog:*"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
		c, err := NewBlobClient(f.URL, srv.Credential(), &BlobClientOptions{ClientOptions: frontOptions(f)})
		require.NoError(t, err)
		m, err := NewContainerRegistryClient(f.URL, srv.Credential(), &ContainerRegistryClientOptions{ClientOptions: frontOptions(f)})
		require.NoError(t, err)
		_, err = m.GetManifest(t.Context(), "hello", "v1", nil)
		require.NoError(t, err)
		f.redirect(http.StatusTemporaryRedirect, methodPath(http.MethodGet, "/v2/hello/blobs/"))
		_, err = c.GetBlob(t.Context(), "hello", blob, nil)
		var re *azcore.ResponseError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
		f.redirect(0, nil)
		_, err = c.GetBlob(t.Context(), "hello", blob, nil)
		require.NoError(t, err, "the storage host's challenge changed nothing")
		_, err = m.GetRepositoryProperties(t.Context(), "hello", nil)
		require.NoError(t, err)
	})
	t.Run("from the registry", func(t *testing.T) {
		srv := acrtest.NewServer(t, nil)
		seedImage(t, srv, "hello", "v1")
		f := newHostileFront(t, srv)
		var once atomic.Bool
		f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasPrefix(r.URL.Path, "/acr/v1/") && once.CompareAndSwap(false, true) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="x",service="typo.example",scope="repository:hello:metadata_read"`)
				w.WriteHeader(http.StatusUnauthorized)
				return true
			}
			return false
		}
		c, err := NewContainerRegistryClient(f.URL, srv.Credential(), &ContainerRegistryClientOptions{ClientOptions: frontOptions(f)})
		require.NoError(t, err)
		_, err = c.GetRepositoryProperties(t.Context(), "hello", nil)
		require.Error(t, err, "the stray challenge's service is refused")
		for range 3 {
			_, err = c.GetRepositoryProperties(t.Context(), "hello", nil)
			require.NoError(t, err, "the refused service is forgotten; the registry's own is learned")
		}
	})
}

// TestLyingReaderIsRefused: a body whose Read claims more bytes than its
// buffer, or fewer than none, is an error, never a crash or an upload of
// bytes the reader did not produce.
func TestLyingReaderIsRefused(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	for _, tc := range []struct {
		name      string
		size      int
		chunkSize int64
		lie       func(n, max int) int
	}{
		{"one byte more, chunked", 6000, 1000, func(n, _ int) int { return n + 1 }},
		{"far more, chunked", 6000, 1000, func(n, _ int) int { return n + 5000 }},
		{"more than the buffer, small blob", 100, 0, func(n, _ int) int { return n + 8<<20 }},
		{"negative", 3000, 1000, func(int, int) int { return -50 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &miscountingReader{r: bytes.NewReader(bytes.Repeat([]byte("x"), tc.size)), lie: tc.lie}
			err := within(t, func() error {
				_, err := c.UploadBlob(t.Context(), "lies", r, &BlobClientUploadBlobOptions{ChunkSize: tc.chunkSize})
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "Read returned")
		})
	}
}

// miscountingReader reports lie(n, len(p)) for its second Read.
type miscountingReader struct {
	r     io.Reader
	reads int
	lie   func(n, max int) int
}

func (l *miscountingReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.reads++; l.reads == 2 {
		n = l.lie(n, len(p))
	}
	return n, err
}

// TestJSONThatWouldExplodeInMemoryIsRefused: a document within the byte
// limit but made of millions of tiny objects would decode into gigabytes.
func TestJSONThatWouldExplodeInMemoryIsRefused(t *testing.T) {
	body := `{"registry":"r","imageName":"a","tags":[` + strings.Repeat(`{},`, maxJSONContainers) + `{}]}`
	c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})
	_, err := c.NewListTagsPager("a", nil).NextPage(t.Context())
	require.ErrorIs(t, err, ErrResponseTooLarge)
	resp := ContainerRegistryClientGetManifestResponse{ManifestData: []byte(`{"schemaVersion":2,"config":{},"layers":[` + strings.Repeat(`{},`, maxJSONContainers) + `{}]}`)}
	_, err = resp.DecodeImageManifest()
	require.ErrorIs(t, err, ErrResponseTooLarge)
	// A large but real page decodes.
	var b strings.Builder
	b.WriteString(`{"registry":"r","imageName":"a","tags":[`)
	for i := range 20_000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":"t%d","digest":"sha256:%064d","changeableAttributes":{"deleteEnabled":true}}`, i, i)
	}
	b.WriteString(`]}`)
	body = b.String()
	page, err := c.NewListTagsPager("a", nil).NextPage(t.Context())
	require.NoError(t, err)
	assert.Len(t, page.TagAttributeBases, 20_000)
}

// TestCancelledUploadReturnsWhileTheRegistryStallsTheCancel: cancelling
// the session after a cancelled upload is best effort; the call does not
// wait ten seconds for a registry that stalls that too.
func TestCancelledUploadReturnsWhileTheRegistryStallsTheCancel(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	srv.InjectFault(acrtest.Fault{Method: http.MethodPatch, Delay: time.Hour})
	srv.InjectFault(acrtest.Fault{Method: http.MethodDelete, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := within(t, func() error {
		_, err := c.UploadBlob(ctx, "r", plainReader{bytes.NewReader(make([]byte, 3<<10))}, &BlobClientUploadBlobOptions{ChunkSize: 1 << 10})
		return err
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), hangLimit, "bounded by the cancel's own short timeout")
}

// TestUploadChunkNeverReadsTheCallersBodyAfterReturning: a registry may
// answer a PATCH before reading its body; net/http's writer may still be
// reading when the call returns. The caller's body must not be read then.
func TestUploadChunkNeverReadsTheCallersBodyAfterReturning(t *testing.T) {
	c := fakeBlobRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.Path)
		w.WriteHeader(http.StatusAccepted)
	})
	for range 5 {
		body := &watchedBody{ReadSeeker: bytes.NewReader(make([]byte, 8<<20))}
		_, err := c.UploadChunk(t.Context(), "/v2/a/blobs/uploads/u", body, nil)
		if err != nil {
			// The registry answered before taking the body: a failed write
			// is fine, a late read is not.
			t.Log(err)
		}
		body.returned.Store(true)
		time.Sleep(20 * time.Millisecond)
		assert.Zero(t, body.late.Load(), "reads of the caller's body after UploadChunk returned")
	}
}

type watchedBody struct {
	io.ReadSeeker
	returned atomic.Bool
	late     atomic.Int32
}

func (w *watchedBody) Read(p []byte) (int, error) {
	if w.returned.Load() {
		w.late.Add(1)
	}
	return w.ReadSeeker.Read(p)
}

func (*watchedBody) Close() error { return nil }

// TestDownloadWithNegativeMaxRetriesNeverResumes: "negative means none"
// holds for a sequential download too.
func TestDownloadWithNegativeMaxRetriesNeverResumes(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 64<<10)
	d := srv.PutBlob("r", data)
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/", TruncateBody: 1000})
	// Counted as they arrive: the log has a request once it is answered.
	var gets atomic.Int32
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/", Match: func(*http.Request) bool {
		gets.Add(1)
		return false
	}})
	_, err := c.DownloadBlob(t.Context(), "r", d, &bytesWriterAt{}, &BlobClientDownloadBlobOptions{MaxRetries: -1})
	require.ErrorIs(t, err, ErrSizeMismatch)
	assert.EqualValues(t, 1, gets.Load())
}

// TestShortBodiesWrapErrSizeMismatch: GetChunk's body cut before its
// length, and a file cut while it is uploaded.
func TestShortBodiesWrapErrSizeMismatch(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 64<<10)
	d := srv.PutBlob("r", data)
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/", TruncateBody: 1000})
	chunk, err := c.GetChunk(t.Context(), "r", d, 0, 9999, nil)
	require.NoError(t, err)
	_, err = io.ReadAll(chunk.Body)
	chunk.Body.Close()
	require.ErrorIs(t, err, ErrSizeMismatch)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	path := filepath.Join(t.TempDir(), "shrinks")
	require.NoError(t, os.WriteFile(path, randomBytes(t, 3<<20), 0o600))
	srv.InjectFault(acrtest.Fault{Method: http.MethodPatch, Nth: 1, Match: func(*http.Request) bool {
		return os.Truncate(path, 1<<20+10) == nil // cut while the first chunk is on its way
	}})
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = c.UploadBlob(t.Context(), "r", f, &BlobClientUploadBlobOptions{ChunkSize: 1 << 20, SkipExistenceCheck: true})
	require.ErrorIs(t, err, ErrSizeMismatch)
}

// Round two.

// lyingSeeker is an io.ReadSeekCloser whose first Read lies about its count.
type lyingSeeker struct {
	*bytes.Reader
	lie   func(n int) int
	reads int
}

func (l *lyingSeeker) Read(p []byte) (int, error) {
	n, err := l.Reader.Read(p)
	if l.reads++; l.reads == 1 {
		n = l.lie(n)
	}
	return n, err
}

func (*lyingSeeker) Close() error { return nil }

// TestLyingCountsInTheLowLevelCallsAreRefused: the check on Read counts
// covers every caller body, not only UploadBlob's: UploadChunk's and
// CompleteUpload's (read inside net/http's writer, where a panic would kill
// the process) and UploadManifest's.
func TestLyingCountsInTheLowLevelCallsAreRefused(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedImage(t, srv, "r", "v1")
	b := newTestBlobClient(t, srv, srv.Credential())
	c := newTestClient(t, srv, srv.Credential())
	for name, lie := range map[string]func(int) int{
		"over":     func(n int) int { return n + 1<<20 },
		"negative": func(int) int { return -50 },
	} {
		t.Run(name, func(t *testing.T) {
			body := func() *lyingSeeker { return &lyingSeeker{Reader: bytes.NewReader(make([]byte, 3000)), lie: lie} }
			st, err := b.StartUpload(t.Context(), "r", nil)
			require.NoError(t, err)
			_, err = b.UploadChunk(t.Context(), *st.Location, body(), nil)
			require.Error(t, err)
			st, err = b.StartUpload(t.Context(), "r", nil)
			require.NoError(t, err)
			_, err = b.CompleteUpload(t.Context(), *st.Location, ComputeDigest(make([]byte, 3000)), &BlobClientCompleteUploadOptions{Value: body()})
			require.Error(t, err)
			_, err = c.UploadManifest(t.Context(), "r", "v2", ContentTypeApplicationVndOCIImageManifestV1JSON, body(), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "Read returned")
		})
	}
}

// TestScalarArraysCannotExplodeInMemory: a document of millions of tiny
// strings counts against the value cap, not only the object cap.
func TestScalarArraysCannotExplodeInMemory(t *testing.T) {
	body := `{"repositories":[` + strings.Repeat(`"",`, maxJSONValues) + `""]}`
	c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})
	_, err := c.NewListRepositoriesPager(nil).NextPage(t.Context())
	require.ErrorIs(t, err, ErrResponseTooLarge)
}

// TestOverlongLinkIsRefused: a Link target far longer than any ACR sends
// ends paging instead of making every page cost its length in memory.
func TestOverlongLinkIsRefused(t *testing.T) {
	c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `</acr/v1/_catalog?last=`+strings.Repeat("a", maxLinkLen)+`>; rel="next"`)
		io.WriteString(w, `{"repositories":[]}`)
	})
	_, err := c.NewListRepositoriesPager(nil).NextPage(t.Context())
	require.ErrorIs(t, err, ErrInvalidLink)
}

// TestUploadSessionCannotMoveToAnotherRepository: a registry answering an
// upload with a session of another repository is refused before a byte
// (or a token request for that repository) goes there.
func TestUploadSessionCannotMoveToAnotherRepository(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	f := newHostileFront(t, srv)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Path == "/v2/mine/blobs/uploads/" && r.Header.Get("Authorization") != "" {
			w.Header().Set("Location", "/v2/victim/blobs/uploads/abc")
			w.WriteHeader(http.StatusAccepted)
			return true
		}
		return false
	}
	c, err := NewBlobClient(f.URL, srv.Credential(), &BlobClientOptions{ClientOptions: frontOptions(f)})
	require.NoError(t, err)
	for _, size := range []int{10, 3 << 10} {
		_, err = c.UploadBlob(t.Context(), "mine", plainReader{bytes.NewReader(make([]byte, size))}, &BlobClientUploadBlobOptions{ChunkSize: 1 << 10})
		require.ErrorIs(t, err, ErrInvalidLocation)
	}
	for _, r := range srv.Requests() {
		assert.NotContains(t, r.Path, "victim")
		assert.NotContains(t, r.RawQuery, "victim")
	}
}

// Round three: retries and the transfer core.

// TestRangeReadsHonourTryTimeout: a registry that holds a blob GET is cut
// off after the caller's TryTimeout and asked again, as azcore would.
func TestRangeReadsHonourTryTimeout(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	data := randomBytes(t, 64<<10)
	d := srv.PutBlob("r", data)
	opts := testClientOptions(srv)
	opts.Retry.TryTimeout = 200 * time.Millisecond
	c, err := NewBlobClient(srv.URL, srv.Credential(), &BlobClientOptions{ClientOptions: opts})
	require.NoError(t, err)
	for _, mode := range downloadModes {
		t.Run(mode.name, func(t *testing.T) {
			srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/sha256:", Nth: 1, Delay: time.Hour})
			defer srv.ClearFaults()
			w := &bytesWriterAt{}
			o := mode.opts
			err := within(t, func() error {
				_, err := c.DownloadBlob(t.Context(), "r", d, w, &o)
				return err
			})
			require.NoError(t, err)
			assert.Equal(t, data, w.buf)
		})
	}
}

// TestParallelFirstBlockSpendsOneBudget: block 0's first GET and the
// resumptions of its body share one budget, MaxRetries.
func TestParallelFirstBlockSpendsOneBudget(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	const block = 16 << 10
	d := srv.PutBlob("r", randomBytes(t, 4*block))
	first := func(r *http.Request) bool { return r.Header.Get("Range") == fmt.Sprintf("bytes=0-%d", block-1) }
	var gets atomic.Int32
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Match: func(r *http.Request) bool {
		if strings.HasSuffix(r.Header.Get("Range"), fmt.Sprintf("-%d", block-1)) { // block 0, resumed or not
			gets.Add(1)
		}
		return false
	}})
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Match: first, Status: http.StatusServiceUnavailable, Nth: 1, Times: 2})
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/sha256:", TruncateBody: 100})
	_, err := c.DownloadBlob(t.Context(), "r", d, &bytesWriterAt{}, &BlobClientDownloadBlobOptions{Concurrency: 2, BlockSize: block, MaxRetries: 3})
	require.ErrorIs(t, err, ErrSizeMismatch)
	assert.EqualValues(t, 4, gets.Load(), "one GET and three retries for block 0, whatever failed")
	assert.Contains(t, err.Error(), "after 4 attempts")
}

// TestUploadManifestReturnsWhenItsReaderBlocks: a manifest read from a
// pipe that never delivers does not hold the call past ctx.
func TestUploadManifestReturnsWhenItsReaderBlocks(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestClient(t, srv, srv.Credential())
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err = within(t, func() error {
		_, err := c.UploadManifest(ctx, "r", "v1", ContentTypeApplicationVndOCIImageManifestV1JSON, r, nil)
		return err
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestDownloadBlobTruncatesOnlyRegularFiles: a device is written, not
// truncated; a file opened for appending refuses even an empty blob
// rather than lose what it holds.
func TestDownloadBlobTruncatesOnlyRegularFiles(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	d := srv.PutBlob("r", randomBytes(t, 10<<10))
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer null.Close()
	for _, mode := range downloadModes {
		o := mode.opts
		_, err = c.DownloadBlob(t.Context(), "r", d, null, &o)
		require.NoError(t, err, mode.name)
	}

	empty := srv.PutBlob("r", []byte{})
	path := filepath.Join(t.TempDir(), "log")
	require.NoError(t, os.WriteFile(path, []byte("keep me"), 0o600))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = c.DownloadBlob(t.Context(), "r", empty, f, nil)
	require.Error(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "keep me", string(got))
}

// TestResyncFollowsTheCallersRetryOptions: a chunk refused because the
// session moved on (416) is resent only when the caller's options allow
// retries of a status at all.
func TestResyncFollowsTheCallersRetryOptions(t *testing.T) {
	for name, retry := range map[string]policy.RetryOptions{
		"empty StatusCodes":   {StatusCodes: []int{}},
		"ShouldRetry says no": {ShouldRetry: func(*http.Response, error) bool { return false }},
		"MaxRetries -1":       {MaxRetries: -1},
	} {
		t.Run(name, func(t *testing.T) {
			srv := acrtest.NewServer(t, nil)
			opts := srv.ClientOptions()
			opts.Retry = retry
			c, err := NewBlobClient(srv.URL, srv.Credential(), &BlobClientOptions{ClientOptions: opts})
			require.NoError(t, err)
			var patches atomic.Int32
			srv.InjectFault(acrtest.Fault{Method: http.MethodPatch, Match: func(*http.Request) bool { patches.Add(1); return false }})
			srv.InjectFault(acrtest.Fault{Method: http.MethodPatch, Status: http.StatusRequestedRangeNotSatisfiable, Nth: 1})
			_, err = c.UploadBlob(t.Context(), "r", plainReader{bytes.NewReader(make([]byte, 3<<10))}, &BlobClientUploadBlobOptions{ChunkSize: 1 << 10})
			require.Error(t, err)
			assert.EqualValues(t, 1, patches.Load())
		})
	}
}
