package azacr

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// CopyImage copies the image that reference (a tag or digest) names in
// repository name to repository targetName of target's registry, tagged
// targetTag ("" copies it by digest only). target may be c itself.
//
// Within one registry, every blob is mounted: one request per blob and
// no blob bytes. Between registries, blobs stream from the source's
// responses into the target's requests, checked against their digests on
// the way, touching neither disk nor more memory than a few buffers per
// blob in flight, whatever the blob sizes.
// Content goes children first and the tag last. When the target already
// has the image under targetTag, CopyImage costs two requests (read the
// source's manifest, ask the target for the tag) and sends nothing
// (UpToDate), unless options.Repair or options.Referrers.
func (c *ContainerRegistryClient) CopyImage(ctx context.Context, name string, reference string, target *ContainerRegistryClient, targetName string, targetTag string, options *ContainerRegistryClientCopyImageOptions) (resp ContainerRegistryClientCopyImageResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.CopyImage", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if options == nil {
		options = &ContainerRegistryClientCopyImageOptions{}
	}
	if target == nil {
		return resp, errNoTarget
	}
	if err = validateRepositoryReference(name, reference); err != nil {
		return resp, err
	}
	if err = validateRepositoryOptionalTag(targetName, targetTag); err != nil {
		return resp, err
	}
	opts, err := newImageOptions(options.Concurrency, options.Platforms, options.Referrers, options.ReferrerArtifactTypes, options.Progress)
	if err != nil {
		return resp, err
	}
	src, dst := newRegistryRepo(c, name), newRegistryRepo(target, targetName)
	chunkSize, err := checkChunkSize(options.ChunkSize)
	if err != nil {
		return resp, err
	}
	dst.chunkSize.Store(chunkSize)
	if sameRegistry(c, target) {
		dst.mountFrom = name
	}
	t := newImageTransfer(src, dst, opts)
	root, data, err := src.root(ctx, reference)
	if err == nil {
		root, data, err = t.choosePlatform(ctx, root, data)
	}
	if err != nil {
		return resp, err
	}
	if !options.Repair && !options.Referrers {
		if resp.UpToDate, err = dst.tagged(ctx, targetTag, root.Digest); err != nil || resp.UpToDate {
			resp.Digest, resp.MediaType = root.Digest, root.MediaType
			return resp, err
		}
	}
	res, err := t.run(ctx, root, data, targetTag)
	if err != nil {
		return resp, err
	}
	return ContainerRegistryClientCopyImageResponse{Digest: res.root.Digest, MediaType: res.root.MediaType,
		Manifests: res.manifests, Blobs: res.blobs, BytesTransferred: res.moved}, nil
}

// sameRegistry reports whether two clients talk to one registry, where
// blobs can be mounted from one repository into another.
func sameRegistry(a, b *ContainerRegistryClient) bool {
	return a.endpoint.Scheme == b.endpoint.Scheme && endpointService(a.endpoint) == endpointService(b.endpoint)
}
