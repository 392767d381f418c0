package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The limit row of -image is, as for -blob (limit.go), what the protocol
// and the link allow rather than a client: every request is one no client
// could skip, every byte one it must move, and nothing is hashed or
// verified (digests come from the layout or from the registry's
// Docker-Content-Digest).
//
//   - pull: GET the index by tag, each manifest and each blob once, and
//     write them into the layout;
//   - push: POST and one PUT with the whole body per blob, then a PUT per
//     manifest and the index by tag;
//   - copy to another registry: GET the manifests; per blob a POST on the
//     target and one PUT whose body is the source's GET, streamed; then
//     the manifest PUTs;
//   - copy within a registry: GET the manifests, one mount POST per blob
//     (no blob bytes move), the manifest PUTs.
//
// Blobs go limitImageConcurrency at a time, biggest first, so the biggest
// does not start last; manifests follow their blobs, the index its
// manifests, as the registry requires. The concurrency is azacr's
// default, so that the wall times of the two compare like for like (by
// default oras-go copies 3 at a time, go-containerregistry pushes 4).
const limitImageConcurrency = azacr.DefaultImageConcurrency

// limitAccept is what the limit asks the registry for by tag.
var limitAccept = ocispec.MediaTypeImageIndex + ", " + ocispec.MediaTypeImageManifest

// limitImage is the limit client's side of one image operation.
type limitImage struct {
	ctx    context.Context
	client *http.Client
	a      opArgs
}

func prepareLimitImage(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	l := &limitImage{ctx: ctx, client: &http.Client{Transport: tr}, a: a}
	switch a.op {
	case "image-pull":
		return l.pull, nil
	case "image-push":
		return l.push, nil
	case "image-copy":
		return l.copy, nil
	}
	return nil, fmt.Errorf("limit: unknown op %q", a.op)
}

func (l *limitImage) base(addr string) string {
	if l.a.tls {
		return "https://" + addr + "/v2/"
	}
	return "http://" + addr + "/v2/"
}

// do sends one request and fails unless the status is want; the caller
// closes the body.
func (l *limitImage) do(method, u string, body io.Reader, size int64, header http.Header, want int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(l.ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, fmt.Errorf("limit %s %s: %s: %s", method, req.URL.Path, resp.Status, bytes.TrimSpace(b))
	}
	return resp, nil
}

// drain reads what is left of a response and closes it, so its connection
// goes back to the pool.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// limitGraph is an image as read from its manifests: the raw manifests,
// with the descriptors of everything under them.
type limitGraph struct {
	root      ocispec.Descriptor
	rootRaw   []byte
	manifests []ocispec.Descriptor
	raws      [][]byte
	blobs     []ocispec.Descriptor
}

// getManifest GETs a manifest; its digest is the registry's header.
func (l *limitImage) getManifest(addr, repo, ref string) (ocispec.Descriptor, []byte, error) {
	resp, err := l.do(http.MethodGet, l.base(addr)+repo+"/manifests/"+ref, nil, 0, http.Header{"Accept": {limitAccept}}, http.StatusOK)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("limit GET manifest %s: %w", ref, err)
	}
	return ocispec.Descriptor{MediaType: resp.Header.Get("Content-Type"), Digest: d, Size: int64(len(raw))}, raw, nil
}

// fetchGraph reads the index by tag and its manifests from addr/repo.
func (l *limitImage) fetchGraph(addr, repo, tag string) (limitGraph, error) {
	var g limitGraph
	var err error
	if g.root, g.rootRaw, err = l.getManifest(addr, repo, tag); err != nil {
		return g, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(g.rootRaw, &idx); err != nil {
		return g, err
	}
	g.manifests = idx.Manifests
	g.raws = make([][]byte, len(idx.Manifests))
	err = forEachDesc(g.manifests, false, func(i int, d ocispec.Descriptor) error {
		_, raw, err := l.getManifest(addr, repo, d.Digest.String())
		g.raws[i] = raw
		return err
	})
	if err != nil {
		return g, err
	}
	return g, g.collectBlobs()
}

// collectBlobs lists the configs and layers of g's manifests, each once.
func (g *limitGraph) collectBlobs() error {
	seen := map[digest.Digest]bool{}
	for _, raw := range g.raws {
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
			if !seen[d.Digest] {
				seen[d.Digest] = true
				g.blobs = append(g.blobs, d)
			}
		}
	}
	return nil
}

// forEachDesc runs f on every descriptor, limitImageConcurrency at a time,
// biggest first when bySize; it returns the first error.
func forEachDesc(descs []ocispec.Descriptor, bySize bool, f func(int, ocispec.Descriptor) error) error {
	order := make([]int, len(descs))
	for i := range order {
		order[i] = i
	}
	if bySize {
		slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(descs[y].Size, descs[x].Size) })
	}
	next := make(chan int)
	errs := make(chan error, len(descs))
	var wg sync.WaitGroup
	for range min(limitImageConcurrency, len(descs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs <- f(i, descs[i])
			}
		}()
	}
	for _, i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	var first error
	for err := range errs {
		if first == nil {
			first = err
		}
	}
	return first
}

// putManifests PUTs the manifests by digest, then the index by tag.
func (l *limitImage) putManifests(addr, repo, tag string, g limitGraph) error {
	put := func(ref string, d ocispec.Descriptor, raw []byte) error {
		resp, err := l.do(http.MethodPut, l.base(addr)+repo+"/manifests/"+ref, bytes.NewReader(raw), int64(len(raw)),
			http.Header{"Content-Type": {d.MediaType}}, http.StatusCreated)
		if err == nil {
			drain(resp)
		}
		return err
	}
	err := forEachDesc(g.manifests, false, func(i int, d ocispec.Descriptor) error {
		return put(d.Digest.String(), d, g.raws[i])
	})
	if err != nil {
		return err
	}
	return put(tag, g.root, g.rootRaw)
}

// startUpload POSTs for a session and returns where to PUT the blob.
func (l *limitImage) startUpload(addr, repo string, d digest.Digest) (string, error) {
	resp, err := l.do(http.MethodPost, l.base(addr)+repo+"/blobs/uploads/", nil, 0, nil, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	drain(resp)
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("limit POST: %w", err)
	}
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	return loc.String(), nil
}

func (l *limitImage) putBlob(u string, body io.Reader, size int64) error {
	resp, err := l.do(http.MethodPut, u, body, size, http.Header{"Content-Type": {"application/octet-stream"}}, http.StatusCreated)
	if err == nil {
		drain(resp)
	}
	return err
}

func (l *limitImage) pull() (opResult, error) {
	g, err := l.fetchGraph(l.a.addr, l.a.repo, l.a.tag)
	if err != nil {
		return opResult{}, err
	}
	dir := l.a.dir
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return opResult{}, err
	}
	for i, raw := range append([][]byte{g.rootRaw}, g.raws...) {
		d := g.root
		if i > 0 {
			d = g.manifests[i-1]
		}
		if err := os.WriteFile(blobPath(dir, d.Digest), raw, 0o644); err != nil {
			return opResult{}, err
		}
	}
	err = forEachDesc(g.blobs, true, func(_ int, d ocispec.Descriptor) error {
		resp, err := l.do(http.MethodGet, l.base(l.a.addr)+l.a.repo+"/blobs/"+d.Digest.String(), nil, 0, nil, http.StatusOK)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		f, err := os.Create(blobPath(dir, d.Digest))
		if err != nil {
			return err
		}
		_, err = io.Copy(f, resp.Body)
		return errors.Join(err, f.Close())
	})
	if err != nil {
		return opResult{}, err
	}
	tagged := ocispec.Descriptor{MediaType: g.root.MediaType, Digest: g.root.Digest, Size: g.root.Size,
		Annotations: map[string]string{ocispec.AnnotationRefName: l.a.tag}}
	top := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{tagged}}
	if err := writeJSONFile(filepath.Join(dir, ocispec.ImageIndexFile), top); err != nil {
		return opResult{}, err
	}
	err = writeJSONFile(filepath.Join(dir, ocispec.ImageLayoutFile), ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	return opResult{Digest: g.root.Digest.String()}, err
}

// readLayoutGraph reads the image tagged tag from an OCI layout's JSON.
func readLayoutGraph(dir, tag string) (limitGraph, error) {
	var g limitGraph
	var top ocispec.Index
	b, err := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if err == nil {
		err = json.Unmarshal(b, &top)
	}
	if err != nil {
		return g, err
	}
	for _, d := range top.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] == tag {
			g.root = d
		}
	}
	if g.root.Digest == "" {
		return g, fmt.Errorf("limit: no %q in the layout", tag)
	}
	if g.rootRaw, err = os.ReadFile(blobPath(dir, g.root.Digest)); err != nil {
		return g, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(g.rootRaw, &idx); err != nil {
		return g, err
	}
	g.manifests = idx.Manifests
	for _, d := range g.manifests {
		raw, err := os.ReadFile(blobPath(dir, d.Digest))
		if err != nil {
			return g, err
		}
		g.raws = append(g.raws, raw)
	}
	return g, g.collectBlobs()
}

func (l *limitImage) push() (opResult, error) {
	g, err := readLayoutGraph(l.a.dir, l.a.tag)
	if err != nil {
		return opResult{}, err
	}
	err = forEachDesc(g.blobs, true, func(_ int, d ocispec.Descriptor) error {
		u, err := l.startUpload(l.a.addr, l.a.repo, d.Digest)
		if err != nil {
			return err
		}
		f, err := os.Open(blobPath(l.a.dir, d.Digest))
		if err != nil {
			return err
		}
		defer f.Close()
		// The *os.File: net/http sends it by sendfile where it can.
		return l.putBlob(u, f, d.Size)
	})
	if err != nil {
		return opResult{}, err
	}
	return opResult{Digest: g.root.Digest.String()}, l.putManifests(l.a.addr, l.a.repo, l.a.tag, g)
}

func (l *limitImage) copy() (opResult, error) {
	g, err := l.fetchGraph(l.a.addr, l.a.repo, l.a.tag)
	if err != nil {
		return opResult{}, err
	}
	if l.a.addr2 == l.a.addr {
		err = forEachDesc(g.blobs, false, func(_ int, d ocispec.Descriptor) error {
			u := l.base(l.a.addr2) + l.a.repo2 + "/blobs/uploads/?" + url.Values{"mount": {d.Digest.String()}, "from": {l.a.repo}}.Encode()
			resp, err := l.do(http.MethodPost, u, nil, 0, nil, http.StatusCreated)
			if err == nil {
				drain(resp)
			}
			return err
		})
	} else {
		err = forEachDesc(g.blobs, true, func(_ int, d ocispec.Descriptor) error {
			u, err := l.startUpload(l.a.addr2, l.a.repo2, d.Digest)
			if err != nil {
				return err
			}
			resp, err := l.do(http.MethodGet, l.base(l.a.addr)+l.a.repo+"/blobs/"+d.Digest.String(), nil, 0, nil, http.StatusOK)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			return l.putBlob(u, resp.Body, d.Size)
		})
	}
	if err != nil {
		return opResult{}, err
	}
	return opResult{Digest: g.root.Digest.String()}, l.putManifests(l.a.addr2, l.a.repo2, l.a.tag, g)
}
