package azacr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// The parallel download: ranged GETs of one blob by several workers,
// written where they belong and hashed in order.

// downloadPlan is how a parallel download splits a blob into blocks.
type downloadPlan struct {
	size      int64 // the blob's size
	blockSize int64
	blocks    int // ranged GETs, the first included
	buffers   int // block buffers, the first block's included
}

// planDownload splits a blob of size bytes, as announced by the registry,
// into blocks of blockSize for concurrency workers. An absurd size (more
// than 1 PiB, or more blocks than an int counts) is a lying answer: it is
// refused with ErrSizeMismatch rather than overflow the block count. The
// options are checked again here, so that the plan is bounded whoever
// calls it.
func planDownload(size, blockSize int64, concurrency int) (downloadPlan, error) {
	if err := checkBlockSize(blockSize); err != nil {
		return downloadPlan{}, err
	}
	if err := checkConcurrency(concurrency); err != nil {
		return downloadPlan{}, err
	}
	if size <= 0 || size > maxBlobSize {
		return downloadPlan{}, fmt.Errorf("%w: the registry announced a blob of %d bytes, not between 1 and the %d this client accepts", ErrSizeMismatch, size, int64(maxBlobSize))
	}
	blocks := size / blockSize // no size+blockSize-1: it could overflow
	if size%blockSize != 0 {
		blocks++
	}
	if blocks > math.MaxInt {
		return downloadPlan{}, fmt.Errorf("%w: a blob of %d bytes has too many blocks of %d to count", ErrSizeMismatch, size, blockSize)
	}
	return downloadPlan{
		size:      size,
		blockSize: blockSize,
		blocks:    int(blocks),
		buffers:   int(min(int64(concurrency)+2, blocks)),
	}, nil
}

// block returns the offset and length of block i.
func (p downloadPlan) block(i int) (off, n int64) {
	off = int64(i) * p.blockSize
	return off, min(p.blockSize, p.size-off)
}

// block is one range of a parallel download.
type block struct {
	index int
	buf   []byte
	err   error
}

// parallelDownload is one DownloadBlob with Concurrency above one. Four
// parts cooperate, each waiting on ctx as well as on its channel: the
// feeder hands out blocks in order as buffers free up; the workers fetch
// and write them; the caller's goroutine reads the first block and hashes
// every block in order; buffers go back to the pool once hashed. The pool
// (Concurrency+2 buffers, never more than blocks) bounds how far fetching
// runs ahead of hashing, and so the memory.
type parallelDownload struct {
	c            *BlobClient
	ctx          context.Context
	cancel       context.CancelFunc
	name, digest string
	w            io.WriterAt
	opts         BlobClientDownloadBlobOptions
	plan         downloadPlan
	d            *digester

	pool    chan []byte
	jobs    chan block
	results chan block
	wg      sync.WaitGroup
	written int64
	// first is block 0's budget, spent by its first GET and by resuming
	// that GET's body alike.
	first *rangeBudget
}

// downloadParallel sizes the blob from the first block's Content-Range
// (no HEAD) and starts the workers on the other blocks as soon as that
// header arrives, while the first block's body is still being read.
//
// Every goroutine started here has ended when it returns: when the caller
// cancels, or a block fails, the workers' GETs fail, the feeder stops
// handing out blocks, and the hashing stops waiting for results that may
// then never come.
func (c *BlobClient) downloadParallel(ctx context.Context, name, digest string, w io.WriterAt, opts BlobClientDownloadBlobOptions) (int64, error) {
	d, err := newDigester(digest)
	if err != nil {
		return 0, err
	}
	// Cancelled on return, or on the first failure: it stops the first
	// block's GET as well as the workers'.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := &parallelDownload{c: c, ctx: ctx, cancel: cancel, name: name, digest: digest, w: w, opts: opts, d: d}
	head, firstLast, err := p.start()
	if errors.Is(err, errNoRanges) {
		// No range to split: an empty blob (416), or a server that ignores
		// Range (200). One streaming GET does it, with what is left of the
		// budget.
		opts.MaxRetries = p.first.left
		return c.downloadStream(ctx, name, digest, w, opts)
	}
	if err != nil {
		return 0, err
	}
	p.startWorkers()
	err = p.readFirst(head, firstLast)
	if err == nil {
		err = p.hashInOrder()
	}
	// First error wins: stop the feeder and the workers before returning,
	// so no goroutine outlives the call.
	p.cancel()
	p.wg.Wait()
	if err != nil {
		return p.written, err
	}
	if !p.d.Matches(digest) {
		return p.written, &DigestMismatchError{Expected: digest, Actual: p.d.Digest()}
	}
	return p.written, nil
}

// errNoRanges says the registry does not split this blob into ranges.
var errNoRanges = errors.New("azacr: no ranges")

// start sends the first block's GET and plans the download from its
// Content-Range. The size comes from the registry: it is checked before it
// decides how many blocks, buffers and workers there are.
func (p *parallelDownload) start() (*http.Response, int64, error) {
	p.first = &rangeBudget{left: p.opts.MaxRetries}
	head, err := p.c.getRangeRetrying(p.ctx, p.name, p.digest, 0, p.opts.BlockSize-1, p.first)
	var re *azcore.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusOK || re.StatusCode == http.StatusRequestedRangeNotSatisfiable) {
		return nil, 0, errNoRanges
	}
	if err != nil {
		return nil, 0, err
	}
	firstLast, size, err := checkContentRange(head.Header.Get("Content-Range"), 0, p.opts.BlockSize-1)
	if err == nil {
		p.plan, err = planDownload(size, p.opts.BlockSize, p.opts.Concurrency)
	}
	if err != nil {
		head.Body.Close()
		return nil, 0, err
	}
	return head, firstLast, nil
}

// startWorkers makes the pool, less the first block's buffer (which joins
// once that block is hashed), and starts the feeder and the workers.
func (p *parallelDownload) startWorkers() {
	p.pool = make(chan []byte, p.plan.buffers)
	for len(p.pool) < p.plan.buffers-1 {
		p.pool <- make([]byte, p.opts.BlockSize)
	}
	p.jobs = make(chan block)
	p.results = make(chan block, p.plan.buffers)
	for range min(p.opts.Concurrency, p.plan.blocks-1) {
		p.wg.Go(p.work)
	}
	p.wg.Go(p.feed)
}

// feed hands out blocks 1 to the last, in order, each once a buffer is
// free.
func (p *parallelDownload) feed() {
	defer close(p.jobs)
	for i := 1; i < p.plan.blocks; i++ {
		var buf []byte
		select {
		case buf = <-p.pool:
		case <-p.ctx.Done():
			return
		}
		select {
		case p.jobs <- block{index: i, buf: buf[:cap(buf)]}:
		case <-p.ctx.Done():
			return
		}
	}
}

// work fetches blocks and writes each where it belongs.
func (p *parallelDownload) work() {
	for b := range p.jobs {
		off, n := p.plan.block(b.index)
		var got int
		got, b.err = p.c.fetchBlock(p.ctx, p.name, p.digest, off, b.buf[:n], 0, p.plan.size, &rangeBudget{left: p.opts.MaxRetries})
		b.buf = b.buf[:got]
		if b.err == nil {
			_, b.err = p.w.WriteAt(b.buf, off)
		}
		select {
		case p.results <- b:
		case <-p.ctx.Done():
			return // the hashing has stopped reading results
		}
	}
}

// readFirst reads, writes and hashes block 0 from the first GET, resuming
// it when its body breaks.
func (p *parallelDownload) readFirst(head *http.Response, firstLast int64) error {
	first := make([]byte, firstLast+1)
	n, err := io.ReadFull(head.Body, first)
	head.Body.Close()
	if err != nil {
		if cerr := p.ctx.Err(); cerr != nil {
			return cerr
		}
		if p.first.left <= 0 {
			return incompleteError(fmt.Sprintf("bytes 0-%d of blob %s", firstLast, p.digest), int64(n), int64(len(first)), p.first.gets, err, nil)
		}
		// Resuming the first GET's body spends its budget's retry.
		p.first.left--
		if n, err = p.c.fetchBlock(p.ctx, p.name, p.digest, 0, first, n, p.plan.size, p.first); err != nil {
			return err
		}
	}
	p.d.Write(first)
	if _, err := p.w.WriteAt(first, 0); err != nil {
		return err
	}
	p.written = int64(n)
	p.opts.Progress(p.written, p.plan.size)
	if int64(len(first)) == p.opts.BlockSize {
		p.recycle(first)
	}
	return nil
}

// hashInOrder hashes blocks 1 to the last in order as the workers finish
// them, out of order, and recycles their buffers.
func (p *parallelDownload) hashInOrder() error {
	pending := map[int]block{}
	for next := 1; next < p.plan.blocks; {
		// A cancellation (Progress may be what cancelled) ends the loop
		// even when results are ready.
		if err := p.ctx.Err(); err != nil {
			return err
		}
		select {
		case b := <-p.results:
			if b.err != nil {
				return b.err
			}
			pending[b.index] = b
		case <-p.ctx.Done():
			return p.ctx.Err()
		}
		for pb, ok := pending[next]; ok && p.ctx.Err() == nil; pb, ok = pending[next] {
			delete(pending, next)
			p.d.Write(pb.buf)
			p.written += int64(len(pb.buf))
			p.opts.Progress(p.written, p.plan.size)
			p.recycle(pb.buf)
			next++
		}
	}
	// Cancelled after the last block: the call still ends with the
	// context's error, as a streaming download does.
	return p.ctx.Err()
}

// recycle returns a buffer to the pool. Only the hashing goroutine puts
// buffers back, and there are never more than the pool holds, so it
// never waits.
func (p *parallelDownload) recycle(buf []byte) {
	select {
	case p.pool <- buf:
	default:
	}
}
