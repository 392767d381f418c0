package azacr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzDownloadRange feeds the first block's Content-Range, as a registry
// would send it, with any block size and concurrency, to the two steps
// that size a parallel download: the range check and the plan. Neither
// may panic; options out of range are refused with ErrInvalidOption, a
// lying range or size with ErrSizeMismatch; and an accepted plan stays
// within bounds: its blocks cover the blob exactly, and its buffer count
// (a channel's capacity, and the memory held) is positive and small.
func FuzzDownloadRange(f *testing.F) {
	f.Add("bytes 0-1023/4096", int64(1024), 4)
	f.Add("bytes 0-1023/1024", int64(1024), 64)
	f.Add("bytes 0-99/100", int64(4<<20), 2)
	f.Add("bytes 0-1023/9223372036854775807", int64(1024), 4)
	f.Add("bytes 0-0/1125899906842624", int64(1), 2)
	f.Add("bytes 0-0/1125899906842625", int64(1), 2)
	f.Add("bytes 0-268435455/4611686018427387904", int64(MaxBlockSize), MaxConcurrency)
	f.Add("bytes 0-9/5", int64(10), 3)
	f.Add("bytes -1-2/3", int64(3), 2)
	f.Add("bytes 0-1023/4096", int64(1<<62), 1<<30)
	f.Add("bytes 0-1023/4096", int64(-1), -1)
	f.Fuzz(func(t *testing.T, contentRange string, blockSize int64, concurrency int) {
		// The range is checked against the request the block size makes
		// (for an absurd size too: planDownload must refuse it all the
		// same).
		last, size, err := checkContentRange(contentRange, 0, blockSize-1)
		if err != nil {
			if !errors.Is(err, ErrSizeMismatch) {
				t.Fatalf("Content-Range error does not wrap ErrSizeMismatch: %v", err)
			}
			return
		}
		plan, err := planDownload(size, blockSize, concurrency)
		validOptions := blockSize > 0 && blockSize <= MaxBlockSize && concurrency >= 0 && concurrency <= MaxConcurrency
		switch {
		case !validOptions:
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("BlockSize %d, Concurrency %d: %v, want ErrInvalidOption", blockSize, concurrency, err)
			}
			return
		case err != nil:
			if !errors.Is(err, ErrSizeMismatch) {
				t.Fatalf("plan error does not wrap ErrSizeMismatch: %v", err)
			}
			if size > 0 && size <= maxBlobSize {
				t.Fatalf("a size of %d refused: %v", size, err)
			}
			return
		}
		if plan.size != size || plan.blockSize != blockSize || size <= 0 || size > maxBlobSize {
			t.Fatalf("plan %+v for %d bytes in blocks of %d", plan, size, blockSize)
		}
		if last+1 != min(blockSize, size) {
			t.Fatalf("first block ends at %d of %d bytes in blocks of %d", last, size, blockSize)
		}
		if plan.blocks < 1 || plan.buffers < 1 || plan.buffers > plan.blocks || plan.buffers > concurrency+2 {
			t.Fatalf("plan %+v out of bounds (concurrency %d)", plan, concurrency)
		}
		// The blocks cover [0, size) exactly: the last ends at size, and
		// each one is full but the last.
		off, n := plan.block(plan.blocks - 1)
		if off < 0 || n <= 0 || n > blockSize || off+n != size {
			t.Fatalf("last block %d+%d of %d bytes (plan %+v)", off, n, size, plan)
		}
		if plan.blocks > 1 {
			if off, n := plan.block(plan.blocks - 2); n != blockSize || off+n > size {
				t.Fatalf("next to last block %d+%d of %d bytes (plan %+v)", off, n, size, plan)
			}
		}
	})
}

// fuzzBlob is what the honest registry of FuzzDownloadResponse holds.
var fuzzBlob = func() []byte {
	b := make([]byte, 3000)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

// honestAnswer answers a blob GET for fuzzBlob as a registry should.
func honestAnswer(req *http.Request) *http.Response {
	rng := req.Header.Get("Range")
	if rng == "" {
		return &http.Response{StatusCode: http.StatusOK, ContentLength: int64(len(fuzzBlob)), Body: io.NopCloser(bytes.NewReader(fuzzBlob))}
	}
	first, last, _ := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
	f, _ := strconv.Atoi(first)
	l, err := strconv.Atoi(last)
	if err != nil || l >= len(fuzzBlob) {
		l = len(fuzzBlob) - 1
	}
	if f >= len(fuzzBlob) {
		return &http.Response{StatusCode: http.StatusRequestedRangeNotSatisfiable}
	}
	return partial(fmt.Sprintf("bytes %d-%d/%d", f, l, len(fuzzBlob)), fuzzBlob[f:l+1])
}

// announcedBody reads like a net/http body with a Content-Length of
// length (-1: none): at most length bytes, and io.ErrUnexpectedEOF when
// the connection ends before them.
type announcedBody struct {
	r    io.Reader
	left int64 // -1: unknown
}

func (a *announcedBody) Read(p []byte) (int, error) {
	if a.left == 0 {
		return 0, io.EOF
	}
	if a.left > 0 && int64(len(p)) > a.left {
		p = p[:a.left]
	}
	n, err := a.r.Read(p)
	if a.left > 0 {
		a.left -= int64(n)
		if err == io.EOF && a.left > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	return n, err
}

// FuzzDownloadResponse serves GetBlob and DownloadBlob (sequential and
// parallel) from a registry that answers one request (or every one) with
// an arbitrary status, Content-Range, Content-Length and body, and
// honestly otherwise. Whatever it says, the call must return without
// panicking, and a call that succeeds must have delivered the blob
// exactly: a lie is an error, never corrupt data.
func FuzzDownloadResponse(f *testing.F) {
	// Parallel with blocks of 1024 bytes (256+768): a first block whose
	// range is right, announcing an honest size, then an absurd one.
	f.Add(uint8(1), uint8(1), uint8(2), "bytes 0-1023/3000", int64(1024), fuzzBlob[:1024], uint16(768), uint8(4))
	f.Add(uint8(1), uint8(1), uint8(2), "bytes 0-1023/9223372036854775807", int64(1024), fuzzBlob[:1024], uint16(768), uint8(4))
	f.Add(uint8(0), uint8(0), uint8(2), "bytes 0-1023/3000", int64(1024), fuzzBlob[:1024], uint16(1024), uint8(4))
	f.Add(uint8(0), uint8(1), uint8(0), "", int64(9223372036854775807), fuzzBlob, uint16(0), uint8(1))
	f.Add(uint8(2), uint8(1), uint8(1), "bytes 1000-2999/3000", int64(2000), fuzzBlob[1000:], uint16(0), uint8(1))
	f.Add(uint8(3), uint8(3), uint8(2), "bytes 1024-2047/3001", int64(1024), fuzzBlob[1024:2048], uint16(1024), uint8(2))
	f.Add(uint8(1), uint8(2), uint8(2), "bytes 1024-2047/3000", int64(1024), fuzzBlob[1024:1500], uint16(1024), uint8(3))
	f.Add(uint8(4), uint8(0), uint8(0), "", int64(-1), []byte("short"), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, lieAt, status, mode uint8, contentRange string, contentLength int64, body []byte, blockSize uint16, concurrency uint8) {
		// Statuses that need no back-off, so that each run is quick.
		statuses := []int{http.StatusOK, http.StatusPartialContent, http.StatusPartialContent, http.StatusRequestedRangeNotSatisfiable, http.StatusNotFound, http.StatusForbidden}
		lie := func() *http.Response {
			return &http.Response{
				StatusCode:    statuses[int(status)%len(statuses)],
				Header:        http.Header{"Content-Range": {contentRange}},
				ContentLength: contentLength,
				Body:          io.NopCloser(&announcedBody{r: bytes.NewReader(body), left: max(contentLength, -1)}),
			}
		}
		var requests atomic.Int32
		c := scriptedBlobClient(t, func(req *http.Request) *http.Response {
			if n := requests.Add(1); lieAt == 0 || int(lieAt) == int(n) {
				return lie()
			}
			return honestAnswer(req)
		})
		d := ComputeDigest(fuzzBlob)
		done := make(chan struct{})
		var got []byte
		var err error
		go func() {
			defer close(done)
			switch mode % 3 {
			case 0:
				var res BlobClientGetBlobResponse
				if res, err = c.GetBlob(t.Context(), "r", d, &BlobClientGetBlobOptions{MaxRetries: 2}); err == nil {
					got, err = io.ReadAll(res.Body)
					res.Body.Close()
				}
			default:
				opts := BlobClientDownloadBlobOptions{MaxRetries: 2}
				if mode%3 == 2 {
					opts.Concurrency = 2 + int(concurrency)%4
					opts.BlockSize = 256 + int64(blockSize)%4096
				}
				w := &bytesWriterAt{}
				var res BlobClientDownloadBlobResponse
				res, err = c.DownloadBlob(t.Context(), "r", d, w, &opts)
				got = w.buf
				if err == nil && res.Size != int64(len(fuzzBlob)) {
					// Not Fatalf: this is not the test's goroutine.
					t.Errorf("DownloadBlob reported %d bytes of %d", res.Size, len(fuzzBlob))
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("the download did not return\n%s", buf)
		}
		if err == nil && !bytes.Equal(got, fuzzBlob) {
			t.Fatalf("success with %d wrong bytes", len(got))
		}
	})
}
