package conformance

// Independent judges of PullImage, PushImage and CopyImage: layouts that
// go-containerregistry and oras-go wrote are pushed by azacr and read back
// by those libraries from a distribution registry; layouts azacr pulled
// are opened and validated by them; copies are read on both registries by
// go-containerregistry, counted at the registry, and their referrers
// listed by oras-go.

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
)

// TestImagePushGgcrLayout pushes, with PushImage, a layout that
// go-containerregistry's layout package wrote: a multi-platform index
// (two OCI platform images sharing a layer, a Docker one, and a nested
// index of random images) named "v1", and a random single image named
// "solo".
// go-containerregistry's remote package then reads both from the registry:
// the digests and manifest bytes are what it computed locally, and the full
// validation (every layer's digest and diff ID, every child's media type
// and platform) passes on the remote copies.
func TestImagePushGgcrLayout(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, true)
	ctx := t.Context()
	c := r.Client(t)

	idx := ggcrIndex(t, 100)
	single, err := random.Image(2048, 3, randomSource(110))
	require.NoError(t, err)
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	require.NoError(t, err)
	require.NoError(t, lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{azacr.AnnotationRefName: "v1"})))
	require.NoError(t, lp.AppendImage(single, layout.WithAnnotations(map[string]string{azacr.AnnotationRefName: "solo"})))

	parts := indexParts(t, idx)
	resp, err := c.PushImage(ctx, dir, "judges/ggcr", "v1", nil)
	require.NoError(t, err)
	assert.Equal(t, mustDigest(t, idx).String(), resp.Digest)
	assert.Equal(t, string(types.OCIImageIndex), resp.MediaType)
	assert.False(t, resp.UpToDate)
	assert.Equal(t, len(parts.manifests), resp.Manifests)
	assert.Equal(t, len(parts.blobs), resp.Blobs)
	assert.Equal(t, parts.blobBytes(), resp.BytesTransferred, "a fresh repository gets every blob byte once")

	ref, opts := ggcrRef(t, r, "judges/ggcr:v1")
	got, err := remote.Index(ref, opts...)
	require.NoError(t, err)
	assert.Equal(t, mustDigest(t, idx), mustDigest(t, got))
	wantRaw, err := idx.RawManifest()
	require.NoError(t, err)
	gotRaw, err := got.RawManifest()
	require.NoError(t, err)
	assert.Equal(t, string(wantRaw), string(gotRaw))
	require.NoError(t, validate.Index(got), "go-containerregistry's full validation of the pushed index")

	// The single image, chosen by Reference and pushed under another tag,
	// in chunks smaller than its layers.
	sresp, err := c.PushImage(ctx, dir, "judges/ggcr", "one", &azacr.ContainerRegistryClientPushImageOptions{Reference: "solo", ChunkSize: 1000})
	require.NoError(t, err)
	assert.Equal(t, mustDigest(t, single).String(), sresp.Digest)
	assert.Equal(t, string(types.DockerManifestSchema2), sresp.MediaType)
	sparts := imageParts(t, single)
	assert.Equal(t, len(sparts.blobs), sresp.Blobs)
	ref, opts = ggcrRef(t, r, "judges/ggcr:one")
	gotImg, err := remote.Image(ref, opts...)
	require.NoError(t, err)
	assert.Equal(t, mustDigest(t, single), mustDigest(t, gotImg))
	require.NoError(t, validate.Image(gotImg), "go-containerregistry's full validation of the pushed image")

	again, err := c.PushImage(ctx, dir, "judges/ggcr", "v1", nil)
	require.NoError(t, err)
	assert.True(t, again.UpToDate, "the repository holds the index under v1")
	assert.Equal(t, resp.Digest, again.Digest)
}

// TestImagePushOrasLayout pushes, with PushImage, what oras-go's OCI store
// wrote: a two-platform index tagged "v1" (image manifests packed by
// oras.PackManifest, sharing a layer) and an artifact with an empty config
// tagged "art", in a store whose index.json also lists every untagged
// manifest. oras-go then resolves both tags on the registry to the
// store's descriptors, and fetches every manifest and blob under them,
// each verified: the same set, the same bytes, as in the store.
func TestImagePushOrasLayout(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, false)
	ctx := t.Context()
	c := r.Client(t)

	dir := t.TempDir()
	store, err := oci.New(dir)
	require.NoError(t, err)
	push := func(mt string, data []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mt, data)
		require.NoError(t, store.Push(ctx, d, bytes.NewReader(data)))
		return d
	}
	created := map[string]string{ocispec.AnnotationCreated: "2024-01-02T03:04:05Z"}
	shared := push(ocispec.MediaTypeImageLayer, confBytes(2500, 31))
	var entries []ocispec.Descriptor
	for i, p := range []ocispec.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		own := push(ocispec.MediaTypeImageLayer, confBytes(3000, uint64(40+i)))
		cfg := push(ocispec.MediaTypeImageConfig, mustJSON(t, ocispec.Image{
			Platform: p, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{shared.Digest, own.Digest}},
		}))
		m, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{
			ConfigDescriptor: &cfg, Layers: []ocispec.Descriptor{shared, own}, ManifestAnnotations: created,
		})
		require.NoError(t, err)
		m.Platform = &p
		m.Annotations = nil
		entries = append(entries, m)
	}
	idxDesc := push(ocispec.MediaTypeImageIndex, mustJSON(t, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: entries,
	}))
	require.NoError(t, store.Tag(ctx, idxDesc, "v1"))
	payload := content.NewDescriptorFromBytes("application/vnd.example.payload", confBytes(1200, 50))
	payload.Annotations = map[string]string{ocispec.AnnotationTitle: "payload.bin"}
	require.NoError(t, store.Push(ctx, payload, bytes.NewReader(confBytes(1200, 50))))
	art, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, "application/vnd.example.thing", oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{payload}, ManifestAnnotations: created,
	})
	require.NoError(t, err)
	require.NoError(t, store.Tag(ctx, art, "art"))

	repo := orasRepo(t, r, "judges/oras")
	for _, tc := range []struct {
		tag  string
		want ocispec.Descriptor
	}{{"v1", idxDesc}, {"art", art}} {
		resp, err := c.PushImage(ctx, dir, "judges/oras", tc.tag, nil)
		require.NoError(t, err, tc.tag)
		assert.Equal(t, tc.want.Digest.String(), resp.Digest, tc.tag)
		assert.Equal(t, tc.want.MediaType, resp.MediaType, tc.tag)

		got, err := oras.Resolve(ctx, repo, tc.tag, oras.DefaultResolveOptions)
		require.NoError(t, err, tc.tag)
		assert.Equal(t, tc.want.Digest, got.Digest, tc.tag)
		assert.Equal(t, tc.want.Size, got.Size, tc.tag)
		assert.Equal(t, tc.want.MediaType, got.MediaType, tc.tag)

		local := walkGraph(t, store, tc.want)
		remoteContent := walkGraph(t, repo, got)
		assert.Equal(t, local, remoteContent, "%s: what the registry serves is what the store holds", tc.tag)
		assert.Equal(t, len(local.manifests), resp.Manifests, tc.tag)
		assert.Equal(t, len(local.blobs), resp.Blobs, tc.tag)
	}
}

// TestImagePullJudgedByGgcrAndOras pulls, with PullImage, an index that
// go-containerregistry's remote.WriteIndex pushed and a single image that
// remote.Write pushed, into one layout. go-containerregistry's
// layout.FromPath opens it and fully validates its index.json (both
// images, every blob hashed); oras-go's oci.New and oci.NewFromFS open it,
// resolve each tag to the digest PullImage returned, and fetch every
// manifest and blob under it, verified, as many as PullImage counted.
func TestImagePullJudgedByGgcrAndOras(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, false)
	ctx := t.Context()
	c := r.Client(t)

	idx := ggcrIndex(t, 200)
	single, err := random.Image(2048, 2, randomSource(210))
	require.NoError(t, err)
	ref, opts := ggcrRef(t, r, "judges/pull:v1")
	require.NoError(t, remote.WriteIndex(ref, idx, opts...))
	sref, opts := ggcrRef(t, r, "judges/pull:solo")
	require.NoError(t, remote.Write(sref, single, opts...))

	dir := t.TempDir()
	pulled := map[string]azacr.ContainerRegistryClientPullImageResponse{}
	for tag, parts := range map[string]ggcrParts{"v1": indexParts(t, idx), "solo": imageParts(t, single)} {
		resp, err := c.PullImage(ctx, "judges/pull", tag, dir, nil)
		require.NoError(t, err, tag)
		assert.Equal(t, len(parts.manifests), resp.Manifests, tag)
		assert.Equal(t, len(parts.blobs), resp.Blobs, tag)
		assert.Equal(t, parts.blobBytes(), resp.BytesTransferred, "%s: every blob byte once into a new layout", tag)
		pulled[tag] = resp
	}
	assert.Equal(t, mustDigest(t, idx).String(), pulled["v1"].Digest)
	assert.Equal(t, mustDigest(t, single).String(), pulled["solo"].Digest)

	lp, err := layout.FromPath(dir)
	require.NoError(t, err)
	li, err := lp.ImageIndex()
	require.NoError(t, err)
	require.NoError(t, validate.Index(li), "go-containerregistry's full validation of the pulled layout")
	im, err := li.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 2)
	for _, e := range im.Manifests {
		tag := e.Annotations[azacr.AnnotationRefName]
		require.Contains(t, pulled, tag)
		assert.Equal(t, pulled[tag].Digest, e.Digest.String(), tag)
		assert.Equal(t, pulled[tag].MediaType, string(e.MediaType), tag)
	}
	child, err := li.ImageIndex(mustDigest(t, idx))
	require.NoError(t, err)
	wantRaw, err := idx.RawManifest()
	require.NoError(t, err)
	gotRaw, err := child.RawManifest()
	require.NoError(t, err)
	assert.Equal(t, string(wantRaw), string(gotRaw))

	rw, err := oci.New(dir)
	require.NoError(t, err)
	ro, err := oci.NewFromFS(ctx, os.DirFS(dir))
	require.NoError(t, err)
	for _, s := range []struct {
		name    string
		fetcher content.ReadOnlyStorage
		resolve func(ref string) (ocispec.Descriptor, error)
	}{
		{"oci.New", rw, func(ref string) (ocispec.Descriptor, error) { return rw.Resolve(ctx, ref) }},
		{"oci.NewFromFS", ro, func(ref string) (ocispec.Descriptor, error) { return ro.Resolve(ctx, ref) }},
	} {
		for tag, resp := range pulled {
			d, err := s.resolve(tag)
			require.NoError(t, err, "%s %s", s.name, tag)
			assert.Equal(t, resp.Digest, d.Digest.String(), "%s %s", s.name, tag)
			assert.Equal(t, resp.MediaType, d.MediaType, "%s %s", s.name, tag)
			g := walkGraph(t, s.fetcher, d)
			assert.Len(t, g.manifests, resp.Manifests, "%s %s", s.name, tag)
			assert.Len(t, g.blobs, resp.Blobs, "%s %s", s.name, tag)
		}
	}

	// One platform: its manifest is the image pulled, digest unchanged,
	// and nothing of the other entries lands in the layout.
	t.Run("Platform", func(t *testing.T) {
		dir := t.TempDir()
		resp, err := c.PullImage(ctx, "judges/pull", "v1", dir, &azacr.ContainerRegistryClientPullImageOptions{Platforms: []string{"linux/amd64"}})
		require.NoError(t, err)
		ref, opts := ggcrRef(t, r, "judges/pull:v1")
		onRegistry, err := remote.Index(ref, opts...)
		require.NoError(t, err)
		amd := platformEntry(t, onRegistry, "linux", "amd64")
		assert.Equal(t, amd.Digest.String(), resp.Digest)
		assert.Equal(t, string(amd.MediaType), resp.MediaType)

		lp, err := layout.FromPath(dir)
		require.NoError(t, err)
		li, err := lp.ImageIndex()
		require.NoError(t, err)
		require.NoError(t, validate.Index(li))
		im, err := li.IndexManifest()
		require.NoError(t, err)
		require.Len(t, im.Manifests, 1)
		assert.Equal(t, amd.Digest, im.Manifests[0].Digest)
		assert.Equal(t, "v1", im.Manifests[0].Annotations[azacr.AnnotationRefName])
		img, err := lp.Image(amd.Digest)
		require.NoError(t, err)
		require.NoError(t, validate.Image(img), "go-containerregistry's full validation of the platform image")

		want, err := onRegistry.Image(amd.Digest)
		require.NoError(t, err)
		wantParts := imageParts(t, want)
		files, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
		require.NoError(t, err)
		assert.Len(t, files, len(wantParts.manifests)+len(wantParts.blobs), "the layout holds the platform's manifest, config and layers, nothing else")
		arm := platformEntry(t, onRegistry, "linux", "arm64")
		_, err = os.Stat(filepath.Join(dir, "blobs", "sha256", arm.Digest.Hex))
		assert.True(t, errors.Is(err, fs.ErrNotExist), "the arm64 manifest was not pulled: %v", err)
	})

	// Two platforms: a new index of just their entries, as the registry
	// lists them, which go-containerregistry validates with its children.
	t.Run("TwoPlatforms", func(t *testing.T) {
		dir := t.TempDir()
		resp, err := c.PullImage(ctx, "judges/pull", "v1", dir, &azacr.ContainerRegistryClientPullImageOptions{Platforms: []string{"linux/s390x", "linux/amd64"}})
		require.NoError(t, err)
		assert.Equal(t, string(types.OCIImageIndex), resp.MediaType)
		assert.NotEqual(t, mustDigest(t, idx).String(), resp.Digest, "a subset is an index of its own")
		ref, opts := ggcrRef(t, r, "judges/pull:v1")
		onRegistry, err := remote.Index(ref, opts...)
		require.NoError(t, err)

		lp, err := layout.FromPath(dir)
		require.NoError(t, err)
		li, err := lp.ImageIndex()
		require.NoError(t, err)
		require.NoError(t, validate.Index(li), "go-containerregistry's full validation of the two-platform layout")
		im, err := li.IndexManifest()
		require.NoError(t, err)
		require.Len(t, im.Manifests, 1)
		assert.Equal(t, resp.Digest, im.Manifests[0].Digest.String())
		h, err := v1.NewHash(resp.Digest)
		require.NoError(t, err)
		sub, err := li.ImageIndex(h)
		require.NoError(t, err)
		subm, err := sub.IndexManifest()
		require.NoError(t, err)
		assert.ElementsMatch(t, []v1.Descriptor{platformEntry(t, onRegistry, "linux", "amd64"), platformEntry(t, onRegistry, "linux", "s390x")}, subm.Manifests)
	})
}

// TestImageCopyBetweenRegistries copies an index that go-containerregistry
// pushed from one distribution registry (TLS) to another (plain HTTP),
// each with its own token service, in chunks smaller than the layers.
// go-containerregistry reads the image on both: the same digest as it
// computed, and the target passes full validation. A repeat costs at most
// one registry request on each side and reports UpToDate.
func TestImageCopyBetweenRegistries(t *testing.T) {
	t.Parallel()
	src, dst := StartTokenRegistry(t, true), StartTokenRegistry(t, false)
	ctx := t.Context()
	idx := ggcrIndex(t, 300)
	parts := indexParts(t, idx)
	ref, opts := ggcrRef(t, src, "judges/copy:v1")
	require.NoError(t, remote.WriteIndex(ref, idx, opts...))

	sc, dc := src.Client(t), dst.Client(t)
	resp, err := sc.CopyImage(ctx, "judges/copy", "v1", dc, "mirror/copy", "v2", &azacr.ContainerRegistryClientCopyImageOptions{ChunkSize: 2048})
	require.NoError(t, err)
	assert.Equal(t, mustDigest(t, idx).String(), resp.Digest)
	assert.False(t, resp.UpToDate)
	assert.Equal(t, len(parts.manifests), resp.Manifests)
	assert.Equal(t, len(parts.blobs), resp.Blobs)
	assert.Equal(t, parts.blobBytes(), resp.BytesTransferred)

	srcIdx, err := remote.Index(ref, opts...)
	require.NoError(t, err)
	dref, dopts := ggcrRef(t, dst, "mirror/copy:v2")
	dstIdx, err := remote.Index(dref, dopts...)
	require.NoError(t, err)
	assert.Equal(t, mustDigest(t, idx), mustDigest(t, srcIdx))
	assert.Equal(t, mustDigest(t, srcIdx), mustDigest(t, dstIdx))
	require.NoError(t, validate.Index(dstIdx), "go-containerregistry's full validation of the copy")

	src.Log.Reset()
	dst.Log.Reset()
	again, err := sc.CopyImage(ctx, "judges/copy", "v1", dc, "mirror/copy", "v2", nil)
	require.NoError(t, err)
	assert.True(t, again.UpToDate)
	assert.Equal(t, resp.Digest, again.Digest)
	assert.LessOrEqual(t, len(registryRequests(src)), 1, "source:\n%s", src.Log)
	assert.LessOrEqual(t, len(registryRequests(dst)), 1, "target:\n%s", dst.Log)
}

// TestImageCopyWithinRegistryMounts copies an index into another
// repository of the same registry. At the registry: every blob is one
// mount POST answered 201, no PATCH, no blob PUT, no blob byte received;
// only the manifests are uploaded (BytesTransferred, blob bytes, is zero).
// go-containerregistry validates the copy fully. A repeat costs at most two
// registry requests, uploads nothing and reports UpToDate.
func TestImageCopyWithinRegistryMounts(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, false)
	ctx := t.Context()
	idx := ggcrIndex(t, 400)
	parts := indexParts(t, idx)
	ref, opts := ggcrRef(t, r, "judges/src:v1")
	require.NoError(t, remote.WriteIndex(ref, idx, opts...))
	c := r.Client(t)

	r.Log.Reset()
	resp, err := c.CopyImage(ctx, "judges/src", "v1", c, "judges/dst", "v1", nil)
	require.NoError(t, err)
	assert.Equal(t, mustDigest(t, idx).String(), resp.Digest)
	assert.Equal(t, len(parts.blobs), resp.Blobs)
	assert.Zero(t, resp.BytesTransferred, "no blob bytes: the blobs are mounted")

	patches, blobPuts, mounts, blobBytes := 0, 0, 0, int64(0)
	for _, rec := range registryRequests(r) {
		isBlob := strings.Contains(rec.Path, "/blobs/")
		switch {
		case rec.Method == http.MethodPatch:
			patches++
		case rec.Method == http.MethodPut && isBlob:
			blobPuts++
		case rec.Method == http.MethodPost && strings.Contains(rec.Query, "mount=") && rec.Status == http.StatusCreated:
			mounts++
		}
		if isBlob {
			blobBytes += rec.BodyBytes
		}
	}
	assert.Zero(t, patches, "PATCH requests\n%s", r.Log)
	assert.Zero(t, blobPuts, "blob PUT requests\n%s", r.Log)
	assert.Zero(t, blobBytes, "blob bytes the registry received\n%s", r.Log)
	assert.Equal(t, len(parts.blobs), mounts, "mounts answered 201, one per blob\n%s", r.Log)

	dref, dopts := ggcrRef(t, r, "judges/dst:v1")
	dstIdx, err := remote.Index(dref, dopts...)
	require.NoError(t, err)
	assert.Equal(t, mustDigest(t, idx), mustDigest(t, dstIdx))
	require.NoError(t, validate.Index(dstIdx), "go-containerregistry's full validation of the mounted copy")

	r.Log.Reset()
	again, err := c.CopyImage(ctx, "judges/src", "v1", c, "judges/dst", "v1", nil)
	require.NoError(t, err)
	assert.True(t, again.UpToDate)
	assert.Zero(t, again.BytesTransferred)
	reqs := registryRequests(r)
	assert.LessOrEqual(t, len(reqs), 2, "\n%s", r.Log)
	for _, rec := range reqs {
		read := rec.Method == http.MethodGet || rec.Method == http.MethodHead
		assert.True(t, read && strings.Contains(rec.Path, "/manifests/"), "a repeat reads manifests only: %s %s", rec.Method, rec.Path)
	}
}

// Artifact types of the referrers in TestImageReferrers.
const (
	sigType  = "application/vnd.example.signature"
	sbomType = "application/vnd.example.sbom+json"
)

// TestImageReferrers: oras-go pushes, to a registry serving the OCI 1.1
// referrers API, referrers of an index (a signature and an SBOM), an SBOM
// of its linux/amd64 manifest, and a signature of the index's SBOM. Then:
//   - CopyImage with Referrers to another registry: oras-go lists the same
//     referrers on the target as on the source, for the index, the
//     platform manifest and the SBOM, and go-containerregistry agrees for
//     the index; every referrer's content is on the target.
//   - With ReferrerArtifactTypes of the SBOM type only: the target has the
//     SBOMs, and neither signature.
//   - PullImage with Referrers: oras-go's OCI store opened on the layout
//     lists the same referrers as the source registry.
func TestImageReferrers(t *testing.T) {
	t.Parallel()
	src := StartRegistry(t, RegistryOptions{Auth: AuthToken, TLS: true, WrapRegistry: withReferrersAPI})
	dst := StartRegistry(t, RegistryOptions{Auth: AuthToken, WrapRegistry: withReferrersAPI})
	ctx := t.Context()
	idx := ggcrIndex(t, 500)
	ref, opts := ggcrRef(t, src, "judges/refs:v1")
	require.NoError(t, remote.WriteIndex(ref, idx, opts...))

	srcRepo := orasRepo(t, src, "judges/refs")
	root, err := oras.Resolve(ctx, srcRepo, "v1", oras.DefaultResolveOptions)
	require.NoError(t, err)
	amdEntry := platformEntry(t, idx, "linux", "amd64")
	amd := ocispec.Descriptor{MediaType: string(amdEntry.MediaType), Digest: digest.Digest(amdEntry.Digest.String()), Size: amdEntry.Size}
	refer := func(subject ocispec.Descriptor, artifactType string, seed uint64) ocispec.Descriptor {
		t.Helper()
		data := confBytes(600, seed)
		blob := content.NewDescriptorFromBytes("application/vnd.example.payload", data)
		require.NoError(t, srcRepo.Push(ctx, blob, bytes.NewReader(data)))
		d, err := oras.PackManifest(ctx, srcRepo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
			Subject: &subject, Layers: []ocispec.Descriptor{blob},
		})
		require.NoError(t, err)
		return d
	}
	sig := refer(root, sigType, 61)
	sbom := refer(root, sbomType, 62)
	amdSbom := refer(amd, sbomType, 63)
	sbomSig := refer(sbom, sigType, 64)

	list := func(s content.ReadOnlyGraphStorage, subject ocispec.Descriptor) []referrerKey {
		t.Helper()
		refs, err := registry.Referrers(ctx, s, subject, "")
		require.NoError(t, err, subject.Digest)
		return referrerKeys(refs)
	}
	subjects := map[string]ocispec.Descriptor{"index": root, "amd64": amd, "sbom": sbom}
	want := map[string][]referrerKey{
		"index": referrerKeys([]ocispec.Descriptor{sig, sbom}),
		"amd64": referrerKeys([]ocispec.Descriptor{amdSbom}),
		"sbom":  referrerKeys([]ocispec.Descriptor{sbomSig}),
	}
	for name, s := range subjects {
		require.Equal(t, want[name], list(srcRepo, s), "the source's referrers of the %s", name)
	}

	sc, dc := src.Client(t), dst.Client(t)
	t.Run("Copy", func(t *testing.T) {
		resp, err := sc.CopyImage(ctx, "judges/refs", "v1", dc, "mirror/refs", "v1", &azacr.ContainerRegistryClientCopyImageOptions{Referrers: true})
		require.NoError(t, err)
		assert.Equal(t, root.Digest.String(), resp.Digest)
		assert.Equal(t, len(indexParts(t, idx).manifests)+4, resp.Manifests, "the image's manifests and four referrers")
		dstRepo := orasRepo(t, dst, "mirror/refs")
		for name, s := range subjects {
			assert.Equal(t, want[name], list(dstRepo, s), "the target's referrers of the %s", name)
		}
		for _, r := range []ocispec.Descriptor{sig, sbom, amdSbom, sbomSig} {
			assert.Equal(t, walkGraph(t, srcRepo, r), walkGraph(t, dstRepo, r), "referrer %s", r.Digest)
		}
		dref, dopts := ggcrRef(t, dst, "mirror/refs@"+root.Digest.String())
		gi, err := remote.Referrers(dref.(name.Digest), dopts...)
		require.NoError(t, err)
		gim, err := gi.IndexManifest()
		require.NoError(t, err)
		var gotByGgcr []digest.Digest
		for _, d := range gim.Manifests {
			gotByGgcr = append(gotByGgcr, digest.Digest(d.Digest.String()))
		}
		assert.ElementsMatch(t, []digest.Digest{sig.Digest, sbom.Digest}, gotByGgcr, "go-containerregistry's referrers of the index on the target")
	})

	t.Run("ArtifactTypes", func(t *testing.T) {
		_, err := sc.CopyImage(ctx, "judges/refs", "v1", dc, "mirror/refs-sbom", "v1", &azacr.ContainerRegistryClientCopyImageOptions{
			Referrers: true, ReferrerArtifactTypes: []string{sbomType},
		})
		require.NoError(t, err)
		dstRepo := orasRepo(t, dst, "mirror/refs-sbom")
		assert.Equal(t, referrerKeys([]ocispec.Descriptor{sbom}), list(dstRepo, root))
		assert.Equal(t, referrerKeys([]ocispec.Descriptor{amdSbom}), list(dstRepo, amd))
		assert.Empty(t, list(dstRepo, sbom), "the SBOM's signature is not an SBOM")
		for _, r := range []ocispec.Descriptor{sig, sbomSig} {
			_, err := dstRepo.Resolve(ctx, r.Digest.String())
			assert.ErrorIs(t, err, errdef.ErrNotFound, "signature %s is not on the target", r.Digest)
		}
	})

	t.Run("Pull", func(t *testing.T) {
		dir := t.TempDir()
		resp, err := sc.PullImage(ctx, "judges/refs", "v1", dir, &azacr.ContainerRegistryClientPullImageOptions{Referrers: true})
		require.NoError(t, err)
		assert.Equal(t, root.Digest.String(), resp.Digest)
		store, err := oci.New(dir)
		require.NoError(t, err)
		tagged, err := store.Resolve(ctx, "v1")
		require.NoError(t, err)
		assert.Equal(t, root.Digest, tagged.Digest)
		for name, s := range subjects {
			assert.Equal(t, want[name], list(store, s), "the layout's referrers of the %s", name)
		}
		for _, r := range []ocispec.Descriptor{sig, sbom, amdSbom, sbomSig} {
			assert.Equal(t, walkGraph(t, srcRepo, r), walkGraph(t, store, r), "referrer %s", r.Digest)
		}
	})
}

// TestImageReferrersWithoutTheAPI: against a registry without the OCI 1.1
// referrers API (distribution itself), oras-go keeps an image's referrers
// under the referrers tag schema ("sha256-<hex>"). CopyImage and PullImage
// with Referrers may refuse such a registry, but must not succeed while
// leaving the referrers behind: when they succeed, oras-go finds the same
// referrers on the copy and in the layout.
func TestImageReferrersWithoutTheAPI(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, false)
	ctx := t.Context()
	idx := ggcrIndex(t, 600)
	ref, opts := ggcrRef(t, r, "judges/norefs:v1")
	require.NoError(t, remote.WriteIndex(ref, idx, opts...))
	repo := orasRepo(t, r, "judges/norefs")
	root, err := oras.Resolve(ctx, repo, "v1", oras.DefaultResolveOptions)
	require.NoError(t, err)
	data := confBytes(500, 71)
	blob := content.NewDescriptorFromBytes("application/vnd.example.payload", data)
	require.NoError(t, repo.Push(ctx, blob, bytes.NewReader(data)))
	sig, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, sigType, oras.PackManifestOptions{
		Subject: &root, Layers: []ocispec.Descriptor{blob},
	})
	require.NoError(t, err)
	_, err = repo.Resolve(ctx, "sha256-"+root.Digest.Encoded())
	require.NoError(t, err, "oras-go keeps the referrers under the tag schema")
	want := referrerKeys([]ocispec.Descriptor{sig})
	list := func(s content.ReadOnlyGraphStorage) []referrerKey {
		t.Helper()
		refs, err := registry.Referrers(ctx, s, root, "")
		require.NoError(t, err)
		return referrerKeys(refs)
	}
	require.Equal(t, want, list(repo))

	c := r.Client(t)
	if _, err := c.CopyImage(ctx, "judges/norefs", "v1", c, "judges/norefs-copy", "v1", &azacr.ContainerRegistryClientCopyImageOptions{Referrers: true}); err == nil {
		assert.Equal(t, want, list(orasRepo(t, r, "judges/norefs-copy")), "CopyImage succeeded, so the copy has the referrers")
	} else {
		t.Logf("CopyImage refused: %s", firstLine(err))
	}
	dir := t.TempDir()
	if _, err := c.PullImage(ctx, "judges/norefs", "v1", dir, &azacr.ContainerRegistryClientPullImageOptions{Referrers: true}); err == nil {
		store, err := oci.New(dir)
		require.NoError(t, err)
		assert.Equal(t, want, list(store), "PullImage succeeded, so the layout has the referrers")
	} else {
		t.Logf("PullImage refused: %s", firstLine(err))
	}
}

// Regressions: bugs these judges found in the library, fixed since.

// TestImageEmptyTagTransfersByDigest: CopyImage documents targetTag "" as
// a copy by digest only, and PushImage documents tag "" as a push by
// digest only; both once refused "" with ErrInvalidTag (ValidateTag
// rejects an empty tag).
func TestImageEmptyTagTransfersByDigest(t *testing.T) {
	t.Parallel()
	r := StartOpenRegistry(t, false)
	ctx := t.Context()
	img, err := random.Image(1024, 1, randomSource(900))
	require.NoError(t, err)
	want := mustDigest(t, img)
	ref, opts := ggcrRef(t, r, "judges/bug:v1")
	require.NoError(t, remote.Write(ref, img, opts...))
	c := r.Client(t)

	t.Run("CopyImage", func(t *testing.T) {
		resp, err := c.CopyImage(ctx, "judges/bug", "v1", c, "judges/bug-copy", "", nil)
		require.NoError(t, err, "targetTag \"\" is documented as a copy by digest only")
		assert.Equal(t, want.String(), resp.Digest)
		ref, opts := ggcrRef(t, r, "judges/bug-copy@"+want.String())
		got, err := remote.Image(ref, opts...)
		require.NoError(t, err)
		assert.Equal(t, want, mustDigest(t, got))
	})
	t.Run("PushImage", func(t *testing.T) {
		dir := t.TempDir()
		lp, err := layout.Write(dir, empty.Index)
		require.NoError(t, err)
		require.NoError(t, lp.AppendImage(img, layout.WithAnnotations(map[string]string{azacr.AnnotationRefName: "solo"})))
		resp, err := c.PushImage(ctx, dir, "judges/bug-push", "", &azacr.ContainerRegistryClientPushImageOptions{Reference: "solo"})
		require.NoError(t, err, "tag \"\" is documented as a push by digest only")
		assert.Equal(t, want.String(), resp.Digest)
		ref, opts := ggcrRef(t, r, "judges/bug-push@"+want.String())
		got, err := remote.Image(ref, opts...)
		require.NoError(t, err)
		assert.Equal(t, want, mustDigest(t, got))
	})
}

// TestImageRepeatPullCountsTheWholeImage: PullImage documents Manifests
// and Blobs as counting "the content of the image pulled" (BytesTransferred
// is what says how much moved). Pulled again into a layout that holds it,
// an image once reported all its manifests but zero blobs.
func TestImageRepeatPullCountsTheWholeImage(t *testing.T) {
	t.Parallel()
	r := StartOpenRegistry(t, false)
	ctx := t.Context()
	img, err := random.Image(1024, 2, randomSource(910))
	require.NoError(t, err)
	ref, opts := ggcrRef(t, r, "judges/again:v1")
	require.NoError(t, remote.Write(ref, img, opts...))
	parts := imageParts(t, img)
	c := r.Client(t)
	dir := t.TempDir()
	first, err := c.PullImage(ctx, "judges/again", "v1", dir, nil)
	require.NoError(t, err)
	require.Equal(t, len(parts.manifests), first.Manifests)
	require.Equal(t, len(parts.blobs), first.Blobs)
	again, err := c.PullImage(ctx, "judges/again", "v1", dir, nil)
	require.NoError(t, err)
	assert.Zero(t, again.BytesTransferred, "the layout held everything")
	assert.Equal(t, len(parts.manifests), again.Manifests)
	assert.Equal(t, len(parts.blobs), again.Blobs, "the image still has its config and layers")
}
