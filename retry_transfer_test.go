package azacr

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTransfersFollowTheCallersRetryOptions: the requests the library
// retries itself (upload chunks, the completing PUT with bytes, blob range
// reads) follow ClientOptions.Retry as azcore's retry policy would: how
// many tries, which statuses, ShouldRetry, Retry-After against
// MaxRetryDelay, TryTimeout. Reads spend one budget per range
// (MaxRetries of the download), not azcore's retries on top of it.
func TestTransfersFollowTheCallersRetryOptions(t *testing.T) {
	fast := policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: 50 * time.Millisecond}
	with := func(f func(*policy.RetryOptions)) policy.RetryOptions {
		o := fast
		f(&o)
		return o
	}
	const chunk = 16 << 10
	data := bytes.Repeat([]byte("r"), 3*chunk)
	type op func(t *testing.T, c *BlobClient, digest string) error
	// secondBlock aims f at the ranged GETs of the download's second block.
	secondBlock := func(f acrtest.Fault) acrtest.Fault {
		f.Method, f.Path = http.MethodGet, "/blobs/sha256:"
		f.Match = func(r *http.Request) bool {
			return r.Header.Get("Range") == fmt.Sprintf("bytes=%d-%d", chunk, 2*chunk-1)
		}
		return f
	}
	uploadStream := func(t *testing.T, c *BlobClient, _ string) error {
		_, err := c.UploadBlob(t.Context(), "r", plainReader{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{ChunkSize: chunk})
		return err
	}
	uploadWhole := func(t *testing.T, c *BlobClient, _ string) error {
		_, err := c.UploadBlob(t.Context(), "r", plainReader{bytes.NewReader(data[:chunk])}, &BlobClientUploadBlobOptions{ChunkSize: chunk})
		return err
	}
	download := func(retries int) op {
		return func(t *testing.T, c *BlobClient, digest string) error {
			w := &bytesWriterAt{}
			_, err := c.DownloadBlob(t.Context(), "r", digest, w, &BlobClientDownloadBlobOptions{Concurrency: 2, BlockSize: chunk, MaxRetries: retries})
			if err == nil && !bytes.Equal(w.buf, data) {
				t.Error("downloaded other bytes")
			}
			return err
		}
	}
	cases := []struct {
		name    string
		retry   policy.RetryOptions
		fault   acrtest.Fault // fires on the counted requests
		run     op
		wantErr bool
		tries   int // requests that matched the fault's method and path
	}{
		{"chunk: default tries, 503 twice", fast, acrtest.Fault{Method: http.MethodPatch, Status: 503, Nth: 2, Times: 2}, uploadStream, false, 3 + 2},
		{"chunk: MaxRetries -1 means one try", with(func(o *policy.RetryOptions) { o.MaxRetries = -1 }), acrtest.Fault{Method: http.MethodPatch, Status: 503, Nth: 2, Times: 1}, uploadStream, true, 2},
		{"chunk: MaxRetries 2, 503 three times", with(func(o *policy.RetryOptions) { o.MaxRetries = 2 }), acrtest.Fault{Method: http.MethodPatch, Status: 503, Nth: 1, Times: 3}, uploadStream, true, 3},
		{"chunk: a status not in StatusCodes", with(func(o *policy.RetryOptions) { o.StatusCodes = []int{502} }), acrtest.Fault{Method: http.MethodPatch, Status: 503, Nth: 1, Times: 1}, uploadStream, true, 1},
		{"chunk: a status in StatusCodes", with(func(o *policy.RetryOptions) { o.StatusCodes = []int{409} }), acrtest.Fault{Method: http.MethodPatch, Status: 409, Nth: 1, Times: 1}, uploadStream, false, 3 + 1},
		{"chunk: ShouldRetry says no", with(func(o *policy.RetryOptions) {
			o.ShouldRetry = func(*http.Response, error) bool { return false }
		}), acrtest.Fault{Method: http.MethodPatch, Status: 503, Nth: 1, Times: 1}, uploadStream, true, 1},
		{"chunk: Retry-After beyond MaxRetryDelay", fast, acrtest.Fault{Method: http.MethodPatch, Status: 429, RetryAfter: time.Second, Nth: 1, Times: 1}, uploadStream, true, 1},
		{"chunk: Retry-After within MaxRetryDelay", with(func(o *policy.RetryOptions) { o.MaxRetryDelay = 2 * time.Second }), acrtest.Fault{Method: http.MethodPatch, Status: 429, RetryAfter: time.Second, Nth: 1, Times: 1}, uploadStream, false, 3 + 1},
		{"chunk: TryTimeout cuts a stalled try", with(func(o *policy.RetryOptions) { o.TryTimeout = 100 * time.Millisecond }), acrtest.Fault{Method: http.MethodPatch, Delay: time.Hour, Nth: 2, Times: 1}, uploadStream, false, 3 + 1},
		{"whole: 503 once", fast, acrtest.Fault{Method: http.MethodPut, Status: 503, Nth: 1, Times: 1}, uploadWhole, false, 2},
		{"whole: MaxRetries -1", with(func(o *policy.RetryOptions) { o.MaxRetries = -1 }), acrtest.Fault{Method: http.MethodPut, Status: 503, Nth: 1, Times: 1}, uploadWhole, true, 1},
		{"range: budget 1, 503 twice", with(func(o *policy.RetryOptions) { o.MaxRetries = 10 }), secondBlock(acrtest.Fault{Status: 503, Times: 2}), download(1), true, 2},
		{"range: budget 2, 503 twice", fast, secondBlock(acrtest.Fault{Status: 503, Times: 2}), download(2), false, 3},
		{"range: a status not in StatusCodes", with(func(o *policy.RetryOptions) { o.StatusCodes = []int{502} }), secondBlock(acrtest.Fault{Status: 503, Times: 1}), download(3), true, 1},
		{"range: MaxRetries -1 means one try of a request", with(func(o *policy.RetryOptions) { o.MaxRetries = -1 }), secondBlock(acrtest.Fault{Status: 503, Times: 1}), download(3), true, 1},
		{"range: Retry-After beyond MaxRetryDelay", fast, secondBlock(acrtest.Fault{Status: 429, RetryAfter: time.Second, Times: 1}), download(3), true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := acrtest.NewServer(t, nil)
			digest := srv.PutBlob("r", data)
			opts := srv.ClientOptions()
			opts.Retry = tc.retry
			c, err := NewBlobClient(srv.URL, srv.Credential(), &BlobClientOptions{ClientOptions: opts})
			require.NoError(t, err)
			// Warm the token, so the counted requests are the transfer's.
			_, err = c.CheckBlobExists(t.Context(), "r", digest, nil)
			require.NoError(t, err)
			var counted atomic.Int32
			srv.InjectFault(acrtest.Fault{Method: tc.fault.Method, Path: tc.fault.Path, Match: func(r *http.Request) bool {
				if r.URL.Path != "/oauth2/token" && (tc.fault.Match == nil || tc.fault.Match(r)) {
					counted.Add(1)
				}
				return false
			}})
			srv.InjectFault(tc.fault)
			err = within(t, func() error { return tc.run(t, c, digest) })
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			assert.EqualValues(t, tc.tries, counted.Load())
		})
	}
}

// TestChunkTooLargeHalvesTheChunkSize: a registry whose body limit is below
// the chunk size answers 413; the upload halves its chunks and goes on
// from the session's offset, and the blob is whole.
func TestChunkTooLargeHalvesTheChunkSize(t *testing.T) {
	const limit = 100 << 10
	for _, tc := range []struct {
		name string
		size int
		body func([]byte) any
	}{
		{"stream", 1 << 20, func(b []byte) any { return plainReader{bytes.NewReader(b)} }},
		{"file", 1 << 20, nil},
		{"one chunk", 300 << 10, func(b []byte) any { return plainReader{bytes.NewReader(b)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := acrtest.NewServer(t, nil)
			var mu sync.Mutex
			var sizes []int64
			srv.InjectFault(acrtest.Fault{Status: http.StatusRequestEntityTooLarge, Match: func(r *http.Request) bool {
				if r.URL.Path == "/oauth2/token" || r.URL.Path == "/oauth2/exchange" {
					return false
				}
				mu.Lock()
				defer mu.Unlock()
				if r.ContentLength > 0 {
					sizes = append(sizes, r.ContentLength)
				}
				return r.ContentLength > limit
			}})
			c := newTestBlobClient(t, srv, srv.Credential())
			data := randomBytes(t, tc.size)
			var body any = writeTempFile(t, nil, data)
			if tc.body != nil {
				body = tc.body(data)
			}
			up, err := c.UploadBlob(t.Context(), "r", body.(interface{ Read([]byte) (int, error) }), &BlobClientUploadBlobOptions{ChunkSize: 512 << 10, SkipExistenceCheck: true})
			require.NoError(t, err)
			got, ok := srv.Blob("r", up.Digest)
			require.True(t, ok)
			assert.Equal(t, data, got)
			mu.Lock()
			defer mu.Unlock()
			assert.Greater(t, sizes[0], int64(limit), "the first try was refused")
			last := sizes[len(sizes)-1]
			assert.LessOrEqual(t, last, int64(limit), "later chunks fit the limit")
		})
	}
}
