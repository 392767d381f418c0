package azacr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

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
// the last byte received (options.MaxRetries times); a body still short
// then is an error wrapping ErrSizeMismatch and io.ErrUnexpectedEOF. ACR
// answers blob GETs with a redirect to storage; it is followed without the
// Authorization header. A missing blob is an *azcore.ResponseError with
// status 404. A blob announced larger than 1 PiB is refused as a lying
// answer (ErrSizeMismatch).
//
// Close ends the body for good: a Read after it (or one it interrupts)
// returns an error wrapping http.ErrBodyReadAfterClose and sends nothing.
// So does the end of ctx, with an error wrapping ctx.Err().
func (c *BlobClient) GetBlob(ctx context.Context, name string, digest string, options *BlobClientGetBlobOptions) (resp BlobClientGetBlobResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.GetBlob", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = validateNameDigest(name, digest); err != nil {
		return resp, err
	}
	retries := 3
	if options != nil {
		if err = checkRetries(options.MaxRetries); err != nil {
			return resp, err
		}
		retries = retriesOrDefault(options.MaxRetries)
	}
	budget := &rangeBudget{left: retries}
	httpResp, err := c.getRangeRetrying(ctx, name, digest, 0, -1, budget)
	if err != nil {
		return resp, err
	}
	size := httpResp.ContentLength
	if size > maxBlobSize {
		httpResp.Body.Close()
		return resp, fmt.Errorf("%w: the registry announced a blob of %d bytes, more than the %d this client accepts", ErrSizeMismatch, size, int64(maxBlobSize))
	}
	body := &resumingBody{client: c, ctx: ctx, name: name, digest: digest, body: httpResp.Body, size: size, budget: budget}
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
	// Not retried by azcore: a range has one retry budget for its failed
	// requests and broken bodies alike (getRangeRetrying). The caller's
	// TryTimeout bounds the request and its body, as azcore's does for a
	// streamed body; a body it cuts is resumed within the budget.
	tctx, cancel := c.retry.tryContext(ctx)
	req, err := c.rangeRequest(noRetry(tctx), name, digest, start, end)
	if err != nil {
		cancel()
		return nil, err
	}
	status := http.StatusOK
	if start > 0 || end >= 0 {
		status = http.StatusPartialContent
	}
	resp, err := c.send(req, status)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends a try's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// rangeBudget is what one range (a block, or a whole GetBlob) may still
// spend on retries, failed requests and broken bodies alike, and how many
// GETs it has made, for error messages.
type rangeBudget struct {
	left int
	gets int
}

// getRangeRetrying is getRange, retrying a failed request as the caller's
// ClientOptions.Retry allows (which failures, how many tries of one
// request, how long to wait) while *retries, the budget the range shares
// with resuming its body, lasts. Reads therefore never multiply azcore's
// retries by their own.
func (c *BlobClient) getRangeRetrying(ctx context.Context, name, digest string, start, end int64, b *rangeBudget) (*http.Response, error) {
	for failures := 1; ; failures++ {
		b.gets++
		resp, err := c.getRange(ctx, name, digest, start, end)
		if err == nil {
			return resp, nil
		}
		if b.left <= 0 || failures >= c.retry.tries() || !c.retry.retriable(ctx, nil, err) {
			return nil, err
		}
		r, _ := asResponse(nil, err)
		wait, ok := c.retry.delay(failures, r)
		if !ok {
			return nil, err
		}
		b.left--
		if werr := sleepCtx(ctx, wait); werr != nil {
			return nil, werr
		}
	}
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
		// to storage, which honours it (PROTOCOL.md §5.2).
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
	// net/http reports a body cut before its Content-Length as
	// io.ErrUnexpectedEOF, a body without one as io.EOF: both are short.
	if (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) && e.left > 0 {
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
// Read is called by one goroutine at a time; Close may come from another,
// as for any HTTP body, and ends the body for good.
type resumingBody struct {
	client *BlobClient
	ctx    context.Context
	name   string
	digest string
	size   int64 // -1 when unknown: resuming is then impossible
	offset int64
	budget *rangeBudget

	mu     sync.Mutex
	body   io.ReadCloser
	stop   context.CancelFunc // cancels the request of a resumed body
	closed bool
}

// errBodyClosed is what a GetBlob body reads after Close.
var errBodyClosed = fmt.Errorf("azacr: blob body read after Close: %w", http.ErrBodyReadAfterClose)

func (r *resumingBody) Read(p []byte) (int, error) {
	for {
		body, err := r.current()
		if err != nil {
			return 0, err
		}
		n, err := body.Read(p)
		r.offset += int64(n)
		if err == nil || (err == io.EOF && (r.size < 0 || r.offset >= r.size)) {
			return n, err
		}
		// The body broke or ended early. Closing it, or the end of ctx,
		// is no dropped connection to resume.
		if serr := r.stopped(); serr != nil {
			return n, serr
		}
		if r.budget.left <= 0 || r.size < 0 {
			return n, incompleteError("blob "+r.digest, r.offset, r.size, r.budget.gets, err, nil)
		}
		r.budget.left--
		if rerr := r.reopen(); rerr != nil {
			if serr := r.stopped(); serr != nil {
				return n, serr
			}
			return n, incompleteError("blob "+r.digest, r.offset, r.size, r.budget.gets, err, rerr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// current returns the body to read, unless reading must stop.
func (r *resumingBody) current() (io.Reader, error) {
	if err := r.stopped(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body, nil
}

// stopped returns why reading must stop whatever the body still holds:
// Close, or the end of ctx (a body already buffered would otherwise go on
// being read after the caller gave up).
func (r *resumingBody) stopped() error {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return errBodyClosed
	}
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("azacr: blob %s: reading stopped at byte %d: %w", r.digest, r.offset, err)
	}
	return nil
}

// reopen replaces the body with a ranged GET from the current offset. The
// GET runs under a context of its own, which Close cancels.
func (r *resumingBody) reopen() error {
	ctx, stop := context.WithCancel(r.ctx)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		stop()
		return errBodyClosed
	}
	r.body.Close()
	if r.stop != nil {
		r.stop()
	}
	r.body, r.stop = http.NoBody, stop
	r.mu.Unlock()

	resp, err := r.client.getRangeRetrying(ctx, r.name, r.digest, r.offset, -1, r.budget)
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
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		resp.Body.Close()
		return errBodyClosed
	}
	r.body = resp.Body
	return nil
}

// Close closes the body and cancels a resumption under way.
func (r *resumingBody) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.stop != nil {
		r.stop()
	}
	return r.body.Close()
}

// incompleteError reports a body that broke or ended before all of its
// bytes came: what was asked for, how much came (of want; -1 when
// unknown), after how many GETs, and why. A body that ended early wraps
// ErrSizeMismatch and io.ErrUnexpectedEOF. Every cause stays reachable
// with errors.Is and errors.As, among them the *azcore.ResponseError of a
// resumption that failed (resumeErr).
func incompleteError(what string, got, want int64, attempts int, cause, resumeErr error) error {
	var msg strings.Builder
	var errs []error
	if cause == io.EOF || errors.Is(cause, io.ErrUnexpectedEOF) {
		msg.WriteString(ErrSizeMismatch.Error() + ": ")
		errs = append(errs, ErrSizeMismatch, io.ErrUnexpectedEOF)
		switch cause {
		case io.EOF:
			cause = io.ErrUnexpectedEOF
		case io.ErrUnexpectedEOF:
		default:
			errs = append(errs, cause)
		}
	} else {
		msg.WriteString("azacr: ")
		errs = append(errs, cause)
	}
	msg.WriteString(what)
	if want >= 0 {
		fmt.Fprintf(&msg, ": got %d of %d bytes", got, want)
	} else {
		fmt.Fprintf(&msg, ": got %d bytes", got)
	}
	fmt.Fprintf(&msg, " after %d attempt", attempts)
	if attempts != 1 {
		msg.WriteString("s")
	}
	msg.WriteString(": " + cause.Error())
	if resumeErr != nil {
		msg.WriteString("; resuming failed: " + resumeErr.Error())
		errs = append(errs, resumeErr)
	}
	return &multiError{msg: msg.String(), errs: errs}
}

// DownloadBlob downloads a blob into w (a file, typically) and verifies
// the digest of the whole. With options.Concurrency above one it fetches
// ranges of options.BlockSize in parallel, writing each where it belongs
// and hashing them in order; it holds at most Concurrency+2 blocks (and
// never more than the blob has), so memory stays about
// (Concurrency+2) x BlockSize. w must then accept concurrent writes at
// distinct offsets (an *os.File does). Dropped connections are resumed
// from the last byte received. Each range has one retry budget,
// options.MaxRetries, spent by failed requests (retried as
// ClientOptions.Retry allows: which statuses, how long to wait, at most its
// tries per request) and broken bodies alike, never azcore's retries on
// top; the caller's TryTimeout bounds each request and its body, and a body
// it cuts is resumed within the budget. A range still short when the
// budget is spent is an error wrapping ErrSizeMismatch and
// io.ErrUnexpectedEOF. DownloadBlob writes bytes 0 to size-1; when w is a
// regular *os.File, it then cuts w to the blob's size, so a file that held
// something longer holds exactly the blob. Any other w (a device, a pipe,
// a buffer) keeps whatever it held past the blob's end. When the content
// does not match digest the error wraps ErrDigestMismatch and what w holds
// must not be used. A blob the registry announces larger than 1 PiB is
// refused as a lying answer (ErrSizeMismatch).
//
// Options out of range (see MaxBlockSize, MaxConcurrency and
// MaxTransferRetries) are refused with an error wrapping ErrInvalidOption
// before anything is sent. When ctx ends, DownloadBlob stops its requests
// and goroutines and returns an error wrapping ctx.Err().
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
	if err = checkBlockSize(opts.BlockSize); err == nil {
		if err = checkConcurrency(opts.Concurrency); err == nil {
			err = checkRetries(opts.MaxRetries)
		}
	}
	if err != nil {
		return resp, err
	}
	if opts.Progress == nil {
		opts.Progress = func(int64, int64) {}
	}
	opts.MaxRetries = retriesOrDefault(opts.MaxRetries)
	var n int64
	if opts.Concurrency <= 1 {
		n, err = c.downloadStream(ctx, name, digest, w, opts)
	} else {
		n, err = c.downloadParallel(ctx, name, digest, w, opts)
	}
	if err == nil {
		err = truncateFile(w, n)
	}
	return BlobClientDownloadBlobResponse{Size: n}, ctxError(ctx, err)
}

// truncateFile cuts a regular file to the blob's size: a file that held
// something longer must not keep its tail after the blob, or it would read
// as another blob. Devices (/dev/null), pipes and writers that are not
// files are left as they are.
func truncateFile(w io.WriterAt, size int64) error {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	if size == 0 {
		// Nothing was written, so a file opened for appending, which
		// refuses WriteAt, was never told no: ask it now, rather than cut
		// what it holds.
		if _, err := f.WriteAt(nil, 0); err != nil {
			return err
		}
	}
	return f.Truncate(size)
}

func checkBlockSize(n int64) error {
	if n <= 0 || n > MaxBlockSize {
		return fmt.Errorf("%w: BlockSize %d is not between 1 and %d (MaxBlockSize)", ErrInvalidOption, n, MaxBlockSize)
	}
	return nil
}

func checkConcurrency(n int) error {
	if n < 0 || n > MaxConcurrency {
		return fmt.Errorf("%w: Concurrency %d is not between 0 and %d (MaxConcurrency)", ErrInvalidOption, n, MaxConcurrency)
	}
	return nil
}

func checkRetries(n int) error {
	if n > MaxTransferRetries {
		return fmt.Errorf("%w: MaxRetries %d is above %d (MaxTransferRetries)", ErrInvalidOption, n, MaxTransferRetries)
	}
	return nil
}

// ctxError makes an error that follows the end of ctx wrap ctx.Err(): what
// the cancellation broke (a connection, a body) does not always say so.
func ctxError(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if err == nil || cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w: %w", cerr, err)
}

func (c *BlobClient) downloadStream(ctx context.Context, name, digest string, w io.WriterAt, opts BlobClientDownloadBlobOptions) (int64, error) {
	// opts.MaxRetries is a count here (0: none), GetBlob's option is not
	// (0: the default, negative: none).
	retries := opts.MaxRetries
	if retries == 0 {
		retries = -1
	}
	blob, err := c.GetBlob(ctx, name, digest, &BlobClientGetBlobOptions{MaxRetries: retries})
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

// maxBlobSize bounds the size a registry may announce for a blob: 1 PiB,
// far above any blob a registry stores. A larger size is a lying or broken
// answer, refused before it sizes anything.
const maxBlobSize = 1 << 50

// fetchBlock fills buf with the range of len(buf) bytes at off of a blob
// of size bytes, resuming a dropped connection from the last byte received
// while the range's budget lasts. The first got bytes of buf are already
// there. It returns how many bytes buf holds.
func (c *BlobClient) fetchBlock(ctx context.Context, name, digest string, off int64, buf []byte, got int, size int64, b *rangeBudget) (int, error) {
	last := off + int64(len(buf)) - 1
	what := func() string { return fmt.Sprintf("bytes %d-%d of blob %s", off, last, digest) }
	var readErr error // why the previous GET's body ended early
	for {
		resp, err := c.getRangeRetrying(ctx, name, digest, off+int64(got), last, b)
		if err != nil {
			if readErr != nil {
				return got, incompleteError(what(), int64(got), int64(len(buf)), b.gets, readErr, err)
			}
			return got, err
		}
		_, total, err := checkContentRange(resp.Header.Get("Content-Range"), off+int64(got), last)
		if err == nil && total != size {
			err = fmt.Errorf("%w: the blob's size changed from %d to %d", ErrSizeMismatch, size, total)
		}
		if err != nil {
			resp.Body.Close()
			return got, err
		}
		n, rerr := io.ReadFull(resp.Body, buf[got:])
		resp.Body.Close()
		got += n
		if rerr == nil {
			return got, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return got, cerr
		}
		if b.left <= 0 {
			return got, incompleteError(what(), int64(got), int64(len(buf)), b.gets, rerr, nil)
		}
		b.left--
		readErr = rerr
	}
}
