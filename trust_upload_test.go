package azacr

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of what an upload believes of its body and its options, and of
// how it ends when its caller cancels.

// TestTransferOptionsAreBounded: every option that sizes an allocation,
// a goroutine count or a loop is checked against its limit before it is
// used, and before anything is sent. BlockSize 1<<62 used to be sent as a
// Range, ChunkSize 1<<62 to panic in make, Concurrency 1<<30 to start a
// billion goroutines. (The cases that were harmless to run come first.)
func TestTransferOptionsAreBounded(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	ctx := t.Context()
	d := srv.PutBlob("r", []byte("x"))
	download := func(opts BlobClientDownloadBlobOptions) func() error {
		return func() error {
			_, err := c.DownloadBlob(ctx, "r", d, &bytesWriterAt{}, &opts)
			return err
		}
	}
	upload := func(chunk int64) func() error {
		return func() error {
			_, err := c.UploadBlob(ctx, "r", plainReader{bytes.NewReader([]byte("x"))}, &BlobClientUploadBlobOptions{ChunkSize: chunk})
			return err
		}
	}
	cases := []struct {
		name string
		call func() error
	}{
		{"BlockSize 1<<62", download(BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 1 << 62})},
		{"BlockSize above MaxBlockSize", download(BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: MaxBlockSize + 1})},
		{"MaxRetries above MaxTransferRetries", download(BlobClientDownloadBlobOptions{MaxRetries: MaxTransferRetries + 1})},
		{"GetBlob MaxRetries 1<<40", func() error {
			_, err := c.GetBlob(ctx, "r", d, &BlobClientGetBlobOptions{MaxRetries: 1 << 40})
			return err
		}},
		{"ChunkSize 1<<62", upload(1 << 62)},
		{"ChunkSize above MaxChunkSize", upload(MaxChunkSize + 1)},
		{"Concurrency above MaxConcurrency", download(BlobClientDownloadBlobOptions{Concurrency: MaxConcurrency + 1})},
		{"Concurrency 1<<30", download(BlobClientDownloadBlobOptions{Concurrency: 1 << 30})},
	}
	srv.ResetRequests()
	for _, tc := range cases {
		err := within(t, tc.call)
		require.ErrorIs(t, err, ErrInvalidOption, tc.name)
	}
	assert.Empty(t, srv.Requests(), "refused before anything is sent")

	// The limits themselves are accepted, and cost no more than the blob.
	data := randomBytes(t, 1000)
	up, err := c.UploadBlob(ctx, "r", bytes.NewReader(data), &BlobClientUploadBlobOptions{ChunkSize: MaxChunkSize})
	require.NoError(t, err)
	w := &bytesWriterAt{}
	_, err = c.DownloadBlob(ctx, "r", up.Digest, w, &BlobClientDownloadBlobOptions{Concurrency: MaxConcurrency, BlockSize: MaxBlockSize, MaxRetries: MaxTransferRetries})
	require.NoError(t, err)
	assert.Equal(t, data, w.buf)
}

// pipeWith returns the read end of a pipe that another goroutine fills
// with data, then closes.
func pipeWith(t *testing.T, data []byte) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	go func() {
		defer w.Close()
		w.Write(data) // fails only when the reader is gone
	}()
	return r
}

// TestUploadBlobFromPipe: a pipe (stdin, typically) is an *os.File, and
// so an io.Seeker, but cannot seek: UploadBlob used to fail at Seek. It
// is streamed like any reader, in one chunk or many.
func TestUploadBlobFromPipe(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	for name, chunk := range map[string]int64{"one chunk": 0, "many chunks": 256 << 10} {
		t.Run(name, func(t *testing.T) {
			data := randomBytes(t, 3<<20+12345)
			var totals []int64
			res, err := c.UploadBlob(t.Context(), "pipe", pipeWith(t, data), &BlobClientUploadBlobOptions{
				ChunkSize: chunk,
				Progress:  func(sent, total int64) { totals = append(totals, total) },
			})
			require.NoError(t, err)
			assert.Equal(t, ComputeDigest(data), res.Digest)
			assert.EqualValues(t, len(data), res.Size)
			stored, ok := srv.Blob("pipe", res.Digest)
			require.True(t, ok)
			assert.True(t, bytes.Equal(data, stored), "byte for byte")
			require.NotEmpty(t, totals)
			for _, total := range totals {
				// Unknown while streaming; known once all is sent.
				assert.Contains(t, []int64{-1, int64(len(data))}, total)
			}
		})
	}
}

// TestUploadBlobFromCharacterDevice: /dev/zero seeks to offset 0 at its
// "end", so it used to be taken for an empty blob. A character device is
// streamed like a pipe: here without end, until the caller cancels.
func TestUploadBlobFromCharacterDevice(t *testing.T) {
	zero, err := os.Open("/dev/zero")
	require.NoError(t, err, "this test needs /dev/zero")
	defer zero.Close()
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	const chunk = 64 << 10
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var sent, total atomic.Int64
	total.Store(-2)
	err = within(t, func() error {
		_, err := c.UploadBlob(ctx, "zero", zero, &BlobClientUploadBlobOptions{
			ChunkSize: chunk,
			Progress: func(s, tot int64) {
				sent.Store(s)
				total.Store(tot)
				if s >= 3*chunk {
					cancel()
				}
			},
		})
		return err
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.GreaterOrEqual(t, sent.Load(), int64(3*chunk), "streamed chunk after chunk")
	assert.EqualValues(t, -1, total.Load(), "a device's size is unknown, not zero")
	assert.Equal(t, 1, srv.CountRequests(http.MethodDelete, "/v2/zero/blobs/uploads/"), "the session is cancelled")
}

// unseekable claims to seek but cannot, like some wrappers of streams.
type unseekable struct{ r io.Reader }

func (u unseekable) Read(p []byte) (int, error) { return u.r.Read(p) }
func (unseekable) Seek(int64, int) (int64, error) {
	return 0, errors.New("this stream cannot seek")
}

// TestUploadBlobSeekerThatCannotSeek: an io.Seeker whose first Seek fails
// is streamed rather than refused.
func TestUploadBlobSeekerThatCannotSeek(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	for _, size := range []int{100, 5000} {
		data := randomBytes(t, size)
		res, err := c.UploadBlob(t.Context(), "r", unseekable{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{ChunkSize: 1000})
		require.NoError(t, err, size)
		stored, ok := srv.Blob("r", res.Digest)
		require.True(t, ok)
		assert.Equal(t, data, stored)
	}
}

// stallingReader yields data, then blocks until released, as stdin does
// while nobody types.
type stallingReader struct {
	mu      sync.Mutex
	data    []byte
	release chan struct{}
}

func newStallingReader(t *testing.T, data []byte) *stallingReader {
	s := &stallingReader{data: data, release: make(chan struct{})}
	t.Cleanup(func() { close(s.release) })
	return s
}

func (s *stallingReader) Read(p []byte) (int, error) {
	s.mu.Lock()
	if len(s.data) > 0 {
		n := copy(p, s.data)
		s.data = s.data[n:]
		s.mu.Unlock()
		return n, nil
	}
	s.mu.Unlock()
	<-s.release
	return 0, io.EOF
}

// TestUploadBlobCancelWhileBodyBlocks: a body whose Read blocks cannot be
// interrupted, but UploadBlob returns when ctx ends all the same, and
// cancels the session. It used to wait for the Read: before the first
// chunk, and for the chunk read ahead while the previous one was sent.
func TestUploadBlobCancelWhileBodyBlocks(t *testing.T) {
	const chunk = 64 << 10
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())

	t.Run("first chunk", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		time.AfterFunc(50*time.Millisecond, cancel)
		err := within(t, func() error {
			_, err := c.UploadBlob(ctx, "stall", newStallingReader(t, nil), &BlobClientUploadBlobOptions{ChunkSize: chunk})
			return err
		})
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("chunk read ahead", func(t *testing.T) {
		srv.ResetRequests()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		body := newStallingReader(t, randomBytes(t, chunk+chunk/2))
		err := within(t, func() error {
			_, err := c.UploadBlob(ctx, "stall", body, &BlobClientUploadBlobOptions{
				ChunkSize: chunk,
				Progress:  func(int64, int64) { cancel() }, // after the first chunk
			})
			return err
		})
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, srv.CountRequests(http.MethodPatch, "/v2/stall/"))
		assert.Equal(t, 1, srv.CountRequests(http.MethodDelete, "/v2/stall/"), "the session is cancelled")
		assert.Zero(t, srv.CountRequests(http.MethodPut, "/v2/stall/"))
	})
}

// responseStatuses lists the status of every *azcore.ResponseError in
// err's tree, depth first.
func responseStatuses(err error) []int {
	if err == nil {
		return nil
	}
	var out []int
	if re, ok := err.(*azcore.ResponseError); ok {
		out = append(out, re.StatusCode)
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, responseStatuses(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, responseStatuses(e)...)
		}
	}
	return out
}

// TestUploadStatusFailureKeepsResponseError: when a chunk fails and so
// does the status request that would resume it, both *azcore.ResponseError
// stay in the error (the second used to be flattened with %v).
func TestUploadStatusFailureKeepsResponseError(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	srv.InjectFault(acrtest.Fault{Method: http.MethodPatch, Nth: 1, Status: http.StatusServiceUnavailable})
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/uploads/", Status: http.StatusForbidden})
	_, err := c.UploadBlob(t.Context(), "r", plainReader{bytes.NewReader(randomBytes(t, 3000))}, &BlobClientUploadBlobOptions{ChunkSize: 1000})
	require.Error(t, err)
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, []int{http.StatusServiceUnavailable, http.StatusForbidden}, responseStatuses(err), "%v", err)
}
