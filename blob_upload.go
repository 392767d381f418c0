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
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// chunkAttempts bounds how often one chunk is sent, resynchronising with
// the session between attempts.
const chunkAttempts = 6

// noRetry turns azcore's retry policy off for requests that carry part of
// a blob. After a failed attempt the session may hold part of the chunk
// and have moved to a new URL; resending the same request would be refused
// as stale. The upload loop retries instead, after asking the session what
// it holds, and sends the rest.
func noRetry(ctx context.Context) context.Context {
	return runtime.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1})
}

// backOff waits before another attempt: the Retry-After of a throttled
// answer (at most a minute), else a short pause that grows with attempt
// (at most 5 s). Both numbers are capped before they are multiplied into
// a Duration, which a huge Retry-After or attempt would overflow into a
// negative wait, that is, none.
func backOff(ctx context.Context, err error, attempt int) error {
	d := time.Duration(min(max(attempt, 1), 50)) * 100 * time.Millisecond
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.RawResponse != nil {
		if secs, perr := strconv.Atoi(re.RawResponse.Header.Get("Retry-After")); perr == nil && secs >= 0 {
			d = time.Duration(min(secs, 60)) * time.Second
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// UploadBlob uploads body as a blob of repository name and returns its
// digest and size. It streams: the digest is computed while reading, each
// chunk (options.ChunkSize, 4 MiB by default) is sent as a PATCH with an
// explicit length and ACR's Content-Range, and memory stays about one chunk
// whatever the blob size. A blob of one chunk or less takes two requests
// (start, and complete with the bytes).
//
// A chunk that fails (a reset connection, 5xx, 429 after azcore's retries)
// is resumed, not restarted: UploadBlob asks the session how much it holds
// and sends the rest of the chunk from its buffer, so the body is read only
// once and need not seek. The registry checks the whole blob's digest when
// the upload completes, so the stored blob is byte-identical to body or the
// call fails. On failure or cancellation the session is cancelled.
//
// A regular file of more than one chunk is sent straight from the file, with
// no chunk buffers, while another goroutine hashes it: on Linux over plain
// HTTP each PATCH goes out by sendfile(2), and elsewhere (or over TLS) the
// bytes are read from the file as they are sent. The file is left at its
// end, as after reading it.
//
// Only a regular file counts as a file, and only a body that can seek as
// seekable: a pipe, socket or character device (stdin, /dev/zero) is an
// *os.File and an io.Seeker too, but it is streamed like any reader, its
// size unknown. So is any io.Seeker whose first Seek fails.
//
// When the digest is known before sending (options.Digest, or a seekable
// body larger than one chunk, hashed once first), a blob the registry
// already has is not sent again (set options.SkipExistenceCheck to upload
// anyway), and with options.MountFrom it is mounted from that repository
// when the registry can. A file's digest is known once its hashing ends:
// if the registry has the blob then, the rest is not sent.
//
// A ChunkSize out of range (see MaxChunkSize) is refused with an error
// wrapping ErrInvalidOption before anything is sent. When ctx ends,
// UploadBlob cancels the session and returns an error wrapping ctx.Err(),
// even while a Read of body is blocked: Go cannot interrupt a Read, so a
// body whose Read blocks forever keeps one goroutine until it returns, but
// the call does not wait for it. That Read's result is discarded, and body
// is not read again.
func (c *BlobClient) UploadBlob(ctx context.Context, name string, body io.Reader, options *BlobClientUploadBlobOptions) (resp BlobClientUploadBlobResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.UploadBlob", c.internal.Tracer(), nil)
	defer func() {
		err = ctxError(ctx, err)
		endSpan(err)
	}()
	var opts BlobClientUploadBlobOptions
	if options != nil {
		opts = *options // defaults go on a copy, never the caller's struct
	}
	if err = ValidateRepository(name); err != nil {
		return resp, err
	}
	if body == nil {
		return resp, errors.New("azacr: UploadBlob needs a body")
	}
	switch {
	case opts.ChunkSize == 0:
		opts.ChunkSize = DefaultChunkSize
	case opts.ChunkSize < 0 || opts.ChunkSize > MaxChunkSize:
		// Checked before it sizes the chunk buffers.
		return resp, fmt.Errorf("%w: ChunkSize %d is not between 1 and %d (MaxChunkSize)", ErrInvalidOption, opts.ChunkSize, MaxChunkSize)
	}
	if opts.Digest != "" {
		if err = ValidateDigest(opts.Digest); err != nil {
			return resp, err
		}
	}
	if opts.MountFrom != "" {
		if err = ValidateRepository(opts.MountFrom); err != nil {
			return resp, err
		}
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(int64, int64) {}
	}

	seeker, start, total, err := measure(body)
	if err != nil {
		return resp, err
	}
	seekable := seeker != nil

	// A regular file of more than one chunk goes out by sendfile(2) where
	// the platform allows (see fileSending), hashed by another goroutine
	// while it is sent: its bytes pass through this process once.
	var file *os.File
	if f, ok := body.(*os.File); ok && total > opts.ChunkSize {
		if file = ownDescriptor(f); file != nil {
			defer file.Close()
		}
	}
	known := opts.Digest
	if known == "" && seekable && (opts.MountFrom != "" || file == nil && !opts.SkipExistenceCheck && total > opts.ChunkSize) {
		// Hashing first costs a read of the body but no more hashing (the
		// upload then needs none), and saves the whole upload when the
		// registry already has the blob. A file is hashed first only to
		// name the blob to mount.
		if file != nil {
			known, err = hashFile(ctx, file, start, total, "")
		} else {
			known, err = hashFrom(ctx, body, seeker, start)
		}
		if err != nil {
			return resp, err
		}
	}
	if !opts.SkipExistenceCheck && known != "" {
		if size, ok, err := c.holds(ctx, name, known, total); err != nil || ok {
			if ok {
				progress(size, size)
			}
			return BlobClientUploadBlobResponse{Digest: known, Size: size, Skipped: ok}, err
		}
	}

	u := &blobUpload{client: c, name: name, chunkSize: opts.ChunkSize, total: total, progress: progress, want: known}
	if opts.MountFrom != "" && known != "" {
		m, err := c.MountBlob(ctx, name, opts.MountFrom, known, nil)
		if err != nil {
			return resp, err
		}
		if m.Mounted {
			size := total
			if exists, err := c.CheckBlobExists(ctx, name, known, nil); err == nil && exists.ContentLength != nil {
				size = *exists.ContentLength
			}
			progress(size, size)
			return BlobClientUploadBlobResponse{Digest: known, Size: size, Mounted: true}, nil
		}
		if m.Location == nil {
			return resp, fmt.Errorf("%w: the registry declined the mount without an upload session", ErrInvalidLocation)
		}
		// ACR often declines (202) and opens an ordinary session: use it
		// (PROTOCOL.md §6.5).
		u.location = *m.Location
	}
	if file != nil {
		// Hash while sending, to check a digest given in advance, or to
		// learn the digest (and then whether the registry has the blob).
		hash := opts.Digest != "" || known == ""
		var skipped bool
		skipped, err = u.runFile(ctx, file, start, hash, hash && known == "" && !opts.SkipExistenceCheck)
		if err == nil {
			// Leave the caller's file where reading it through would have.
			_, err = seeker.Seek(start+total, io.SeekStart)
		}
		if skipped && err == nil {
			return BlobClientUploadBlobResponse{Digest: u.digest, Size: total, Skipped: true}, nil
		}
	} else {
		switch {
		case opts.Digest != "":
			// The caller's digest is a claim about the body: check it.
			u.hasher, _ = newDigester(opts.Digest)
		case known == "":
			u.hasher = newSHA256Digester()
		}
		err = u.run(ctx, body)
	}
	if err != nil {
		return resp, err
	}
	return BlobClientUploadBlobResponse{Digest: u.digest, Size: u.sent}, nil
}

// measure returns body as an io.Seeker, with its offset and how many
// bytes it holds from there, leaving it where it was; or a nil seeker
// (and size -1) for a body to stream. Implementing io.Seeker is not
// enough: an *os.File always does, but only a regular file seeks (a pipe
// fails, and a character device such as /dev/zero seeks to a meaningless
// end), so any other file is streamed; so is a seeker whose first Seek
// fails. A seeker that fails later, having seeked once, is an error.
func measure(body io.Reader) (s io.Seeker, start, size int64, err error) {
	s, ok := body.(io.Seeker)
	if !ok {
		return nil, 0, -1, nil
	}
	if f, ok := body.(*os.File); ok {
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			return nil, 0, -1, nil
		}
	}
	if start, err = s.Seek(0, io.SeekCurrent); err != nil {
		return nil, 0, -1, nil
	}
	end, err := s.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, -1, err
	}
	if _, err = s.Seek(start, io.SeekStart); err != nil {
		return nil, 0, -1, err
	}
	// Past the end, a reader reads nothing.
	return s, start, max(end-start, 0), nil
}

// contextReader reads the caller's body: it stops once ctx ends, and
// refuses a count its Read could not have read. A broken reader claiming
// more bytes than the buffer holds (or fewer than none) would otherwise
// make the upload slice past its buffer and crash, or send bytes the
// reader never produced.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if n < 0 || n > len(p) {
		return 0, fmt.Errorf("azacr: the body's Read returned %d for a %d-byte buffer", n, len(p))
	}
	return n, err
}

// hashFrom returns the sha256 digest of r from start to its end, then
// seeks back to start. It stops early when ctx ends.
func hashFrom(ctx context.Context, r io.Reader, s io.Seeker, start int64) (string, error) {
	d := newSHA256Digester()
	if _, err := io.CopyBuffer(d, contextReader{ctx, r}, make([]byte, 256<<10)); err != nil {
		return "", err
	}
	if _, err := s.Seek(start, io.SeekStart); err != nil {
		return "", err
	}
	return d.Digest(), nil
}

// hashFile returns the digest of size bytes of f from off, in the
// algorithm of want (sha256 when want is ""), reading with ReadAt. It stops
// early when ctx ends.
func hashFile(ctx context.Context, f *os.File, off, size int64, want string) (string, error) {
	d := newSHA256Digester()
	if want != "" {
		var err error
		if d, err = newDigester(want); err != nil {
			return "", err
		}
	}
	if size < 0 {
		return "", fmt.Errorf("azacr: cannot hash %d bytes", size)
	}
	// Large reads: a file is read here at memory speed, and each read is a
	// system call.
	buf := make([]byte, min(size, 1<<20))
	for done := int64(0); done < size; {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-done)], off+done)
		d.Write(buf[:n])
		done += int64(n)
		if err == io.EOF && done < size {
			return "", fmt.Errorf("%w: the file held %d bytes from offset %d, its size said %d", ErrSizeMismatch, done, off, size)
		}
		if err != nil && err != io.EOF {
			return "", err
		}
	}
	return d.Digest(), nil
}

// holds reports whether the registry has the blob digest (of size bytes,
// when size is not -1), and its size there.
func (c *BlobClient) holds(ctx context.Context, name, digest string, size int64) (int64, bool, error) {
	exists, err := c.CheckBlobExists(ctx, name, digest, nil)
	if err != nil {
		return 0, false, err
	}
	if exists.Exists && exists.ContentLength != nil && (size < 0 || *exists.ContentLength == size) {
		return *exists.ContentLength, true, nil
	}
	return 0, false, nil
}

// blobUpload is one UploadBlob in progress.
type blobUpload struct {
	client    *BlobClient
	name      string
	chunkSize int64
	total     int64 // -1 when unknown
	want      string
	progress  func(int64, int64)

	hasher *digester // nil when UploadBlob hashed the body in advance
	// bufs hold a chunk and one byte of lookahead each: one is sent while
	// the next chunk is read into the other.
	bufs     [2][]byte
	cur      int    // index of the buffer holding the newest chunk
	carry    int    // lookahead bytes at the end of bufs[cur], owed to the next chunk
	location string // newest session URL; "" before the session starts
	sent     int64  // bytes the registry holds
	digest   string
}

func (u *blobUpload) run(ctx context.Context, body io.Reader) (err error) {
	defer u.abandonOnError(ctx, &err)
	// A chunk takes many Reads of a stream; none starts once ctx has ended,
	// so a read abandoned by await stops at the Read under way.
	body = contextReader{ctx, body}

	// One byte more than a chunk: reading past a full chunk tells whether
	// it is the last, so a blob of exactly one chunk still goes whole.
	bufSize := u.chunkSize + 1
	if u.total >= 0 && u.total < u.chunkSize {
		bufSize = u.total + 1 // a tiny blob does not cost a chunk-sized buffer
	}
	u.bufs[0] = make([]byte, bufSize)
	first := await(ctx, u.readAhead(body))
	if first.err != nil {
		return first.err
	}
	data, last := first.data, first.last
	if last {
		return u.whole(ctx, data)
	}
	if err := u.open(ctx); err != nil {
		return err
	}
	u.bufs[1] = make([]byte, bufSize)
	for {
		// Read and hash the next chunk while this one is on the wire: the
		// registry's receiving and hashing and ours then overlap.
		var ahead <-chan chunkRead
		if !last {
			ahead = u.readAhead(body)
		}
		err := u.chunk(ctx, int64(len(data)), func(skip int64) *chunkBody { return memoryChunk(data[skip:]) })
		var next chunkRead
		if ahead != nil {
			// Even when the chunk failed: body is not read after the call
			// returns, unless ctx ended during a Read (see await).
			next = await(ctx, ahead)
		}
		if err != nil {
			return err
		}
		if last {
			break
		}
		if next.err != nil {
			return next.err
		}
		if data, last = next.data, next.last; len(data) == 0 {
			break
		}
	}
	return u.complete(ctx)
}

// chunkRead is what reading one chunk of the body gave (see next).
type chunkRead struct {
	data []byte
	last bool
	err  error
}

// readAhead reads the next chunk of body (next) on another goroutine, so
// that run can send a chunk meanwhile, and stop waiting when ctx ends. The
// channel has room for the result: a read nobody waits for any more still
// ends, when body's Read returns.
func (u *blobUpload) readAhead(body io.Reader) <-chan chunkRead {
	ch := make(chan chunkRead, 1)
	go func() {
		data, last, err := u.next(body)
		ch <- chunkRead{data: data, last: last, err: err}
	}()
	return ch
}

// await waits for a read started by readAhead, or for the end of ctx,
// since a Read of the caller's body may block for ever (stdin). When ctx
// ends first, that read is abandoned: the Read under way goes on into its
// buffer, which nothing uses any more, because run returns at once and
// only cancels the session; the buffers are never reused, and no other
// Read of body starts (run reads it through a contextReader).
func await(ctx context.Context, ch <-chan chunkRead) chunkRead {
	stopped := func() chunkRead {
		return chunkRead{err: fmt.Errorf("azacr: upload stopped while reading its body: %w", ctx.Err())}
	}
	if ctx.Err() != nil {
		return stopped() // even if the read is done: nothing more is sent
	}
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		return stopped()
	}
}

// runFile uploads u.total bytes of file from off, one chunk-sized range
// per PATCH, each sent straight from the file. With hash, another goroutine
// hashes the file meanwhile: the digest completes the upload (and is
// checked against u.want when that was given). With check, once the digest
// is known and the registry turns out to have the blob already, the upload
// stops there and is cancelled (skipped is true).
func (u *blobUpload) runFile(ctx context.Context, file *os.File, off int64, hash, check bool) (skipped bool, err error) {
	var (
		hashed  = make(chan struct{})
		digest  string
		hashErr error
	)
	if hash {
		hctx, stop := context.WithCancel(ctx)
		go func() {
			defer close(hashed)
			digest, hashErr = hashFile(hctx, file, off, u.total, u.want)
		}()
		defer func() { stop(); <-hashed }()
	} else {
		close(hashed)
		digest = u.want
	}
	// The deferred cancellation runs before the hashing is stopped (LIFO):
	// both must end before UploadBlob closes the file.
	defer u.abandonOnError(ctx, &err)
	if err := u.open(ctx); err != nil {
		return false, err
	}
	for u.sent < u.total {
		start, size := off+u.sent, min(u.chunkSize, u.total-u.sent)
		err := u.chunk(ctx, size, func(skip int64) *chunkBody { return fileChunk(file, start+skip, size-skip) })
		if err != nil {
			return false, err
		}
		if !check || u.sent == u.total {
			continue
		}
		select {
		case <-hashed:
			check = false
			if hashErr != nil {
				return false, hashErr
			}
			if _, ok, err := u.client.holds(ctx, u.name, digest, u.total); err == nil && ok {
				// Sending the rest would be wasted: free the session.
				u.digest = digest
				u.abandon(ctx)
				u.progress(u.total, u.total)
				return true, nil
			}
		default:
		}
	}
	<-hashed
	if hashErr != nil {
		return false, hashErr
	}
	if u.want != "" && digest != u.want {
		return false, &DigestMismatchError{Expected: u.want, Actual: digest}
	}
	u.want = digest
	return false, u.complete(ctx)
}

// abandonOnError cancels the session when the upload failed, so that the
// registry frees what it holds.
func (u *blobUpload) abandonOnError(ctx context.Context, err *error) {
	if *err != nil {
		u.abandon(ctx)
	}
}

// abandon cancels the session, if one is open.
func (u *blobUpload) abandon(ctx context.Context) {
	if u.location == "" {
		return
	}
	// The caller's ctx may be what failed, so the request gets a context
	// of its own: a second when the caller cancelled (it is waiting for the
	// call to return, and the registry frees abandoned sessions anyway),
	// ten when the upload failed otherwise.
	timeout := 10 * time.Second
	if ctx.Err() != nil {
		timeout = time.Second
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	_, _ = u.client.CancelUpload(cctx, u.location, nil)
	cancel()
	u.location = ""
}

// open starts the session, unless a declined mount already opened one.
func (u *blobUpload) open(ctx context.Context) error {
	if u.location != "" {
		return nil
	}
	st, err := u.client.StartUpload(ctx, u.name, nil)
	if err != nil {
		return err
	}
	u.location = *st.Location
	return nil
}

// complete checks what was sent and commits the blob.
func (u *blobUpload) complete(ctx context.Context) error {
	if err := u.finish(); err != nil {
		return err
	}
	_, err := u.client.CompleteUpload(ctx, u.location, u.digest, nil)
	if err != nil && u.committed(ctx) {
		// The registry stored the blob but its answer was lost, and the
		// retried completion found no session: the blob is there.
		err = nil
	}
	if err == nil {
		u.location = ""
	}
	return err
}

// next reads the next chunk of body into the buffer not being sent, hashes
// it, and reports whether it is the last. The byte read past a full chunk
// is carried into the next one.
func (u *blobUpload) next(body io.Reader) (data []byte, last bool, err error) {
	prev := u.bufs[u.cur]
	if u.carry > 0 {
		u.cur = 1 - u.cur
	}
	buf := u.bufs[u.cur]
	if u.carry > 0 {
		// The carried byte sits past the chunk being sent, so reading it
		// while that chunk is on the wire is safe.
		copy(buf, prev[len(prev)-u.carry:])
	}
	n, err := io.ReadFull(body, buf[u.carry:])
	switch err {
	case nil:
	case io.EOF, io.ErrUnexpectedEOF:
		last, err = true, nil
	default:
		return nil, false, err
	}
	if u.hasher != nil {
		u.hasher.Write(buf[u.carry : u.carry+n])
	}
	avail := u.carry + n
	if last {
		u.carry = 0
		return buf[:avail], true, nil
	}
	u.carry = 1
	return buf[:avail-1], false, nil
}

// finish fixes the digest to complete with, checking a digest given in
// advance against the content when the content was hashed.
func (u *blobUpload) finish() error {
	got := u.want
	if u.hasher != nil {
		got = u.hasher.Digest()
	}
	if u.want != "" && got != u.want {
		return &DigestMismatchError{Expected: u.want, Actual: got}
	}
	if u.total >= 0 && u.sent != u.total {
		return fmt.Errorf("%w: the body held %d bytes, its size said %d", ErrSizeMismatch, u.sent, u.total)
	}
	u.digest = got
	return nil
}

// whole uploads a blob that fits one chunk: start a session and complete it
// with the bytes. The bytes are in memory, so a failure restarts it once.
func (u *blobUpload) whole(ctx context.Context, data []byte) error {
	u.sent = int64(len(data))
	if err := u.finish(); err != nil {
		return err
	}
	var err error
	for attempt := 1; attempt <= chunkAttempts; attempt++ {
		if err = u.open(ctx); err != nil {
			return err
		}
		body := memoryChunk(data)
		_, err = u.client.CompleteUpload(noRetry(ctx), u.location, u.digest, &BlobClientCompleteUploadOptions{Value: body})
		body.end()
		if err == nil {
			u.location = ""
			u.progress(u.sent, u.sent)
			return nil
		}
		if ctx.Err() != nil || !resumable(err) {
			return err
		}
		if u.committed(ctx) {
			u.location = ""
			return nil
		}
		if berr := backOff(ctx, err, attempt); berr != nil {
			return berr
		}
		u.abandon(ctx) // a fresh session for the next attempt
	}
	return err
}

// chunk sends the size bytes that start at u.sent, resuming after failures
// from what the session reports it holds. bodyAt gives each attempt its
// body: the chunk without the skip bytes the session already has.
func (u *blobUpload) chunk(ctx context.Context, size int64, bodyAt func(skip int64) *chunkBody) error {
	base := u.sent
	var done int64
	for attempt := 1; ; attempt++ {
		start, end := base+done, base+size-1
		body := bodyAt(done)
		resp, err := u.client.UploadChunk(noRetry(ctx), u.location, body, &BlobClientUploadChunkOptions{
			RangeStart: &start, RangeEnd: &end,
		})
		body.end()
		if err == nil {
			if resp.Location == nil {
				return fmt.Errorf("%w: the registry accepted a chunk without a Location", ErrInvalidLocation)
			}
			u.location = *resp.Location
			break
		}
		if ctx.Err() != nil || attempt >= chunkAttempts || !resumable(err) {
			return err
		}
		if berr := backOff(ctx, err, attempt); berr != nil {
			return berr
		}
		held, serr := u.status(ctx, base+done)
		if serr != nil {
			return fmt.Errorf("%w (and the upload status could not be read: %w)", err, serr)
		}
		if held < base || held > base+size {
			return fmt.Errorf("azacr: cannot resume upload: the registry holds %d bytes, expected between %d and %d: %w", held, base, base+size, err)
		}
		if done = held - base; done == size {
			break // the failed request had in fact delivered everything
		}
	}
	u.sent = base + size
	u.progress(u.sent, u.total)
	return nil
}

// status asks the session how many bytes it holds. ACR says "0-0" for an
// empty session and for a one-byte one (PROTOCOL.md §6.3), so "0-0" is read as
// empty unless we know a byte was sent.
func (u *blobUpload) status(ctx context.Context, tried int64) (int64, error) {
	st, err := u.client.GetUploadStatus(ctx, u.location, nil)
	if err != nil {
		return 0, err
	}
	if st.Location != nil {
		u.location = *st.Location
	}
	if st.Range == nil {
		return 0, errors.New("azacr: upload status without a Range")
	}
	last, err := parseUploadRange(*st.Range)
	if err != nil {
		return 0, err
	}
	if last == 0 && u.sent == 0 && tried == 0 {
		return 0, nil
	}
	return last + 1, nil
}

// parseUploadRange reads the end of an upload's "0-<end>" Range header
// (no "bytes=" prefix on ACR, but accepted).
func parseUploadRange(s string) (int64, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "bytes=")
	first, last, ok := strings.Cut(s, "-")
	if !ok || first != "0" {
		return 0, fmt.Errorf("azacr: malformed upload Range %q", s)
	}
	end, err := strconv.ParseInt(last, 10, 64)
	if err != nil || end < 0 {
		return 0, fmt.Errorf("azacr: malformed upload Range %q", s)
	}
	return end, nil
}

// committed reports whether the registry has the blob being uploaded.
func (u *blobUpload) committed(ctx context.Context) bool {
	if u.digest == "" || ctx.Err() != nil {
		return false
	}
	st, err := u.client.CheckBlobExists(ctx, u.name, u.digest, nil)
	return err == nil && st.Exists && st.ContentLength != nil && *st.ContentLength == u.sent
}

// resumable reports whether an upload step failed in a way a resync can
// mend: a transient failure, or the session moved on without us (a partial
// write made our offset or session URL stale).
func resumable(err error) bool {
	if transient(err) {
		return true
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.StatusCode == http.StatusRequestedRangeNotSatisfiable ||
		re.StatusCode == http.StatusBadRequest && (re.ErrorCode == "BLOB_UPLOAD_INVALID" || re.ErrorCode == "SIZE_INVALID")
}
