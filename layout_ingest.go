package azacr

// Downloading a blob into a layout so that an interrupted download is
// continued, not restarted: the bytes go to ingest/<algorithm>-<hex>.partial
// as they arrive, and a later attempt, in this process or the next, hashes
// what is there and asks for the rest with a Range. Only the whole blob,
// verified, is renamed into blobs/.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// blobFetcher returns the bytes of a blob from offset off to its end.
type blobFetcher func(ctx context.Context, off int64) (io.ReadCloser, error)

// ingestBuffer is the size of the reads of a download into a layout.
const ingestBuffer = 256 << 10

// lockPoll is how often a download waits for another writer of the same
// blob (another pull into the layout) to finish.
const lockPoll = 50 * time.Millisecond

// ingest stores d's blob in the layout from fetch, continuing a partial
// download when there is one, retrying dropped connections as rules say.
// progress gets the bytes of the blob held so far. It returns the bytes
// fetched.
func (l *imageLayout) ingest(ctx context.Context, d Descriptor, fetch blobFetcher, rules retryRules, progress func(int64)) (int64, error) {
	alg, hexPart, _ := strings.Cut(d.Digest, ":")
	f, err := l.lockPartial(ctx, filepath.Join(l.dir, ingestDir, alg+"-"+hexPart+".partial"))
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
	p := &partialBlob{f: f, d: d}
	fetched, err := p.download(ctx, fetch, rules, progress)
	if errors.Is(err, ErrDigestMismatch) && p.resumed {
		// The bytes kept from before were not the blob's (a disk that
		// lost a write, another writer): start over once.
		var more int64
		p = &partialBlob{f: f, d: d}
		if err = f.Truncate(0); err == nil {
			more, err = p.download(ctx, fetch, rules, progress)
		}
		fetched += more
	}
	if err != nil {
		return fetched, err
	}
	return fetched, p.commit(l)
}

// lockPartial opens the partial file at path and takes its lock, waiting
// while another writer holds it, until ctx ends.
func (l *imageLayout) lockPartial(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|noFollow, 0o644)
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

// partialBlob is a blob being downloaded into its partial file.
type partialBlob struct {
	f       *os.File
	d       Descriptor
	hash    *digester
	have    int64
	resumed bool // bytes from an earlier attempt were kept
}

// download fills the partial file to the blob's size, hashing it, from
// what it holds already.
func (p *partialBlob) download(ctx context.Context, fetch blobFetcher, rules retryRules, progress func(int64)) (int64, error) {
	if err := p.hashKept(); err != nil {
		return 0, err
	}
	progress(p.have)
	var fetched int64
	for failures := 0; p.have < p.d.Size; {
		n, err := p.fetchFrom(ctx, fetch, progress)
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
	if p.have != p.d.Size || !p.hash.Matches(p.d.Digest) {
		err := &DigestMismatchError{Expected: p.d.Digest, Actual: p.hash.Digest()}
		p.f.Truncate(0)
		return fetched, err
	}
	return fetched, nil
}

// hashKept hashes the bytes an earlier attempt left in the file, and
// positions the file after them. A file longer than the blob is emptied.
func (p *partialBlob) hashKept() error {
	var err error
	if p.hash, err = newDigester(p.d.Digest); err != nil {
		return err
	}
	info, err := p.f.Stat()
	if err != nil {
		return err
	}
	p.have = info.Size()
	if p.have > p.d.Size {
		p.have = 0
		if err := p.f.Truncate(0); err != nil {
			return err
		}
	}
	p.resumed = p.have > 0
	if _, err := io.CopyN(p.hash, io.NewSectionReader(p.f, 0, p.have), p.have); err != nil {
		return err
	}
	_, err = p.f.Seek(p.have, io.SeekStart)
	return err
}

// fetchFrom fetches the rest of the blob into the file; it returns the
// bytes it added, and an error when it did not reach the end.
func (p *partialBlob) fetchFrom(ctx context.Context, fetch blobFetcher, progress func(int64)) (int64, error) {
	body, err := fetch(ctx, p.have)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	buf := make([]byte, ingestBuffer)
	start := p.have
	for p.have < p.d.Size {
		n, err := body.Read(buf[:min(int64(len(buf)), p.d.Size-p.have)])
		if n > 0 {
			if _, werr := p.f.Write(buf[:n]); werr != nil {
				return p.have - start, nonRetriable(werr)
			}
			p.hash.Write(buf[:n])
			p.have += int64(n)
			progress(p.have)
		}
		if err == io.EOF && p.have < p.d.Size {
			err = fmt.Errorf("%w: the registry sent %d of %d bytes of %s", ErrSizeMismatch, p.have, p.d.Size, p.d.Digest)
		}
		if err != nil && err != io.EOF {
			return p.have - start, err
		}
	}
	return p.have - start, nil
}

// commit flushes the verified blob and renames it into blobs/.
func (p *partialBlob) commit(l *imageLayout) error {
	final := l.blobPath(p.d.Digest)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if err := p.f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(p.f.Name(), final); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
