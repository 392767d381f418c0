package azacr

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
)

// testImage is an image stored in the emulator by seedIndex.
type testImage struct {
	index     string            // the index digest
	platforms map[string]string // "os/arch" → its manifest digest
	blobs     map[string][]byte // every config and layer by digest
	size      int64             // bytes of every blob and manifest
}

// seedIndex stores in repo, under tag, an OCI index over one image per
// platform ("os/arch" or "os/arch/variant"), each with layers random
// layers of layerSize bytes (seeded, so distinct per platform).
func seedIndex(t *testing.T, srv *acrtest.Server, repo, tag string, platforms []string, layers, layerSize int) testImage {
	t.Helper()
	img := testImage{platforms: map[string]string{}, blobs: map[string][]byte{}}
	rng := rand.New(rand.NewSource(int64(len(repo) + len(tag)*7 + layers*13 + layerSize)))
	idx := ImageIndex{SchemaVersion: 2, MediaType: string(ContentTypeApplicationVndOCIImageIndexV1JSON)}
	for _, p := range platforms {
		pl, err := parsePlatforms([]string{p})
		require.NoError(t, err)
		platform := &Platform{OS: pl[0].os, Architecture: pl[0].arch, Variant: pl[0].variant}
		config, err := json.Marshal(map[string]any{"os": platform.OS, "architecture": platform.Architecture, "variant": platform.Variant, "rootfs": map[string]any{"type": "layers"}})
		require.NoError(t, err)
		m := ImageManifest{SchemaVersion: 2, MediaType: string(ContentTypeApplicationVndOCIImageManifestV1JSON),
			Config: img.put(srv, repo, "application/vnd.oci.image.config.v1+json", config)}
		for i := 0; i < layers; i++ {
			data := make([]byte, layerSize)
			rng.Read(data)
			m.Layers = append(m.Layers, img.put(srv, repo, "application/vnd.oci.image.layer.v1.tar", data))
		}
		body, err := json.Marshal(m)
		require.NoError(t, err)
		d, err := srv.PutManifest(repo, ComputeDigest(body), m.MediaType, body)
		require.NoError(t, err)
		img.platforms[p] = d
		img.size += int64(len(body))
		idx.Manifests = append(idx.Manifests, Descriptor{MediaType: m.MediaType, Digest: d, Size: int64(len(body)), Platform: platform})
	}
	body, err := json.Marshal(idx)
	require.NoError(t, err)
	img.index, err = srv.PutManifest(repo, tag, idx.MediaType, body)
	require.NoError(t, err)
	img.size += int64(len(body))
	return img
}

func (img *testImage) put(srv *acrtest.Server, repo, mediaType string, data []byte) Descriptor {
	d := srv.PutBlob(repo, data)
	img.blobs[d] = data
	img.size += int64(len(data))
	return Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// seedReferrer stores in repo an artifact manifest of artifactType whose
// subject is the manifest subject (of subjectSize bytes and mediaType), and
// returns its digest.
func seedReferrer(t *testing.T, srv *acrtest.Server, repo string, subject Descriptor, artifactType, content string) string {
	t.Helper()
	blob := srv.PutBlob(repo, []byte(content))
	empty := srv.PutBlob(repo, []byte("{}"))
	m := ImageManifest{SchemaVersion: 2, MediaType: string(ContentTypeApplicationVndOCIImageManifestV1JSON), ArtifactType: artifactType,
		Config:  Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: empty, Size: 2},
		Layers:  []Descriptor{{MediaType: "application/octet-stream", Digest: blob, Size: int64(len(content))}},
		Subject: &Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}}
	body, err := json.Marshal(m)
	require.NoError(t, err)
	d, err := srv.PutManifest(repo, ComputeDigest(body), m.MediaType, body)
	require.NoError(t, err)
	return d
}

// describeManifest is the descriptor of the manifest reference names in
// the emulator.
func describeManifest(t *testing.T, srv *acrtest.Server, repo, reference string) Descriptor {
	t.Helper()
	body, mediaType, ok := srv.Manifest(repo, reference)
	require.True(t, ok, fmt.Sprintf("%s@%s", repo, reference))
	return Descriptor{MediaType: mediaType, Digest: ComputeDigest(body), Size: int64(len(body))}
}
