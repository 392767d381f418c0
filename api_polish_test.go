package azacr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDownloadBlobTruncatesALongerFile: a file that held more than the
// blob holds exactly the blob afterwards, in both download modes.
func TestDownloadBlobTruncatesALongerFile(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestBlobClient(t, srv, srv.Credential())
	data := randomBytes(t, 100<<10)
	d := srv.PutBlob("r", data)
	for _, mode := range downloadModes {
		t.Run(mode.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "blob")
			require.NoError(t, os.WriteFile(path, randomBytes(t, 300<<10), 0o600))
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			opts := mode.opts
			_, err = c.DownloadBlob(t.Context(), "r", d, f, &opts)
			require.NoError(t, f.Close())
			require.NoError(t, err)
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, data, got)
		})
	}
}

// TestUploadManifestTakesAnyReader: a manifest can come from any reader,
// not only a seekable one.
func TestUploadManifestTakesAnyReader(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedImage(t, srv, "r", "v1")
	c := newTestClient(t, srv, srv.Credential())
	m, err := c.GetManifest(t.Context(), "r", "v1", nil)
	require.NoError(t, err)
	resp, err := c.UploadManifest(t.Context(), "r", "v2", ContentTypeApplicationVndOCIImageManifestV1JSON,
		plainReader{strings.NewReader(string(m.ManifestData))}, nil)
	require.NoError(t, err)
	assert.Equal(t, *m.DockerContentDigest, *resp.DockerContentDigest)
}
