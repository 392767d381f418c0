package azacr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// defaultBlockSize is DownloadBlob's ranged GET size.
const defaultBlockSize = 4 << 20

func retriesOrDefault(n int) int {
	switch {
	case n == 0:
		return 3
	case n < 0:
		return 0
	}
	return n
}

// GetBlob downloads a blob. Body is verified against digest (and the
// announced length) while it is read: the Read that reaches the end returns
// an error wrapping ErrDigestMismatch or ErrSizeMismatch instead of io.EOF
// when the content is wrong, so reading to io.EOF means the bytes are
// right. A connection dropped mid-body is resumed with a Range request from
// the last byte received (options.MaxRetries times). ACR answers blob GETs
// with a redirect to storage; it is followed without the Authorization
// header. A missing blob is an *azcore.ResponseError with status 404.
func (c *BlobClient) GetBlob(ctx context.Context, name string, digest string, options *BlobClientGetBlobOptions) (resp BlobClientGetBlobResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.GetBlob", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = validateNameDigest(name, digest); err != nil {
		return resp, err
	}
	retries := 3
	if options != nil {
		retries = retriesOrDefault(options.MaxRetries)
	}
	httpResp, err := c.getRange(ctx, name, digest, 0, -1)
	if err != nil {
		return resp, err
	}
	size := httpResp.ContentLength
	body := &resumingBody{client: c, ctx: ctx, name: name, digest: digest, body: httpResp.Body, size: size, retries: retries}
	verified, err := NewVerifyingReader(body, digest, size)
	if err != nil {
		httpResp.Body.Close()
		return resp, err
	}
	resp.Body = &blobBody{Reader: verified, Closer: body, size: size}
	if size >= 0 {
		resp.ContentLength = &size
	}
	resp.DockerContentDigest = &digest
	return resp, nil
}

// GetChunk downloads the bytes from rangeStart to rangeEnd (inclusive) of a
// blob. The registry's Content-Range is checked against the request and
// Body against its length; a range cannot be checked against the blob's
// digest (use DownloadBlob for verified parallel downloads). A range that
// runs past the end of the blob is cut at the end.
func (c *BlobClient) GetChunk(ctx context.Context, name string, digest string, rangeStart, rangeEnd int64, options *BlobClientGetChunkOptions) (resp BlobClientGetChunkResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.GetChunk", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = validateNameDigest(name, digest); err != nil {
		return resp, err
	}
	if rangeStart < 0 || rangeEnd < rangeStart {
		return resp, fmt.Errorf("azacr: invalid range %d-%d", rangeStart, rangeEnd)
	}
	req, err := c.rangeRequest(ctx, name, digest, rangeStart, rangeEnd)
	if err != nil {
		return resp, err
	}
	// RFC 9110 lets a server ignore Range and send the whole blob (200);
	// the range is then cut from it here.
	httpResp, err := c.send(req, http.StatusPartialContent, http.StatusOK)
	if err != nil {
		return resp, err
	}
	var body io.Reader = httpResp.Body
	var end int64
	if httpResp.StatusCode == http.StatusOK {
		size := httpResp.ContentLength
		if size < 0 || rangeStart >= size {
			httpResp.Body.Close()
			return resp, fmt.Errorf("%w: bytes %d-%d of a %d-byte blob", ErrSizeMismatch, rangeStart, rangeEnd, size)
		}
		if _, err = io.CopyN(io.Discard, httpResp.Body, rangeStart); err != nil {
			httpResp.Body.Close()
			return resp, err
		}
		end = min(rangeEnd, size-1)
		cr := fmt.Sprintf("bytes %d-%d/%d", rangeStart, end, size)
		resp.ContentRange = &cr
	} else {
		cr := httpResp.Header.Get("Content-Range")
		if end, _, err = checkContentRange(cr, rangeStart, rangeEnd); err != nil {
			httpResp.Body.Close()
			return resp, err
		}
		resp.ContentRange = &cr
	}
	n := end - rangeStart + 1
	resp.Body = readCloser{&exactReader{r: body, left: n, trailing: httpResp.StatusCode == http.StatusOK}, httpResp.Body}
	resp.ContentLength = &n
	return resp, nil
}

// getRange sends a blob GET, ranged unless end < 0 with start 0, and
// returns the response with its body unread. A ranged request must get 206
// (checked by the caller); an unranged one 200.
func (c *BlobClient) getRange(ctx context.Context, name, digest string, start, end int64) (*http.Response, error) {
	req, err := c.rangeRequest(ctx, name, digest, start, end)
	if err != nil {
		return nil, err
	}
	if start > 0 || end >= 0 {
		return c.send(req, http.StatusPartialContent)
	}
	return c.send(req, http.StatusOK)
}

// rangeRequest builds a blob GET whose body is streamed, not buffered,
// with a Range unless the whole blob is asked for.
func (c *BlobClient) rangeRequest(ctx context.Context, name, digest string, start, end int64) (*policy.Request, error) {
	// The body is streamed to the caller, verified by length and digest.
	req, err := newRequest(streamed(ctx), c.endpoint, http.MethodGet, blobPath(name, digest), repositoryScope(name, "pull"))
	if err != nil {
		return nil, err
	}
	runtime.SkipBodyDownload(req)
	if start > 0 || end >= 0 {
		// Sent to the registry; net/http carries it across ACR's redirect
		// to storage, which honours it (WIRE.md c.3).
		req.Raw().Header.Set("Range", rangeHeader(start, end))
	}
	return req, nil
}

func rangeHeader(start, end int64) string {
	if end < 0 {
		return "bytes=" + strconv.FormatInt(start, 10) + "-"
	}
	return "bytes=" + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(end, 10)
}

// checkContentRange checks a 206's "bytes start-end/size" against the
// request (end < 0: to the end) and returns the served end and the size.
func checkContentRange(h string, start, end int64) (int64, int64, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: Content-Range %q for bytes %d-%d: %s", ErrSizeMismatch, h, start, end, why)
	}
	spec, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, 0, bad("not a byte range")
	}
	rng, total, ok := strings.Cut(spec, "/")
	first, last, ok2 := strings.Cut(rng, "-")
	if !ok || !ok2 {
		return 0, 0, bad("malformed")
	}
	f, err1 := strconv.ParseInt(first, 10, 64)
	l, err2 := strconv.ParseInt(last, 10, 64)
	size, err3 := strconv.ParseInt(total, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || f < 0 || l < f || size <= l {
		return 0, 0, bad("malformed")
	}
	if f != start {
		return 0, 0, bad("starts elsewhere")
	}
	want := end
	if end < 0 || end >= size {
		want = size - 1
	}
	if l != want {
		return 0, 0, bad("ends elsewhere")
	}
	return l, size, nil
}

// blobBody is GetBlob's verified body. Its WriteTo, which io.Copy uses,
// reads in large pieces: with io.Copy's 32 KiB buffer a plain-HTTP
// download spends its time in read system calls rather than in hashing.
type blobBody struct {
	io.Reader
	io.Closer
	size int64
}

// WriteTo copies the rest of the body to w, verified as by Read.
func (b *blobBody) WriteTo(w io.Writer) (int64, error) {
	bufSize := int64(1 << 20)
	if b.size >= 0 && b.size+1 < bufSize {
		bufSize = max(b.size+1, 512) // room to see the end of a small blob
	}
	buf := make([]byte, bufSize)
	var total int64
	for {
		n, err := b.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m < n {
				return total, io.ErrShortWrite
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// readCloser pairs a reader with the closer of what it reads.
type readCloser struct {
	io.Reader
	io.Closer
}

// exactReader yields exactly left bytes, failing on a short or long body.
// With trailing set, bytes after them are expected (a range cut from a
// whole blob) and ignored.
type exactReader struct {
	r        io.Reader
	left     int64
	trailing bool
	err      error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 && e.trailing {
		e.err = io.EOF
		return 0, io.EOF
	}
	if e.left == 0 {
		// Anything more than promised is an error, not silently dropped.
		var one [1]byte
		if n, _ := io.ReadFull(e.r, one[:]); n > 0 {
			e.err = fmt.Errorf("%w: the body is longer than its length", ErrSizeMismatch)
			return 0, e.err
		}
		e.err = io.EOF
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = fmt.Errorf("%w: %w: %d bytes missing", ErrSizeMismatch, io.ErrUnexpectedEOF, e.left)
	}
	if err != nil && err != io.EOF {
		e.err = err
	}
	if err == io.EOF {
		err = nil // reported by the next Read, after the length check
	}
	return n, err
}

// resumingBody reads a blob response and, when the connection drops before
// the end, asks again from the next byte. It sits below the verifying
// reader, so the digest covers exactly the bytes delivered, once each.
type resumingBody struct {
	client  *BlobClient
	ctx     context.Context
	name    string
	digest  string
	body    io.ReadCloser
	size    int64 // -1 when unknown: resuming is then impossible
	offset  int64
	retries int
}

func (r *resumingBody) Read(p []byte) (int, error) {
	for {
		n, err := r.body.Read(p)
		r.offset += int64(n)
		if err == nil || (err == io.EOF && (r.size < 0 || r.offset >= r.size)) {
			return n, err
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if r.retries <= 0 || r.size < 0 || r.ctx.Err() != nil {
			return n, err
		}
		r.retries--
		if rerr := r.reopen(); rerr != nil {
			return n, fmt.Errorf("%w (resuming at byte %d failed: %v)", err, r.offset, rerr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// reopen replaces the body with a ranged GET from the current offset.
func (r *resumingBody) reopen() error {
	r.body.Close()
	r.body = http.NoBody
	resp, err := r.client.getRange(r.ctx, r.name, r.digest, r.offset, -1)
	if err != nil {
		return err
	}
	if _, size, err := checkContentRange(resp.Header.Get("Content-Range"), r.offset, -1); err != nil || size != r.size {
		resp.Body.Close()
		if err == nil {
			err = fmt.Errorf("%w: the blob's size changed from %d to %d", ErrSizeMismatch, r.size, size)
		}
		return err
	}
	r.body = resp.Body
	return nil
}

func (r *resumingBody) Close() error { return r.body.Close() }

// DownloadBlob downloads a blob into w (a file, typically) and verifies
// the digest of the whole. With options.Concurrency above one it fetches
// ranges of options.BlockSize in parallel, writing each where it belongs
// and hashing them in order; it holds at most Concurrency+2 blocks (and
// never more than the blob has), so memory stays about
// (Concurrency+2) x BlockSize. w must then accept concurrent writes at
// distinct offsets (an *os.File does). Dropped connections are resumed
// from the last byte received. DownloadBlob writes bytes 0 to size-1 and
// nothing else: it does not truncate a longer file. When the content does
// not match digest the error wraps ErrDigestMismatch and what w holds must
// not be used.
func (c *BlobClient) DownloadBlob(ctx context.Context, name string, digest string, w io.WriterAt, options *BlobClientDownloadBlobOptions) (resp BlobClientDownloadBlobResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.DownloadBlob", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	var opts BlobClientDownloadBlobOptions
	if options != nil {
		opts = *options
	}
	if err = validateNameDigest(name, digest); err != nil {
		return resp, err
	}
	if w == nil {
		return resp, errors.New("azacr: DownloadBlob needs a writer")
	}
	if opts.BlockSize == 0 {
		opts.BlockSize = defaultBlockSize
	}
	if opts.BlockSize < 0 || opts.Concurrency < 0 {
		return resp, fmt.Errorf("azacr: invalid BlockSize %d or Concurrency %d", opts.BlockSize, opts.Concurrency)
	}
	if opts.Progress == nil {
		opts.Progress = func(int64, int64) {}
	}
	opts.MaxRetries = retriesOrDefault(opts.MaxRetries)
	if opts.Concurrency <= 1 {
		n, err := c.downloadStream(ctx, name, digest, w, opts)
		return BlobClientDownloadBlobResponse{Size: n}, err
	}
	n, err := c.downloadParallel(ctx, name, digest, w, opts)
	return BlobClientDownloadBlobResponse{Size: n}, err
}

func (c *BlobClient) downloadStream(ctx context.Context, name, digest string, w io.WriterAt, opts BlobClientDownloadBlobOptions) (int64, error) {
	blob, err := c.GetBlob(ctx, name, digest, &BlobClientGetBlobOptions{MaxRetries: opts.MaxRetries})
	if err != nil {
		return 0, err
	}
	defer blob.Body.Close()
	total := int64(-1)
	if blob.ContentLength != nil {
		total = *blob.ContentLength
	}
	pw := &progressWriter{w: io.NewOffsetWriter(w, 0), total: total, progress: opts.Progress}
	return io.Copy(pw, blob.Body)
}

type progressWriter struct {
	w        io.Writer
	n, total int64
	progress func(int64, int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	p.progress(p.n, p.total)
	return n, err
}

// block is one range of a parallel download.
type block struct {
	index int
	buf   []byte
	err   error
}

// downloadParallel sizes the blob from the first block's Content-Range
// (no HEAD) and starts the workers on the other blocks as soon as that
// header arrives, while the first block's body is still being read.
// Buffers are recycled through a pool of up to Concurrency+2, which also
// bounds how far downloading may run ahead of hashing.
func (c *BlobClient) downloadParallel(ctx context.Context, name, digest string, w io.WriterAt, opts BlobClientDownloadBlobOptions) (int64, error) {
	bs := opts.BlockSize
	d, err := newDigester(digest)
	if err != nil {
		return 0, err
	}
	head, err := c.getRange(ctx, name, digest, 0, bs-1)
	var re *azcore.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusOK || re.StatusCode == http.StatusRequestedRangeNotSatisfiable) {
		// No range to split: an empty blob (416), or a server that
		// ignores Range (200). One streaming GET does it.
		return c.downloadStream(ctx, name, digest, w, opts)
	}
	if err != nil {
		return 0, err
	}
	firstLast, size, err := checkContentRange(head.Header.Get("Content-Range"), 0, bs-1)
	if err != nil {
		head.Body.Close()
		return 0, err
	}
	blocks := int((size + bs - 1) / bs)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One buffer per worker and two more, so workers can finish blocks
	// ahead of the one being hashed without waiting; never more buffers
	// than blocks, so a small blob costs one buffer whatever the
	// concurrency. The first block's buffer joins the pool once that block
	// is hashed.
	buffers := min(opts.Concurrency+2, blocks)
	pool := make(chan []byte, buffers)
	for len(pool) < buffers-1 {
		pool <- make([]byte, bs)
	}
	jobs := make(chan block)
	results := make(chan block, buffers)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Go(func() {
			for b := range jobs {
				off := int64(b.index) * bs
				want := min(bs, size-off)
				var got int
				got, _, b.err = c.fetchBlock(ctx, name, digest, off, b.buf[:want], size, opts.MaxRetries)
				b.buf = b.buf[:got]
				if b.err == nil {
					_, b.err = w.WriteAt(b.buf, off)
				}
				results <- b
			}
		})
	}
	go func() {
		// Hand out blocks in order, each once a buffer is free.
		defer close(jobs)
		for i := 1; i < blocks; i++ {
			select {
			case buf := <-pool:
				select {
				case jobs <- block{index: i, buf: buf[:cap(buf)]}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	var written int64
	firstErr := func() error {
		first := make([]byte, firstLast+1)
		n, err := io.ReadFull(head.Body, first)
		head.Body.Close()
		if err != nil {
			if opts.MaxRetries <= 0 {
				return fmt.Errorf("reading bytes 0-%d: %w", firstLast, err)
			}
			m, _, err := c.fetchBlock(ctx, name, digest, int64(n), first[n:], size, opts.MaxRetries)
			if err != nil {
				return err
			}
			n += m
		}
		d.Write(first[:n])
		if _, err := w.WriteAt(first[:n], 0); err != nil {
			return err
		}
		written = int64(n)
		opts.Progress(written, size)
		if int64(len(first)) == bs && len(pool) < cap(pool) {
			pool <- first
		}
		return nil
	}()

	pending := map[int]block{}
	next := 1
	for next < blocks && firstErr == nil {
		b := <-results
		if b.err != nil {
			firstErr = b.err
			break
		}
		pending[b.index] = b
		for {
			pb, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			d.Write(pb.buf)
			written += int64(len(pb.buf))
			opts.Progress(written, size)
			pool <- pb.buf
			next++
		}
	}
	// First error wins: stop the feeder and the workers before returning,
	// so no goroutine outlives the call.
	cancel()
	go func() {
		for range results {
		}
	}()
	wg.Wait()
	close(results)
	if firstErr != nil {
		return written, firstErr
	}
	if !d.Matches(digest) {
		return written, &DigestMismatchError{Expected: digest, Actual: d.Digest()}
	}
	return written, nil
}

// fetchBlock reads the range of len(buf) bytes at off into buf, resuming a
// dropped connection from the last byte received. size is the blob's size
// when known (-1 for the first block, which learns it from Content-Range).
func (c *BlobClient) fetchBlock(ctx context.Context, name, digest string, off int64, buf []byte, size int64, retries int) (int, int64, error) {
	got := 0
	for attempt := 1; ; attempt++ {
		resp, err := c.getRange(ctx, name, digest, off+int64(got), off+int64(len(buf))-1)
		if err != nil {
			// azcore already retried; a block of a long download may still
			// meet a run of throttling or server errors, worth one more wait.
			if retries <= 0 || ctx.Err() != nil || !transient(err) {
				return got, size, err
			}
			retries--
			if berr := backOff(ctx, err, attempt); berr != nil {
				return got, size, berr
			}
			continue
		}
		last, total, err := checkContentRange(resp.Header.Get("Content-Range"), off+int64(got), off+int64(len(buf))-1)
		if err == nil && size >= 0 && total != size {
			err = fmt.Errorf("%w: the blob's size changed from %d to %d", ErrSizeMismatch, size, total)
		}
		if err != nil {
			resp.Body.Close()
			return got, size, err
		}
		size = total
		want := int(last-off) + 1 // a first block may be cut at the blob's end
		n, rerr := io.ReadFull(resp.Body, buf[got:want])
		resp.Body.Close()
		got += n
		if rerr == nil {
			return got, size, nil
		}
		if retries <= 0 || ctx.Err() != nil {
			return got, size, fmt.Errorf("reading bytes %d-%d: %w", off, off+int64(want)-1, rerr)
		}
		retries--
	}
}

// transient reports whether a failed request may succeed when sent again:
// the connection broke, or the registry was throttling or faltering.
func transient(err error) bool {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests
	}
	var nr interface{ NonRetriable() }
	return !errors.As(err, &nr)
}
