package acrtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// blobStore holds blob content by digest, once per registry, in memory or
// in files under a directory. Upload sessions write into spools, which are
// committed under their digest when the upload completes.
type blobStore struct {
	dir string // "" keeps everything in memory

	mu    sync.RWMutex
	mem   map[string][]byte // in-memory mode
	sizes map[string]int64
}

func newBlobStore(dir string) *blobStore {
	b := &blobStore{dir: dir, mem: map[string][]byte{}, sizes: map[string]int64{}}
	if dir != "" {
		_ = os.MkdirAll(filepath.Join(dir, "blobs"), 0o755)
		_ = os.MkdirAll(filepath.Join(dir, "uploads"), 0o755)
	}
	return b
}

func (b *blobStore) close() {}

func (b *blobStore) path(digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(b.dir, "blobs", alg, hex)
}

// stat reports a blob's size and whether the store has it.
func (b *blobStore) stat(digest string) (int64, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n, ok := b.sizes[digest]
	return n, ok
}

// blobReader reads stored content at any offset.
type blobReader interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

type memBlob struct{ *bytes.Reader }

func (memBlob) Close() error { return nil }

type fileBlob struct {
	*os.File
	size int64
}

func (f fileBlob) Size() int64 { return f.size }

var errNoBlob = errors.New("blob unknown")

// open returns a reader for a stored blob, or errNoBlob.
func (b *blobStore) open(digest string) (blobReader, error) {
	b.mu.RLock()
	size, ok := b.sizes[digest]
	data := b.mem[digest]
	b.mu.RUnlock()
	if !ok {
		return nil, errNoBlob
	}
	if b.dir == "" {
		return memBlob{bytes.NewReader(data)}, nil
	}
	f, err := os.Open(b.path(digest))
	if err != nil {
		return nil, err
	}
	return fileBlob{f, size}, nil
}

// readAll returns a stored blob's bytes if it is at most max bytes long.
func (b *blobStore) readAll(digest string, max int64) ([]byte, error) {
	r, err := b.open(digest)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Size() > max {
		return nil, fmt.Errorf("blob %s is %d bytes, over %d", digest, r.Size(), max)
	}
	buf := make([]byte, r.Size())
	_, err = r.ReadAt(buf, 0)
	if err == io.EOF {
		err = nil
	}
	return buf, err
}

// put stores content under digest; the caller has verified the digest.
func (b *blobStore) put(digest string, content []byte) error {
	if b.dir == "" {
		b.mu.Lock()
		b.mem[digest] = bytes.Clone(content)
		b.sizes[digest] = int64(len(content))
		b.mu.Unlock()
		return nil
	}
	sp, err := b.newSpool()
	if err != nil {
		return err
	}
	if _, err := sp.Write(content); err != nil {
		sp.discard()
		return err
	}
	return b.commit(digest, sp)
}

// commit moves a finished spool into the store under digest. The spool
// is consumed either way.
func (b *blobStore) commit(digest string, sp *spool) error {
	if b.dir == "" {
		b.mu.Lock()
		b.mem[digest] = sp.buf
		b.sizes[digest] = int64(len(sp.buf))
		b.mu.Unlock()
		sp.buf = nil
		return nil
	}
	size := sp.size
	p := b.path(digest)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		sp.discard()
		return err
	}
	name := sp.file.Name()
	if err := sp.file.Close(); err != nil {
		_ = os.Remove(name)
		return err
	}
	if err := os.Rename(name, p); err != nil {
		_ = os.Remove(name)
		return err
	}
	b.mu.Lock()
	b.sizes[digest] = size
	b.mu.Unlock()
	return nil
}

// delete removes a blob; it reports whether the blob existed.
func (b *blobStore) delete(digest string) bool {
	b.mu.Lock()
	_, ok := b.sizes[digest]
	delete(b.sizes, digest)
	delete(b.mem, digest)
	b.mu.Unlock()
	if ok && b.dir != "" {
		_ = os.Remove(b.path(digest))
	}
	return ok
}

// spool accumulates an upload's bytes: a growing slice in memory mode
// (append keeps it amortised linear), a temporary file in directory mode
// (so a large blob costs disk, not memory).
type spool struct {
	buf  []byte
	file *os.File
	size int64
}

func (b *blobStore) newSpool() (*spool, error) {
	if b.dir == "" {
		return &spool{}, nil
	}
	f, err := os.CreateTemp(filepath.Join(b.dir, "uploads"), "upload-*")
	if err != nil {
		return nil, err
	}
	return &spool{file: f}, nil
}

// Write appends to the spool.
func (s *spool) Write(p []byte) (int, error) {
	if s.file == nil {
		s.buf = append(s.buf, p...)
		s.size += int64(len(p))
		return len(p), nil
	}
	n, err := s.file.Write(p)
	s.size += int64(n)
	return n, err
}

// ReadAt reads spooled bytes, for hashing with an algorithm other than the
// running one.
func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	if s.file == nil {
		if off >= int64(len(s.buf)) {
			return 0, io.EOF
		}
		n := copy(p, s.buf[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	return s.file.ReadAt(p, off)
}

// discard drops the spool's bytes (cancelled or failed upload).
func (s *spool) discard() {
	s.buf = nil
	if s.file != nil {
		name := s.file.Name()
		_ = s.file.Close()
		_ = os.Remove(name)
		s.file = nil
	}
}
