package azacr

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
)

// readLayoutIndex reads a layout's index.json.
func readLayoutIndex(t *testing.T, dir string) ImageIndex {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	require.NoError(t, err)
	var idx ImageIndex
	require.NoError(t, json.Unmarshal(data, &idx))
	return idx
}

// requireLayoutHolds checks that every blob of img is in the layout with
// its exact bytes.
func requireLayoutHolds(t *testing.T, dir string, img testImage) {
	t.Helper()
	l, err := openLayout(dir)
	require.NoError(t, err)
	for d, want := range img.blobs {
		got, err := os.ReadFile(l.blobPath(d))
		require.NoError(t, err, d)
		require.Equal(t, ComputeDigest(want), ComputeDigest(got), "blob %s", d)
	}
}

func TestPullImageWritesEveryPlatformIntoALayout(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 3, 10_000)
	c := newTestClient(t, srv, srv.Credential())
	dir := t.TempDir()
	var last ImageProgress
	resp, err := c.PullImage(context.Background(), "app", "v1", dir, &ContainerRegistryClientPullImageOptions{Progress: func(p ImageProgress) { last = p }})
	require.NoError(t, err)
	require.Equal(t, img.index, resp.Digest)
	require.Equal(t, 3, resp.Manifests)
	require.Equal(t, 8, resp.Blobs)
	require.Equal(t, img.size-img.manifestBytes(), resp.BytesTransferred)
	require.Equal(t, img.size, last.Total)
	require.Equal(t, img.size, last.TotalTransferred)
	requireLayoutHolds(t, dir, img)
	idx := readLayoutIndex(t, dir)
	require.Len(t, idx.Manifests, 1)
	require.Equal(t, img.index, idx.Manifests[0].Digest)
	require.Equal(t, "v1", idx.Manifests[0].Annotations[AnnotationRefName])
}

func TestPushImageSendsWhatALayoutHolds(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 2, 5_000)
	c := newTestClient(t, srv, srv.Credential())
	dir := t.TempDir()
	_, err := c.PullImage(context.Background(), "app", "v1", dir, nil)
	require.NoError(t, err)

	resp, err := c.PushImage(context.Background(), dir, "copy", "v1", nil)
	require.NoError(t, err)
	require.Equal(t, img.index, resp.Digest)
	require.False(t, resp.UpToDate)
	require.Equal(t, img.index, describeManifest(t, srv, "copy", "v1").Digest)
	for p, d := range img.platforms {
		_, _, ok := srv.Manifest("copy", d)
		require.True(t, ok, p)
	}

	// Again: the tag holds the digest, one HEAD says so.
	srv.ResetRequests()
	resp, err = c.PushImage(context.Background(), dir, "copy", "v1", nil)
	require.NoError(t, err)
	require.True(t, resp.UpToDate)
	require.LessOrEqual(t, srv.CountRequests(http.MethodHead, "/v2/")+srv.CountRequests(http.MethodGet, "/v2/")+srv.CountRequests(http.MethodPut, "/v2/")+srv.CountRequests(http.MethodPost, "/v2/")+srv.CountRequests(http.MethodPatch, "/v2/"), 1)
}

func TestCopyImageWithinARegistryMountsEveryBlob(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 3, 20_000)
	c := newTestClient(t, srv, srv.Credential())
	srv.ResetRequests()
	resp, err := c.CopyImage(context.Background(), "app", "v1", c, "mirror", "latest", nil)
	require.NoError(t, err)
	require.Equal(t, img.index, resp.Digest)
	require.Equal(t, int64(0), resp.BytesTransferred)
	require.Equal(t, 0, srv.CountRequests(http.MethodPatch, "/"))
	require.Equal(t, len(img.blobs), srv.CountRequests(http.MethodPost, "/v2/mirror/blobs/uploads/"))
	require.Equal(t, img.index, describeManifest(t, srv, "mirror", "latest").Digest)
}

// manifestBytes is the size of img's manifests.
func (img testImage) manifestBytes() int64 {
	var n int64
	for _, b := range img.blobs {
		n += int64(len(b))
	}
	return img.size - n
}

func TestCopyImageBetweenRegistries(t *testing.T) {
	a, b := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
	img := seedIndex(t, a, "app", "v1", []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, 2, 300_000)
	ca, cb := newTestClient(t, a, a.Credential()), newTestClient(t, b, b.Credential())
	resp, err := ca.CopyImage(context.Background(), "app", "v1", cb, "app", "v1", &ContainerRegistryClientCopyImageOptions{ChunkSize: 100_000})
	require.NoError(t, err)
	require.Equal(t, img.index, resp.Digest)
	require.Equal(t, img.size-img.manifestBytes(), resp.BytesTransferred)
	for d, want := range img.blobs {
		got, ok := b.Blob("app", d)
		require.True(t, ok)
		require.Equal(t, want, got)
	}
	b.ResetRequests()
	a.ResetRequests()
	resp, err = ca.CopyImage(context.Background(), "app", "v1", cb, "app", "v1", nil)
	require.NoError(t, err)
	require.True(t, resp.UpToDate)
	require.Equal(t, 1, a.CountRequests(http.MethodGet, "/v2/app/manifests/"))
	require.Equal(t, 1, b.CountRequests(http.MethodHead, "/v2/app/manifests/"))
}

func TestPullImageOnePlatformIsItsOwnManifest(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}, 1, 1000)
	c := newTestClient(t, srv, srv.Credential())
	dir := t.TempDir()
	resp, err := c.PullImage(context.Background(), "app", "v1", dir, &ContainerRegistryClientPullImageOptions{Platforms: []string{"linux/arm64"}})
	require.NoError(t, err)
	require.Equal(t, img.platforms["linux/arm64/v8"], resp.Digest)
	require.Equal(t, string(ContentTypeApplicationVndOCIImageManifestV1JSON), resp.MediaType)
	idx := readLayoutIndex(t, dir)
	require.Len(t, idx.Manifests, 1)
	require.Equal(t, resp.Digest, idx.Manifests[0].Digest)
	require.Equal(t, "v8", idx.Manifests[0].Platform.Variant)

	// Two platforms out of three: a new index of just those.
	dir2 := t.TempDir()
	resp, err = c.PullImage(context.Background(), "app", "v1", dir2, &ContainerRegistryClientPullImageOptions{Platforms: []string{"linux/amd64", "linux/arm/v7"}})
	require.NoError(t, err)
	require.NotEqual(t, img.index, resp.Digest)
	require.Equal(t, 3, resp.Manifests)
}

func TestAMissingPlatformIsAnErrorNamingWhatThereIs(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedIndex(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 1, 100)
	seedImage(t, srv, "single", "v1")
	c := newTestClient(t, srv, srv.Credential())
	for _, call := range []func(platforms []string) error{
		func(p []string) error {
			_, err := c.PullImage(context.Background(), "app", "v1", t.TempDir(), &ContainerRegistryClientPullImageOptions{Platforms: p})
			return err
		},
		func(p []string) error {
			_, err := c.CopyImage(context.Background(), "app", "v1", c, "other", "v1", &ContainerRegistryClientCopyImageOptions{Platforms: p})
			return err
		},
	} {
		err := call([]string{"windows/amd64"})
		require.ErrorIs(t, err, ErrPlatformNotFound)
		require.ErrorContains(t, err, "linux/amd64, linux/arm64")
		// One present and one absent: still an error, never a silent half.
		require.ErrorIs(t, call([]string{"linux/amd64", "linux/s390x"}), ErrPlatformNotFound)
		require.ErrorIs(t, call([]string{"linux"}), ErrInvalidOption)
	}
	_, err := c.PullImage(context.Background(), "single", "v1", t.TempDir(), &ContainerRegistryClientPullImageOptions{Platforms: []string{"linux/arm64"}})
	require.ErrorIs(t, err, ErrPlatformNotFound)
	require.ErrorContains(t, err, "linux/amd64")
	_, err = c.PullImage(context.Background(), "single", "v1", t.TempDir(), &ContainerRegistryClientPullImageOptions{Platforms: []string{"linux/amd64"}})
	require.NoError(t, err)
	_, _, ok := srv.Manifest("other", "v1")
	require.False(t, ok, "a failed copy tagged nothing")
}

func TestCopyImageWithReferrersCopiesThemForEveryManifest(t *testing.T) {
	a, b := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
	img := seedIndex(t, a, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 1, 1000)
	root := describeManifest(t, a, "app", "v1")
	child := describeManifest(t, a, "app", img.platforms["linux/arm64"])
	sig := seedReferrer(t, a, "app", root, "application/vnd.example.signature", "signed root")
	sbom := seedReferrer(t, a, "app", child, "application/vnd.example.sbom", "sbom of arm64")
	// A referrer of a referrer: a signature of the SBOM.
	sbomSig := seedReferrer(t, a, "app", describeManifest(t, a, "app", sbom), "application/vnd.example.signature", "signed sbom")
	ca, cb := newTestClient(t, a, a.Credential()), newTestClient(t, b, b.Credential())

	_, err := ca.CopyImage(context.Background(), "app", "v1", cb, "app", "v1", &ContainerRegistryClientCopyImageOptions{Referrers: true})
	require.NoError(t, err)
	for _, d := range []string{sig, sbom, sbomSig} {
		_, _, ok := b.Manifest("app", d)
		require.True(t, ok, d)
	}
	requireSameReferrers(t, ca, cb, "app", root.Digest)
	requireSameReferrers(t, ca, cb, "app", child.Digest)

	// Only signatures: the SBOM, and so its signature, stay behind.
	_, err = ca.CopyImage(context.Background(), "app", "v1", cb, "signed", "v1", &ContainerRegistryClientCopyImageOptions{Referrers: true, ReferrerArtifactTypes: []string{"application/vnd.example.signature"}})
	require.NoError(t, err)
	_, _, ok := b.Manifest("signed", sig)
	require.True(t, ok)
	_, _, ok = b.Manifest("signed", sbom)
	require.False(t, ok)

	// Pulled with referrers, the layout's index lists them.
	dir := t.TempDir()
	_, err = ca.PullImage(context.Background(), "app", "v1", dir, &ContainerRegistryClientPullImageOptions{Referrers: true})
	require.NoError(t, err)
	var listed []string
	for _, m := range readLayoutIndex(t, dir).Manifests {
		listed = append(listed, m.Digest)
	}
	require.ElementsMatch(t, []string{img.index, sig, sbom, sbomSig}, listed)
}

// requireSameReferrers checks that two registries list the same referrers
// of digest in repo.
func requireSameReferrers(t *testing.T, a, b *ContainerRegistryClient, repo, digest string) {
	t.Helper()
	list := func(c *ContainerRegistryClient) []string {
		var out []string
		pager := c.NewListReferrersPager(repo, digest, nil)
		for pager.More() {
			page, err := pager.NextPage(context.Background())
			require.NoError(t, err)
			for _, r := range page.Referrers {
				out = append(out, r.Digest)
			}
		}
		return out
	}
	want := list(a)
	require.NotEmpty(t, want)
	require.ElementsMatch(t, want, list(b))
}

func TestPushImageRefusesACorruptLayoutBeforeTheTagMoves(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64"}, 2, 5000)
	c := newTestClient(t, srv, srv.Credential())
	dir := t.TempDir()
	_, err := c.PullImage(context.Background(), "app", "v1", dir, nil)
	require.NoError(t, err)
	old := seedImage(t, srv, "target", "v1")
	l, err := openLayout(dir)
	require.NoError(t, err)
	for d := range img.blobs {
		if len(img.blobs[d]) == 5000 {
			corrupt := append([]byte(nil), img.blobs[d]...)
			corrupt[100] ^= 1
			require.NoError(t, os.WriteFile(l.blobPath(d), corrupt, 0o644))
			break
		}
	}
	_, err = c.PushImage(context.Background(), dir, "target", "v1", nil)
	require.Error(t, err)
	require.ErrorIs(t, err, ErrDigestMismatch)
	require.Equal(t, old, describeManifest(t, srv, "target", "v1").Digest)

	// Pulling again repairs it (Repair hashes what the layout holds).
	_, err = c.PullImage(context.Background(), "app", "v1", dir, &ContainerRegistryClientPullImageOptions{Repair: true})
	require.NoError(t, err)
	requireLayoutHolds(t, dir, img)
	_, err = c.PushImage(context.Background(), dir, "target", "v1", nil)
	require.NoError(t, err)
	require.Equal(t, img.index, describeManifest(t, srv, "target", "v1").Digest)
}

func TestCopyImageBetweenRegistriesResumesBothSides(t *testing.T) {
	a, b := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
	img := seedIndex(t, a, "app", "v1", []string{"linux/amd64"}, 2, 1_000_000)
	ca, cb := newTestClient(t, a, a.Credential()), newTestClient(t, b, b.Credential())
	// The source cuts a blob read short; the target drops a chunk half-read.
	a.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/sha256:", TruncateBody: 300_000, Times: 1})
	b.InjectFault(acrtest.Fault{Method: http.MethodPatch, Nth: 3, Reset: true, ResetAfterBytes: 100_000})
	resp, err := ca.CopyImage(context.Background(), "app", "v1", cb, "app", "v1", &ContainerRegistryClientCopyImageOptions{ChunkSize: 256 << 10, Concurrency: 1})
	require.NoError(t, err)
	require.Equal(t, img.index, resp.Digest)
	require.Equal(t, 2, a.FaultsFired()+b.FaultsFired())
	for d, want := range img.blobs {
		got, ok := b.Blob("app", d)
		require.True(t, ok)
		require.Equal(t, ComputeDigest(want), ComputeDigest(got))
	}
	ranged := 0
	for _, r := range a.Requests() {
		if r.Method == http.MethodGet && r.Header.Get("Range") != "" && r.Header.Get("Range") != "bytes=0-999999" {
			ranged++
		}
	}
	require.GreaterOrEqual(t, ranged, 1, "the source was read again from where it stopped")
}

func TestImagesWithBlobReadsRedirectedToStorage(t *testing.T) {
	a, b := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true}), acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true})
	img := seedIndex(t, a, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 2, 600_000)
	ca, cb := newTestClient(t, a, a.Credential()), newTestClient(t, b, b.Credential())
	dir := t.TempDir()
	_, err := ca.PullImage(context.Background(), "app", "v1", dir, nil)
	require.NoError(t, err)
	requireLayoutHolds(t, dir, img)
	_, err = ca.CopyImage(context.Background(), "app", "v1", cb, "app", "v1", &ContainerRegistryClientCopyImageOptions{ChunkSize: 256 << 10})
	require.NoError(t, err)
	for d, want := range img.blobs {
		got, ok := b.Blob("app", d)
		require.True(t, ok)
		require.Equal(t, ComputeDigest(want), ComputeDigest(got))
	}
	storage := 0
	for _, r := range a.Requests() {
		if r.Host != "" && !strings.Contains(a.URL, r.Host) {
			storage++
			require.Empty(t, r.Header.Get("Authorization"), "no token at the storage host")
		}
	}
	require.Equal(t, 2*len(img.blobs), storage, "every blob read, by the pull and by the copy, went to storage")
}

func TestImageRequestsPerBlob(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 2, 1000)
	c := newTestClient(t, srv, srv.Credential())
	dir := t.TempDir()
	_, err := c.PullImage(context.Background(), "app", "v1", dir, nil)
	require.NoError(t, err)
	blobs, manifests := len(img.blobs), 3
	count := func() map[string]int {
		n := map[string]int{}
		for _, r := range srv.Requests() {
			if strings.HasPrefix(r.Path, "/v2/") {
				n[r.Method]++
			}
		}
		srv.ResetRequests()
		return n
	}
	// A push to a new repository: for each blob a mount from the
	// repository itself (it opens the session) and the completing PUT
	// with the bytes; then one PUT per manifest, after one HEAD of the tag.
	srv.ResetRequests()
	_, err = c.PushImage(context.Background(), dir, "pushed", "v1", nil)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"HEAD": 1, "POST": blobs, "PUT": blobs + manifests}, count())
	// A copy within the registry: one mount per blob, one GET per
	// manifest, one PUT per manifest.
	_, err = c.CopyImage(context.Background(), "app", "v1", c, "copied", "v1", nil)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"GET": manifests, "HEAD": 1, "POST": blobs, "PUT": manifests}, count())
	// A pull into a fresh layout: one GET per manifest and per blob.
	_, err = c.PullImage(context.Background(), "app", "v1", t.TempDir(), nil)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"GET": manifests + blobs}, count())
	// The same pull again: the layout has it all; the tag's manifest is
	// read to learn what it names now.
	_, err = c.PullImage(context.Background(), "app", "v1", dir, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"GET": 1}, count())
}

func TestPullImageRemovesStaleTempFiles(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedIndex(t, srv, "app", "v1", []string{"linux/amd64"}, 1, 100)
	c := newTestClient(t, srv, srv.Credential())
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "ingest"), 0o755))
	stale, fresh := filepath.Join(dir, "ingest", "tmp-0011223344556677"), filepath.Join(dir, "ingest", "tmp-8899aabbccddeeff")
	require.NoError(t, os.WriteFile(stale, []byte("{"), 0o644))
	require.NoError(t, os.WriteFile(fresh, []byte("{"), 0o644))
	old := time.Now().Add(-25 * time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))
	_, err := c.PullImage(context.Background(), "app", "v1", dir, nil)
	require.NoError(t, err)
	require.NoFileExists(t, stale, "a writer killed a day ago left it")
	require.FileExists(t, fresh, "it may be another writer's, at work now")
}

func TestAnImageTransferLearnsTheRegistrysBodyLimitOnce(t *testing.T) {
	a, b := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
	img := seedIndex(t, a, "app", "v1", []string{"linux/amd64"}, 4, 300_000)
	ca, cb := newTestClient(t, a, a.Credential()), newTestClient(t, b, b.Credential())
	// The target refuses request bodies over 200 KB, as ACR does past
	// about 20 MB.
	b.InjectFault(acrtest.Fault{Match: func(r *http.Request) bool {
		return (r.Method == http.MethodPut || r.Method == http.MethodPatch) && r.ContentLength > 200_000
	}, Status: http.StatusRequestEntityTooLarge})
	_, err := ca.CopyImage(context.Background(), "app", "v1", cb, "app", "v1", &ContainerRegistryClientCopyImageOptions{Concurrency: 1})
	require.NoError(t, err)
	require.Equal(t, 1, b.FaultsFired(), "the first refusal halves the chunk size for every blob after it")
	for d, want := range img.blobs {
		got, ok := b.Blob("app", d)
		require.True(t, ok)
		require.Equal(t, ComputeDigest(want), ComputeDigest(got))
	}
}

// withPartSize makes PullImage fetch blobs in parts of n bytes for one
// test (not parallel).
func withPartSize(t *testing.T, n int64) {
	old := ingestPartSize
	ingestPartSize = n
	t.Cleanup(func() { ingestPartSize = old })
}

func TestPullImageFetchesALargeBlobInPartsAndContinuesEach(t *testing.T) {
	withPartSize(t, 100_000)
	srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true})
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64"}, 1, 450_000)
	c := newTestClient(t, srv, srv.Credential())
	var layer string
	for d, b := range img.blobs {
		if len(b) == 450_000 {
			layer = d
		}
	}
	// An earlier pull was cut off with parts 0 and 2 begun, part 3 done.
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "ingest"), 0o755))
	partial := filepath.Join(dir, "ingest", strings.Replace(layer, ":", "-", 1)+".partial")
	data := img.blobs[layer]
	require.NoError(t, os.WriteFile(partial, data[:40_000], 0o644))
	require.NoError(t, os.WriteFile(partial+".2", data[200_000:230_000], 0o644))
	require.NoError(t, os.WriteFile(partial+".3", data[300_000:400_000], 0o644))
	srv.ResetRequests()
	resp, err := c.PullImage(context.Background(), "app", "v1", dir, &ContainerRegistryClientPullImageOptions{Concurrency: 8})
	require.NoError(t, err)
	requireLayoutHolds(t, dir, img)
	require.Equal(t, img.size-img.manifestBytes()-40_000-30_000-100_000, resp.BytesTransferred)
	var ranges []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet && strings.Contains(r.Path, layer) && r.Status == http.StatusTemporaryRedirect {
			ranges = append(ranges, r.Header.Get("Range"))
		}
	}
	require.ElementsMatch(t, []string{"bytes=40000-99999", "bytes=100000-199999", "bytes=230000-299999", "bytes=400000-449999"}, ranges)
	matches, _ := filepath.Glob(partial + "*")
	require.Empty(t, matches, "the parts are gone once the blob is in blobs/")

	// Parts whose bytes are wrong: the joined blob fails its digest, and
	// the pull starts the blob over once.
	dir2 := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir2, "ingest"), 0o755))
	partial2 := filepath.Join(dir2, "ingest", strings.Replace(layer, ":", "-", 1)+".partial.1")
	require.NoError(t, os.WriteFile(partial2, make([]byte, 100_000), 0o644))
	resp, err = c.PullImage(context.Background(), "app", "v1", dir2, nil)
	require.NoError(t, err)
	requireLayoutHolds(t, dir2, img)
	require.Equal(t, img.size-img.manifestBytes()-100_000+450_000, resp.BytesTransferred)
}

func TestPullImageOfALayerLyingAboutItsSizeMakesNoFiles(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestClient(t, srv, srv.Credential())
	layer := []byte(strings.Repeat("x", 5000))
	config := []byte(`{"os":"linux","architecture":"amd64"}`)
	m := ImageManifest{SchemaVersion: 2, MediaType: string(ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config: Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: srv.PutBlob("app", config), Size: int64(len(config))},
		Layers: []Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: srv.PutBlob("app", layer), Size: 64 << 30}}}
	body, err := json.Marshal(m)
	require.NoError(t, err)
	_, err = srv.PutManifest("app", "v1", m.MediaType, body)
	require.NoError(t, err)
	dir := t.TempDir()
	srv.ResetRequests()
	_, err = c.PullImage(context.Background(), "app", "v1", dir, nil)
	require.ErrorIs(t, err, ErrSizeMismatch)
	files, _ := filepath.Glob(filepath.Join(dir, "ingest", "*.partial*"))
	require.LessOrEqual(t, len(files), 1, "no file per 16 MiB of the claimed 64 GiB: %v", files)
	require.Less(t, srv.CountRequests(http.MethodGet, "/v2/app/blobs/"), 2*DefaultImageConcurrency, "a size that will not change is not asked again and again")
}

func TestARepeatedCopyOfOnePlatformCostsTwoRequests(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 1, 100)
	c := newTestClient(t, srv, srv.Credential())
	opts := &ContainerRegistryClientCopyImageOptions{Platforms: []string{"linux/arm64"}}
	resp, err := c.CopyImage(context.Background(), "app", "v1", c, "arm", "v1", opts)
	require.NoError(t, err)
	require.Equal(t, img.platforms["linux/arm64"], resp.Digest)
	srv.ResetRequests()
	resp, err = c.CopyImage(context.Background(), "app", "v1", c, "arm", "v1", opts)
	require.NoError(t, err)
	require.True(t, resp.UpToDate)
	n := 0
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.Path, "/v2/") {
			n++
		}
	}
	require.Equal(t, 2, n, "the index from the source, the tag from the target: the platform's manifest is not needed")
}

func TestPushImageWithReferrersPushesWhatThePullBrought(t *testing.T) {
	a, b := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
	img := seedIndex(t, a, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 1, 1000)
	root := describeManifest(t, a, "app", "v1")
	sig := seedReferrer(t, a, "app", root, "application/vnd.example.signature", "signed root")
	sbom := seedReferrer(t, a, "app", describeManifest(t, a, "app", img.platforms["linux/arm64"]), "application/vnd.example.sbom", "sbom")
	ca, cb := newTestClient(t, a, a.Credential()), newTestClient(t, b, b.Credential())
	dir := t.TempDir()
	_, err := ca.PullImage(context.Background(), "app", "v1", dir, &ContainerRegistryClientPullImageOptions{Referrers: true})
	require.NoError(t, err)

	resp, err := cb.PushImage(context.Background(), dir, "app", "v1", &ContainerRegistryClientPushImageOptions{Referrers: true})
	require.NoError(t, err)
	require.Equal(t, img.index, resp.Digest)
	require.Equal(t, 5, resp.Manifests, "the index, two platforms, two referrers")
	for _, d := range []string{sig, sbom} {
		_, _, ok := b.Manifest("app", d)
		require.True(t, ok, d)
	}
	requireSameReferrers(t, ca, cb, "app", root.Digest)

	// Without the option, the referrers stay behind.
	_, err = cb.PushImage(context.Background(), dir, "plain", "v1", nil)
	require.NoError(t, err)
	_, _, ok := b.Manifest("plain", sig)
	require.False(t, ok)
}
