package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
)

// azacrImageReady says whether this build has azacr's image operations
// (PullImage, PushImage, CopyImage); without them -image leaves the azacr
// rows out.
const azacrImageReady = true

// prepareAzacrImage runs the image operations with azacr's
// ContainerRegistryClient, default options (concurrency and chunk size
// included). A copy has a client for each end; within one registry the
// two are alike, and CopyImage mounts the blobs.
func prepareAzacrImage(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	newClient := func(addr string) (*azacr.ContainerRegistryClient, error) {
		b := a
		b.addr = addr
		return azacr.NewContainerRegistryClient(b.endpoint(), nil, &azacr.ContainerRegistryClientOptions{
			ClientOptions: azcore.ClientOptions{Transport: sdkTransport(a, tr)},
		})
	}
	cl, err := newClient(a.addr)
	if err != nil {
		return nil, err
	}
	switch a.op {
	case "image-pull":
		return func() (opResult, error) {
			resp, err := cl.PullImage(ctx, a.repo, a.tag, a.dir, nil)
			return opResult{Digest: resp.Digest}, err
		}, nil
	case "image-push":
		return func() (opResult, error) {
			resp, err := cl.PushImage(ctx, a.dir, a.repo, a.tag, nil)
			return opResult{Digest: resp.Digest}, err
		}, nil
	case "image-copy":
		target, err := newClient(a.addr2)
		if err != nil {
			return nil, err
		}
		return func() (opResult, error) {
			resp, err := cl.CopyImage(ctx, a.repo, a.tag, target, a.repo2, a.tag, nil)
			return opResult{Digest: resp.Digest}, err
		}, nil
	}
	return nil, fmt.Errorf("azacr: unknown op %q", a.op)
}
