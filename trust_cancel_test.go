package azacr

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryCallReturnsWhenCancelledWhileTheRegistryStalls: for each kind
// of call, the registry holds one of its requests (or a token request)
// unanswered; the caller cancels; the call must return promptly with an
// error wrapping context.Canceled and leave no goroutine behind.
func TestEveryCallReturnsWhenCancelledWhileTheRegistryStalls(t *testing.T) {
	data := bytes.Repeat([]byte("stall"), 50_000)
	file := filepath.Join(t.TempDir(), "blob")
	require.NoError(t, os.WriteFile(file, data, 0o600))
	type env struct {
		c      *ContainerRegistryClient
		b      *BlobClient
		digest string
	}
	calls := []struct {
		name  string
		stall acrtest.Fault
		run   func(context.Context, env) error
	}{
		{"token fetch", acrtest.Fault{Path: "/oauth2/token"}, func(ctx context.Context, e env) error {
			_, err := e.c.GetRepositoryProperties(ctx, "hello", nil)
			return err
		}},
		{"exchange", acrtest.Fault{Path: "/oauth2/exchange"}, func(ctx context.Context, e env) error {
			_, err := e.c.GetRepositoryProperties(ctx, "hello", nil)
			return err
		}},
		{"pager", acrtest.Fault{Path: "/acr/v1/_catalog"}, func(ctx context.Context, e env) error {
			_, err := e.c.NewListRepositoriesPager(nil).NextPage(ctx)
			return err
		}},
		{"manifest", acrtest.Fault{Method: http.MethodGet, Path: "/manifests/"}, func(ctx context.Context, e env) error {
			_, err := e.c.GetManifest(ctx, "hello", "v1", nil)
			return err
		}},
		{"upload start", acrtest.Fault{Method: http.MethodPost, Path: "/blobs/uploads/"}, func(ctx context.Context, e env) error {
			_, err := e.b.UploadBlob(ctx, "hello", bytes.NewReader(data), &BlobClientUploadBlobOptions{SkipExistenceCheck: true})
			return err
		}},
		{"upload chunk from a reader", acrtest.Fault{Method: http.MethodPatch, Path: "/blobs/uploads/", Nth: 2}, func(ctx context.Context, e env) error {
			_, err := e.b.UploadBlob(ctx, "hello", plainReader{bytes.NewReader(data)}, &BlobClientUploadBlobOptions{ChunkSize: 32 << 10})
			return err
		}},
		{"upload chunk from a file", acrtest.Fault{Method: http.MethodPatch, Path: "/blobs/uploads/", Nth: 2}, func(ctx context.Context, e env) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = e.b.UploadBlob(ctx, "hello", f, &BlobClientUploadBlobOptions{ChunkSize: 32 << 10, SkipExistenceCheck: true})
			return err
		}},
		{"upload completion", acrtest.Fault{Method: http.MethodPut, Path: "/blobs/uploads/"}, func(ctx context.Context, e env) error {
			_, err := e.b.UploadBlob(ctx, "hello", bytes.NewReader(data), &BlobClientUploadBlobOptions{ChunkSize: 32 << 10, SkipExistenceCheck: true})
			return err
		}},
		{"get blob", acrtest.Fault{Method: http.MethodGet, Path: "/blobs/sha256:"}, func(ctx context.Context, e env) error {
			_, err := e.b.GetBlob(ctx, "hello", e.digest, nil)
			return err
		}},
		{"sequential download", acrtest.Fault{Method: http.MethodGet, Path: "/blobs/sha256:", Nth: 1}, func(ctx context.Context, e env) error {
			_, err := e.b.DownloadBlob(ctx, "hello", e.digest, &bytesWriterAt{}, nil)
			return err
		}},
		{"parallel download, a later block", acrtest.Fault{Method: http.MethodGet, Path: "/blobs/sha256:", Nth: 3}, func(ctx context.Context, e env) error {
			_, err := e.b.DownloadBlob(ctx, "hello", e.digest, &bytesWriterAt{}, &BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 16 << 10})
			return err
		}},
		{"blob exists", acrtest.Fault{Method: http.MethodHead, Path: "/blobs/"}, func(ctx context.Context, e env) error {
			_, err := e.b.CheckBlobExists(ctx, "hello", e.digest, nil)
			return err
		}},
	}
	for _, call := range calls {
		t.Run(call.name, func(t *testing.T) {
			srv := acrtest.NewServer(t, nil)
			seedImage(t, srv, "hello", "v1")
			e := env{digest: srv.PutBlob("hello", data)}
			e.c = newTestClient(t, srv, srv.Credential())
			e.b = newTestBlobClient(t, srv, srv.Credential())
			before := settledGoroutines(srv, 0)

			stall := call.stall
			stall.Delay = time.Hour
			srv.InjectFault(stall)
			ctx, cancel := context.WithCancel(t.Context())
			timer := time.AfterFunc(50*time.Millisecond, cancel)
			defer timer.Stop()
			err := within(t, func() error { return call.run(ctx, e) })
			cancel()
			require.ErrorIs(t, err, context.Canceled)
			assert.NotZero(t, srv.FaultsFired(), "the stall was reached")
			srv.ClearFaults()
			assertNoLeak(t, srv, before)
		})
	}
}
