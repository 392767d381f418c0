//go:build unix

package azacr

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
)

// A layout directory others can write must not steer a pull's writes to a
// file elsewhere: a work file that is a symbolic or hard link is replaced
// by a file of the pull's own, and so is a blob's name in blobs/.
func TestPullImageNeverWritesThroughASymbolicLink(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64"}, 1, 1000)
	c := newTestClient(t, srv, srv.Credential())
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o644))

	var layer string
	for d, b := range img.blobs {
		if len(b) == 1000 {
			layer = d
		}
	}
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "ingest"), 0o755))
	partial := filepath.Join(dir, "ingest", strings.Replace(layer, ":", "-", 1)+".partial")
	require.NoError(t, os.Symlink(victim, partial))
	_, err := c.PullImage(context.Background(), "app", "v1", dir, nil)
	require.NoError(t, err, "a partial file that is a link is replaced by a file of the pull's own")
	requireLayoutHolds(t, dir, img)
	got, err := os.ReadFile(victim)
	require.NoError(t, err)
	require.Equal(t, "precious", string(got))

	// A hard link to the victim in its place: the same.
	dir3 := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir3, "ingest"), 0o755))
	require.NoError(t, os.Link(victim, filepath.Join(dir3, "ingest", strings.Replace(layer, ":", "-", 1)+".partial")))
	_, err = c.PullImage(context.Background(), "app", "v1", dir3, nil)
	require.NoError(t, err)
	requireLayoutHolds(t, dir3, img)
	got, err = os.ReadFile(victim)
	require.NoError(t, err)
	require.Equal(t, "precious", string(got))

	// A blob name that is a link to the victim is not the blob: it is
	// replaced by the blob, and the victim stays as it was.
	dir2 := t.TempDir()
	blobs := filepath.Join(dir2, "blobs", "sha256")
	require.NoError(t, os.MkdirAll(blobs, 0o755))
	require.NoError(t, os.Symlink(victim, filepath.Join(blobs, strings.TrimPrefix(layer, "sha256:"))))
	_, err = c.PullImage(context.Background(), "app", "v1", dir2, nil)
	require.NoError(t, err)
	requireLayoutHolds(t, dir2, img)
	got, err = os.ReadFile(victim)
	require.NoError(t, err)
	require.Equal(t, "precious", string(got))
}
