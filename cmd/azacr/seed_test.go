package main

import (
	"encoding/json"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/stretchr/testify/require"
)

// seedTestImage stores a one-layer linux/amd64 image under repo:tag and
// returns its digest.
func seedTestImage(t *testing.T, r *testRegistry, repo, tag, layer string) string {
	t.Helper()
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	m := azacr.ImageManifest{SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config: azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: r.PutBlob(repo, config), Size: int64(len(config))},
		Layers: []azacr.Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: r.PutBlob(repo, []byte(layer)), Size: int64(len(layer))}}}
	body, err := json.Marshal(m)
	require.NoError(t, err)
	d, err := r.PutManifest(repo, tag, m.MediaType, body)
	require.NoError(t, err)
	return d
}

// seedTestSignature stores an artifact of artifactType whose subject is
// the manifest digest in repo, and returns its digest.
func seedTestSignature(t *testing.T, r *testRegistry, repo, digest, artifactType string) string {
	t.Helper()
	subject, mediaType, ok := r.Manifest(repo, digest)
	require.True(t, ok)
	m := azacr.ImageManifest{SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON), ArtifactType: artifactType,
		Config:  azacr.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: r.PutBlob(repo, []byte("{}")), Size: 2},
		Layers:  []azacr.Descriptor{{MediaType: "application/octet-stream", Digest: r.PutBlob(repo, []byte("sig")), Size: 3}},
		Subject: &azacr.Descriptor{MediaType: mediaType, Digest: digest, Size: int64(len(subject))}}
	body, err := json.Marshal(m)
	require.NoError(t, err)
	d, err := r.PutManifest(repo, azacr.ComputeDigest(body), m.MediaType, body)
	require.NoError(t, err)
	return d
}
