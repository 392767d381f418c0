package azacr

// An OCI image layout as the source (PushImage) or the target (PullImage)
// of a whole-image transfer.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// layoutEnd is a layout read from or written to by a transfer.
type layoutEnd struct {
	l *imageLayout
	// verify has blobs the layout holds hashed before they count as
	// held (the Repair option); else their size is checked.
	verify bool
	retry  retryRules

	// bySubject indexes the manifests index.json lists by the subject
	// they name, read once, for referrers.
	subjectsOnce sync.Once
	bySubject    map[string][]Descriptor
	subjectsErr  error
}

func (e *layoutEnd) manifest(_ context.Context, d Descriptor) ([]byte, error) {
	return e.l.readManifest(d)
}

func (e *layoutEnd) blob(_ context.Context, d Descriptor) (io.ReadCloser, error) {
	return e.l.open(d)
}

func (e *layoutEnd) blobRange(_ context.Context, d Descriptor, off, n int64) (io.ReadCloser, error) {
	b, err := e.l.open(d)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(b.file, off, n), b.file}, nil
}

// referrers lists the manifests of index.json whose subject is d: a
// layout pulled with its referrers lists them there, unnamed.
func (e *layoutEnd) referrers(_ context.Context, d Descriptor) ([]Descriptor, error) {
	e.subjectsOnce.Do(func() { e.bySubject, e.subjectsErr = e.indexSubjects() })
	return e.bySubject[d.Digest], e.subjectsErr
}

// indexSubjects reads every manifest index.json lists and indexes those
// with a subject by it.
func (e *layoutEnd) indexSubjects() (map[string][]Descriptor, error) {
	idx, err := e.l.readIndex()
	if err != nil {
		return nil, err
	}
	out := map[string][]Descriptor{}
	for _, m := range idx.Manifests {
		data, err := e.l.readManifest(m)
		if err != nil {
			return nil, err
		}
		refs, err := parseManifest(m.MediaType, data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, m.Digest, err)
		}
		if refs.subject != nil {
			r := Descriptor{MediaType: manifestMediaType(m, refs), Digest: m.Digest, Size: m.Size, ArtifactType: refs.artifactType}
			out[refs.subject.Digest] = append(out[refs.subject.Digest], r)
		}
	}
	return out, nil
}

// localManifest returns d's manifest when the layout holds it, verified.
// A layout written by this package holds a manifest only once everything
// it refers to is there; a manifest that fails verification is removed.
func (e *layoutEnd) localManifest(d Descriptor) ([]byte, bool) {
	if e.verify {
		return nil, false // Repair: walk everything, trust nothing
	}
	data, err := e.l.readManifest(d)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			e.l.has(d, true) // removes it when it is not d
		}
		return nil, false
	}
	return data, true
}

// putBlob downloads d into the layout unless it holds it, continuing a
// partial download of an earlier attempt.
func (e *layoutEnd) putBlob(ctx context.Context, d Descriptor, src imageSource, progress func(int64)) (int64, error) {
	if ok, err := e.l.has(d, e.verify); ok || err != nil {
		if ok {
			progress(d.Size)
		}
		return 0, err
	}
	fetch := func(ctx context.Context, off, n int64) (io.ReadCloser, error) { return src.blobRange(ctx, d, off, n) }
	return e.l.ingest(ctx, d, fetch, e.retry, progress)
}

// putManifest stores the manifest as a blob of the layout; index.json is
// the caller's, once the whole image is there.
func (e *layoutEnd) putManifest(_ context.Context, d Descriptor, data []byte, _ string) error {
	if ok, err := e.l.has(d, true); ok || err != nil {
		return err
	}
	return e.l.writeBlob(d, data)
}
