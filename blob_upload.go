package azacr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

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
// A regular file of more than one chunk is sent straight from the file, a
// section per PATCH read as it is sent (no chunk buffers), while another
// goroutine hashes it. The file is read with ReadAt only, and left at its
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
	plan, err := planUpload(name, body, options)
	if err != nil {
		return resp, err
	}
	if err = plan.learnDigest(ctx); err != nil {
		return resp, err
	}
	u := &blobUpload{client: c, name: name, chunkSize: plan.opts.ChunkSize, total: plan.size, progress: plan.progress, want: plan.digest}
	if resp, done, err := c.uploadShortcut(ctx, plan, u); done || err != nil {
		return resp, err
	}
	return u.transfer(ctx, plan)
}

// uploadPlan is what UploadBlob knows before it talks to the registry.
type uploadPlan struct {
	opts     BlobClientUploadBlobOptions // defaulted, on a copy
	progress func(int64, int64)
	body     io.Reader
	seeker   io.Seeker // nil for a stream
	file     *os.File  // a regular file of more than one chunk, sent by sections; else nil
	start    int64     // the body's offset, when it seeks
	size     int64     // bytes from start; -1 for a stream
	// digest is known before sending: options.Digest, or the hash of a
	// seekable body when hashFirst.
	digest    string
	hashFirst bool
}

// planUpload checks the arguments and decides, from what the body is, how
// to send it. It sends nothing.
func planUpload(name string, body io.Reader, options *BlobClientUploadBlobOptions) (*uploadPlan, error) {
	p := &uploadPlan{body: body}
	if options != nil {
		p.opts = *options // defaults go on a copy, never the caller's struct
	}
	if err := p.checkArguments(name); err != nil {
		return nil, err
	}
	p.progress = p.opts.Progress
	if p.progress == nil {
		p.progress = func(int64, int64) {}
	}
	var err error
	if p.seeker, p.start, p.size, err = measure(body); err != nil {
		return nil, err
	}
	if f, ok := body.(*os.File); ok && p.seeker != nil && p.size > p.opts.ChunkSize {
		// A regular file (measure streams any other) goes out by sections,
		// hashed by another goroutine while it is sent.
		p.file = f
	}
	p.digest = p.opts.Digest
	// Hashing first costs a read of the body but no more hashing (the
	// upload then needs none), and saves the whole upload when the
	// registry already has the blob. A file is hashed first only to name
	// the blob to mount: otherwise its digest comes while it is sent.
	p.hashFirst = p.digest == "" && p.seeker != nil &&
		(p.opts.MountFrom != "" || p.file == nil && !p.opts.SkipExistenceCheck && p.size > p.opts.ChunkSize)
	return p, nil
}

// checkArguments validates the arguments and defaults ChunkSize.
func (p *uploadPlan) checkArguments(name string) error {
	if err := ValidateRepository(name); err != nil {
		return err
	}
	if p.body == nil {
		return errors.New("azacr: UploadBlob needs a body")
	}
	switch {
	case p.opts.ChunkSize == 0:
		p.opts.ChunkSize = DefaultChunkSize
	case p.opts.ChunkSize < 0 || p.opts.ChunkSize > MaxChunkSize:
		// Checked before it sizes the chunk buffers.
		return fmt.Errorf("%w: ChunkSize %d is not between 1 and %d (MaxChunkSize)", ErrInvalidOption, p.opts.ChunkSize, MaxChunkSize)
	}
	if p.opts.Digest != "" {
		if err := ValidateDigest(p.opts.Digest); err != nil {
			return err
		}
	}
	if p.opts.MountFrom != "" {
		return ValidateRepository(p.opts.MountFrom)
	}
	return nil
}

// learnDigest hashes the body before sending, when the plan says so.
func (p *uploadPlan) learnDigest(ctx context.Context) error {
	if !p.hashFirst {
		return nil
	}
	var err error
	if p.file != nil {
		p.digest, err = hashFile(ctx, p.file, p.start, p.size, "")
	} else {
		p.digest, err = hashFrom(ctx, p.body, p.seeker, p.start)
	}
	return err
}

// uploadShortcut avoids sending what the registry has or can mount: done
// is true when the upload is over. A mount the registry declines opens an
// ordinary session, which u then uses.
func (c *BlobClient) uploadShortcut(ctx context.Context, p *uploadPlan, u *blobUpload) (resp BlobClientUploadBlobResponse, done bool, err error) {
	if p.digest == "" {
		return resp, false, nil
	}
	u.want = p.digest
	if !p.opts.SkipExistenceCheck {
		if size, ok, err := c.holds(ctx, u.name, p.digest, p.size); err != nil || ok {
			if ok {
				p.progress(size, size)
			}
			return BlobClientUploadBlobResponse{Digest: p.digest, Size: size, Skipped: ok}, ok, err
		}
	}
	if p.opts.MountFrom == "" {
		return resp, false, nil
	}
	m, err := c.MountBlob(ctx, u.name, p.opts.MountFrom, p.digest, nil)
	if err != nil {
		return resp, false, err
	}
	if m.Mounted {
		size := p.size
		if exists, err := c.CheckBlobExists(ctx, u.name, p.digest, nil); err == nil && exists.ContentLength != nil {
			size = *exists.ContentLength
		}
		p.progress(size, size)
		return BlobClientUploadBlobResponse{Digest: p.digest, Size: size, Mounted: true}, true, nil
	}
	if m.Location == nil {
		return resp, false, fmt.Errorf("%w: the registry declined the mount without an upload session", ErrInvalidLocation)
	}
	// ACR often declines (202) and opens an ordinary session: use it
	// (PROTOCOL.md §6.5).
	return resp, false, u.follow(*m.Location)
}

// transfer sends the body: a file by sections, anything else as a stream.
func (u *blobUpload) transfer(ctx context.Context, p *uploadPlan) (BlobClientUploadBlobResponse, error) {
	if p.file == nil {
		switch {
		case p.opts.Digest != "":
			// The caller's digest is a claim about the body: check it.
			u.hasher, _ = newDigester(p.opts.Digest)
		case p.digest == "":
			u.hasher = newSHA256Digester()
		}
		if err := u.run(ctx, p.body); err != nil {
			return BlobClientUploadBlobResponse{}, err
		}
		return BlobClientUploadBlobResponse{Digest: u.digest, Size: u.sent}, nil
	}
	// Hash while sending, to check a digest given in advance, or to learn
	// the digest (and then whether the registry has the blob).
	hash := p.opts.Digest != "" || p.digest == ""
	skipped, err := u.runFile(ctx, p.file, p.start, hash, hash && p.digest == "" && !p.opts.SkipExistenceCheck)
	if err != nil {
		return BlobClientUploadBlobResponse{}, err
	}
	// Leave the caller's file where reading it through would have.
	if _, err := p.seeker.Seek(p.start+p.size, io.SeekStart); err != nil {
		return BlobClientUploadBlobResponse{}, err
	}
	return BlobClientUploadBlobResponse{Digest: u.digest, Size: p.size, Skipped: skipped}, nil
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
