package azacr

// Uploading from a stream: chunk buffers filled by a read-ahead while the
// previous chunk is sent.

import (
	"context"
	"fmt"
	"io"
)

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
		err := u.chunk(ctx, int64(len(data)), func(skip, n int64) *chunkBody { return memoryChunk(data[skip : skip+n]) })
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

// contextReader reads the caller's body: it stops once ctx ends, and
// refuses impossible Read counts (see checkedRead).
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return checkedRead(c.r, p)
}

// checkedRead reads a caller's reader into p, refusing a count its Read
// could not have read. A broken reader claiming more bytes than p holds
// (or fewer than none) would otherwise make whoever slices with the count
// crash, io.Copy inside net/http's writer included, where no caller could
// recover from the panic.
func checkedRead(r io.Reader, p []byte) (int, error) {
	n, err := r.Read(p)
	if n < 0 || n > len(p) {
		return 0, fmt.Errorf("azacr: the body's Read returned %d for a %d-byte buffer", n, len(p))
	}
	return n, err
}

// checkedReader is a caller's reader read through checkedRead.
type checkedReader struct{ r io.Reader }

func (c checkedReader) Read(p []byte) (int, error) { return checkedRead(c.r, p) }
