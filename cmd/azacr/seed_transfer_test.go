package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/stretchr/testify/require"
)

// seededImage is an image stored by seedLayeredImage.
type seededImage struct {
	digest string
	desc   azacr.Descriptor // of the manifest
	blobs  int              // config and layers
	bytes  int64            // of the blobs and the manifest
}

// seedLayeredImage stores an image for platform ("os/arch") with layers
// of the given sizes, of pseudo-random bytes drawn from seed, under
// repo:tag ("" stores it by digest only).
func seedLayeredImage(t *testing.T, r *testRegistry, repo, tag, platform string, seed int64, layerSizes ...int) seededImage {
	t.Helper()
	osName, arch, _ := strings.Cut(platform, "/")
	config := fmt.Appendf(nil, `{"architecture":%q,"os":%q,"rootfs":{"type":"layers","diff_ids":[]},"seed":%d}`, arch, osName, seed)
	m := azacr.ImageManifest{SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config: azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: r.PutBlob(repo, config), Size: int64(len(config))}}
	img := seededImage{blobs: 1, bytes: int64(len(config))}
	rnd := rand.New(rand.NewSource(seed))
	for _, n := range layerSizes {
		layer := make([]byte, n)
		rnd.Read(layer)
		m.Layers = append(m.Layers, azacr.Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: r.PutBlob(repo, layer), Size: int64(n)})
		img.blobs++
		img.bytes += int64(n)
	}
	body, err := json.Marshal(m)
	require.NoError(t, err)
	ref := tag
	if ref == "" {
		ref = azacr.ComputeDigest(body)
	}
	img.digest, err = r.PutManifest(repo, ref, m.MediaType, body)
	require.NoError(t, err)
	img.bytes += int64(len(body))
	img.desc = azacr.Descriptor{MediaType: m.MediaType, Digest: img.digest, Size: int64(len(body)),
		Platform: &azacr.Platform{OS: osName, Architecture: arch}}
	return img
}

// seedIndex stores a two-layer image for each platform and an index of
// them under repo:tag, and returns the index's digest.
func seedIndex(t *testing.T, r *testRegistry, repo, tag string, platforms ...string) string {
	t.Helper()
	idx := azacr.ImageIndex{SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndOCIImageIndexV1JSON)}
	for i, p := range platforms {
		img := seedLayeredImage(t, r, repo, "", p, int64(100+i), 3000, 5000)
		idx.Manifests = append(idx.Manifests, img.desc)
	}
	body, err := json.Marshal(idx)
	require.NoError(t, err)
	d, err := r.PutManifest(repo, tag, idx.MediaType, body)
	require.NoError(t, err)
	return d
}

// combinedCA writes one --ca-file that trusts every registry given.
func combinedCA(t *testing.T, regs ...*testRegistry) string {
	t.Helper()
	var all []byte
	for _, r := range regs {
		pem, err := os.ReadFile(r.caFile)
		require.NoError(t, err)
		all = append(all, pem...)
	}
	f := filepath.Join(t.TempDir(), "cas.pem")
	require.NoError(t, os.WriteFile(f, all, 0o644))
	return f
}
