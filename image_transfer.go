package azacr

// The engine under PullImage, PushImage and CopyImage: a source and a
// target of content (a registry repository or a layout), a plan of what
// the image is (every manifest, every blob), and the transfer itself:
// blobs first, all at once within one concurrency budget, then manifests,
// children before parents, the root last but for its referrers.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// ErrPlatformNotFound is wrapped by the error of a transfer whose
// Platforms option asks for a platform the image does not have. The
// message lists the platforms it has.
var ErrPlatformNotFound = errors.New("azacr: platform not found")

// DefaultImageConcurrency is how many blobs and manifests a whole-image
// transfer moves at once unless told otherwise.
const DefaultImageConcurrency = 6

// DefaultImageChunkSize is the size of the upload requests of PushImage and
// CopyImage unless told otherwise: 16 MiB, under the request bodies of
// about 20 MB that ACR has been seen to refuse, and four times fewer round
// trips than DefaultChunkSize. The bytes stream from their source into
// each request, so the size costs no memory. A registry that refuses it
// (413) gets half, for the rest of the transfer.
const DefaultImageChunkSize = 16 << 20

// maxImageManifestBytes bounds the manifests of one transfer together:
// they are all read, and held, before any blob moves. Images have
// kilobytes of them; 4 MiB each times thousands would be gigabytes.
const maxImageManifestBytes = 64 << 20

// maxImageManifests bounds the manifests one transfer follows (platforms,
// referrers, referrers of referrers): a registry that keeps answering
// with more cannot make the client walk forever.
const maxImageManifests = 10000

// imageSource is where an image is read from.
type imageSource interface {
	// manifest returns the manifest d describes, verified against d.
	manifest(ctx context.Context, d Descriptor) ([]byte, error)
	// blob returns d's bytes; reading them to the end checks them
	// against d.
	blob(ctx context.Context, d Descriptor) (io.ReadCloser, error)
	// blobRange returns n of d's bytes from offset off, unchecked: the
	// caller hashes them itself.
	blobRange(ctx context.Context, d Descriptor, off, n int64) (io.ReadCloser, error)
	// referrers lists the manifests whose subject is d.
	referrers(ctx context.Context, d Descriptor) ([]Descriptor, error)
}

// imageTarget is where an image is written to.
type imageTarget interface {
	// localManifest returns d's manifest when the target holds it and can
	// tell without a request (a layout); a registry says false.
	localManifest(d Descriptor) ([]byte, bool)
	// putBlob stores d from src unless the target has it; it returns the
	// bytes it moved.
	putBlob(ctx context.Context, d Descriptor, src imageSource, progress func(int64)) (int64, error)
	// putManifest stores a manifest (its children are there), under ref
	// when ref is a tag.
	putManifest(ctx context.Context, d Descriptor, data []byte, ref string) error
}

// imageOptions is what PullImage, PushImage and CopyImage share.
type imageOptions struct {
	concurrency   int
	platforms     []platformFilter
	referrers     bool
	artifactTypes []string
	progress      func(ImageProgress)
}

// newImageOptions checks the options the three calls share.
func newImageOptions(concurrency int, platforms []string, referrers bool, artifactTypes []string, progress func(ImageProgress)) (imageOptions, error) {
	o := imageOptions{concurrency: concurrency, referrers: referrers, artifactTypes: artifactTypes, progress: progress}
	if err := checkConcurrency(concurrency); err != nil {
		return o, err
	}
	if o.concurrency == 0 {
		o.concurrency = DefaultImageConcurrency
	}
	var err error
	o.platforms, err = parsePlatforms(platforms)
	return o, err
}

// manifestNode is one manifest of the image.
type manifestNode struct {
	desc      Descriptor
	data      []byte
	refs      manifestRefs
	children  []*manifestNode // an index's manifests
	referrers []*manifestNode
	present   bool // the target holds it (a layout), with all it refers to
}

// imageTransfer is one PullImage, PushImage or CopyImage under way.
type imageTransfer struct {
	src    imageSource
	dst    imageTarget
	opts   imageOptions
	budget *throttle // one slot per request under way
	report *progressReporter

	// mu guards the walk: nodes by digest, the parents waiting for a
	// manifest being fetched, and every node's children and referrers.
	mu            sync.Mutex
	nodes         map[string]*manifestNode
	pending       map[string][]func(*manifestNode)
	manifestBytes int64 // of every node: the plan holds them all
}

func newImageTransfer(src imageSource, dst imageTarget, opts imageOptions) *imageTransfer {
	return &imageTransfer{
		src: src, dst: dst, opts: opts,
		budget:  newThrottle(opts.concurrency),
		report:  &progressReporter{fn: opts.progress, done: map[string]int64{}},
		nodes:   map[string]*manifestNode{},
		pending: map[string][]func(*manifestNode){},
	}
}

// transferResult is what a transfer did.
type transferResult struct {
	root      Descriptor
	manifests int
	blobs     int
	moved     int64        // blob bytes sent or received
	referrers []Descriptor // the manifests that refer to others
}

// run transfers the image whose root manifest is root (data, verified;
// the platform chosen, see choosePlatform) and tags it ref on the target
// ("" for none).
func (t *imageTransfer) run(ctx context.Context, root Descriptor, data []byte, ref string) (transferResult, error) {
	ctx, cancel := context.WithCancel(withThrottle(ctx, t.budget))
	defer cancel()
	if data == nil {
		// A platform chosen from an index, not read yet (see choosePlatform).
		var err error
		if data, err = t.fetchManifest(ctx, root); err != nil {
			return transferResult{}, err
		}
	}
	node, err := t.walk(ctx, root, data)
	if err != nil {
		return transferResult{}, err
	}
	order := postOrder(node)
	blobs, err := distinctBlobs(order)
	if err != nil {
		return transferResult{}, err
	}
	t.report.total = sizeOf(order, blobs)
	res := transferResult{root: node.desc, manifests: len(order), blobs: countBlobs(order)}
	for _, n := range order {
		for _, r := range n.referrers {
			res.referrers = append(res.referrers, r.desc)
		}
	}
	moved, err := t.putBlobs(ctx, blobs)
	res.moved += moved
	if err != nil {
		return res, err
	}
	for _, level := range manifestLevels(order) {
		if err := t.putManifests(ctx, level, node, ref); err != nil {
			return res, err
		}
	}
	return res, nil
}

// putManifests stores a level of manifests, all at once within the budget.
func (t *imageTransfer) putManifests(ctx context.Context, level []*manifestNode, root *manifestNode, ref string) error {
	errs := make([]error, len(level))
	var wg sync.WaitGroup
	for i, n := range level {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.putManifest(ctx, n, root, ref)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// manifestLevels groups the manifests (in post-order) so that each level
// needs only the levels before it: an index after its manifests, a
// referrer after its subject. The root comes last of its tree, so its tag
// moves only once everything under it is stored.
func manifestLevels(order []*manifestNode) [][]*manifestNode {
	height := map[*manifestNode]int{}
	var levels [][]*manifestNode
	for _, n := range order {
		h := height[n] // at least one past a subject, set below
		for _, c := range n.children {
			h = max(h, height[c]+1)
		}
		height[n] = h
		for _, r := range n.referrers {
			height[r] = max(height[r], h+1)
		}
		for len(levels) <= h {
			levels = append(levels, nil)
		}
		levels[h] = append(levels[h], n)
	}
	return levels
}

// putManifest stores n on the target, the root under ref.
func (t *imageTransfer) putManifest(ctx context.Context, n, root *manifestNode, ref string) error {
	if !n.present || n == root && ref != "" {
		r := ""
		if n == root {
			r = ref
		}
		if err := t.acquire(ctx); err != nil {
			return err
		}
		err := t.dst.putManifest(ctx, n.desc, n.data, r)
		t.release()
		if err != nil {
			return fmt.Errorf("azacr: storing manifest %s: %w", n.desc.Digest, err)
		}
	}
	t.report.add("manifest "+n.desc.Digest, n.desc, n.desc.Size)
	return nil
}

// putBlobs stores every blob, as many at once as the budget allows; the
// first failure cancels the others.
func (t *imageTransfer) putBlobs(ctx context.Context, blobs []Descriptor) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		moved    int64
		firstErr error
	)
	for _, d := range blobs {
		if err := t.budget.acquireFor(ctx, d.Size); err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer t.release()
			n, err := t.dst.putBlob(ctx, d, t.src, func(done int64) { t.report.add("blob "+d.Digest, d, done) })
			mu.Lock()
			defer mu.Unlock()
			moved += n
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("azacr: transferring blob %s: %w", d.Digest, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return moved, firstErr
}

func (t *imageTransfer) acquire(ctx context.Context) error { return t.budget.acquire(ctx) }

func (t *imageTransfer) release() { t.budget.release() }

// postOrder lists the manifests under root, each once: children before
// their parent, referrers after their subject.
func postOrder(root *manifestNode) []*manifestNode {
	var order []*manifestNode
	seen := map[string]bool{}
	var visit func(n *manifestNode)
	visit = func(n *manifestNode) {
		if seen[n.desc.Digest] {
			return
		}
		seen[n.desc.Digest] = true
		for _, c := range n.children {
			visit(c)
		}
		order = append(order, n)
		for _, r := range n.referrers {
			visit(r)
		}
	}
	visit(root)
	return order
}

// distinctBlobs lists the blobs the manifests not yet on the target refer
// to, each once, largest first: a transfer takes at least as long as its
// largest blob, so that one starts at once, and the small ones fill the
// budget around it. Two descriptors of one blob must agree on its size:
// only one of them would be checked.
func distinctBlobs(order []*manifestNode) ([]Descriptor, error) {
	var blobs []Descriptor
	seen := map[string]int64{}
	for _, n := range order {
		for _, b := range n.refs.blobs {
			size, ok := seen[b.Digest]
			if ok && size != b.Size {
				return nil, fmt.Errorf("%w: manifests give blob %s sizes of %d and %d bytes", ErrSizeMismatch, b.Digest, size, b.Size)
			}
			seen[b.Digest] = b.Size
			if !ok && !n.present {
				blobs = append(blobs, b)
			}
		}
	}
	slices.SortStableFunc(blobs, func(a, b Descriptor) int { return cmp.Compare(b.Size, a.Size) })
	return blobs, nil
}

// countBlobs is how many distinct blobs the image has, on the target
// already or not.
func countBlobs(order []*manifestNode) int {
	seen := map[string]bool{}
	for _, n := range order {
		for _, b := range n.refs.blobs {
			seen[b.Digest] = true
		}
	}
	return len(seen)
}

// sizeOf is the bytes of a transfer: its blobs and manifests.
func sizeOf(order []*manifestNode, blobs []Descriptor) int64 {
	var n int64
	for _, m := range order {
		n += m.desc.Size
	}
	for _, b := range blobs {
		n += b.Size
	}
	return n
}

// progressReporter adds up a transfer's progress and calls the caller's
// callback, one call at a time.
type progressReporter struct {
	fn    func(ImageProgress)
	mu    sync.Mutex
	total int64
	sum   int64
	done  map[string]int64
}

// add records that done bytes of d are transferred. key tells a blob from
// a manifest of the same bytes.
func (r *progressReporter) add(key string, d Descriptor, done int64) {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum += done - r.done[key]
	r.done[key] = done
	r.fn(ImageProgress{Descriptor: d, Transferred: done, TotalTransferred: r.sum, Total: r.total})
}
