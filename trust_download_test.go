package azacr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of what a download does when its caller cancels, and of what it
// believes of the registry: sizes, ranges and lengths are checked before
// they drive an allocation, a goroutine count or a loop.

// hangLimit is how long a call that must return promptly may take before
// the test calls it a hang. It is a guard against deadlocks, not a
// measure of speed.
const hangLimit = 5 * time.Second

// within runs f on another goroutine and fails the test if it has not
// returned after hangLimit, so a deadlock fails the test instead of
// stalling the binary. A panic in f comes back as an error.
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- f()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(hangLimit):
		t.Fatalf("still running after %v", hangLimit)
		return nil
	}
}

// downloadModes are the two ways DownloadBlob runs: one streaming GET,
// or ranged GETs in parallel over blocks small enough that a test blob
// has a dozen.
var downloadModes = []struct {
	name string
	opts BlobClientDownloadBlobOptions
}{
	{"sequential", BlobClientDownloadBlobOptions{Concurrency: 1}},
	{"parallel", BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 16 << 10}},
}

// TestDownloadBlobCancelFromProgress cancels a download from inside its
// Progress callback, at every call in turn. Each must end promptly with an
// error wrapping context.Canceled: a parallel download used to wait for
// results no worker would ever send once the block feeder had seen the
// cancellation.
func TestDownloadBlobCancelFromProgress(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 12*(16<<10)+777) // 13 blocks of 16 KiB
	d := srv.PutBlob("r", data)
	for _, mode := range downloadModes {
		t.Run(mode.name, func(t *testing.T) {
			// Count the calls of an uncancelled download first.
			calls := 0
			opts := mode.opts
			opts.Progress = func(int64, int64) { calls++ }
			_, err := c.DownloadBlob(t.Context(), "r", d, &bytesWriterAt{}, &opts)
			require.NoError(t, err)
			require.Greater(t, calls, 1)

			for k := 1; k <= calls; k++ {
				// A few rounds each: whether the workers are idle at the
				// moment of cancellation is a matter of timing.
				for round := range 5 {
					ctx, cancel := context.WithCancel(t.Context())
					n := 0
					opts := mode.opts
					opts.Progress = func(int64, int64) {
						if n++; n == k {
							cancel()
						}
					}
					err := within(t, func() error {
						_, err := c.DownloadBlob(ctx, "r", d, &bytesWriterAt{}, &opts)
						return err
					})
					cancel()
					require.ErrorIs(t, err, context.Canceled, "cancelled at call %d of %d (round %d)", k, calls, round)
				}
			}
		})
	}
}

// cancelAtRandom runs op under a context cancelled after a random delay
// of up to maxDelay, and checks that it returns promptly with success
// (it finished first) or an error wrapping context.Canceled.
func cancelAtRandom(t *testing.T, rng *rand.Rand, maxDelay time.Duration, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	timer := time.AfterFunc(time.Duration(rng.Int64N(int64(maxDelay))), cancel)
	defer timer.Stop()
	err := within(t, func() error { return op(ctx) })
	if err != nil {
		require.ErrorIs(t, err, context.Canceled)
	}
}

// TestTransfersCancelledAtRandomMoments cancels downloads (sequential and
// parallel) and uploads at random moments; run it with -race. Every call
// must return promptly with success or context.Canceled, and leave no
// goroutine behind.
func TestTransfersCancelledAtRandomMoments(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true})
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 300<<10)
	d := srv.PutBlob("r", data)
	rng := rand.New(rand.NewPCG(3, 4))
	ops := map[string]func(ctx context.Context) error{
		"download/sequential": func(ctx context.Context) error {
			_, err := c.DownloadBlob(ctx, "r", d, &bytesWriterAt{}, &BlobClientDownloadBlobOptions{Concurrency: 1})
			return err
		},
		"download/parallel": func(ctx context.Context) error {
			_, err := c.DownloadBlob(ctx, "r", d, &bytesWriterAt{}, &BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 16 << 10})
			return err
		},
		"getblob": func(ctx context.Context) error {
			res, err := c.GetBlob(ctx, "r", d, nil)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			_, err = io.Copy(io.Discard, res.Body)
			return err
		},
		"upload/stream": func(ctx context.Context) error {
			_, err := c.UploadBlob(ctx, "up", plainReader{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{ChunkSize: 32 << 10, SkipExistenceCheck: true})
			return err
		},
		"upload/seekable": func(ctx context.Context) error {
			_, err := c.UploadBlob(ctx, "up", bytes.NewReader(data), &BlobClientUploadBlobOptions{ChunkSize: 32 << 10, SkipExistenceCheck: true})
			return err
		},
	}
	// Warm the connections and token caches, and time each operation so
	// that the cancellations fall anywhere in it, start to end.
	took := map[string]time.Duration{}
	for name, op := range ops {
		start := time.Now()
		require.NoError(t, op(t.Context()))
		took[name] = time.Since(start)
	}
	before := settledGoroutines(srv, 0)

	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			for range 50 {
				cancelAtRandom(t, rng, took[name]*5/4+time.Millisecond, op)
			}
		})
	}
	assertNoLeak(t, srv, before)
}

// settledGoroutines closes the client's idle connections (each holds a
// reader and a writer goroutine, here and in the test server) and returns
// the goroutine count once it has dropped to want, or after a few
// seconds; want 0 just waits for the count to stop falling.
func settledGoroutines(srv *acrtest.Server, want int) int {
	deadline := time.Now().Add(hangLimit)
	last := -1
	for {
		srv.Client().CloseIdleConnections()
		n := runtime.NumGoroutine()
		if (want > 0 && n <= want) || (want == 0 && n == last) || time.Now().After(deadline) {
			return n
		}
		last = n
		time.Sleep(50 * time.Millisecond)
	}
}

// assertNoLeak fails the test when more goroutines run than before, and
// shows the ones that run package code.
func assertNoLeak(t *testing.T, srv *acrtest.Server, before int) {
	t.Helper()
	after := settledGoroutines(srv, before)
	if after <= before {
		return
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "azacr.(*BlobClient)") || strings.Contains(g, "azacr.(*blobUpload)") || strings.Contains(g, "azacr.(*resumingBody)") {
			ours = append(ours, g)
		}
	}
	t.Fatalf("%d goroutines before, %d after; those in package code:\n%s", before, after, strings.Join(ours, "\n\n"))
}

// TestDownloadBlobCancelLeavesNoGoroutine cancels parallel downloads from
// their Progress callback, at one call in three, so that some cancellations
// find the workers busy and some idle, and checks that nothing is left
// running: no worker, no block feeder, no blocked send.
func TestDownloadBlobCancelLeavesNoGoroutine(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 40*(8<<10))
	d := srv.PutBlob("r", data)
	opts := BlobClientDownloadBlobOptions{Concurrency: 8, BlockSize: 8 << 10}
	_, err := c.DownloadBlob(t.Context(), "r", d, &bytesWriterAt{}, &opts)
	require.NoError(t, err)
	before := settledGoroutines(srv, 0)

	for k := 1; k <= 40; k += 3 {
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		o := opts
		o.Progress = func(int64, int64) {
			if n++; n == k {
				cancel()
			}
		}
		err := within(t, func() error {
			_, err := c.DownloadBlob(ctx, "r", d, &bytesWriterAt{}, &o)
			return err
		})
		cancel()
		require.ErrorIs(t, err, context.Canceled, "cancelled at call %d", k)
	}
	assertNoLeak(t, srv, before)
}

// scriptedTransport answers every request with what respond returns, with
// no network: a registry that says exactly what a test wants it to.
type scriptedTransport func(req *http.Request) *http.Response

func (s scriptedTransport) Do(req *http.Request) (*http.Response, error) {
	resp := s(req)
	resp.Request = req
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if resp.Status == "" {
		resp.Status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return resp, nil
}

// scriptedBlobClient is an anonymous BlobClient whose registry is respond.
func scriptedBlobClient(t testing.TB, respond func(req *http.Request) *http.Response) *BlobClient {
	t.Helper()
	c, err := NewBlobClient("https://registry.example", nil, &BlobClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: scriptedTransport(respond), Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	require.NoError(t, err)
	return c
}

// partial is a 206 answer with the given Content-Range and body.
func partial(contentRange string, body []byte) *http.Response {
	return &http.Response{
		StatusCode:    http.StatusPartialContent,
		Header:        http.Header{"Content-Range": {contentRange}},
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(bytes.NewReader(body)),
	}
}

// TestDownloadBlobRefusesAbsurdSizes: the size a registry announces sizes
// the download plan (how many blocks, buffers and a channel). An absurd
// one used to overflow the block count and panic in make; it is a lying
// answer, refused with ErrSizeMismatch before anything is started.
func TestDownloadBlobRefusesAbsurdSizes(t *testing.T) {
	d := ComputeDigest([]byte("whatever"))
	for _, total := range []string{"9223372036854775807", "4611686018427387904", "1125899906842625"} {
		t.Run(total, func(t *testing.T) {
			var gets atomic.Int32
			c := scriptedBlobClient(t, func(req *http.Request) *http.Response {
				gets.Add(1)
				return partial("bytes 0-1023/"+total, make([]byte, 1024))
			})
			err := within(t, func() error {
				_, err := c.DownloadBlob(t.Context(), "r", d, &bytesWriterAt{}, &BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 1024})
				return err
			})
			require.ErrorIs(t, err, ErrSizeMismatch)
			assert.Contains(t, err.Error(), total)
			assert.EqualValues(t, 1, gets.Load(), "no block beyond the first is asked for")
		})
	}
}

// TestGetBlobRefusesAbsurdContentLength: a blob GET announcing more than
// any blob can hold is refused as a lying answer before its body is used.
func TestGetBlobRefusesAbsurdContentLength(t *testing.T) {
	d := ComputeDigest([]byte("whatever"))
	c := scriptedBlobClient(t, func(req *http.Request) *http.Response {
		return &http.Response{StatusCode: http.StatusOK, ContentLength: 1<<63 - 1, Body: io.NopCloser(strings.NewReader("whatever"))}
	})
	_, err := c.GetBlob(t.Context(), "r", d, nil)
	require.ErrorIs(t, err, ErrSizeMismatch)
	_, err = c.DownloadBlob(t.Context(), "r", d, &bytesWriterAt{}, nil)
	require.ErrorIs(t, err, ErrSizeMismatch)
}

// TestGetBlobCloseStopsTheBody: Close ends a GetBlob body for good. A
// Read after it used to see the closed connection as a dropped one and
// resume it with a new ranged GET.
func TestGetBlobCloseStopsTheBody(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 300<<10)
	d := srv.PutBlob("r", data)
	// Count blob GETs as they arrive (the request log has them only once
	// answered): a fault that never fires.
	var gets atomic.Int32
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/", Match: func(*http.Request) bool {
		gets.Add(1)
		return false
	}})

	res, err := c.GetBlob(t.Context(), "r", d, nil)
	require.NoError(t, err)
	_, err = io.ReadFull(res.Body, make([]byte, 1000))
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())

	n, err := res.Body.Read(make([]byte, 1000))
	assert.Zero(t, n)
	require.ErrorIs(t, err, http.ErrBodyReadAfterClose)
	_, err = io.Copy(io.Discard, res.Body)
	require.Error(t, err, "nor through WriteTo")
	assert.EqualValues(t, 1, gets.Load(), "no request after Close")
}

// TestGetBlobCloseDuringRead: Close from another goroutine while a Read
// waits for the network ends that Read with an error, and resumes nothing.
func TestGetBlobCloseDuringRead(t *testing.T) {
	data := randomBytes(t, 64<<10)
	d := ComputeDigest(data)
	var gets atomic.Int32
	c := fakeBlobRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data[:1000])
		http.NewResponseController(w).Flush()
		<-r.Context().Done() // the rest never comes
	})
	res, err := c.GetBlob(t.Context(), "r", d, nil)
	require.NoError(t, err)
	_, err = io.ReadFull(res.Body, make([]byte, 1000))
	require.NoError(t, err)
	time.AfterFunc(50*time.Millisecond, func() { res.Body.Close() })
	err = within(t, func() error {
		_, err := res.Body.Read(make([]byte, 1000))
		return err
	})
	require.ErrorIs(t, err, http.ErrBodyReadAfterClose)
	assert.EqualValues(t, 1, gets.Load(), "Close is not a dropped connection to resume")
}

// TestShortBodyAfterResumesIsSizeMismatch: a body still short when the
// resume budget is spent is an error wrapping ErrSizeMismatch (and still
// io.ErrUnexpectedEOF) that says how many bytes came of how many, after
// how many GETs. It used to be a bare io.ErrUnexpectedEOF.
func TestShortBodyAfterResumesIsSizeMismatch(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 20*(16<<10))
	d := srv.PutBlob("r", data)
	// Every blob GET is cut after 1000 bytes of its body.
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/", TruncateBody: 1000})

	getBlob := func(retries int) error {
		res, err := c.GetBlob(t.Context(), "r", d, &BlobClientGetBlobOptions{MaxRetries: retries})
		if err != nil {
			return err
		}
		defer res.Body.Close()
		_, err = io.ReadAll(res.Body)
		return err
	}
	download := func(opts BlobClientDownloadBlobOptions) error {
		_, err := c.DownloadBlob(t.Context(), "r", d, &bytesWriterAt{}, &opts)
		return err
	}
	whole := len(data)
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"GetBlob", func() error { return getBlob(2) }, fmt.Sprintf("got 3000 of %d bytes after 3 attempts", whole)},
		{"GetBlob without retries", func() error { return getBlob(-1) }, fmt.Sprintf("got 1000 of %d bytes after 1 attempt:", whole)},
		{"DownloadBlob sequential", func() error { return download(BlobClientDownloadBlobOptions{MaxRetries: 2}) }, fmt.Sprintf("got 3000 of %d bytes after 3 attempts", whole)},
		{"DownloadBlob parallel", func() error {
			return download(BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 16 << 10, MaxRetries: 2})
		}, "got 3000 of 16384 bytes after 3 attempts"},
		{"DownloadBlob parallel without retries", func() error {
			return download(BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 16 << 10, MaxRetries: -1})
		}, "got 1000 of 16384 bytes after 1 attempt:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.ErrorIs(t, err, ErrSizeMismatch)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestFailedResumeKeepsResponseError: when resuming a dropped body fails
// with an HTTP error, that *azcore.ResponseError stays reachable with
// errors.As (it used to be flattened into the message with %v).
func TestFailedResumeKeepsResponseError(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 100<<10)
	d := srv.PutBlob("r", data)
	calls := map[string]func() error{
		"GetBlob": func() error {
			res, err := c.GetBlob(t.Context(), "r", d, nil)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			_, err = io.ReadAll(res.Body)
			return err
		},
		"DownloadBlob": func() error {
			_, err := c.DownloadBlob(t.Context(), "r", d, &bytesWriterAt{}, nil)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			srv.ClearFaults()
			srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/", Nth: 1, TruncateBody: 1000})
			srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/", Nth: 2, Status: http.StatusForbidden})
			err := call()
			var re *azcore.ResponseError
			require.ErrorAs(t, err, &re, "%v", err)
			assert.Equal(t, http.StatusForbidden, re.StatusCode)
			assert.ErrorIs(t, err, ErrSizeMismatch, "the body was short all the same")
			assert.Contains(t, err.Error(), "resuming failed")
		})
	}
}

// manifestResponse is what GetManifest returns for body served as
// contentType ("" for none).
func manifestResponse(contentType, body string) ContainerRegistryClientGetManifestResponse {
	r := ContainerRegistryClientGetManifestResponse{ManifestData: []byte(body)}
	if contentType != "" {
		r.ContentType = &contentType
	}
	return r
}

// TestDecodeRefusesTheOtherKind: DecodeImageManifest on an index (or
// DecodeImageIndex on an image manifest) used to succeed with an empty
// struct. The media type of the response or of the document, or failing
// both the document's shape, tells which it is; Docker's manifest and
// list types count as their OCI equivalents.
func TestDecodeRefusesTheOtherKind(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
		dockerV2    = "application/vnd.docker.distribution.manifest.v2+json"
		dockerList  = "application/vnd.docker.distribution.manifest.list.v2+json"
		orasType    = "application/vnd.cncf.oras.artifact.manifest.v1+json"
	)
	manifest := `{"schemaVersion":2,%s"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2},"layers":[]}`
	index := `{"schemaVersion":2,%s"manifests":[{"mediaType":"` + ociManifest + `","digest":"sha256:` + strings.Repeat("b", 64) + `","size":3}]}`
	mt := func(t string) string { return `"mediaType":"` + t + `",` }
	cases := []struct {
		name                string
		contentType, body   string
		isManifest, isIndex bool
	}{
		{"OCI manifest by content type", ociManifest, fmt.Sprintf(manifest, ""), true, false},
		{"OCI manifest by mediaType", "", fmt.Sprintf(manifest, mt(ociManifest)), true, false},
		{"manifest by shape", "", fmt.Sprintf(manifest, ""), true, false},
		{"Docker v2 manifest", dockerV2, fmt.Sprintf(manifest, mt(dockerV2)), true, false},
		{"OCI index by content type", ociIndex, fmt.Sprintf(index, ""), false, true},
		{"OCI index by content type with parameters", ociIndex + "; charset=utf-8", fmt.Sprintf(index, ""), false, true},
		{"OCI index by mediaType", "", fmt.Sprintf(index, mt(ociIndex)), false, true},
		{"index by shape", "", fmt.Sprintf(index, ""), false, true},
		{"Docker manifest list", dockerList, fmt.Sprintf(index, mt(dockerList)), false, true},
		{"index body served as a manifest", ociManifest, fmt.Sprintf(index, ""), false, false},
		{"manifest body served as an index", ociIndex, fmt.Sprintf(manifest, ""), false, false},
		{"content type and mediaType disagree", ociIndex, fmt.Sprintf(manifest, mt(ociManifest)), false, false},
		{"ORAS artifact manifest", orasType, `{"mediaType":"` + orasType + `","artifactType":"x","blobs":[]}`, false, false},
		{"empty object", "", `{}`, false, false},
		{"null", "", `null`, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := manifestResponse(tc.contentType, tc.body)
			m, err := r.DecodeImageManifest()
			if tc.isManifest {
				require.NoError(t, err)
				assert.Equal(t, "sha256:"+strings.Repeat("a", 64), m.Config.Digest)
			} else {
				require.ErrorIs(t, err, ErrUnexpectedManifest)
				assert.Nil(t, m)
			}
			idx, err := r.DecodeImageIndex()
			if tc.isIndex {
				require.NoError(t, err)
				require.Len(t, idx.Manifests, 1)
			} else {
				require.ErrorIs(t, err, ErrUnexpectedManifest)
				assert.Nil(t, idx)
			}
		})
	}
}

// TestDecodeIndexFromRegistry: the same through the emulator, which
// serves an index with its media type.
func TestDecodeIndexFromRegistry(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	d := seedImage(t, srv, "multi", "amd64")
	child := mustManifest(t, srv, "multi", d)
	body, err := json.Marshal(ImageIndex{
		SchemaVersion: 2,
		MediaType:     string(ContentTypeApplicationVndOCIImageIndexV1JSON),
		Manifests:     []Descriptor{{MediaType: string(ContentTypeApplicationVndOCIImageManifestV1JSON), Digest: d, Size: int64(len(child))}},
	})
	require.NoError(t, err)
	c := newTestClient(t, srv, srv.Credential())
	_, err = c.UploadManifest(t.Context(), "multi", "latest", ContentTypeApplicationVndOCIImageIndexV1JSON, streaming.NopCloser(bytes.NewReader(body)), nil)
	require.NoError(t, err)

	got, err := c.GetManifest(t.Context(), "multi", "latest", nil)
	require.NoError(t, err)
	_, err = got.DecodeImageManifest()
	require.ErrorIs(t, err, ErrUnexpectedManifest)
	assert.Contains(t, err.Error(), "index")
	_, err = got.DecodeImageIndex()
	require.NoError(t, err)

	got, err = c.GetManifest(t.Context(), "multi", "amd64", nil)
	require.NoError(t, err)
	_, err = got.DecodeImageIndex()
	require.ErrorIs(t, err, ErrUnexpectedManifest)
	_, err = got.DecodeImageManifest()
	require.NoError(t, err)
}
