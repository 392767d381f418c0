package azacr

// Planning a transfer: from the root manifest, every manifest of the
// image (platforms, referrers when asked), fetched concurrently within the
// transfer's budget, before any blob moves. Manifests are small; knowing
// them all first gives the progress callback its total and lets the blobs
// of every platform share the budget, so an index takes about as long as
// its largest platform.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// walk builds the manifest tree under root (data is its verified bytes).
func (t *imageTransfer) walk(ctx context.Context, root Descriptor, data []byte) (*manifestNode, error) {
	node, err := t.newNode(root, data)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &planWalk{t: t, cancel: cancel}
	w.expand(ctx, node)
	w.wg.Wait()
	if w.err != nil {
		return nil, w.err
	}
	return node, ctx.Err()
}

// choosePlatform applies the Platforms option to the root: an index
// becomes the one manifest chosen (digest unchanged; its data nil, for run
// to read) or an index of the several chosen; a single image must be of a
// platform asked for.
func (t *imageTransfer) choosePlatform(ctx context.Context, root Descriptor, data []byte) (Descriptor, []byte, error) {
	if len(t.opts.platforms) == 0 {
		return root, data, nil
	}
	refs, err := parseManifest(root.MediaType, data)
	if err != nil {
		return root, nil, err
	}
	if refs.kind == kindImageManifest {
		return root, data, t.checkImagePlatform(ctx, *refs.config)
	}
	if refs.kind != kindImageIndex {
		return root, nil, fmt.Errorf("%w: Platforms applies to images and indexes, and %s is %s", ErrPlatformNotFound, root.Digest, refs.kind)
	}
	chosen, err := choosePlatforms(refs.manifests, t.opts.platforms)
	if err != nil {
		return root, nil, err
	}
	if len(chosen) == 1 {
		// Read later, by run: a target that has it already under the tag
		// needs it not at all.
		return chosen[0], nil, nil
	}
	if data, err = subsetIndex(data, chosen); err != nil {
		return root, nil, err
	}
	return Descriptor{MediaType: manifestMediaType(root, refs), Digest: ComputeDigest(data), Size: int64(len(data))}, data, nil
}

// checkImagePlatform reads an image's config and refuses the image when
// it is not of a platform asked for.
func (t *imageTransfer) checkImagePlatform(ctx context.Context, config Descriptor) error {
	if config.Size > MaxManifestSize {
		return fmt.Errorf("%w: the image config is %d bytes", ErrManifestTooLarge, config.Size)
	}
	body, err := t.src.blob(ctx, config)
	if err != nil {
		return err
	}
	defer body.Close()
	data, err := readAllLimited(body, config.Size)
	if err != nil {
		return err
	}
	var c imageConfigPlatform
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("azacr: the image config does not parse: %w", err)
	}
	p := &Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant}
	if !slices.ContainsFunc(t.opts.platforms, func(f platformFilter) bool { return f.matches(p) }) {
		return fmt.Errorf("%w: the image is a single image for %s", ErrPlatformNotFound, platformString(p))
	}
	return nil
}

// fetchManifest reads d's manifest: from the target when it holds it,
// else from the source, within the budget.
func (t *imageTransfer) fetchManifest(ctx context.Context, d Descriptor) ([]byte, error) {
	if data, ok := t.dst.localManifest(d); ok {
		return data, nil
	}
	if err := t.acquire(ctx); err != nil {
		return nil, err
	}
	defer t.release()
	return t.src.manifest(ctx, d)
}

// newNode registers the manifest d (data verified) in the tree and
// attaches it to the parents that reached it.
func (t *imageTransfer) newNode(d Descriptor, data []byte) (*manifestNode, error) {
	refs, err := parseManifest(d.MediaType, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Digest, err)
	}
	d.MediaType = manifestMediaType(d, refs)
	_, present := t.dst.localManifest(d)
	n := &manifestNode{desc: d, data: data, refs: refs, present: present}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.nodes) >= maxImageManifests {
		return nil, fmt.Errorf("azacr: the image has more than %d manifests", maxImageManifests)
	}
	if t.manifestBytes += int64(len(data)); t.manifestBytes > maxImageManifestBytes {
		return nil, fmt.Errorf("%w: the image's manifests together pass %d MiB", ErrResponseTooLarge, maxImageManifestBytes>>20)
	}
	t.nodes[d.Digest] = n
	for _, attach := range t.pending[d.Digest] {
		attach(n)
	}
	delete(t.pending, d.Digest)
	return n, nil
}

// planWalk is the concurrent walk of plan.
type planWalk struct {
	t      *imageTransfer
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

func (w *planWalk) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		w.cancel()
	}
}

// expand walks what n leads to: an index's manifests, and with the
// Referrers option the manifests that refer to n.
func (w *planWalk) expand(ctx context.Context, n *manifestNode) {
	for _, d := range n.refs.manifests {
		w.follow(ctx, d, nil, func(c *manifestNode) { n.children = append(n.children, c) })
	}
	if !w.t.opts.referrers {
		return
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		refs, err := w.t.listReferrers(ctx, n.desc)
		if err != nil {
			w.fail(fmt.Errorf("azacr: listing the referrers of %s: %w", n.desc.Digest, err))
			return
		}
		for _, d := range refs {
			w.follow(ctx, d, w.t.refersTo(n.desc), func(c *manifestNode) { n.referrers = append(n.referrers, c) })
		}
	}()
}

// follow fetches the manifest d on another goroutine, attaches it to its
// parent with attach and expands it; when check is set, only if check
// keeps it. A manifest already reached is only attached: every parent
// links to it, so postOrder puts it before each.
func (w *planWalk) follow(ctx context.Context, d Descriptor, check func(*manifestNode) (bool, error), attach func(*manifestNode)) {
	if check != nil {
		inner := attach
		attach = func(c *manifestNode) {
			if keep, _ := check(c); keep {
				inner(c)
			}
		}
	}
	isNew, err := w.t.claim(d, attach)
	if err != nil {
		w.fail(err)
		return
	}
	if !isNew {
		return
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		data, err := w.t.fetchManifest(ctx, d)
		var c *manifestNode
		if err == nil {
			c, err = w.t.newNode(d, data)
		}
		if err == nil && check != nil {
			var keep bool
			if keep, err = check(c); !keep && err == nil {
				return // a referrer of another artifact type than asked
			}
		}
		if err != nil {
			w.fail(fmt.Errorf("azacr: reading manifest %s: %w", d.Digest, err))
			return
		}
		w.expand(ctx, c)
	}()
}

// refersTo checks a manifest listed as a referrer of subject: it must name
// subject as its subject (a registry's listing is not taken on trust), and
// be of an artifact type asked for, by what it says itself.
func (t *imageTransfer) refersTo(subject Descriptor) func(*manifestNode) (bool, error) {
	return func(c *manifestNode) (bool, error) {
		if c.refs.subject == nil || c.refs.subject.Digest != subject.Digest {
			return false, fmt.Errorf("%w: the registry lists %s as a referrer of %s, but its subject is not that", ErrUnexpectedManifest, c.desc.Digest, subject.Digest)
		}
		return len(t.opts.artifactTypes) == 0 || slices.Contains(t.opts.artifactTypes, c.refs.artifactType), nil
	}
}

// claim reports whether d is new to the walk, marking it seen, and has
// attach called with d's node: now if it is known, else once it is. The
// walk ends, with an error, past maxImageManifests, before anything more
// is fetched.
func (t *imageTransfer) claim(d Descriptor, attach func(*manifestNode)) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := t.nodes[d.Digest]; n != nil {
		attach(n)
		return false, nil
	}
	_, walking := t.pending[d.Digest]
	if !walking && len(t.nodes)+len(t.pending) >= maxImageManifests {
		return false, fmt.Errorf("azacr: the image has more than %d manifests", maxImageManifests)
	}
	t.pending[d.Digest] = append(t.pending[d.Digest], attach)
	return !walking, nil
}

// listReferrers lists d's referrers, keeping the artifact types asked for.
func (t *imageTransfer) listReferrers(ctx context.Context, d Descriptor) ([]Descriptor, error) {
	if err := t.acquire(ctx); err != nil {
		return nil, err
	}
	refs, err := t.src.referrers(ctx, d)
	t.release()
	if err != nil {
		return nil, err
	}
	if len(t.opts.artifactTypes) > 0 {
		refs = slices.DeleteFunc(refs, func(r Descriptor) bool { return !slices.Contains(t.opts.artifactTypes, r.ArtifactType) })
	}
	for _, r := range refs {
		if err := checkDescriptor(r); err != nil {
			return nil, err
		}
		if r.Size > MaxManifestSize {
			return nil, fmt.Errorf("%w: referrer %s has %d bytes", ErrManifestTooLarge, r.Digest, r.Size)
		}
	}
	return refs, nil
}
