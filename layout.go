package azacr

// The OCI image layout (image-spec v1.1, image-layout.md): a directory with
// an oci-layout file, an index.json naming the images it holds, and every
// blob and manifest under blobs/<algorithm>/<hex>. PullImage writes it and
// PushImage reads it.
//
// Whatever happens to the process, the layout stays one that opens:
//   - a file under blobs/ appears only under its final name, and only once
//     its bytes were checked against its digest and size and flushed to
//     disk (written elsewhere, fsynced, renamed);
//   - index.json is replaced whole by a rename, never rewritten in place, so
//     a full disk or a kill leaves the old one;
//   - index.json names content only after all of it is in blobs/ (children
//     before parents), so every entry it has is complete;
//   - writers of index.json take a lock and merge with what is there, so
//     concurrent pulls into one layout keep each other's entries.
// Work in progress lives in ingest/ (the directory oras-go's store uses for
// the same purpose): partial downloads, which a later pull continues, and
// files being written.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrInvalidLayout is wrapped by the errors for a directory that is not a
// usable OCI image layout: no oci-layout file or an unknown version, an
// index.json that does not parse, a blob whose bytes do not match its
// digest or size, or a reference the index does not hold.
var ErrInvalidLayout = errors.New("azacr: invalid OCI image layout")

// AnnotationRefName is the annotation of an index.json entry that names it,
// like a tag ("org.opencontainers.image.ref.name").
const AnnotationRefName = "org.opencontainers.image.ref.name"

const (
	layoutFile    = "oci-layout"
	layoutVersion = "1.0.0"
	indexFile     = "index.json"
	ingestDir     = "ingest"
	// maxIndexSize bounds index.json: it is read whole, and a layout is
	// a directory anybody may have written.
	maxIndexSize = 64 << 20
)

// imageLayout is an OCI image layout directory.
type imageLayout struct {
	dir string
}

// openLayout opens the layout at dir, which must exist and say it is one.
func openLayout(dir string) (*imageLayout, error) {
	f, err := openRegular(filepath.Join(dir, layoutFile))
	if err != nil {
		return nil, invalidLayout(err)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidLayout, err)
	}
	var v struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(data, &v); err != nil || v.Version != layoutVersion {
		return nil, fmt.Errorf("%w: %s says version %q, want %q", ErrInvalidLayout, layoutFile, v.Version, layoutVersion)
	}
	return &imageLayout{dir: dir}, nil
}

// createLayout opens the layout at dir, creating the directory and its
// oci-layout file when they are absent.
func createLayout(dir string) (*imageLayout, error) {
	if err := os.MkdirAll(filepath.Join(dir, ingestDir), 0o755); err != nil {
		return nil, err
	}
	l := &imageLayout{dir: dir}
	l.removeStaleTemps()
	_, err := os.Stat(filepath.Join(dir, layoutFile))
	if errors.Is(err, fs.ErrNotExist) {
		err = l.writeAtomically(filepath.Join(dir, layoutFile), []byte(`{"imageLayoutVersion":"`+layoutVersion+`"}`))
	}
	if err != nil {
		return nil, err
	}
	return openLayout(dir)
}

// staleTemp is the age past which a file being written in ingest/ is
// taken for one whose writer died (killed between writing and renaming).
const staleTemp = 24 * time.Hour

// removeStaleTemps removes what interrupted writers left in ingest/.
// Partial downloads stay: the next pull continues them.
func (l *imageLayout) removeStaleTemps() {
	temps, _ := filepath.Glob(filepath.Join(l.dir, ingestDir, "tmp-*"))
	for _, p := range temps {
		if info, err := os.Lstat(p); err == nil && time.Since(info.ModTime()) > staleTemp {
			os.Remove(p)
		}
	}
}

// openRegular opens a file of the layout for reading; anything but a
// regular file (a FIFO, a device, a directory, also behind a link) is
// refused with ErrInvalidLayout, and opening never waits for a writer.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|noBlock, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidLayout, err)
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("%w: %s is not a regular file (%s)", ErrInvalidLayout, path, info.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// invalidLayout wraps err with ErrInvalidLayout, once.
func invalidLayout(err error) error {
	if errors.Is(err, ErrInvalidLayout) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrInvalidLayout, err)
}

// blobPath is where the blob with digest d lives. d is a valid digest
// (checked by every caller), so the path stays inside blobs/.
func (l *imageLayout) blobPath(d string) string {
	alg, hexPart, _ := strings.Cut(d, ":")
	return filepath.Join(l.dir, "blobs", alg, hexPart)
}

// has reports whether the layout holds d's blob with d's size. With verify,
// the bytes are hashed too; a blob that fails is removed, so that it is
// fetched again.
func (l *imageLayout) has(d Descriptor, verify bool) (bool, error) {
	// Lstat: a link is not a blob the layout holds, whatever it points to.
	info, err := os.Lstat(l.blobPath(d.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ok := info.Mode().IsRegular() && info.Size() == d.Size
	if ok && verify {
		ok = l.verify(d) == nil
	}
	if !ok {
		// Not ours to keep: a layout's blob has exactly its digest's bytes.
		if err := os.Remove(l.blobPath(d.Digest)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	return ok, nil
}

// verify hashes d's blob and checks it against d.
func (l *imageLayout) verify(d Descriptor) error {
	f, err := l.open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// open returns d's blob, after checking its size, as a reader that checks
// its digest at the end: a reader of the whole blob gets an error wrapping
// ErrInvalidLayout instead of io.EOF when the bytes are not d's.
func (l *imageLayout) open(d Descriptor) (*layoutBlob, error) {
	f, err := openRegular(l.blobPath(d.Digest))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, invalidLayout(err))
	}
	info, err := f.Stat()
	if err == nil && info.Size() != d.Size {
		err = fmt.Errorf("%w: blob %s holds %d bytes, its descriptor says %d", ErrInvalidLayout, d.Digest, info.Size(), d.Size)
	}
	var dg *digester
	if err == nil {
		dg, err = newDigester(d.Digest)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &layoutBlob{file: f, d: d, hash: dg}, nil
}

// layoutBlob is a blob of the layout being read, hashed as it is read.
// It does not embed the file: io.Copy would use the file's WriteTo and
// skip the hashing.
type layoutBlob struct {
	file *os.File
	d    Descriptor
	hash *digester
	read int64
}

// Close closes the file.
func (b *layoutBlob) Close() error { return b.file.Close() }

// Read reads the blob; at its end it checks what was read against the
// descriptor. It never reads past the descriptor's size (and one byte to
// see the end), whatever the file turns out to be.
func (b *layoutBlob) Read(p []byte) (int, error) {
	if left := b.d.Size + 1 - b.read; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.file.Read(p)
	if b.read+int64(n) > b.d.Size {
		return 0, fmt.Errorf("%w: blob %s holds more than its %d bytes", ErrInvalidLayout, b.d.Digest, b.d.Size)
	}
	b.hash.Write(p[:n])
	b.read += int64(n)
	if err == io.EOF && (b.read != b.d.Size || !b.hash.Matches(b.d.Digest)) {
		return n, fmt.Errorf("%w: blob %s: %w", ErrInvalidLayout, b.d.Digest, &DigestMismatchError{Expected: b.d.Digest, Actual: b.hash.Digest()})
	}
	return n, err
}

// readManifest reads the manifest d names from the layout, verified.
func (l *imageLayout) readManifest(d Descriptor) ([]byte, error) {
	if d.Size > MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest %s: %d bytes", ErrManifestTooLarge, d.Digest, d.Size)
	}
	f, err := l.open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// writeBlob stores data, already checked against d, under d's name.
func (l *imageLayout) writeBlob(d Descriptor, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(l.blobPath(d.Digest)), 0o755); err != nil {
		return err
	}
	return l.writeAtomically(l.blobPath(d.Digest), data)
}

// writeAtomically replaces path with data: written to a file in ingest/,
// flushed to disk, renamed over path. A reader sees the old file or the
// new one, never a part.
func (l *imageLayout) writeAtomically(path string, data []byte) error {
	f, err := l.tempFile()
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return l.commit(f, err, path)
}

// tempFile creates a uniquely named file in ingest/.
func (l *imageLayout) tempFile() (*os.File, error) {
	var b [8]byte
	rand.Read(b[:])
	return os.OpenFile(filepath.Join(l.dir, ingestDir, "tmp-"+hex.EncodeToString(b[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
}

// commit ends writing f (err is how the writing went): flushed, closed
// and renamed to path, or removed on any failure.
func (l *imageLayout) commit(f *os.File, err error, path string) error {
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// syncDir flushes a directory's entries (the renames into it) to disk.
// Some systems cannot sync a directory; the rename then stays as durable
// as they make it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// readIndex reads index.json; a layout without one holds nothing yet.
func (l *imageLayout) readIndex() (*ImageIndex, error) {
	f, err := openRegular(filepath.Join(l.dir, indexFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &ImageIndex{SchemaVersion: 2, MediaType: string(ContentTypeApplicationVndOCIImageIndexV1JSON)}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxIndexSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidLayout, indexFile, maxIndexSize)
	}
	var idx ImageIndex
	if err := decodeJSON(data, &idx); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, indexFile, err)
	}
	for _, m := range idx.Manifests {
		if err := ValidateDigest(m.Digest); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, indexFile, err)
		}
	}
	return &idx, nil
}

// addToIndex adds entries to index.json, under the layout's lock, merged
// with what another writer may have added meanwhile. An entry replaces
// one of the same name (a tag pulled again) and one of the same digest
// without a name.
func (l *imageLayout) addToIndex(ctx context.Context, entries ...Descriptor) error {
	lock, err := lockWorkFile(ctx, filepath.Join(l.dir, ingestDir, "index.lock"))
	if err != nil {
		return err
	}
	defer lock.Close()
	defer releaseFileLock(lock)
	if err := ctx.Err(); err != nil {
		return err
	}
	idx, err := l.readIndex()
	if err != nil {
		return err
	}
	idx.Manifests = mergeIndexEntries(idx.Manifests, entries)
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	// Everything the entries name was renamed into blobs/ before: make
	// those renames durable before index.json names them.
	for _, alg := range []string{DigestAlgorithmSHA256, DigestAlgorithmSHA512} {
		syncDir(filepath.Join(l.dir, "blobs", alg))
	}
	if err := l.writeAtomically(filepath.Join(l.dir, indexFile), data); err != nil {
		return err
	}
	syncDir(l.dir)
	return nil
}

// mergeIndexEntries returns have with add merged in (see addToIndex).
func mergeIndexEntries(have, add []Descriptor) []Descriptor {
	for _, e := range add {
		name := e.Annotations[AnnotationRefName]
		have = slices.DeleteFunc(have, func(h Descriptor) bool {
			hname := h.Annotations[AnnotationRefName]
			return name != "" && hname == name || hname == "" && h.Digest == e.Digest
		})
		if name == "" && slices.ContainsFunc(have, func(h Descriptor) bool { return h.Digest == e.Digest }) {
			continue // already named; a nameless copy adds nothing
		}
		have = append(have, e)
	}
	return have
}

// find returns the index.json entry that ref names: a digest, or the
// value of a ref name annotation. Several entries may share a digest; the
// first is returned.
func (l *imageLayout) find(ref string) (Descriptor, error) {
	idx, err := l.readIndex()
	if err != nil {
		return Descriptor{}, err
	}
	for _, m := range idx.Manifests {
		if m.Digest == ref || m.Annotations[AnnotationRefName] == ref {
			return m, nil
		}
	}
	return Descriptor{}, fmt.Errorf("%w: index.json has no entry %q; it has %s", ErrInvalidLayout, ref, describeEntries(idx.Manifests))
}

// describeEntries lists index entries by name (or digest) for an error.
func describeEntries(entries []Descriptor) string {
	if len(entries) == 0 {
		return "none"
	}
	names := make([]string, 0, len(entries))
	for _, m := range entries {
		if n := m.Annotations[AnnotationRefName]; n != "" {
			names = append(names, fmt.Sprintf("%q (%s)", n, m.Digest))
		} else {
			names = append(names, m.Digest)
		}
	}
	return strings.Join(names, ", ")
}
