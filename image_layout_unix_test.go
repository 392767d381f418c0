//go:build unix

package azacr

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// A layout is a directory anybody may have written: a FIFO or a device
// where a file should be is refused at once (open(2) on a FIFO waits for
// a writer, and cannot be cancelled), and nothing is read past a
// descriptor's size.
func TestPushImageRefusesFIFOsAndDevicesWithoutWaiting(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64"}, 1, 1000)
	c := newTestClient(t, srv, srv.Credential())
	for _, target := range []string{"oci-layout", "index.json", "root", "layer"} {
		for _, kind := range []string{"fifo", "dev-zero"} {
			t.Run(target+"/"+kind, func(t *testing.T) {
				dir := t.TempDir()
				_, err := c.PullImage(context.Background(), "app", "v1", dir, nil)
				require.NoError(t, err)
				path := filepath.Join(dir, target)
				l := &imageLayout{dir: dir}
				switch target {
				case "root":
					path = l.blobPath(img.index)
				case "layer":
					for d, b := range img.blobs {
						if len(b) == 1000 {
							path = l.blobPath(d)
						}
					}
				}
				require.NoError(t, os.Remove(path))
				if kind == "fifo" {
					require.NoError(t, syscall.Mkfifo(path, 0o644))
				} else {
					require.NoError(t, os.Symlink("/dev/zero", path))
				}
				ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
				defer cancel()
				_, err = c.PushImage(ctx, dir, "copy", "v1", nil)
				require.ErrorIs(t, err, ErrInvalidLayout)
				require.NoError(t, ctx.Err(), "it returned without waiting")
			})
		}
	}
}

func TestPullImageWaitingForTheIndexLockWatchesCtx(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedIndex(t, srv, "app", "v1", []string{"linux/amd64"}, 1, 100)
	c := newTestClient(t, srv, srv.Credential())
	dir := t.TempDir()
	_, err := c.PullImage(context.Background(), "app", "v1", dir, nil)
	require.NoError(t, err)
	// Another process holds index.json's lock.
	other, err := os.OpenFile(filepath.Join(dir, "ingest", "index.lock"), os.O_RDWR, 0)
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, syscall.Flock(int(other.Fd()), syscall.LOCK_EX))
	before, err := os.ReadFile(filepath.Join(dir, "index.json"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.PullImage(ctx, "app", "v1", dir, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	after, err := os.ReadFile(filepath.Join(dir, "index.json"))
	require.NoError(t, err)
	require.Equal(t, before, after)
}
