package main

import (
	"encoding/json"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
)

// requireDigestOut checks a run that succeeded and printed digest alone.
func requireDigestOut(t *testing.T, res result, digest string) {
	t.Helper()
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, digest+"\n", res.stdout)
}

// registryDigest is the digest of what r holds under repo:ref.
func registryDigest(t *testing.T, r *testRegistry, repo, ref string) string {
	t.Helper()
	body, _, ok := r.Manifest(repo, ref)
	require.True(t, ok, "%s:%s is missing", repo, ref)
	return azacr.ComputeDigest(body)
}

func TestPullPushCopy(t *testing.T) {
	r := newTestRegistry(t)
	img := seedLayeredImage(t, r, "hello", "v1", "linux/amd64", 1, 10_000, 20_000, 30_000)
	dir := filepath.Join(t.TempDir(), "layout")

	res := r.azacr(t, "", "pull", "-q", r.ref("hello:v1"), dir)
	requireDigestOut(t, res, img.digest)
	require.FileExists(t, filepath.Join(dir, "index.json"))
	require.FileExists(t, filepath.Join(dir, "oci-layout"))

	res = r.azacr(t, "", "push", "-q", dir, r.ref("pushed:v2"))
	requireDigestOut(t, res, img.digest)
	require.Equal(t, img.digest, registryDigest(t, r, "pushed", "v2"))

	res = r.azacr(t, "", "copy", "-q", r.ref("pushed:v2"), r.ref("mirror/hello:v3"))
	requireDigestOut(t, res, img.digest)
	require.Equal(t, img.digest, registryDigest(t, r, "mirror/hello", "v3"))

	// Across registries, trusting both.
	r2 := newTestRegistry(t)
	ca := combinedCA(t, r, r2)
	res = r.azacr(t, "", "--ca-file", ca, "copy", "-q", r.ref("hello:v1"), r2.ref("hello:v1"))
	requireDigestOut(t, res, img.digest)
	require.Equal(t, img.digest, registryDigest(t, r2, "hello", "v1"))

	// No tag on the destination: by digest only.
	res = r.azacr(t, "", "--ca-file", ca, "copy", "-q", r.ref("hello@"+img.digest), r2.ref("bydigest"))
	requireDigestOut(t, res, img.digest)
	require.Equal(t, img.digest, registryDigest(t, r2, "bydigest", img.digest))

	// A pull by digest, into the same layout, and a push of an entry the
	// layout names.
	res = r.azacr(t, "", "pull", "-q", r.ref("hello@"+img.digest), dir)
	requireDigestOut(t, res, img.digest)
	res = r.azacr(t, "", "push", "-q", "--reference", "v1", dir, r.ref("pushed:other"))
	requireDigestOut(t, res, img.digest)
}

func TestTransferJSON(t *testing.T) {
	r := newTestRegistry(t)
	img := seedLayeredImage(t, r, "hello", "v1", "linux/amd64", 2, 4000, 8000)
	dir := t.TempDir()

	decode := func(res result) map[string]any {
		t.Helper()
		require.Equal(t, 0, res.code, res.stderr)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &v), res.stdout)
		require.Len(t, v, 5, res.stdout)
		require.Equal(t, img.digest, v["digest"])
		require.Equal(t, string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON), v["mediaType"])
		if v["upToDate"] == true {
			require.EqualValues(t, 0, v["blobs"], "nothing looked at")
		} else {
			require.EqualValues(t, img.blobs, v["blobs"])
		}
		return v
	}

	v := decode(r.azacr(t, "", "pull", "-q", "-o", "json", r.ref("hello:v1"), dir))
	require.EqualValues(t, img.bytes-int64(len(mustManifest(t, r, "hello", "v1"))), v["bytesTransferred"], "the blobs' bytes, manifest aside")
	require.Equal(t, false, v["upToDate"])

	v = decode(r.azacr(t, "", "push", "-q", "-o", "json", dir, r.ref("pushed:v1")))
	require.Equal(t, false, v["upToDate"])
	v = decode(r.azacr(t, "", "push", "-q", "-o", "json", dir, r.ref("pushed:v1")))
	require.Equal(t, true, v["upToDate"], "pushed again")
	require.EqualValues(t, 0, v["bytesTransferred"])

	v = decode(r.azacr(t, "", "copy", "-q", "-o", "json", r.ref("hello:v1"), r.ref("copied:v1")))
	require.Equal(t, false, v["upToDate"])
	require.EqualValues(t, 0, v["bytesTransferred"], "mounted within the registry")
	v = decode(r.azacr(t, "", "copy", "-q", "-o", "json", r.ref("hello:v1"), r.ref("copied:v1")))
	require.Equal(t, true, v["upToDate"])
}

func TestBlobPushAndPull(t *testing.T) {
	r := newTestRegistry(t)
	dir := t.TempDir()
	rnd := rand.New(rand.NewSource(7))
	data := make([]byte, 300_000)
	rnd.Read(data)
	file := filepath.Join(dir, "blob.bin")
	require.NoError(t, os.WriteFile(file, data, 0o644))
	digest := azacr.ComputeDigest(data)

	res := r.azacr(t, "", "blob", "push", file, r.ref("blobs"))
	requireDigestOut(t, res, digest)
	stored, ok := r.Blob("blobs", digest)
	require.True(t, ok)
	require.Equal(t, data, stored)

	// From stdin, after the password line.
	piped := []byte("a blob piped in\nwith two lines\n")
	pipedDigest := azacr.ComputeDigest(piped)
	res = r.azacr(t, string(piped), "blob", "push", "-", r.ref("blobs"))
	requireDigestOut(t, res, pipedDigest)
	stored, ok = r.Blob("blobs", pipedDigest)
	require.True(t, ok)
	require.Equal(t, piped, stored)

	res = r.azacr(t, "", "blob", "push", "-o", "json", file, r.ref("blobs"))
	require.Equal(t, 0, res.code, res.stderr)
	require.JSONEq(t, `{"digest":"`+digest+`","size":300000}`, res.stdout)

	// To a file, replacing what it held.
	out := filepath.Join(dir, "out.bin")
	require.NoError(t, os.WriteFile(out, []byte(strings.Repeat("x", 400_000)), 0o644))
	res = r.azacr(t, "", "blob", "pull", r.ref("blobs@"+digest), out)
	require.Equal(t, 0, res.code, res.stderr)
	require.Empty(t, res.stdout)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, data, got)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no temporary file left")

	// To stdout: the bytes alone, progress on stderr.
	res = r.azacr(t, "", "blob", "pull", r.ref("blobs@"+digest), "-")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, string(data), res.stdout)
	require.Contains(t, res.stderr, "blob pull: done")
	res = r.azacr(t, "", "blob", "pull", "-q", r.ref("blobs@"+pipedDigest), "-")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, string(piped), res.stdout)
	require.Empty(t, res.stderr)

	// A blob the repository lacks.
	missing := azacr.ComputeDigest([]byte("nowhere"))
	res = r.azacr(t, "", "blob", "pull", r.ref("blobs@"+missing), filepath.Join(dir, "missing"))
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "BLOB_UNKNOWN")
	require.NoFileExists(t, filepath.Join(dir, "missing"))
}

func TestTransferUsageErrorsExitTwo(t *testing.T) {
	r := newTestRegistry(t)
	dir := t.TempDir()
	digest := azacr.ComputeDigest([]byte("x"))
	for _, a := range [][]string{
		{"pull", r.ref("hello:v1")},
		{"pull", r.ref("hello"), dir},
		{"pull", r.ref(""), dir},
		{"pull", "hello:v1", dir},
		{"pull", r.ref("Bad_Name:v1"), dir},
		{"pull", r.ref("hello:v1"), dir, "--platform", "linux"},
		{"pull", r.ref("hello:v1"), dir, "--platform", "linux/amd64/v8/extra"},
		{"pull", r.ref("hello:v1"), dir, "--concurrency", "-1"},
		{"push", dir, r.ref("hello@" + digest)},
		{"push", dir, r.ref("")},
		{"copy", r.ref("hello"), r.ref("other:v1")},
		{"copy", r.ref("hello:v1"), r.ref("other@" + digest)},
		{"blob", "push", "-", r.ref("blobs:v1")},
		{"blob", "pull", r.ref("blobs:v1"), "-"},
		{"blob", "pull", r.ref("blobs@sha256:short"), "-"},
		{"blob"},
		{"blob", "nosuch"},
	} {
		res := r.azacr(t, "", a...)
		require.Equal(t, 2, res.code, "%v: %s", a, res.stderr)
		require.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
		require.True(t, strings.HasPrefix(res.stderr, "azacr: "), res.stderr)
		require.Empty(t, res.stdout)
	}
}

func TestPullMissingTagExitsOne(t *testing.T) {
	r := newTestRegistry(t)
	seedTestImage(t, r, "hello", "v1", "one")
	res := r.azacr(t, "", "pull", r.ref("hello:nosuch"), t.TempDir())
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "MANIFEST_UNKNOWN")
	require.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
	require.Empty(t, res.stdout)

	res = r.azacr(t, "", "copy", r.ref("hello:nosuch"), r.ref("other:v1"))
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "MANIFEST_UNKNOWN")
	require.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
}

func TestPlatforms(t *testing.T) {
	r := newTestRegistry(t)
	index := seedIndex(t, r, "multi", "v1", "linux/amd64", "linux/arm64")

	res := r.azacr(t, "", "pull", r.ref("multi:v1"), t.TempDir(), "--platform", "windows/amd64")
	require.Equal(t, 1, res.code)
	require.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
	require.Contains(t, res.stderr, "linux/amd64")
	require.Contains(t, res.stderr, "linux/arm64")
	require.Contains(t, res.stderr, "--platform")
	require.Empty(t, res.stdout)

	res = r.azacr(t, "", "copy", r.ref("multi:v1"), r.ref("other:v1"), "--platform", "windows/amd64")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "linux/arm64")

	// One platform: its own manifest. Both, as a list: a new index.
	var idx azacr.ImageIndex
	require.NoError(t, json.Unmarshal(mustManifest(t, r, "multi", "v1"), &idx))
	arm := idx.Manifests[1].Digest
	res = r.azacr(t, "", "-q", "pull", r.ref("multi:v1"), t.TempDir(), "--platform", "linux/arm64")
	requireDigestOut(t, res, arm)
	res = r.azacr(t, "", "-q", "copy", r.ref("multi:v1"), r.ref("arm:v1"), "--platform", "linux/arm64")
	requireDigestOut(t, res, arm)
	require.Equal(t, arm, registryDigest(t, r, "arm", "v1"))
	res = r.azacr(t, "", "-q", "pull", r.ref("multi:v1"), t.TempDir(), "--platform", "linux/arm64,linux/amd64")
	require.Equal(t, 0, res.code, res.stderr)
	res = r.azacr(t, "", "-q", "copy", r.ref("multi:v1"), r.ref("all:v1"))
	requireDigestOut(t, res, index)
}

func TestQuietPrintsNothingOnStderr(t *testing.T) {
	r := newTestRegistry(t)
	img := seedLayeredImage(t, r, "hello", "v1", "linux/amd64", 3, 50_000, 70_000)
	dir := t.TempDir()
	for _, a := range [][]string{
		{"pull", r.ref("hello:v1"), dir},
		{"push", dir, r.ref("pushed:v1")},
		{"copy", r.ref("hello:v1"), r.ref("copied:v1")},
	} {
		res := r.azacr(t, "", append([]string{"--quiet"}, a...)...)
		requireDigestOut(t, res, img.digest)
		require.Empty(t, res.stderr, "%v", a)
	}
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, []byte("quiet blob"), 0o644))
	res := r.azacr(t, "", "--quiet", "blob", "push", file, r.ref("blobs"))
	require.Equal(t, 0, res.code, res.stderr)
	require.Empty(t, res.stderr)
}

func TestBlobPullFailedDigestCheckExitsOne(t *testing.T) {
	r := newTestRegistry(t)
	data := []byte(strings.Repeat("content to damage on the way ", 1000))
	digest := r.PutBlob("blobs", data)
	r.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: digest, CorruptBody: true})

	// To stdout the bytes are out already; the exit code says they are wrong.
	res := r.azacr(t, "", "blob", "pull", r.ref("blobs@"+digest), "-")
	require.Equal(t, 1, res.code, res.stderr)
	require.Len(t, res.stdout, len(data))
	require.NotEqual(t, string(data), res.stdout)
	require.Contains(t, res.stderr, "azacr: ")
	require.Contains(t, res.stderr, "digest")
	require.NotContains(t, res.stderr, "blob pull: done")

	// To a file: nothing is left.
	dir := t.TempDir()
	file := filepath.Join(dir, "blob")
	res = r.azacr(t, "", "-q", "blob", "pull", r.ref("blobs@"+digest), file)
	require.Equal(t, 1, res.code, res.stderr)
	require.Contains(t, res.stderr, "digest")
	require.Equal(t, 1, strings.Count(res.stderr, "\n"), res.stderr)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)
}
