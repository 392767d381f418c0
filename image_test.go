package azacr

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

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
		require.Equal(t, want, got, d)
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
	require.Equal(t, img.size, resp.BytesTransferred)
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
	require.Equal(t, int64(0), resp.BytesTransferred-img.manifestBytes(t, srv))
	require.Equal(t, 0, srv.CountRequests(http.MethodPatch, "/"))
	require.Equal(t, len(img.blobs), srv.CountRequests(http.MethodPost, "/v2/mirror/blobs/uploads/"))
	require.Equal(t, img.index, describeManifest(t, srv, "mirror", "latest").Digest)
}

// manifestBytes is the size of img's manifests.
func (img testImage) manifestBytes(t *testing.T, srv *acrtest.Server) int64 {
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
	require.Equal(t, img.size, resp.BytesTransferred)
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
