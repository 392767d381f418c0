package azacr

// Downloading a blob into a layout so that an interrupted download is
// continued, not restarted: the bytes go to ingest/<algorithm>-<hex>.partial
// as they arrive, and a later attempt, in this process or the next, hashes
// what is there and asks for the rest with a Range. Only the whole blob,
// verified, is renamed into blobs/.
//
// A blob larger than ingestPartSize is fetched in parts of that size, each
// into a file of its own (the first part into the .partial file, part k
// into .partial.<k>), by as many connections as the transfer's budget can
// spare: on a link that caps each connection, as the internet does, one
// large layer would otherwise take as long as the whole rest of the image.
// The parts are the same in every attempt, so each continues on its own;
// once all are complete they are joined into the first file, hashed, and
// checked.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// blobFetcher returns n bytes of a blob from offset off.
type blobFetcher func(ctx context.Context, off, n int64) (io.ReadCloser, error)

// ingestBuffer is the size of the reads of a download into a layout.
const ingestBuffer = 256 << 10

// ingestPartSize is the size of the parts a large blob is fetched in
// (a variable for tests).
var ingestPartSize int64 = 16 << 20

// lockPoll is how often a writer waits for another writer of the same
// blob, or of index.json (another pull into the layout), to finish.
const lockPoll = 50 * time.Millisecond

// ingest stores d's blob in the layout from fetch, continuing a partial
// download when there is one, retrying dropped connections as rules say.
// progress gets the bytes of the blob held so far. It returns the bytes
// fetched.
func (l *imageLayout) ingest(ctx context.Context, d Descriptor, fetch blobFetcher, rules retryRules, progress func(int64)) (int64, error) {
	alg, hexPart, _ := strings.Cut(d.Digest, ":")
	f, err := lockWorkFile(ctx, filepath.Join(l.dir, ingestDir, alg+"-"+hexPart+".partial"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	defer releaseFileLock(f)
	// Another pull may have finished the blob while this one waited.
	if ok, err := l.has(d, false); ok || err != nil {
		os.Remove(f.Name())
		return 0, err
	}
	b := &ingestion{l: l, d: d, main: f, fetch: fetch, rules: rules, progress: progress}
	fetched, err := b.run(ctx)
	if errors.Is(err, ErrDigestMismatch) && b.resumed {
		// The bytes kept from before were not the blob's (a disk that
		// lost a write, another writer): start over once.
		var more int64
		b = &ingestion{l: l, d: d, main: f, fetch: fetch, rules: rules, progress: progress, fresh: true}
		more, err = b.run(ctx)
		fetched += more
	}
	if err != nil {
		return fetched, err
	}
	return fetched, b.commit()
}

// lockWorkFile opens (creating it) the work file at path and takes its
// lock, waiting while another writer holds it, until ctx ends.
func lockWorkFile(ctx context.Context, path string) (*os.File, error) {
	f, err := openWorkFile(path)
	if err != nil {
		return nil, err
	}
	t := time.NewTicker(lockPoll)
	defer t.Stop()
	for {
		ok, err := tryLockFile(f)
		if ok || err != nil {
			if err != nil {
				f.Close()
			}
			return f, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// openWorkFile opens (creating it) a file of ingest/ for writing. It is
// never followed through a symbolic link, and a file that is not a
// regular file of its own (a FIFO, a device, a file with other hard
// links, perhaps outside the layout) is replaced by a new one.
func openWorkFile(path string) (*os.File, error) {
	if info, err := os.Lstat(path); err == nil && (!info.Mode().IsRegular() || sharedLinks(info)) {
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidLayout, path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|noFollow|noBlock, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidLayout, err)
	}
	return f, nil
}

// ingestion is one attempt at a blob: its parts, fetched, then joined.
type ingestion struct {
	l        *imageLayout
	d        Descriptor
	main     *os.File // the .partial file, locked: the blob's first part
	fetch    blobFetcher
	rules    retryRules
	progress func(int64)
	fresh    bool // drop what earlier attempts kept

	parts   []*blobPart
	resumed bool // bytes from an earlier attempt were kept

	mu   sync.Mutex
	held int64 // bytes of all parts, for progress
}

// run fetches every part and joins them; it returns the bytes fetched.
func (b *ingestion) run(ctx context.Context) (int64, error) {
	defer b.closeParts()
	if err := b.openParts(); err != nil {
		return 0, err
	}
	b.progress(b.held)
	fetched, err := b.fetchParts(ctx)
	if errors.Is(err, ErrSizeMismatch) {
		b.dropParts()
	}
	if err != nil {
		return fetched, err
	}
	return fetched, b.join()
}

// openParts lays out the parts and learns what each file holds, keeping
// it unless the attempt is fresh. Only the first part's file is open: the
// others are opened when their part is fetched, so a manifest claiming an
// absurd size costs no file until the registry confirms the size.
func (b *ingestion) openParts() error {
	for off, k := int64(0), 0; off < b.d.Size || k == 0; off, k = off+ingestPartSize, k+1 {
		p := &blobPart{off: off, size: min(ingestPartSize, b.d.Size-off)}
		if k == 0 {
			p.f = b.main
		} else {
			p.path = b.main.Name() + "." + strconv.Itoa(k)
		}
		if b.d.Size <= ingestPartSize {
			p.size = b.d.Size // one part: the whole blob, hashed as it comes
			if err := p.startHash(b.d.Digest); err != nil {
				return err
			}
		}
		b.parts = append(b.parts, p)
		if err := p.keep(b.fresh); err != nil {
			return err
		}
		b.resumed = b.resumed || p.have > 0
		b.held += p.have
	}
	return nil
}

// closeParts closes the files of the parts after the first.
func (b *ingestion) closeParts() {
	for _, p := range b.parts {
		if p.f != nil && p.f != b.main {
			p.f.Close()
		}
	}
}

// dropParts empties the first part and removes the others' files: their
// bytes cannot be the blob's.
func (b *ingestion) dropParts() {
	b.main.Truncate(0)
	for _, p := range b.parts[1:] {
		os.Remove(p.path)
	}
}

// fetchParts fetches the parts not yet complete: at once with this
// goroutine's slot of the budget, and with a slot for each other part
// asked of the budget before any smaller blob's.
func (b *ingestion) fetchParts(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := &partQueue{cancel: cancel}
	for _, p := range b.parts {
		if p.have < p.size {
			q.todo = append(q.todo, p)
		}
	}
	// helpers is the context of the waits for more slots: they end once
	// every part is taken.
	helpers, stopHelpers := context.WithCancel(ctx)
	defer stopHelpers()
	q.allTaken = stopHelpers
	var wg sync.WaitGroup
	work := func() {
		defer wg.Done()
		for p := q.take(); p != nil; p = q.take() {
			n, err := p.download(ctx, b.d, b.fetch, b.rules, b.add)
			q.done(n, err)
		}
	}
	wg.Add(1)
	go work()
	// At most one helper per slot the budget could ever give: each takes
	// part after part.
	th, _ := ctx.Value(throttleKey{}).(*throttle)
	for i := 1; th != nil && i < len(q.todo) && i < th.max; i++ {
		wg.Add(1)
		go func() {
			if th.acquireFor(helpers, b.d.Size) != nil {
				wg.Done()
				return
			}
			defer th.release()
			work()
		}()
	}
	wg.Wait()
	return q.fetched, q.err
}

// partQueue hands out the parts of a blob to the goroutines fetching them.
type partQueue struct {
	mu       sync.Mutex
	todo     []*blobPart
	next     int
	fetched  int64
	err      error
	cancel   context.CancelFunc // ends every fetch, on the first failure
	allTaken func()             // called once the last part is taken
}

// take returns the next part to fetch, or nil when none is left or a
// fetch failed.
func (q *partQueue) take() *blobPart {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next == len(q.todo) || q.err != nil {
		return nil
	}
	p := q.todo[q.next]
	if q.next++; q.next == len(q.todo) {
		q.allTaken()
	}
	return p
}

// done records a part's fetch.
func (q *partQueue) done(n int64, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.fetched += n
	if err != nil && q.err == nil {
		q.err = err
		q.cancel()
	}
}

// add records that n more bytes of the blob are held.
func (b *ingestion) add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held += n
	b.progress(b.held)
}

// join appends the parts after the first to the first file, hashing the
// blob, and checks it. A blob that fails loses every part: which one was
// wrong cannot be told.
func (b *ingestion) join() error {
	first := b.parts[0]
	if len(b.parts) > 1 {
		hash, err := newDigester(b.d.Digest)
		if err != nil {
			return err
		}
		if _, err := io.Copy(hash, io.NewSectionReader(b.main, 0, first.size)); err != nil {
			return err
		}
		if _, err := b.main.Seek(first.size, io.SeekStart); err != nil {
			return err
		}
		for _, p := range b.parts[1:] {
			if err := p.open(); err != nil {
				return err
			}
			if _, err := io.Copy(io.MultiWriter(b.main, hash), io.NewSectionReader(p.f, 0, p.size)); err != nil {
				return err
			}
		}
		first.hash = hash
	}
	if first.hash.Matches(b.d.Digest) {
		return nil
	}
	b.dropParts()
	return &DigestMismatchError{Expected: b.d.Digest, Actual: first.hash.Digest()}
}

// commit flushes the verified blob, renames it into blobs/, and removes
// the other parts' files.
func (b *ingestion) commit() error {
	final := b.l.blobPath(b.d.Digest)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if err := b.main.Sync(); err != nil {
		return err
	}
	if err := os.Rename(b.main.Name(), final); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, p := range b.parts[1:] {
		os.Remove(p.path)
	}
	return nil
}

// blobPart is a range of a blob being downloaded into a file of its own,
// from the file's start.
type blobPart struct {
	f         *os.File // nil until the part is fetched (or joined)
	path      string   // of the file of a part after the first
	off, size int64    // the range of the blob: [off, off+size)
	have      int64
	hash      *digester // a blob of one part is hashed as it comes
}

func (p *blobPart) startHash(digest string) (err error) {
	p.hash, err = newDigester(digest)
	return err
}

// keep positions the file after the bytes an earlier attempt left, and
// hashes them when the part is hashed. A file longer than the part, and
// any file of a fresh attempt, is emptied.
func (p *blobPart) keep(fresh bool) error {
	if p.f == nil {
		// A later part's file: only its size counts until it is opened.
		info, err := os.Lstat(p.path)
		if err == nil && info.Mode().IsRegular() && !fresh && info.Size() <= p.size {
			p.have = info.Size()
		}
		return nil
	}
	info, err := p.f.Stat()
	if err != nil {
		return err
	}
	p.have = info.Size()
	if fresh || p.have > p.size {
		p.have = 0
		if err := p.f.Truncate(0); err != nil {
			return err
		}
	}
	if p.hash != nil {
		if _, err := io.CopyN(p.hash, io.NewSectionReader(p.f, 0, p.have), p.have); err != nil {
			return err
		}
	}
	_, err = p.f.Seek(p.have, io.SeekStart)
	return err
}

// open opens a later part's file (a link, or a file with other links,
// is replaced by a file of its own), keeping the bytes keep counted.
func (p *blobPart) open() error {
	if p.f != nil {
		return nil
	}
	f, err := openWorkFile(p.path)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err == nil && info.Size() < p.have {
		p.have = info.Size() // it changed since: keep what is there
	}
	if err == nil {
		err = f.Truncate(p.have)
	}
	if err == nil {
		_, err = f.Seek(p.have, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return err
	}
	p.f = f
	return nil
}

// download fills the part, retrying dropped connections as rules say;
// add gets each new byte count. It returns the bytes fetched.
func (p *blobPart) download(ctx context.Context, d Descriptor, fetch blobFetcher, rules retryRules, add func(int64)) (int64, error) {
	if err := p.open(); err != nil {
		return 0, err
	}
	var fetched int64
	for failures := 0; p.have < p.size; {
		n, err := p.fetchRest(ctx, d, fetch, add)
		fetched += n
		if err == nil {
			break
		}
		if n > 0 {
			failures = 0 // progress was made: a fresh budget for the rest
		}
		failures++
		if ctx.Err() != nil {
			return fetched, ctx.Err()
		}
		wait, ok := rules.next(ctx, failures, nil, err)
		if !ok {
			return fetched, err
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return fetched, err
		}
	}
	if p.hash != nil && !p.hash.Matches(d.Digest) {
		err := &DigestMismatchError{Expected: d.Digest, Actual: p.hash.Digest()}
		p.f.Truncate(0)
		return fetched, err
	}
	return fetched, nil
}

// fetchRest fetches the rest of the part into its file; it returns the
// bytes it added, and an error when it did not reach the part's end.
func (p *blobPart) fetchRest(ctx context.Context, d Descriptor, fetch blobFetcher, add func(int64)) (int64, error) {
	body, err := fetch(ctx, p.off+p.have, p.size-p.have)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	buf := make([]byte, ingestBuffer)
	start := p.have
	for p.have < p.size {
		n, err := body.Read(buf[:min(int64(len(buf)), p.size-p.have)])
		if n > 0 {
			if _, werr := p.f.Write(buf[:n]); werr != nil {
				return p.have - start, nonRetriable(werr)
			}
			if p.hash != nil {
				p.hash.Write(buf[:n])
			}
			p.have += int64(n)
			add(int64(n))
		}
		if err == io.EOF && p.have < p.size {
			err = fmt.Errorf("%w: the registry sent %d of %d bytes of %s from offset %d", ErrSizeMismatch, p.have, p.size, d.Digest, p.off)
		}
		if err != nil && err != io.EOF {
			return p.have - start, err
		}
	}
	return p.have - start, nil
}
