package azacr

// Uploading from a regular file: each chunk is a section of the file,
// hashed by another goroutine meanwhile.

import (
	"context"
	"fmt"
	"io"
	"os"
)

// runFile uploads u.total bytes of file from off, one section of the file
// per PATCH. With hash, another goroutine hashes the file meanwhile: the
// digest completes the upload (and is checked against u.want when that was
// given). With check, once the digest is known and the registry turns out
// to have the blob already, the upload stops there and is cancelled
// (skipped is true).
func (u *blobUpload) runFile(ctx context.Context, file *os.File, off int64, hash, check bool) (skipped bool, err error) {
	h := u.startHashing(ctx, file, off, hash)
	// Deferred calls run last first: the session is cancelled on failure,
	// then the hashing stops; both end before UploadBlob returns, so the
	// caller's file is not read afterwards.
	defer h.stop()
	defer u.abandonOnError(ctx, &err)
	if err := u.open(ctx); err != nil {
		return false, err
	}
	for u.sent < u.total {
		start, size := off+u.sent, min(u.chunkSize, u.total-u.sent)
		err := u.chunk(ctx, size, func(skip, n int64) *chunkBody { return fileChunk(file, start+skip, n) })
		if err != nil {
			return false, err
		}
		if check && u.sent < u.total && h.ready() {
			check = false
			if skipped, err := u.skipIfHeld(ctx, h); skipped || err != nil {
				return skipped, err
			}
		}
	}
	digest, err := h.wait()
	if err != nil {
		return false, err
	}
	if u.want != "" && digest != u.want {
		return false, &DigestMismatchError{Expected: u.want, Actual: digest}
	}
	u.want = digest
	return false, u.complete(ctx)
}

// skipIfHeld asks the registry, once the file's digest is known, whether
// it has the blob already; if so sending the rest would be wasted, and the
// session is freed.
func (u *blobUpload) skipIfHeld(ctx context.Context, h *fileHashing) (bool, error) {
	digest, err := h.wait()
	if err != nil {
		return false, err
	}
	if _, ok, err := u.client.holds(ctx, u.name, digest, u.total); err != nil || !ok {
		return false, nil // an error here only costs sending the rest
	}
	u.digest = digest
	u.abandon(ctx)
	u.progress(u.total, u.total)
	return true, nil
}

// fileHashing is the digest of a file section being computed on another
// goroutine while the section is sent.
type fileHashing struct {
	done   chan struct{}
	digest string
	err    error
	cancel context.CancelFunc
}

// startHashing hashes u.total bytes of file from off, in the algorithm of
// u.want, unless hash is false: the digest is then u.want itself.
func (u *blobUpload) startHashing(ctx context.Context, file *os.File, off int64, hash bool) *fileHashing {
	h := &fileHashing{done: make(chan struct{}), cancel: func() {}}
	if !hash {
		h.digest = u.want
		close(h.done)
		return h
	}
	hctx, cancel := context.WithCancel(ctx)
	h.cancel = cancel
	go func() {
		defer close(h.done)
		h.digest, h.err = hashFile(hctx, file, off, u.total, u.want)
	}()
	return h
}

// ready reports whether the digest is known.
func (h *fileHashing) ready() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// wait returns the digest once it is known.
func (h *fileHashing) wait() (string, error) {
	<-h.done
	return h.digest, h.err
}

// stop ends the hashing and waits for it.
func (h *fileHashing) stop() {
	h.cancel()
	<-h.done
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
