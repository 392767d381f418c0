package azacr

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// PullImage downloads the image that reference (a tag or digest) names in
// repository name into the OCI image layout at dir, created when absent
// and added to when it exists: the root manifest (an index, or one
// platform's manifest with options.Platforms), every manifest under it,
// their configs and layers, and with options.Referrers the artifacts that
// refer to them. index.json then lists the root, named reference when it
// is a tag.
//
// Every manifest and blob is checked against its digest and size as it
// arrives, and lands under its name in blobs/ only once checked and
// flushed to disk; index.json names the image only once all of it is
// there, and is replaced whole, under a lock, so concurrent pulls into one
// layout keep each other's entries. A pull interrupted at any moment, even
// by a kill, leaves a layout that opens; pulling again fetches only what
// is missing, continuing each partial blob from where it stopped.
//
// The image's blobs move concurrently, every platform's within one budget
// (options.Concurrency). A platform asked for and absent is an error
// wrapping ErrPlatformNotFound, never another platform.
func (c *ContainerRegistryClient) PullImage(ctx context.Context, name string, reference string, dir string, options *ContainerRegistryClientPullImageOptions) (resp ContainerRegistryClientPullImageResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.PullImage", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if options == nil {
		options = &ContainerRegistryClientPullImageOptions{}
	}
	if err = validateRepositoryReference(name, reference); err != nil {
		return resp, err
	}
	opts, err := newImageOptions(options.Concurrency, options.Platforms, options.Referrers, options.ReferrerArtifactTypes, options.Progress)
	if err != nil {
		return resp, err
	}
	l, err := createLayout(dir)
	if err != nil {
		return resp, err
	}
	if _, err = l.readIndex(); err != nil {
		return resp, err // refused now, not after the download
	}
	src := newRegistryRepo(c, name)
	t := newImageTransfer(src, &layoutEnd{l: l, verify: options.Repair, retry: c.retry}, opts)
	root, data, err := src.root(ctx, reference)
	if err == nil {
		root, data, err = t.choosePlatform(ctx, root, data)
	}
	if err != nil {
		return resp, err
	}
	res, err := t.run(ctx, root, data, "")
	if err != nil {
		return resp, err
	}
	entry := res.root
	if !isDigest(reference) {
		entry.Annotations = map[string]string{AnnotationRefName: reference}
	}
	if err = l.addToIndex(ctx, append([]Descriptor{entry}, res.referrers...)...); err != nil {
		return resp, err
	}
	return ContainerRegistryClientPullImageResponse{Digest: res.root.Digest, MediaType: res.root.MediaType,
		Manifests: res.manifests, Blobs: res.blobs, BytesTransferred: res.moved}, nil
}

// validateRepositoryReference checks a repository name and a tag or digest.
func validateRepositoryReference(name, reference string) error {
	if err := ValidateRepository(name); err != nil {
		return err
	}
	return ValidateReference(reference)
}
