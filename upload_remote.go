package azacr

// Uploading a blob as it is read from another registry: each chunk's
// request body reads straight from the source's response, so a copy
// between registries holds no chunk in memory, whatever the blob sizes.
// A chunk sent again (a failed request) reads its bytes again with a
// ranged request to the source.

import (
	"context"
	"fmt"
	"io"
)

// sourceAt opens a blob's bytes from offset off to its end.
type sourceAt func(ctx context.Context, off int64) (io.ReadCloser, error)

// runRemote uploads u.total bytes read from open into the session, chunk
// by chunk, hashing them once in order, and completes the upload when they
// match u.want. verified says the caller has checked the bytes already (a
// layout's file, read just before): they are not hashed again.
func (u *blobUpload) runRemote(ctx context.Context, open sourceAt, verified bool) (err error) {
	defer u.abandonOnError(ctx, &err)
	hash, err := newDigester(u.want)
	if err != nil {
		return err
	}
	src := &remoteBlob{ctx: ctx, open: open, size: u.total, hash: hash, want: u.want, verified: verified}
	defer src.close()
	if u.total <= u.chunkSize {
		if done, err := u.remoteWhole(ctx, src); done || err != nil {
			return err
		}
	}
	if err := u.open(ctx); err != nil {
		return err
	}
	for u.sent < u.total {
		start, size := u.sent, min(u.chunkSize, u.total-u.sent)
		if err := u.chunk(ctx, size, func(skip, n int64) *chunkBody { return src.section(start+skip, n) }); err != nil {
			return err
		}
	}
	if src.hashed != u.total {
		return fmt.Errorf("%w: hashed %d of %d bytes", ErrSizeMismatch, src.hashed, u.total)
	}
	if !verified {
		u.hasher = src.hash
	}
	return u.complete(ctx)
}

// remoteBlob is a source blob read in order, reopened at an offset when a
// section must be read again.
type remoteBlob struct {
	ctx    context.Context
	open   sourceAt
	size   int64
	body   io.ReadCloser // nil when closed
	pos    int64         // offset of body's next byte
	hash   *digester
	want   string
	hashed int64 // bytes hashed: the first time each offset is read
	// verified: the caller checked the bytes; hashed still counts them.
	verified bool
}

// section is the chunk body of n bytes at off.
func (r *remoteBlob) section(off, n int64) *chunkBody {
	return &chunkBody{size: n, open: func() (io.Reader, error) {
		if off > r.hashed {
			// The session claims bytes never read from the source.
			return nil, nonRetriable(fmt.Errorf("%w: the registry holds %d bytes of a blob read to byte %d", ErrSizeMismatch, off, r.hashed))
		}
		if r.body == nil || r.pos != off {
			r.close()
			body, err := r.open(r.ctx, off)
			if err != nil {
				return nil, err
			}
			r.body, r.pos = body, off
		}
		return &remoteSection{r: r, left: n}, nil
	}}
}

// matches reports whether the bytes hashed are the blob's.
func (r *remoteBlob) matches() bool { return r.verified || r.hash.Matches(r.want) }

func (r *remoteBlob) close() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

// remoteSection reads one section of the blob: chunkBody's sendings
// never overlap, so the sections of one blob read its body in turn.
type remoteSection struct {
	r    *remoteBlob
	left int64
}

func (s *remoteSection) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	r := s.r
	if r.body == nil {
		return 0, errSendEnded // an earlier read of this section failed
	}
	n, err := r.body.Read(p[:min(int64(len(p)), s.left)])
	if fresh := r.pos + int64(n) - r.hashed; fresh > 0 {
		if !r.verified {
			r.hash.Write(p[int64(n)-fresh : n])
		}
		r.hashed += fresh
		if r.hashed == r.size && !r.matches() {
			// The last bytes are withheld: the request fails short of its
			// Content-Length, so no registry, however lax, stores them
			// under the blob's digest.
			r.close()
			return 0, nonRetriable(&DigestMismatchError{Expected: r.want, Actual: r.hash.Digest()})
		}
	}
	r.pos += int64(n)
	s.left -= int64(n)
	if err == io.EOF && s.left > 0 {
		err = fmt.Errorf("%w: the source ended at byte %d of %d", ErrSizeMismatch, r.pos, r.size)
	}
	if err != nil && err != io.EOF {
		r.close() // read it again from the source, if the chunk is resent
		return n, err
	}
	if s.left == 0 {
		return n, io.EOF
	}
	return n, nil
}

// remoteWhole uploads a blob of one chunk or less in the request that
// completes the session, streamed from the source: done is false when the
// registry refused a body that large (413), and the blob then goes in
// chunks of half the size. A failure restarts it in a fresh session, as
// the caller's retry rules allow.
func (u *blobUpload) remoteWhole(ctx context.Context, src *remoteBlob) (done bool, err error) {
	u.digest = u.want
	for failures := 1; ; failures++ {
		if err := u.open(ctx); err != nil {
			return false, err
		}
		err := u.sendWholeBody(ctx, src.section(0, u.total))
		if err == nil && src.hashed == u.total && src.matches() {
			u.sent, u.location = u.total, ""
			u.progress(u.sent, u.sent)
			return true, nil
		}
		if src.hashed == u.total && !src.matches() {
			// The source's bytes are not the blob's: the registry refused
			// them (or, worse, took them unchecked). Sending again cannot
			// help.
			return false, nonRetriable(&DigestMismatchError{Expected: u.want, Actual: src.hash.Digest()})
		}
		if err == nil {
			return false, fmt.Errorf("%w: the source ended at byte %d of %d", ErrSizeMismatch, src.hashed, u.total)
		}
		if isTooLarge(err) && u.total > minChunkSize {
			u.chunkSize = max(min(u.chunkSize, u.total)/2, minChunkSize)
			return false, nil
		}
		if u.committed(ctx) {
			u.sent, u.location = u.total, ""
			return true, nil
		}
		if werr := u.waitToRetry(ctx, failures, err); werr != nil {
			return false, werr
		}
		u.abandon(ctx) // a fresh session for the next attempt
	}
}
