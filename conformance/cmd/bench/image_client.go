package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// The image operations of a client child, one whole image at a time:
//
//   - image-pull: the image at addr/repo:tag, every platform, into a new
//     OCI layout at dir;
//   - image-push: the image tagged tag in the OCI layout at dir to
//     addr/repo:tag;
//   - image-copy: addr/repo:tag to addr2/repo2:tag, registry to registry
//     with no local copy; addr2 may be addr (a copy within one registry).
//
// Every client runs with its own defaults (concurrency included) and
// reports the digest of the index it handled.

func isImageOp(op string) bool { return strings.HasPrefix(op, "image-") }

func prepareImage(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	switch a.client {
	case "azacr":
		return prepareAzacrImage(ctx, a, tr)
	case "oras":
		return prepareOrasImage(ctx, a, tr)
	case "ggcr":
		return prepareGgcrImage(ctx, a, tr)
	case limitClient:
		return prepareLimitImage(ctx, a, tr)
	}
	return nil, fmt.Errorf("%s: no image operations", a.client)
}

// oras-go v2: oras.Copy between an oci.Store and a remote.Repository, or
// between two repositories.
func prepareOrasImage(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	// One client for both ends, as auth.DefaultClient would be.
	client := &auth.Client{Client: &http.Client{Transport: retry.NewTransport(tr)}, Cache: auth.NewCache()}
	repo := func(addr, path string) (*orasremote.Repository, error) {
		r, err := orasremote.NewRepository(addr + "/" + path)
		if err != nil {
			return nil, err
		}
		r.PlainHTTP, r.Client = !a.tls, client
		return r, nil
	}
	done := func(d ocispec.Descriptor, err error) (opResult, error) {
		return opResult{Digest: d.Digest.String()}, err
	}
	switch a.op {
	case "image-pull":
		src, err := repo(a.addr, a.repo)
		if err != nil {
			return nil, err
		}
		return func() (opResult, error) {
			dst, err := oci.New(a.dir)
			if err != nil {
				return opResult{}, err
			}
			return done(oras.Copy(ctx, src, a.tag, dst, a.tag, oras.DefaultCopyOptions))
		}, nil
	case "image-push":
		dst, err := repo(a.addr, a.repo)
		if err != nil {
			return nil, err
		}
		return func() (opResult, error) {
			// Read-only: the layout is shared by every run.
			src, err := oci.NewFromFS(ctx, os.DirFS(a.dir))
			if err != nil {
				return opResult{}, err
			}
			return done(oras.Copy(ctx, src, a.tag, dst, a.tag, oras.DefaultCopyOptions))
		}, nil
	case "image-copy":
		src, err := repo(a.addr, a.repo)
		if err != nil {
			return nil, err
		}
		dst, err := repo(a.addr2, a.repo2)
		if err != nil {
			return nil, err
		}
		opts := oras.DefaultCopyOptions
		if a.addr2 == a.addr {
			// oras-go mounts only when told where from; within one
			// registry the source repository is the obvious candidate.
			opts.MountFrom = func(context.Context, ocispec.Descriptor) ([]string, error) { return []string{a.repo}, nil }
		}
		return func() (opResult, error) {
			return done(oras.Copy(ctx, src, a.tag, dst, a.tag, opts))
		}, nil
	}
	return nil, fmt.Errorf("oras: unknown op %q", a.op)
}

// go-containerregistry: remote.Index with layout.AppendIndex to pull,
// layout.ImageIndex with remote.WriteIndex to push, and for a copy what
// crane.Copy does (a Puller's Get handed to a Pusher's Push), which mounts
// the layers itself when both ends are one registry.
func prepareGgcrImage(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	// Over TLS, ggcr must be given a host name in the test certificate
	// (it speaks plain HTTP to 127.0.0.1): example.com, dialled to
	// loopback on the same port, which keeps two registries apart.
	host := func(addr string) string { return addr }
	if a.tls {
		host = func(addr string) string {
			_, port, _ := net.SplitHostPort(addr)
			return "example.com:" + port
		}
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		}
	}
	opts := []remote.Option{remote.WithTransport(tr), remote.WithContext(ctx)}
	// ref is addr/repo:tag: what a pull or copy reads, what a push writes.
	ref, err := name.NewTag(host(a.addr) + "/" + a.repo + ":" + a.tag)
	if err != nil {
		return nil, err
	}
	switch a.op {
	case "image-pull":
		return func() (opResult, error) {
			idx, err := remote.Index(ref, opts...)
			if err != nil {
				return opResult{}, err
			}
			p, err := layout.Write(a.dir, empty.Index)
			if err != nil {
				return opResult{}, err
			}
			if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{ocispec.AnnotationRefName: a.tag})); err != nil {
				return opResult{}, err
			}
			d, err := idx.Digest()
			return opResult{Digest: d.String()}, err
		}, nil
	case "image-push":
		return func() (opResult, error) {
			p, err := layout.FromPath(a.dir)
			if err != nil {
				return opResult{}, err
			}
			top, err := p.ImageIndex()
			if err != nil {
				return opResult{}, err
			}
			im, err := top.IndexManifest()
			if err != nil {
				return opResult{}, err
			}
			for _, d := range im.Manifests {
				if d.Annotations[ocispec.AnnotationRefName] != a.tag {
					continue
				}
				idx, err := top.ImageIndex(d.Digest)
				if err != nil {
					return opResult{}, err
				}
				return opResult{Digest: d.Digest.String()}, remote.WriteIndex(ref, idx, opts...)
			}
			return opResult{}, fmt.Errorf("ggcr: no %q in the layout's index.json", a.tag)
		}, nil
	case "image-copy":
		dst, err := name.NewTag(host(a.addr2) + "/" + a.repo2 + ":" + a.tag)
		if err != nil {
			return nil, err
		}
		puller, err := remote.NewPuller(opts...)
		if err != nil {
			return nil, err
		}
		pusher, err := remote.NewPusher(opts...)
		if err != nil {
			return nil, err
		}
		return func() (opResult, error) {
			desc, err := puller.Get(ctx, ref)
			if err != nil {
				return opResult{}, err
			}
			return opResult{Digest: desc.Digest.String()}, pusher.Push(ctx, dst, desc)
		}, nil
	}
	return nil, fmt.Errorf("ggcr: unknown op %q", a.op)
}
