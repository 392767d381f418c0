package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// confVariant is one way of serving the registry. Every behaviour of the
// /v2 API must be the same whatever the authentication.
type confVariant struct {
	name  string
	start func(testing.TB) *TestRegistry
}

var confVariants = []confVariant{
	{"token-tls", func(tb testing.TB) *TestRegistry { return StartTokenRegistry(tb, true) }},
	{"token-http", func(tb testing.TB) *TestRegistry { return StartTokenRegistry(tb, false) }},
	{"htpasswd-tls", func(tb testing.TB) *TestRegistry { return StartHtpasswdRegistry(tb, true) }},
	{"noauth-http", func(tb testing.TB) *TestRegistry { return StartOpenRegistry(tb, false) }},
}

// forEachVariant runs f against a fresh registry of every variant, in
// parallel: each has its own server and storage. The tests themselves
// run in parallel too, so the 64 MiB transfers, which mostly wait on the
// filesystem driver's fsyncs, overlap with the others.
func forEachVariant(t *testing.T, f func(t *testing.T, r *TestRegistry)) {
	for _, v := range confVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			f(t, v.start(t))
		})
	}
}

// confBytes returns n reproducible pseudo-random bytes; seed keeps two
// blobs of one size distinct, so an upload is never skipped because the
// registry already holds the same content.
func confBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(n), byte(n >> 8), byte(n >> 16)})
	_, _ = rng.Read(b)
	return b
}

// onlyReader hides every method of a reader but Read, so UploadBlob sees
// a stream it cannot seek or measure.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// requireStatus asserts that err is an *azcore.ResponseError with status.
func requireStatus(t *testing.T, err error, status int) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	require.True(t, errors.As(err, &re), "want an *azcore.ResponseError %d, got %v", status, err)
	require.Equal(t, status, re.StatusCode, "%v", err)
	return re
}

// sameContent reports whether r yields exactly want. It compares through
// a small reused buffer: under -race every fresh large allocation costs
// seconds (its shadow memory is mapped on first touch), so reading a
// 64 MiB blob into a new slice would dominate the suite.
func sameContent(t *testing.T, want []byte, r io.Reader) bool {
	t.Helper()
	buf := make([]byte, 256<<10)
	off := 0
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if off+n > len(want) || !bytes.Equal(want[off:off+n], buf[:n]) {
				return false
			}
			off += n
		}
		if err == io.EOF {
			return off == len(want)
		}
		require.NoError(t, err)
	}
}

// openTemp writes data to a new file and returns it open for reading.
func openTemp(t *testing.T, data []byte) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "upload")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// sameFile reports whether the file at path holds exactly want.
func sameFile(t *testing.T, want []byte, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	return sameContent(t, want, f)
}

// downloadAll checks a blob three ways: GetBlob read to the end, and
// DownloadBlob into a file streaming and with four ranged workers.
func downloadAll(t *testing.T, c *azacr.BlobClient, repo, digest string, want []byte, blockSize int64) {
	t.Helper()
	ctx := t.Context()
	got, err := c.GetBlob(ctx, repo, digest, nil)
	require.NoError(t, err)
	require.True(t, sameContent(t, want, got.Body), "GetBlob returned other bytes")
	require.NoError(t, got.Body.Close())
	require.NotNil(t, got.ContentLength)
	require.Equal(t, int64(len(want)), *got.ContentLength)

	for _, conc := range []int{1, 4} {
		f, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("blob-%d", conc)))
		require.NoError(t, err)
		res, err := c.DownloadBlob(ctx, repo, digest, f, &azacr.BlobClientDownloadBlobOptions{Concurrency: conc, BlockSize: blockSize})
		require.NoError(t, f.Close())
		require.NoError(t, err, "DownloadBlob with Concurrency %d", conc)
		require.Equal(t, int64(len(want)), res.Size)
		require.True(t, sameFile(t, want, f.Name()), "DownloadBlob with Concurrency %d wrote other bytes", conc)
	}
}

// checkChunks reads ranges with GetChunk; distribution answers 206 with
// Content-Range. A range past the end is cut at the end.
func checkChunks(t *testing.T, c *azacr.BlobClient, repo, digest string, data []byte) {
	t.Helper()
	n := int64(len(data))
	ranges := [][2]int64{{0, 0}, {n - 1, n + 100}}
	if n >= 2 {
		ranges = append(ranges, [2]int64{1, n - 1}, [2]int64{n / 2, min(n-1, n/2+999)})
	}
	for _, rg := range ranges {
		res, err := c.GetChunk(t.Context(), repo, digest, rg[0], rg[1], nil)
		require.NoError(t, err, "GetChunk %d-%d", rg[0], rg[1])
		end := min(rg[1], n-1)
		got, err := io.ReadAll(res.Body)
		require.NoError(t, res.Body.Close())
		require.NoError(t, err)
		require.Equal(t, data[rg[0]:end+1], got, "GetChunk %d-%d", rg[0], rg[1])
		require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", rg[0], end, n), *res.ContentRange)
		require.Equal(t, end-rg[0]+1, *res.ContentLength)
	}
}

// TestBlobUploadDownloadMatrix uploads blobs at the chunk boundaries from
// seekable and non-seekable readers, then downloads each with GetBlob,
// DownloadBlob (one and four workers) and GetChunk, against every variant.
// It also checks the round trips: one POST, one PATCH per chunk when the
// blob exceeds a chunk (none otherwise: the bytes ride on the PUT), one
// PUT, and a HEAD only when a seekable body lets the client hash first.
func TestBlobUploadDownloadMatrix(t *testing.T) {
	t.Parallel()
	const chunk = 1 << 20
	sizes := []int{0, 1, chunk, chunk + 1}
	forEachVariant(t, func(t *testing.T, r *TestRegistry) {
		c := r.BlobClient(t)
		unauthorized := 0
		for _, size := range sizes {
			for i, kind := range []string{"seekable", "stream", "file"} {
				name := fmt.Sprintf("%dB-%s", size, kind)
				repo := fmt.Sprintf("matrix/b%d-%s", size, kind)
				data := confBytes(size, uint64(i+1))
				var body io.Reader
				switch kind {
				case "seekable":
					body = bytes.NewReader(data)
				case "stream":
					body = onlyReader{bytes.NewReader(data)}
				case "file":
					body = openTemp(t, data)
				}
				r.Log.Reset()
				res, err := c.UploadBlob(t.Context(), repo, body, &azacr.BlobClientUploadBlobOptions{ChunkSize: chunk})
				require.NoError(t, err, name)
				require.Equal(t, azacr.ComputeDigest(data), res.Digest, name)
				require.Equal(t, int64(size), res.Size, name)
				require.False(t, res.Skipped, name)

				patches := 0
				if size > chunk {
					patches = (size + chunk - 1) / chunk
				}
				heads := 0
				if kind == "seekable" && size > chunk {
					heads = 1
				}
				// Answered registry requests only: a 401 is a try the client
				// repeats, and token requests are counted by the auth tests.
				m := map[string]int{}
				for _, rec := range r.Log.Records() {
					if rec.Status != http.StatusUnauthorized && !strings.HasPrefix(rec.Path, "/oauth2/") {
						m[rec.Method]++
					}
				}
				unauthorized += r.Log.Unauthorized()
				assert.Equal(t, 1, m[http.MethodPost], "%s POSTs\n%s", name, r.Log)
				assert.Equal(t, patches, m[http.MethodPatch], "%s PATCHes\n%s", name, r.Log)
				assert.Equal(t, 1, m[http.MethodPut], "%s PUTs\n%s", name, r.Log)
				if kind == "file" && size > chunk {
					// Hashed while it is sent: a HEAD once the digest is
					// known, if chunks are left to save.
					assert.LessOrEqual(t, m[http.MethodHead], 1, "%s HEADs\n%s", name, r.Log)
				} else {
					assert.Equal(t, heads, m[http.MethodHead], "%s HEADs\n%s", name, r.Log)
				}

				downloadAll(t, c, repo, res.Digest, data, 256<<10)
				// No range of an empty blob exists; distribution then
				// answers 200 (net/http ignores Range on empty content),
				// which GetChunk reports as an error. Ranges start at 1 B.
				if size > 0 {
					checkChunks(t, c, repo, res.Digest, data)
				}
			}
		}
		// Token clients know every scope before sending, so the registry
		// never challenges them; a password client learns Basic from one
		// challenge, the first request of the client.
		want := 0
		if r.Options.Auth == AuthHtpasswd {
			want = 1
		}
		assert.Equal(t, want, unauthorized, "401s over the whole matrix")
	})
}

// TestLargeBlob64MiB uploads 64 MiB with the default 4 MiB chunk from a
// seekable reader over TLS and from a non-seekable one over plain HTTP,
// both with token auth: sixteen PATCHes of exactly one chunk each, the
// PUT without bytes, every byte sent once. Each is read back streaming
// (GetBlob) and with four ranged workers (DownloadBlob); the one-worker
// download is the matrix's, at sizes that cost less under -race.
func TestLargeBlob64MiB(t *testing.T) {
	t.Parallel()
	const size = 64 << 20
	cases := []struct {
		name     string
		tls      bool
		seekable bool
	}{
		{"token-tls-seekable", true, true},
		{"token-http-stream", false, false},
		{"token-http-file", false, true}, // sent by sendfile(2)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := StartTokenRegistry(t, tc.tls)
			c := r.BlobClient(t)
			data := confBytes(size, uint64(i))
			var body io.Reader = bytes.NewReader(data)
			switch {
			case strings.HasSuffix(tc.name, "-file"):
				body = openTemp(t, data)
			case !tc.seekable:
				body = onlyReader{body}
			}
			res, err := c.UploadBlob(t.Context(), "big/blob", body, nil)
			require.NoError(t, err)
			require.Equal(t, azacr.ComputeDigest(data), res.Digest)
			require.Equal(t, int64(size), res.Size)

			var patchBytes, putBytes int64
			patches := 0
			for _, rec := range r.Log.Records() {
				switch rec.Method {
				case http.MethodPatch:
					patches++
					patchBytes += rec.BodyBytes
					assert.Equal(t, int64(azacr.DefaultChunkSize), rec.BodyBytes, "each PATCH carries one chunk")
					assert.Equal(t, http.StatusAccepted, rec.Status)
				case http.MethodPut:
					putBytes += rec.BodyBytes
				}
			}
			assert.Equal(t, size/azacr.DefaultChunkSize, patches)
			assert.Equal(t, int64(size), patchBytes+putBytes, "every byte sent exactly once")
			assert.Zero(t, r.Log.Unauthorized())

			got, err := c.GetBlob(t.Context(), "big/blob", res.Digest, nil)
			require.NoError(t, err)
			require.True(t, sameContent(t, data, got.Body), "GetBlob returned other bytes")
			require.NoError(t, got.Body.Close())
			// The registry logs a request when its handler returns, which
			// may be after the client has read the whole body: wait for
			// GetBlob's record, so it is not counted as DownloadBlob's.
			require.Eventually(t, func() bool {
				return r.Log.Count(func(rec RequestRecord) bool { return rec.Method == http.MethodGet && rec.Status == http.StatusOK }) > 0
			}, 10*time.Second, 5*time.Millisecond)

			f, err := os.Create(filepath.Join(t.TempDir(), "blob"))
			require.NoError(t, err)
			r.Log.Reset()
			dl, err := c.DownloadBlob(t.Context(), "big/blob", res.Digest, f, &azacr.BlobClientDownloadBlobOptions{Concurrency: 4})
			require.NoError(t, f.Close())
			require.NoError(t, err)
			require.Equal(t, int64(size), dl.Size)
			assert.Equal(t, size/(4<<20), r.Log.ByMethod()[http.MethodGet], "one ranged GET per 4 MiB block")
			require.True(t, sameFile(t, data, f.Name()), "DownloadBlob wrote other bytes")
		})
	}
}

// TestNoAuthSendsBodiesIntact: against a registry that never challenges,
// a client without credential must send every body on the first try, in
// full. The official SDK sends empty bodies here: it withholds them until
// a challenge that never comes. The registry recomputes each digest, and
// the log shows each request read exactly its declared length.
func TestNoAuthSendsBodiesIntact(t *testing.T) {
	t.Parallel()
	r := StartOpenRegistry(t, false)
	bc := r.BlobClientWith(t, nil)
	cc := r.ClientWith(t, nil)
	ctx := t.Context()
	layer := confBytes(3<<20+17, 9)
	up, err := bc.UploadBlob(ctx, "intact/repo", onlyReader{bytes.NewReader(layer)}, &azacr.BlobClientUploadBlobOptions{ChunkSize: 1 << 20})
	require.NoError(t, err)
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfg, err := bc.UploadBlob(ctx, "intact/repo", bytes.NewReader(config), nil)
	require.NoError(t, err)
	manifest := mustJSON(t, azacr.ImageManifest{
		SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config: azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cfg.Digest, Size: int64(len(config))},
		Layers: []azacr.Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: up.Digest, Size: int64(len(layer))}},
	})
	_, err = cc.UploadManifest(ctx, "intact/repo", "v1", azacr.ContentTypeApplicationVndOCIImageManifestV1JSON, streaming.NopCloser(bytes.NewReader(manifest)), nil)
	require.NoError(t, err)

	var sent int64
	for _, rec := range r.Log.Records() {
		assert.NotEqual(t, http.StatusUnauthorized, rec.Status)
		assert.Less(t, rec.Status, 300, "%s %s", rec.Method, rec.Path)
		assert.Empty(t, rec.AuthScheme, "no credential, no Authorization")
		if rec.ContentLength > 0 {
			assert.Equal(t, rec.ContentLength, rec.BodyBytes, "%s %s read its whole body", rec.Method, rec.Path)
		}
		sent += rec.BodyBytes
	}
	assert.Equal(t, int64(len(layer)+len(config)+len(manifest)), sent, "every body sent once, none empty\n%s", r.Log)

	got, err := cc.GetManifest(ctx, "intact/repo", "v1", nil)
	require.NoError(t, err)
	assert.Equal(t, manifest, got.ManifestData)
	downloadAll(t, bc, "intact/repo", up.Digest, layer, 1<<20)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// TestMountBlob mounts a blob across repositories. distribution mounts
// (201) when the request is authorized for push on the target and pull on
// the source, which is the two-scope token azacr asks for. A blob the
// source lacks opens an ordinary upload session instead (202). Uploads
// into the target keep working afterwards, and an upload of the mounted
// content is skipped because the target now has it.
func TestMountBlob(t *testing.T) {
	t.Parallel()
	forEachVariant(t, func(t *testing.T, r *TestRegistry) {
		ctx := t.Context()
		c := r.BlobClient(t)
		data := confBytes(2<<20+5, 3)
		up, err := c.UploadBlob(ctx, "mount/src", bytes.NewReader(data), &azacr.BlobClientUploadBlobOptions{ChunkSize: 1 << 20})
		require.NoError(t, err)

		m, err := c.MountBlob(ctx, "mount/dst", "mount/src", up.Digest, nil)
		require.NoError(t, err)
		assert.True(t, m.Mounted, "distribution mounts with a token for both repositories")
		require.NotNil(t, m.Location)
		assert.Equal(t, "/v2/mount/dst/blobs/"+up.Digest, *m.Location)
		downloadAll(t, c, "mount/dst", up.Digest, data, 1<<20)

		if r.Issuer != nil {
			// The mount's token covers both repositories in one request.
			assert.Equal(t, 1, ScopeRequests(r.Issuer.Requests(), "repository:mount/dst:pull,push repository:mount/src:pull"))
		}

		again, err := c.UploadBlob(ctx, "mount/dst", bytes.NewReader(data), &azacr.BlobClientUploadBlobOptions{ChunkSize: 1 << 20})
		require.NoError(t, err)
		assert.True(t, again.Skipped, "the target holds the mounted blob")

		other := confBytes(1<<20+3, 4)
		up2, err := c.UploadBlob(ctx, "mount/dst", onlyReader{bytes.NewReader(other)}, &azacr.BlobClientUploadBlobOptions{ChunkSize: 1 << 20})
		require.NoError(t, err)
		assert.False(t, up2.Skipped)
		downloadAll(t, c, "mount/dst", up2.Digest, other, 0)

		missing := azacr.ComputeDigest([]byte("never uploaded"))
		nm, err := c.MountBlob(ctx, "mount/dst", "mount/src", missing, nil)
		require.NoError(t, err)
		assert.False(t, nm.Mounted)
		require.NotNil(t, nm.Location, "a failed mount opens an upload session")
		_, err = c.CancelUpload(ctx, *nm.Location, nil)
		require.NoError(t, err)
		if r.Options.Auth == AuthToken {
			assert.Zero(t, r.Log.Unauthorized(), "\n%s", r.Log)
		}
	})
}

// manifestSet is an OCI image, a Docker v2 image and an OCI index of the
// two, each with the exact bytes uploaded.
type manifestSet struct {
	oci, docker, index []byte
}

// pushManifestSet uploads the blobs and manifests of a manifestSet to
// repo: the two images by tag, the index by its digest and by tag.
func pushManifestSet(t *testing.T, r *TestRegistry, repo string) manifestSet {
	t.Helper()
	ctx := t.Context()
	bc, cc := r.BlobClient(t), r.Client(t)
	upload := func(b []byte) string {
		res, err := bc.UploadBlob(ctx, repo, bytes.NewReader(b), nil)
		require.NoError(t, err)
		return res.Digest
	}
	layer := confBytes(4096, 5)
	ociConfig := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	dockerConfig := []byte(`{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layerDigest := upload(layer)

	var s manifestSet
	s.oci = mustJSON(t, azacr.ImageManifest{
		SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config:      azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: upload(ociConfig), Size: int64(len(ociConfig))},
		Layers:      []azacr.Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: layerDigest, Size: int64(len(layer))}},
		Annotations: map[string]string{"org.opencontainers.image.title": "conformance"},
	})
	s.docker = mustJSON(t, azacr.ImageManifest{
		SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndDockerDistributionManifestV2JSON),
		Config: azacr.Descriptor{MediaType: "application/vnd.docker.container.image.v1+json", Digest: upload(dockerConfig), Size: int64(len(dockerConfig))},
		Layers: []azacr.Descriptor{{MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", Digest: layerDigest, Size: int64(len(layer))}},
	})
	put := func(ref string, ct azacr.ContentType, b []byte) {
		res, err := cc.UploadManifest(ctx, repo, ref, ct, streaming.NopCloser(bytes.NewReader(b)), nil)
		require.NoError(t, err, "%s %s", ct, ref)
		require.Equal(t, azacr.ComputeDigest(b), *res.DockerContentDigest)
	}
	put("oci", azacr.ContentTypeApplicationVndOCIImageManifestV1JSON, s.oci)
	put("docker", azacr.ContentTypeApplicationVndDockerDistributionManifestV2JSON, s.docker)
	s.index = mustJSON(t, azacr.ImageIndex{
		SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndOCIImageIndexV1JSON),
		Manifests: []azacr.Descriptor{
			{MediaType: string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON), Digest: azacr.ComputeDigest(s.oci), Size: int64(len(s.oci)), Platform: &azacr.Platform{Architecture: "amd64", OS: "linux"}},
			{MediaType: string(azacr.ContentTypeApplicationVndDockerDistributionManifestV2JSON), Digest: azacr.ComputeDigest(s.docker), Size: int64(len(s.docker)), Platform: &azacr.Platform{Architecture: "arm64", OS: "linux"}},
		},
	})
	put(azacr.ComputeDigest(s.index), azacr.ContentTypeApplicationVndOCIImageIndexV1JSON, s.index)
	put("index", azacr.ContentTypeApplicationVndOCIImageIndexV1JSON, s.index)
	return s
}

// TestManifests uploads an OCI image manifest, a Docker v2 manifest (with
// the Docker config media type) and an OCI index, and reads each back by
// tag and by digest: same bytes, same digest, its own media type.
func TestManifests(t *testing.T) {
	t.Parallel()
	forEachVariant(t, func(t *testing.T, r *TestRegistry) {
		s := pushManifestSet(t, r, "manifests/app")
		cc := r.Client(t)
		for _, m := range []struct {
			tag  string
			ct   azacr.ContentType
			data []byte
		}{
			{"oci", azacr.ContentTypeApplicationVndOCIImageManifestV1JSON, s.oci},
			{"docker", azacr.ContentTypeApplicationVndDockerDistributionManifestV2JSON, s.docker},
			{"index", azacr.ContentTypeApplicationVndOCIImageIndexV1JSON, s.index},
		} {
			digest := azacr.ComputeDigest(m.data)
			for _, ref := range []string{m.tag, digest} {
				got, err := cc.GetManifest(t.Context(), "manifests/app", ref, nil)
				require.NoError(t, err, ref)
				assert.Equal(t, m.data, got.ManifestData, ref)
				assert.Equal(t, digest, *got.DockerContentDigest, ref)
				assert.Equal(t, string(m.ct), *got.ContentType, ref)
			}
		}
		got, err := cc.GetManifest(t.Context(), "manifests/app", "index", nil)
		require.NoError(t, err)
		idx, err := got.DecodeImageIndex()
		require.NoError(t, err)
		require.Len(t, idx.Manifests, 2)
		assert.Equal(t, azacr.ComputeDigest(s.docker), idx.Manifests[1].Digest)

		_, err = cc.GetManifest(t.Context(), "manifests/app", "no-such-tag", nil)
		re := requireStatus(t, err, http.StatusNotFound)
		assert.Equal(t, "MANIFEST_UNKNOWN", re.ErrorCode)
	})
}

// TestDeletes deletes a blob and a manifest (by digest: azacr resolves a
// tag through /acr/v1, which distribution lacks) and finds both gone:
// 404 from GetBlob, CheckBlobExists false, 404 from GetManifest by digest
// and by the tag that pointed to it. Deleting again still succeeds.
func TestDeletes(t *testing.T) {
	t.Parallel()
	forEachVariant(t, func(t *testing.T, r *TestRegistry) {
		ctx := t.Context()
		bc, cc := r.BlobClient(t), r.Client(t)
		data := []byte("a blob to delete")
		up, err := bc.UploadBlob(ctx, "deletes/repo", bytes.NewReader(data), nil)
		require.NoError(t, err)
		_, err = bc.DeleteBlob(ctx, "deletes/repo", up.Digest, nil)
		require.NoError(t, err)
		_, err = bc.GetBlob(ctx, "deletes/repo", up.Digest, nil)
		requireStatus(t, err, http.StatusNotFound)
		ex, err := bc.CheckBlobExists(ctx, "deletes/repo", up.Digest, nil)
		require.NoError(t, err)
		assert.False(t, ex.Exists)
		_, err = bc.DeleteBlob(ctx, "deletes/repo", up.Digest, nil)
		require.NoError(t, err, "deleting a missing blob succeeds")

		s := pushManifestSet(t, r, "deletes/repo")
		digest := azacr.ComputeDigest(s.oci)
		_, err = cc.DeleteManifest(ctx, "deletes/repo", digest, nil)
		require.NoError(t, err)
		for _, ref := range []string{digest, "oci"} {
			_, err = cc.GetManifest(ctx, "deletes/repo", ref, nil)
			re := requireStatus(t, err, http.StatusNotFound)
			assert.Equal(t, "MANIFEST_UNKNOWN", re.ErrorCode, ref)
		}
		_, err = cc.DeleteManifest(ctx, "deletes/repo", digest, nil)
		require.NoError(t, err, "deleting a missing manifest succeeds")
		// The other manifests are untouched.
		_, err = cc.GetManifest(ctx, "deletes/repo", "docker", nil)
		require.NoError(t, err)
	})
}

// TestSeedReadmeScenarios runs the seed README's /v2 scenarios against
// distribution with token authentication: upload and download of "hello
// world", and an image of a layer, a config and an OCI manifest fetched
// back by tag. The README's manifest literal is not JSON and is sent with
// the config's media type; distribution refuses it as MANIFEST_INVALID,
// so the scenario runs with the manifest it means.
func TestSeedReadmeScenarios(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, true)
	ctx := t.Context()
	bc := r.BlobClient(t)
	cc := r.Client(t)

	t.Run("UploadAndDownloadBlob", func(t *testing.T) {
		up, err := bc.UploadBlob(ctx, "library/hello-world", streaming.NopCloser(bytes.NewReader([]byte("hello world"))), nil)
		require.NoError(t, err)
		down, err := bc.GetBlob(ctx, "library/hello-world", up.Digest, nil)
		require.NoError(t, err)
		blob, err := io.ReadAll(down.Body)
		require.NoError(t, down.Body.Close())
		require.NoError(t, err)
		assert.Equal(t, "hello world", string(blob))
	})

	t.Run("UploadManifest", func(t *testing.T) {
		layer := "hello world"
		layerUp, err := bc.UploadBlob(ctx, "library/hello-world", streaming.NopCloser(strings.NewReader(layer)), nil)
		require.NoError(t, err)
		config := fmt.Sprintf(`{"architecture":"amd64","os":"windows","rootfs":{"type":"layers","diff_ids":[%q]}}`, layerUp.Digest)
		configUp, err := bc.UploadBlob(ctx, "library/hello-world", streaming.NopCloser(strings.NewReader(config)), nil)
		require.NoError(t, err)
		manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
			`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d,"annotations":{"title":"artifact.txt"}}]}`,
			configUp.Digest, len(config), layerUp.Digest, len(layer))

		literal := strings.ReplaceAll(strings.ReplaceAll(manifest, `"schemaVersion"`, `schemaVersion`), `"config"`, `config`)
		_, err = cc.UploadManifest(ctx, "library/hello-world", "1.0.0", "application/vnd.oci.image.config.v1+json", streaming.NopCloser(strings.NewReader(literal)), nil)
		re := requireStatus(t, err, http.StatusBadRequest)
		assert.Equal(t, "MANIFEST_INVALID", re.ErrorCode)

		res, err := cc.UploadManifest(ctx, "library/hello-world", "1.0.0", azacr.ContentTypeApplicationVndOCIImageManifestV1JSON, streaming.NopCloser(strings.NewReader(manifest)), nil)
		require.NoError(t, err)
		assert.Equal(t, azacr.ComputeDigest([]byte(manifest)), *res.DockerContentDigest)

		got, err := cc.GetManifest(ctx, "library/hello-world", "1.0.0", nil)
		require.NoError(t, err)
		assert.Equal(t, manifest, string(got.ManifestData))
		img, err := got.DecodeImageManifest()
		require.NoError(t, err)
		assert.Equal(t, layerUp.Digest, img.Layers[0].Digest)
		assert.Equal(t, "artifact.txt", img.Layers[0].Annotations["title"])
	})
	assert.Zero(t, r.Log.Unauthorized(), "\n%s", r.Log)
}

// TestUploadStepsByHand drives an upload through the public low-level
// steps and checks distribution's answers against PROTOCOL.md §6: a relative
// Location that changes after every PATCH, Range "0-<last>" without a
// unit, 416 RANGE_INVALID for a chunk that does not start where the
// session stands, 400 DIGEST_INVALID for a wrong digest (the session
// survives it), and a cancelled session gone (404 BLOB_UPLOAD_UNKNOWN).
func TestUploadStepsByHand(t *testing.T) {
	t.Parallel()
	forEachVariant(t, func(t *testing.T, r *TestRegistry) {
		ctx := t.Context()
		c := r.BlobClient(t)
		const repo = "steps/repo"
		st, err := c.StartUpload(ctx, repo, nil)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(*st.Location, "/v2/"+repo+"/blobs/uploads/"), *st.Location)
		require.NotNil(t, st.DockerUploadUUID)
		assert.Equal(t, "0-0", *st.Range)

		status, err := c.GetUploadStatus(ctx, *st.Location, nil)
		require.NoError(t, err)
		assert.Equal(t, "0-0", *status.Range, "an empty session says 0-0, as ACR does")

		data := []byte("0123456789")
		ch, err := c.UploadChunk(ctx, *st.Location, streaming.NopCloser(bytes.NewReader(data)), &azacr.BlobClientUploadChunkOptions{RangeStart: to.Ptr[int64](0), RangeEnd: to.Ptr[int64](9)})
		require.NoError(t, err)
		assert.Equal(t, "0-9", *ch.Range)
		assert.NotEqual(t, *st.Location, *ch.Location, "each step hands out a new Location")

		_, err = c.UploadChunk(ctx, *ch.Location, streaming.NopCloser(bytes.NewReader([]byte("abc"))), &azacr.BlobClientUploadChunkOptions{RangeStart: to.Ptr[int64](5), RangeEnd: to.Ptr[int64](7)})
		re := requireStatus(t, err, http.StatusRequestedRangeNotSatisfiable)
		assert.Equal(t, "RANGE_INVALID", re.ErrorCode)

		status, err = c.GetUploadStatus(ctx, *ch.Location, nil)
		require.NoError(t, err)
		assert.Equal(t, "0-9", *status.Range, "the refused chunk left the session as it was")

		_, err = c.CompleteUpload(ctx, *status.Location, azacr.ComputeDigest([]byte("other")), nil)
		re = requireStatus(t, err, http.StatusBadRequest)
		assert.Equal(t, "DIGEST_INVALID", re.ErrorCode)

		done, err := c.CompleteUpload(ctx, *status.Location, azacr.ComputeDigest(data), nil)
		require.NoError(t, err)
		assert.Equal(t, "/v2/"+repo+"/blobs/"+azacr.ComputeDigest(data), *done.Location)
		downloadAll(t, c, repo, azacr.ComputeDigest(data), data, 4)

		st2, err := c.StartUpload(ctx, repo, nil)
		require.NoError(t, err)
		_, err = c.CancelUpload(ctx, *st2.Location, nil)
		require.NoError(t, err)
		_, err = c.GetUploadStatus(ctx, *st2.Location, nil)
		re = requireStatus(t, err, http.StatusNotFound)
		assert.Equal(t, "BLOB_UPLOAD_UNKNOWN", re.ErrorCode)
	})
}
