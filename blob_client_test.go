package azacr

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestBlobClient(t *testing.T, srv *acrtest.Server, cred azcore.TokenCredential) *BlobClient {
	t.Helper()
	c, err := NewBlobClient(srv.URL, cred, &BlobClientOptions{ClientOptions: testClientOptions(srv)})
	require.NoError(t, err)
	return c
}

// plainReader hides any Seek method: a stream that can be read once.
type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// methodCounts counts logged requests by method, leaving out token calls.
func methodCounts(srv *acrtest.Server) map[string]int {
	m := map[string]int{}
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.Path, "/oauth2/") {
			continue
		}
		m[r.Method]++
	}
	return m
}

func TestUploadBlobSizes(t *testing.T) {
	const chunk = 64 << 10
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + chunk/2} {
		for _, seekable := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d/seekable=%v", size, seekable), func(t *testing.T) {
				data := randomBytes(t, size)
				var body io.Reader = bytes.NewReader(data)
				if !seekable {
					body = plainReader{body}
				}
				srv.ResetRequests()
				var last int64
				res, err := c.UploadBlob(t.Context(), "up", body, &BlobClientUploadBlobOptions{
					ChunkSize: chunk,
					Progress: func(sent, total int64) {
						assert.GreaterOrEqual(t, sent, last, "progress never goes down without a retry")
						last = sent
					},
				})
				require.NoError(t, err)
				assert.Equal(t, ComputeDigest(data), res.Digest)
				assert.EqualValues(t, size, res.Size)
				assert.EqualValues(t, size, last)
				stored, ok := srv.Blob("up", res.Digest)
				require.True(t, ok)
				assert.True(t, bytes.Equal(data, stored), "the registry's copy is byte-identical")

				counts := methodCounts(srv)
				if size <= chunk {
					// One chunk or less: start, and complete with the bytes.
					assert.Equal(t, map[string]int{"POST": 1, "PUT": 1}, counts)
				} else {
					chunks := (size + chunk - 1) / chunk
					want := map[string]int{"POST": 1, "PATCH": chunks, "PUT": 1}
					if seekable {
						want["HEAD"] = 1 // a seekable body is hashed first and checked
					}
					assert.Equal(t, want, counts)
				}
			})
		}
	}
}

func TestUploadBlobChunksCarryACRContentRange(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 2500)
	_, err := c.UploadBlob(t.Context(), "r", plainReader{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{ChunkSize: 1000})
	require.NoError(t, err)
	var ranges, lengths []string
	var locations []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPatch {
			ranges = append(ranges, r.Header.Get("Content-Range"))
			lengths = append(lengths, r.Header.Get("Content-Length"))
			locations = append(locations, r.RawQuery)
		}
	}
	assert.Equal(t, []string{"0-999", "1000-1999", "2000-2499"}, ranges)
	assert.Equal(t, []string{"1000", "1000", "500"}, lengths, "explicit lengths, never chunked transfer encoding")
	assert.Len(t, locations, 3)
	assert.NotEqual(t, locations[0], locations[1], "each PATCH goes to the newest Location")
}

func TestUploadBlobSkipsExistingBlob(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 300<<10)
	d := srv.PutBlob("r", data)

	srv.ResetRequests()
	var reported int64
	res, err := c.UploadBlob(t.Context(), "r", plainReader{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{
		Digest: d, Progress: func(sent, total int64) { reported = sent },
	})
	require.NoError(t, err)
	assert.True(t, res.Skipped)
	assert.EqualValues(t, len(data), reported, "progress counts skipped bytes")
	assert.Equal(t, map[string]int{"HEAD": 1}, methodCounts(srv))

	srv.ResetRequests()
	res, err = c.UploadBlob(t.Context(), "r", bytes.NewReader(data), &BlobClientUploadBlobOptions{ChunkSize: 64 << 10})
	require.NoError(t, err)
	assert.True(t, res.Skipped, "a seekable body is hashed and checked first")
	assert.Equal(t, map[string]int{"HEAD": 1}, methodCounts(srv))

	srv.ResetRequests()
	res, err = c.UploadBlob(t.Context(), "r", bytes.NewReader(data), &BlobClientUploadBlobOptions{ChunkSize: 64 << 10, SkipExistenceCheck: true})
	require.NoError(t, err)
	assert.False(t, res.Skipped)
	assert.Zero(t, methodCounts(srv)["HEAD"])
}

func TestUploadBlobWrongDigestIsRefusedAndCancelled(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 5000)
	wrong := ComputeDigest([]byte("something else"))
	srv.ResetRequests()
	_, err := c.UploadBlob(t.Context(), "r", plainReader{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{
		ChunkSize: 1000, Digest: wrong, SkipExistenceCheck: true,
	})
	assert.ErrorIs(t, err, ErrDigestMismatch)
	assert.Equal(t, 1, methodCounts(srv)["DELETE"], "the session is cancelled")
	assert.Zero(t, methodCounts(srv)["PUT"], "never completed")
	_, ok := srv.Blob("r", ComputeDigest(data))
	assert.False(t, ok)
}

func TestUploadBlobRecoversFromFaults(t *testing.T) {
	const chunk = 32 << 10
	faults := map[string]acrtest.Fault{
		"503 on a chunk":               {Method: http.MethodPatch, Nth: 2, Status: http.StatusServiceUnavailable},
		"429 with Retry-After":         {Method: http.MethodPatch, Nth: 3, Status: http.StatusTooManyRequests, RetryAfter: time.Second},
		"reset mid-chunk":              {Method: http.MethodPatch, Nth: 2, Reset: true, ResetAfterBytes: chunk / 2},
		"reset before a chunk":         {Method: http.MethodPatch, Nth: 1, Reset: true},
		"reset twice in a row":         {Method: http.MethodPatch, Nth: 2, Times: 2, Reset: true, ResetAfterBytes: 1000},
		"500 on the start":             {Method: http.MethodPost, Nth: 1, Status: http.StatusInternalServerError},
		"reset on complete":            {Method: http.MethodPut, Nth: 1, Reset: true},
		"lost answer to the complete":  {Method: http.MethodPut, Nth: 1, TruncateBody: 0, Status: http.StatusBadGateway},
		"5xx then reset on status GET": {Method: http.MethodPatch, Nth: 2, Reset: true, ResetAfterBytes: 10},
	}
	for name, f := range faults {
		for _, kind := range []string{"seekable", "stream", "file"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				srv := acrtest.NewServer(t, nil)
				c := newTestBlobClient(t, srv, srv.Credential())
				data := randomBytes(t, 4*chunk+123)
				srv.InjectFault(f)
				var body io.Reader
				switch kind {
				case "seekable":
					body = bytes.NewReader(data)
				case "stream":
					body = plainReader{bytes.NewReader(data)}
				case "file":
					body = writeTempFile(t, nil, data)
				}
				res, err := c.UploadBlob(t.Context(), "r", body, &BlobClientUploadBlobOptions{ChunkSize: chunk, SkipExistenceCheck: true})
				require.NoError(t, err)
				assert.Positive(t, srv.FaultsFired(), "the fault must have fired")
				stored, ok := srv.Blob("r", res.Digest)
				require.True(t, ok)
				assert.True(t, bytes.Equal(data, stored), "byte-identical after recovery")
				assert.Equal(t, ComputeDigest(data), res.Digest)
			})
		}
	}
}

func TestUploadBlobCancelStopsAndCancelsSession(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	ctx, cancel := context.WithCancel(t.Context())
	data := randomBytes(t, 10*1000)
	calls := 0
	_, err := c.UploadBlob(ctx, "r", plainReader{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{
		ChunkSize: 1000,
		Progress: func(sent, total int64) {
			calls++
			if calls == 3 {
				cancel()
			}
		},
	})
	assert.ErrorIs(t, err, context.Canceled)
	counts := methodCounts(srv)
	assert.LessOrEqual(t, counts["PATCH"], 4, "stops promptly")
	assert.Equal(t, 1, counts["DELETE"], "the session is cancelled")
	assert.Zero(t, counts["PUT"])
}

func TestUploadBlobBadInput(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	srv.ResetRequests()
	_, err := c.UploadBlob(t.Context(), "Bad", strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, ErrInvalidRepository)
	_, err = c.UploadBlob(t.Context(), "ok", nil, nil)
	assert.Error(t, err)
	_, err = c.UploadBlob(t.Context(), "ok", strings.NewReader("x"), &BlobClientUploadBlobOptions{ChunkSize: -1})
	assert.ErrorContains(t, err, "ChunkSize")
	_, err = c.UploadBlob(t.Context(), "ok", strings.NewReader("x"), &BlobClientUploadBlobOptions{Digest: "sha256:nope"})
	assert.ErrorIs(t, err, ErrInvalidDigest)
	_, err = c.UploadChunk(t.Context(), "https://elsewhere.example/v2/ok/blobs/uploads/x", streaming.NopCloser(strings.NewReader("x")), nil)
	assert.ErrorIs(t, err, ErrInvalidLocation)
	_, err = c.UploadChunk(t.Context(), "/v2/ok/manifests/latest", streaming.NopCloser(strings.NewReader("x")), nil)
	assert.ErrorIs(t, err, ErrInvalidLocation)
	assert.Empty(t, srv.Requests())
}

func TestBlobLowLevelSteps(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	ctx := t.Context()
	data := []byte("hello low-level world")
	d := ComputeDigest(data)

	st, err := c.StartUpload(ctx, "ll", nil)
	require.NoError(t, err)
	assert.Equal(t, "0-0", *st.Range)
	assert.True(t, strings.HasPrefix(*st.Location, "/v2/ll/blobs/uploads/"), *st.Location)
	ch, err := c.UploadChunk(ctx, *st.Location, streaming.NopCloser(bytes.NewReader(data[:10])), &BlobClientUploadChunkOptions{RangeStart: to.Ptr[int64](0), RangeEnd: to.Ptr[int64](9)})
	require.NoError(t, err)
	assert.Equal(t, "0-9", *ch.Range)
	status, err := c.GetUploadStatus(ctx, *ch.Location, nil)
	require.NoError(t, err)
	assert.Equal(t, "0-9", *status.Range)
	ch, err = c.UploadChunk(ctx, *status.Location, streaming.NopCloser(bytes.NewReader(data[10:])), nil)
	require.NoError(t, err)
	done, err := c.CompleteUpload(ctx, *ch.Location, d, nil)
	require.NoError(t, err)
	assert.Equal(t, d, *done.DockerContentDigest)

	ex, err := c.CheckBlobExists(ctx, "ll", d, nil)
	require.NoError(t, err)
	assert.True(t, ex.Exists)
	assert.EqualValues(t, len(data), *ex.ContentLength)

	// Mount into another repository, then a mount that cannot happen.
	m, err := c.MountBlob(ctx, "other", "ll", d, nil)
	require.NoError(t, err)
	assert.True(t, m.Mounted)
	_, ok := srv.Blob("other", d)
	assert.True(t, ok)
	missing := ComputeDigest([]byte("nowhere"))
	m, err = c.MountBlob(ctx, "other", "ll", missing, nil)
	require.NoError(t, err)
	assert.False(t, m.Mounted, "202: a plain session instead")
	require.NotNil(t, m.Location)
	_, err = c.CancelUpload(ctx, *m.Location, nil)
	require.NoError(t, err)

	_, err = c.DeleteBlob(ctx, "ll", d, nil)
	require.NoError(t, err)
	ex, err = c.CheckBlobExists(ctx, "ll", d, nil)
	require.NoError(t, err)
	assert.False(t, ex.Exists)
	_, err = c.DeleteBlob(ctx, "ll", d, nil)
	assert.NoError(t, err, "deleting a missing blob succeeds")

	// Offsets past 4 GiB are expressible: the header carries them intact.
	st, err = c.StartUpload(ctx, "ll", nil)
	require.NoError(t, err)
	big := int64(5) << 30
	_, err = c.UploadChunk(ctx, *st.Location, streaming.NopCloser(strings.NewReader("0123456789")), &BlobClientUploadChunkOptions{RangeStart: &big, RangeEnd: to.Ptr(big + 9)})
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, responseError(t, err).StatusCode)
	log := srv.Requests()
	assert.Equal(t, "5368709120-5368709129", log[len(log)-1].Header.Get("Content-Range"))
}

func TestGetBlobVerifiesAndFollowsRedirect(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true})
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 200<<10)
	d := srv.PutBlob("r", data)

	res, err := c.GetBlob(t.Context(), "r", d, nil)
	require.NoError(t, err)
	got, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	assert.True(t, bytes.Equal(data, got))
	assert.EqualValues(t, len(data), *res.ContentLength)

	storageHost := strings.TrimPrefix(srv.StorageURL(), "https://")
	fromStorage := func() []acrtest.Request {
		var out []acrtest.Request
		for _, r := range srv.Requests() {
			if r.Host == storageHost {
				out = append(out, r)
			}
		}
		return out
	}
	// The emulator logs a request when its handler returns, which may be
	// after the client has read the whole body.
	require.Eventually(t, func() bool { return len(fromStorage()) > 0 }, 10*time.Second, 5*time.Millisecond)
	seen := fromStorage()
	require.Len(t, seen, 1)
	assert.Empty(t, seen[0].Header.Get("Authorization"), "no token may reach storage")
	assert.Equal(t, http.StatusOK, seen[0].Status)

	chunk, err := c.GetChunk(t.Context(), "r", d, 100, 355, nil)
	require.NoError(t, err)
	part, err := io.ReadAll(chunk.Body)
	require.NoError(t, err)
	assert.Equal(t, data[100:356], part)
	assert.Equal(t, fmt.Sprintf("bytes 100-355/%d", len(data)), *chunk.ContentRange)
	chunk, err = c.GetChunk(t.Context(), "r", d, int64(len(data)-10), int64(len(data)+100), nil)
	require.NoError(t, err)
	part, err = io.ReadAll(chunk.Body)
	require.NoError(t, err)
	assert.Equal(t, data[len(data)-10:], part, "a range past the end is cut at the end")
}

func TestGetBlobDetectsCorruption(t *testing.T) {
	for _, redirect := range []bool{false, true} {
		srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: redirect})
		c := newTestBlobClient(t, srv, srv.Credential())
		data := randomBytes(t, 100<<10)
		d := srv.PutBlob("r", data)
		path := "/blobs/"
		if redirect {
			path = "/docker/registry/"
		}
		srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: path, CorruptBody: true})
		res, err := c.GetBlob(t.Context(), "r", d, nil)
		require.NoError(t, err)
		_, err = io.ReadAll(res.Body)
		assert.ErrorIs(t, err, ErrDigestMismatch, "redirect=%v", redirect)
		var dm *DigestMismatchError
		require.ErrorAs(t, err, &dm)
		assert.Equal(t, d, dm.Expected)
	}
}

func TestGetBlobResumesTruncatedBody(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true})
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 300<<10)
	d := srv.PutBlob("r", data)
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/docker/registry/", Nth: 1, TruncateBody: 100 << 10})
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/docker/registry/", Nth: 2, TruncateBody: 50 << 10})
	res, err := c.GetBlob(t.Context(), "r", d, nil)
	require.NoError(t, err)
	got, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))
	var ranges []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/v2/") {
			ranges = append(ranges, r.Header.Get("Range"))
		}
	}
	assert.Equal(t, []string{"", "bytes=102400-", "bytes=153600-"}, ranges, "each resume asks for the next byte")

	// Without retries the cut is an error, never a clean EOF.
	srv.ClearFaults()
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/docker/registry/", Nth: 1, TruncateBody: 1000})
	res, err = c.GetBlob(t.Context(), "r", d, &BlobClientGetBlobOptions{MaxRetries: -1})
	require.NoError(t, err)
	_, err = io.ReadAll(res.Body)
	assert.Error(t, err)
	assert.True(t, errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrSizeMismatch), err)
}

func TestGetBlobSHA512AndMissing(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := []byte("sha512 content")
	bc := newTestBlobClient(t, srv, srv.Credential())
	_, err := bc.UploadBlob(t.Context(), "r", bytes.NewReader(data), nil)
	require.NoError(t, err)
	// Upload the same content under its sha512 digest with the low-level steps.
	d512, _ := newDigester("sha512:" + strings.Repeat("0", 128))
	d512.Write(data)
	st, err := c.StartUpload(t.Context(), "r", nil)
	require.NoError(t, err)
	_, err = c.CompleteUpload(t.Context(), *st.Location, d512.Digest(), &BlobClientCompleteUploadOptions{Value: streaming.NopCloser(bytes.NewReader(data))})
	require.NoError(t, err)
	res, err := c.GetBlob(t.Context(), "r", d512.Digest(), nil)
	require.NoError(t, err)
	got, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, data, got)

	_, err = c.GetBlob(t.Context(), "r", ComputeDigest([]byte("absent")), nil)
	assert.Equal(t, http.StatusNotFound, responseError(t, err).StatusCode)
}

func TestDownloadBlobToFile(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true})
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 1<<20+12345)
	d := srv.PutBlob("r", data)
	for _, conc := range []int{0, 1, 4} {
		t.Run(fmt.Sprint("concurrency=", conc), func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "blob"))
			require.NoError(t, err)
			defer f.Close()
			var mu sync.Mutex
			var last int64
			res, err := c.DownloadBlob(t.Context(), "r", d, f, &BlobClientDownloadBlobOptions{
				Concurrency: conc, BlockSize: 100 << 10,
				Progress: func(written, total int64) {
					mu.Lock()
					last = written
					mu.Unlock()
					assert.EqualValues(t, len(data), total)
				},
			})
			require.NoError(t, err)
			assert.EqualValues(t, len(data), res.Size)
			assert.EqualValues(t, len(data), last)
			got, err := os.ReadFile(f.Name())
			require.NoError(t, err)
			assert.True(t, bytes.Equal(data, got))
		})
	}
}

func TestDownloadBlobParallelFaults(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true})
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 1<<20)
	d := srv.PutBlob("r", data)
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/docker/registry/", Nth: 3, TruncateBody: 1000})
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/docker/registry/", Nth: 5, Status: http.StatusServiceUnavailable})
	f, err := os.Create(filepath.Join(t.TempDir(), "blob"))
	require.NoError(t, err)
	defer f.Close()
	_, err = c.DownloadBlob(t.Context(), "r", d, f, &BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 64 << 10})
	require.NoError(t, err)
	got, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))

	srv.ClearFaults()
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/docker/registry/", Nth: 4, CorruptBody: true})
	_, err = c.DownloadBlob(t.Context(), "r", d, f, &BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 64 << 10})
	assert.ErrorIs(t, err, ErrDigestMismatch)

	// An empty blob has no range to split.
	empty := srv.PutBlob("r", nil)
	res, err := c.DownloadBlob(t.Context(), "r", empty, f, &BlobClientDownloadBlobOptions{Concurrency: 4})
	require.NoError(t, err)
	assert.Zero(t, res.Size)
}

func TestAnonymousBlobPullAndRefusedPush(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{AnonymousPull: true})
	d := srv.PutBlob("pub", []byte("public"))
	c := newTestBlobClient(t, srv, nil)
	res, err := c.GetBlob(t.Context(), "pub", d, nil)
	require.NoError(t, err)
	got, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, "public", string(got))
	_, err = c.UploadBlob(t.Context(), "pub", strings.NewReader("nope"), nil)
	assert.Equal(t, http.StatusUnauthorized, responseError(t, err).StatusCode)
}

// TestSeedUploadAndDownloadBlob runs the seed README's blob example,
// unchanged but for the endpoint and credential, against the emulator.
func TestSeedUploadAndDownloadBlob(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true})
	client, err := NewContainerRegistryBlobClient(srv.URL, srv.Credential(), &ContainerRegistryBlobClientOptions{ClientOptions: srv.ClientOptions()})
	require.NoError(t, err)
	ctx := context.Background()
	uploadRes, err := client.UploadBlob(ctx, "library/hello-world", streaming.NopCloser(bytes.NewReader([]byte("hello world"))), nil)
	require.NoError(t, err)
	downloadRes, err := client.GetBlob(ctx, "library/hello-world", uploadRes.Digest, nil)
	require.NoError(t, err)
	blob, err := io.ReadAll(downloadRes.Body)
	require.NoError(t, err)
	assert.Equal(t, "blob content: hello world", fmt.Sprintf("blob content: %s", blob))
}

func TestUploadBlobWithSHA512Digest(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 3000)
	d512, err := newDigester("sha512:" + strings.Repeat("0", 128))
	require.NoError(t, err)
	d512.Write(data)
	res, err := c.UploadBlob(t.Context(), "r", plainReader{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{ChunkSize: 1000, Digest: d512.Digest()})
	require.NoError(t, err)
	assert.Equal(t, d512.Digest(), res.Digest)
	stored, ok := srv.Blob("r", d512.Digest())
	require.True(t, ok)
	assert.Equal(t, data, stored)
}

// TestGetChunkWhenRangeIsIgnored: RFC 9110 lets a server answer a Range
// request with the whole blob; the chunk is then cut from it.
func TestGetChunkWhenRangeIsIgnored(t *testing.T) {
	data := []byte("0123456789")
	c := fakeBlobRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
	})
	d := ComputeDigest(data)
	res, err := c.GetChunk(t.Context(), "r", d, 3, 5, nil)
	require.NoError(t, err)
	got, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, "345", string(got))
	assert.Equal(t, "bytes 3-5/10", *res.ContentRange)

	res, err = c.GetChunk(t.Context(), "r", d, 8, 100, nil)
	require.NoError(t, err)
	got, err = io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, "89", string(got))

	_, err = c.GetChunk(t.Context(), "r", d, 10, 12, nil)
	assert.ErrorIs(t, err, ErrSizeMismatch, "past the end")
}

func TestUploadBlobMountFrom(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 5000)
	d := srv.PutBlob("src", data)

	srv.ResetRequests()
	res, err := c.UploadBlob(t.Context(), "dst", plainReader{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{Digest: d, MountFrom: "src"})
	require.NoError(t, err)
	assert.True(t, res.Mounted)
	assert.EqualValues(t, len(data), res.Size)
	stored, ok := srv.Blob("dst", d)
	require.True(t, ok)
	assert.Equal(t, data, stored)
	assert.Zero(t, methodCounts(srv)["PATCH"]+methodCounts(srv)["PUT"], "nothing uploaded")

	// The source lacks the blob: the registry declines (202) and the bytes
	// go into the session it opened, with no second POST.
	other := randomBytes(t, 3000)
	srv.ResetRequests()
	res, err = c.UploadBlob(t.Context(), "dst", bytes.NewReader(other), &BlobClientUploadBlobOptions{MountFrom: "src", ChunkSize: 1000})
	require.NoError(t, err)
	assert.False(t, res.Mounted)
	stored, ok = srv.Blob("dst", ComputeDigest(other))
	require.True(t, ok)
	assert.Equal(t, other, stored)
	counts := methodCounts(srv)
	assert.Equal(t, 1, counts["POST"], "the declined mount's session is used")
	assert.Equal(t, 3, counts["PATCH"])

	_, err = c.UploadBlob(t.Context(), "dst", bytes.NewReader(other), &BlobClientUploadBlobOptions{MountFrom: "Bad"})
	assert.ErrorIs(t, err, ErrInvalidRepository)
}

// TestGetBlobCopyPathVerifies: io.Copy takes the body's WriteTo, which
// must verify and resume exactly as Read does.
func TestGetBlobCopyPathVerifies(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true})
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 3<<20)
	d := srv.PutBlob("r", data)

	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/docker/registry/", Nth: 1, TruncateBody: 1 << 20})
	res, err := c.GetBlob(t.Context(), "r", d, nil)
	require.NoError(t, err)
	var got bytes.Buffer
	n, err := io.Copy(&got, res.Body)
	require.NoError(t, err)
	assert.EqualValues(t, len(data), n)
	assert.True(t, bytes.Equal(data, got.Bytes()), "resumed through WriteTo")

	srv.ClearFaults()
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/docker/registry/", CorruptBody: true})
	res, err = c.GetBlob(t.Context(), "r", d, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, res.Body)
	assert.ErrorIs(t, err, ErrDigestMismatch)
	_, isWriterTo := res.Body.(io.WriterTo)
	assert.True(t, isWriterTo)
}
