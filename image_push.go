package azacr

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// PushImage uploads an image from the OCI image layout at dir to
// repository name and tags it tag ("" pushes it by digest only). The
// image is the index.json entry options.Reference names; without it, the
// entry named tag, else the only entry.
//
// Every blob and manifest read from the layout is checked against its
// digest and size, and content goes children first: blobs, then platform
// manifests, then the index, and the tag last, so a corrupt layout fails
// before the tag changes. A blob the repository has costs one request and
// no bytes. When the repository already has the image under tag, PushImage
// sends nothing more (UpToDate), unless options.Repair.
func (c *ContainerRegistryClient) PushImage(ctx context.Context, dir string, name string, tag string, options *ContainerRegistryClientPushImageOptions) (resp ContainerRegistryClientPushImageResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.PushImage", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if options == nil {
		options = &ContainerRegistryClientPushImageOptions{}
	}
	if err = validateRepositoryOptionalTag(name, tag); err != nil {
		return resp, err
	}
	opts, err := newImageOptions(options.Concurrency, nil, options.Referrers, options.ReferrerArtifactTypes, options.Progress)
	if err != nil {
		return resp, err
	}
	dst := newRegistryRepo(c, name)
	chunkSize, err := checkChunkSize(options.ChunkSize)
	if err != nil {
		return resp, err
	}
	dst.chunkSize.Store(chunkSize)
	l, err := openLayout(dir)
	if err != nil {
		return resp, err
	}
	root, err := pickLayoutImage(l, options.Reference, tag)
	if err != nil {
		return resp, err
	}
	src := &layoutEnd{l: l}
	data, err := src.manifest(ctx, root)
	if err != nil {
		return resp, err
	}
	if !options.Repair && !options.Referrers {
		if resp.UpToDate, err = dst.tagged(ctx, tag, root.Digest); err != nil || resp.UpToDate {
			resp.Digest, resp.MediaType = root.Digest, root.MediaType
			return resp, err
		}
	}
	res, err := newImageTransfer(src, dst, opts).run(ctx, root, data, tag)
	if err != nil {
		return resp, err
	}
	return ContainerRegistryClientPushImageResponse{Digest: res.root.Digest, MediaType: res.root.MediaType,
		Manifests: res.manifests, Blobs: res.blobs, BytesTransferred: res.moved}, nil
}

// pickLayoutImage finds the image to push in the layout's index.json.
func pickLayoutImage(l *imageLayout, reference, tag string) (Descriptor, error) {
	if reference != "" {
		return l.find(reference)
	}
	if tag != "" {
		if d, err := l.find(tag); err == nil {
			return d, nil
		}
	}
	idx, err := l.readIndex()
	if err != nil {
		return Descriptor{}, err
	}
	if len(idx.Manifests) != 1 {
		return Descriptor{}, fmt.Errorf("%w: index.json has %d entries (%s): set Reference to choose one", ErrInvalidLayout, len(idx.Manifests), describeEntries(idx.Manifests))
	}
	return idx.Manifests[0], nil
}

// validateRepositoryOptionalTag checks a repository name and a tag that may
// be "" (by digest only).
func validateRepositoryOptionalTag(name, tag string) error {
	if tag == "" {
		return ValidateRepository(name)
	}
	return validateRepositoryTag(name, tag)
}

// checkChunkSize validates an upload chunk size option and defaults it.
func checkChunkSize(n int64) (int64, error) {
	switch {
	case n == 0:
		return DefaultImageChunkSize, nil
	case n < 0 || n > MaxChunkSize:
		return 0, fmt.Errorf("%w: ChunkSize %d is not between 1 and %d (MaxChunkSize)", ErrInvalidOption, n, MaxChunkSize)
	}
	return n, nil
}

// errNoTarget is returned by CopyImage without a target client.
var errNoTarget = errors.New("azacr: CopyImage needs a target client (it may be the source client itself)")
