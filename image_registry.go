package azacr

// A registry repository as the source or the target of a whole-image
// transfer.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// registryRepo is a repository of a registry, read and written through
// the client's pipeline.
type registryRepo struct {
	c     *ContainerRegistryClient
	blobs *BlobClient
	name  string
	// mountFrom is the repository blobs are mounted from: the source's,
	// in a copy within one registry; else the repository itself, which
	// asks "do you have it?" and opens a session in one request.
	mountFrom string
	// chunkSize is the size of upload requests, shared by the blobs of a
	// transfer: one that a 413 halved stays halved for the rest.
	chunkSize atomic.Int64
}

func newRegistryRepo(c *ContainerRegistryClient, name string) *registryRepo {
	r := &registryRepo{c: c, blobs: c.blobClient(), name: name, mountFrom: name}
	r.chunkSize.Store(DefaultImageChunkSize)
	return r
}

// root fetches the manifest reference names, verified, and describes it.
func (r *registryRepo) root(ctx context.Context, reference string) (Descriptor, []byte, error) {
	m, err := r.c.GetManifest(ctx, r.name, reference, nil)
	if err != nil {
		return Descriptor{}, nil, err
	}
	d := Descriptor{Digest: *m.DockerContentDigest, Size: int64(len(m.ManifestData))}
	if m.ContentType != nil {
		d.MediaType = *m.ContentType
	}
	return d, m.ManifestData, nil
}

func (r *registryRepo) manifest(ctx context.Context, d Descriptor) ([]byte, error) {
	m, err := r.c.GetManifest(ctx, r.name, d.Digest, nil)
	if err != nil {
		return nil, err
	}
	if int64(len(m.ManifestData)) != d.Size {
		return nil, fmt.Errorf("%w: manifest %s has %d bytes, its descriptor says %d", ErrSizeMismatch, d.Digest, len(m.ManifestData), d.Size)
	}
	return m.ManifestData, nil
}

func (r *registryRepo) blob(ctx context.Context, d Descriptor) (io.ReadCloser, error) {
	if d.Size == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	resp, err := r.blobs.GetBlob(ctx, r.name, d.Digest, nil)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength != nil && *resp.ContentLength != d.Size {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: the registry has %d bytes of %s, the manifest says %d", ErrSizeMismatch, *resp.ContentLength, d.Digest, d.Size)
	}
	return resp.Body, nil
}

func (r *registryRepo) blobRange(ctx context.Context, d Descriptor, off, n int64) (io.ReadCloser, error) {
	if n == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	resp, err := r.blobs.GetChunk(ctx, r.name, d.Digest, off, off+n-1, nil)
	if err != nil {
		return nil, err
	}
	_, total, cerr := checkContentRange(*resp.ContentRange, off, off+n-1)
	if cerr != nil || total != d.Size || *resp.ContentLength != n {
		resp.Body.Close()
		// The blob is not the size its manifest says: asking again will
		// not change it.
		return nil, nonRetriable(fmt.Errorf("%w: the registry answers bytes %s of %s, the manifest says %d bytes", ErrSizeMismatch, *resp.ContentRange, d.Digest, d.Size))
	}
	return resp.Body, nil
}

func (r *registryRepo) referrers(ctx context.Context, d Descriptor) ([]Descriptor, error) {
	var out []Descriptor
	pager := r.c.NewListReferrersPager(r.name, d.Digest, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Referrers...)
		if len(out) > maxImageManifests {
			return nil, fmt.Errorf("azacr: %s has more than %d referrers", d.Digest, maxImageManifests)
		}
	}
	return out, nil
}

// localManifest: a registry cannot tell without a request.
func (r *registryRepo) localManifest(Descriptor) ([]byte, bool) { return nil, false }

// putBlob mounts the blob, or uploads it into the session the registry
// opens when it cannot mount (PROTOCOL.md §6.5): a blob the repository
// has costs one request, a new one two plus its chunks. The bytes stream
// from the source into each request, hashed on the way; a chunk sent
// again is read again from the source at its offset.
func (r *registryRepo) putBlob(ctx context.Context, d Descriptor, src imageSource, progress func(int64)) (int64, error) {
	u := &blobUpload{client: r.blobs, name: r.name, chunkSize: r.chunkSize.Load(), total: d.Size, want: d.Digest,
		progress: func(sent, _ int64) { progress(sent) }}
	done, err := r.mount(ctx, d, u)
	if done || err != nil {
		if done {
			progress(d.Size)
		}
		return 0, err
	}
	layout, fromLayout := src.(*layoutEnd)
	if fromLayout && d.Size <= u.chunkSize {
		// It goes whole, in the request that commits it: check the file
		// first (a local read), so that not even a registry that keeps a
		// body cut short without checking its digest gets wrong bytes. A
		// larger blob is checked before its session is completed.
		if err := layout.l.verify(d); err != nil {
			u.abandon(ctx)
			return 0, err
		}
	}
	err = u.runRemote(ctx, func(ctx context.Context, off int64) (io.ReadCloser, error) {
		return src.blobRange(ctx, d, off, d.Size-off)
	}, fromLayout && d.Size <= u.chunkSize)
	if fromLayout && errors.Is(err, ErrDigestMismatch) {
		err = fmt.Errorf("%w: blob %s: %w", ErrInvalidLayout, d.Digest, err)
	}
	r.learnChunkSize(u.chunkSize)
	return u.sent, err
}

// learnChunkSize keeps a chunk size an upload had to halve to (413: the
// registry's body limit is below it) for the blobs after it.
func (r *registryRepo) learnChunkSize(n int64) {
	for {
		old := r.chunkSize.Load()
		if n >= old || r.chunkSize.CompareAndSwap(old, n) {
			return
		}
	}
}

// mount asks the registry to mount d from r.mountFrom: done when it did;
// else u holds the session it opened instead. A registry that refuses the
// mount request itself gets the ordinary questions instead: has it the
// blob (HEAD), else a new session.
func (r *registryRepo) mount(ctx context.Context, d Descriptor, u *blobUpload) (done bool, err error) {
	m, err := r.blobs.MountBlob(ctx, r.name, r.mountFrom, d.Digest, nil)
	if err == nil {
		if m.Mounted {
			return true, nil
		}
		if m.Location == nil {
			return false, fmt.Errorf("%w: the registry declined the mount without an upload session", ErrInvalidLocation)
		}
		return false, u.follow(*m.Location)
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden ||
		re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500 {
		return false, err
	}
	if _, ok, err := r.blobs.holds(ctx, r.name, d.Digest, d.Size); ok || err != nil {
		return ok, err
	}
	return false, u.open(ctx)
}

func (r *registryRepo) putManifest(ctx context.Context, d Descriptor, data []byte, ref string) error {
	if ref == "" {
		ref = d.Digest
	}
	_, err := r.c.UploadManifest(ctx, r.name, ref, ContentType(d.MediaType), bytes.NewReader(data), nil)
	return err
}

// tagged reports whether the repository holds digest under tag (or, for
// tag "", at all): one HEAD, which makes a repeated transfer nearly free.
func (r *registryRepo) tagged(ctx context.Context, tag, digest string) (bool, error) {
	ref := tag
	if ref == "" {
		ref = digest
	}
	got, found, err := r.c.headManifest(ctx, r.name, ref)
	return found && got == digest, err
}

// readAllLimited reads exactly size bytes from r, and fails on more or
// fewer.
func readAllLimited(r io.Reader, size int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != size {
		return nil, fmt.Errorf("%w: read %d bytes, expected %d", ErrSizeMismatch, len(data), size)
	}
	return data, nil
}
