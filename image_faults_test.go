package azacr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Robustness of the whole-image calls: partial downloads continued,
// concurrent pulls into one layout, random registry faults, corrupt
// layouts and cancellation. The layout and registry checks here are also
// what image_kill_test.go applies after every kill.

// layoutScan is what a layout holds, read back from disk and checked.
type layoutScan struct {
	blobs    map[string]int64 // every file under blobs/, by digest: its size
	partials map[string]int64 // every ingest/<alg>-<hex>.partial, by digest: its size
	entries  []Descriptor     // index.json's entries
}

// blobBytes is the bytes of the files under blobs/.
func (s layoutScan) blobBytes() int64 {
	var n int64
	for _, size := range s.blobs {
		n += size
	}
	return n
}

// scanLayout checks what the layout at dir promises whatever happened to
// the writer: oci-layout says 1.0.0; every file under blobs/ holds the
// bytes its name is the digest of; index.json is absent or parses, and
// every entry in it is complete (every manifest and blob under it there,
// with its digest and size). It returns what the layout holds.
func scanLayout(dir string) (layoutScan, error) {
	s := layoutScan{blobs: map[string]int64{}, partials: map[string]int64{}}
	l, err := openLayout(dir)
	if err != nil {
		return s, err
	}
	algs, err := os.ReadDir(filepath.Join(dir, "blobs"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	for _, alg := range algs {
		files, err := os.ReadDir(filepath.Join(dir, "blobs", alg.Name()))
		if err != nil {
			return s, fmt.Errorf("blobs/%s: %w", alg.Name(), err)
		}
		for _, f := range files {
			digest := alg.Name() + ":" + f.Name()
			if !f.Type().IsRegular() {
				return s, fmt.Errorf("blobs/%s/%s is not a regular file", alg.Name(), f.Name())
			}
			if err := ValidateDigest(digest); err != nil {
				return s, fmt.Errorf("blobs/%s/%s: %w", alg.Name(), f.Name(), err)
			}
			size, err := hashLayoutFile(filepath.Join(dir, "blobs", alg.Name(), f.Name()), digest)
			if err != nil {
				return s, err
			}
			s.blobs[digest] = size
		}
	}
	ingest, err := os.ReadDir(filepath.Join(dir, ingestDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	for _, f := range ingest {
		if name, ok := strings.CutSuffix(f.Name(), ".partial"); ok {
			info, err := f.Info()
			if err != nil {
				return s, err
			}
			alg, hexPart, _ := strings.Cut(name, "-")
			s.partials[alg+":"+hexPart] = info.Size()
		}
	}
	idx, err := l.readIndex()
	if err != nil {
		return s, err
	}
	s.entries = idx.Manifests
	for _, e := range idx.Manifests {
		if err := checkLayoutManifest(l, s, e, 0); err != nil {
			return s, fmt.Errorf("index.json entry %s (%q): %w", e.Digest, e.Annotations[AnnotationRefName], err)
		}
	}
	return s, nil
}

// hashLayoutFile checks that the file at path holds the bytes of digest and
// returns its size.
func hashLayoutFile(path, digest string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h, err := newDigester(digest)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, err
	}
	if !h.Matches(digest) {
		return n, fmt.Errorf("%s holds %d bytes whose digest is %s", path, n, h.Digest())
	}
	return n, nil
}

// checkLayoutManifest checks that the manifest d and all under it are in
// the layout scanned as s.
func checkLayoutManifest(l *imageLayout, s layoutScan, d Descriptor, depth int) error {
	if depth > 8 {
		return errors.New("manifests nested too deep")
	}
	data, err := l.readManifest(d)
	if err != nil {
		return err
	}
	refs, err := parseManifest(d.MediaType, data)
	if err != nil {
		return err
	}
	for _, b := range refs.blobs {
		if size, ok := s.blobs[b.Digest]; !ok || size != b.Size {
			return fmt.Errorf("manifest %s names blob %s (%d bytes); the layout has it: %v, %d bytes", d.Digest, b.Digest, b.Size, ok, size)
		}
	}
	for _, m := range refs.manifests {
		if err := checkLayoutManifest(l, s, m, depth+1); err != nil {
			return fmt.Errorf("under %s: %w", d.Digest, err)
		}
	}
	return nil
}

// requireValidLayout fails the test unless the layout at dir passes
// scanLayout.
func requireValidLayout(t *testing.T, dir string) layoutScan {
	t.Helper()
	s, err := scanLayout(dir)
	require.NoError(t, err, "layout %s", dir)
	return s
}

// checkRegistryImage checks the manifest that reference names in the
// registry's repository, when there is one: its bytes have its digest,
// and every manifest and blob under it is in the repository with the
// digest and size its parent says. It returns the manifest's digest, ""
// when reference names nothing.
func checkRegistryImage(srv *acrtest.Server, repo, reference string) (string, error) {
	body, mediaType, ok := srv.Manifest(repo, reference)
	if !ok {
		return "", nil
	}
	digest := ComputeDigest(body)
	if isDigest(reference) && digest != reference {
		return digest, fmt.Errorf("%s@%s holds a manifest whose digest is %s", repo, reference, digest)
	}
	return digest, checkRegistryManifest(srv, repo, Descriptor{MediaType: mediaType, Digest: digest, Size: int64(len(body))}, body, 0)
}

func checkRegistryManifest(srv *acrtest.Server, repo string, d Descriptor, body []byte, depth int) error {
	if depth > 8 {
		return errors.New("manifests nested too deep")
	}
	refs, err := parseManifest(d.MediaType, body)
	if err != nil {
		return fmt.Errorf("%s@%s: %w", repo, d.Digest, err)
	}
	for _, b := range refs.blobs {
		data, ok := srv.Blob(repo, b.Digest)
		if !ok {
			return fmt.Errorf("%s@%s names blob %s, which the repository lacks", repo, d.Digest, b.Digest)
		}
		if int64(len(data)) != b.Size || ComputeDigest(data) != b.Digest {
			return fmt.Errorf("%s: blob %s holds %d bytes of digest %s", repo, b.Digest, len(data), ComputeDigest(data))
		}
	}
	for _, m := range refs.manifests {
		child, mediaType, ok := srv.Manifest(repo, m.Digest)
		if !ok {
			return fmt.Errorf("%s@%s names manifest %s, which the repository lacks", repo, d.Digest, m.Digest)
		}
		if int64(len(child)) != m.Size || ComputeDigest(child) != m.Digest {
			return fmt.Errorf("%s: manifest %s holds %d bytes of digest %s", repo, m.Digest, len(child), ComputeDigest(child))
		}
		m.MediaType = mediaType
		if err := checkRegistryManifest(srv, repo, m, child, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// partialPath is where a download into the layout at dir keeps the
// first bytes of digest's blob.
func partialPath(dir, digest string) string {
	alg, hexPart, _ := strings.Cut(digest, ":")
	return filepath.Join(dir, ingestDir, alg+"-"+hexPart+".partial")
}

// largestLayer returns the digest of img's largest blob.
func (img testImage) largestLayer() string {
	best := ""
	for d, b := range img.blobs {
		if best == "" || len(b) > len(img.blobs[best]) || len(b) == len(img.blobs[best]) && d < best {
			best = d
		}
	}
	return best
}

// pullCost is what pulling img (from repo of srv) into the layout at dir,
// scanned as s, must download, given that a pull keeps what the layout
// holds and continues partial blobs: every manifest not under blobs/, and
// of every blob not under blobs/ the bytes its partial file lacks. A
// partial that is not the start of its blob is continued, found wrong at
// the end and downloaded again whole; wrong counts those. kept is the
// bytes of the partials that are the start of their blob.
func pullCost(t *testing.T, srv *acrtest.Server, repo string, img testImage, dir string, s layoutScan) (cost, kept int64, wrong int) {
	t.Helper()
	// Manifests are not counted: BytesTransferred is blob bytes.
	for _, d := range append([]string{img.index}, slices.Collect(maps.Values(img.platforms))...) {
		_, _, found := srv.Manifest(repo, d)
		require.True(t, found, d)
	}
	for d, data := range img.blobs {
		size := int64(len(data))
		if _, ok := s.blobs[d]; ok {
			continue
		}
		p, ok := s.partials[d]
		if !ok || p > size {
			cost += size
			continue
		}
		got, err := os.ReadFile(partialPath(dir, d))
		require.NoError(t, err)
		if !bytes.Equal(got, data[:len(got)]) {
			wrong++
			cost += 2*size - p
			continue
		}
		kept += p
		cost += size - p
	}
	return cost, kept, wrong
}

// TestPullImageContinuesAPartialBlob: half a layer left in ingest/ by an
// earlier pull is hashed and continued with a Range from where it stops,
// and only the rest is downloaded. A partial whose bytes are not the
// blob's costs a second download of the blob, and the pull still ends
// with the right bytes.
func TestPullImageContinuesAPartialBlob(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 2, 300_000)
	c := newTestClient(t, srv, srv.Credential())
	layer := img.largestLayer()
	data := img.blobs[layer]
	half := int64(len(data) / 2)

	t.Run("right bytes", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, ingestDir), 0o755))
		require.NoError(t, os.WriteFile(partialPath(dir, layer), data[:half], 0o644))
		srv.ResetRequests()
		resp, err := c.PullImage(t.Context(), "app", "v1", dir, nil)
		require.NoError(t, err)
		assert.Equal(t, img.size-img.manifestBytes()-half, resp.BytesTransferred)
		var ranges []string
		for _, r := range srv.Requests() {
			if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/blobs/"+layer) {
				ranges = append(ranges, r.Header.Get("Range"))
			}
		}
		assert.Equal(t, []string{fmt.Sprintf("bytes=%d-%d", half, len(data)-1)}, ranges)
		requireLayoutHolds(t, dir, img)
		s := requireValidLayout(t, dir)
		assert.Empty(t, s.partials, "the partial became the blob")
	})

	t.Run("wrong bytes", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, ingestDir), 0o755))
		wrong := append([]byte(nil), data[:half]...)
		wrong[half/2] ^= 0xff
		require.NoError(t, os.WriteFile(partialPath(dir, layer), wrong, 0o644))
		srv.ResetRequests()
		resp, err := c.PullImage(t.Context(), "app", "v1", dir, nil)
		require.NoError(t, err)
		// The rest after the kept bytes, then the whole blob again.
		assert.Equal(t, img.size-img.manifestBytes()-half+int64(len(data)), resp.BytesTransferred)
		var ranges []string
		for _, r := range srv.Requests() {
			if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/blobs/"+layer) {
				ranges = append(ranges, r.Header.Get("Range"))
			}
		}
		assert.Equal(t, []string{fmt.Sprintf("bytes=%d-%d", half, len(data)-1), fmt.Sprintf("bytes=0-%d", len(data)-1)}, ranges)
		requireLayoutHolds(t, dir, img)
		requireValidLayout(t, dir)
	})

	t.Run("damaged by the registry", func(t *testing.T) {
		// Bytes that are not the blob's, sent whole: the pull fails
		// without keeping them, and the next one downloads the blob
		// from its start.
		dir := t.TempDir()
		srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/" + layer, CorruptBody: true, Times: 1})
		_, err := c.PullImage(t.Context(), "app", "v1", dir, nil)
		srv.ClearFaults()
		require.ErrorIs(t, err, ErrDigestMismatch)
		s := requireValidLayout(t, dir)
		assert.Empty(t, s.entries)
		assert.NotContains(t, s.blobs, layer)
		assert.Zero(t, s.partials[layer], "no damaged byte kept")
		cost, _, wrong := pullCost(t, srv, "app", img, dir, s)
		assert.Zero(t, wrong)
		resp, err := c.PullImage(t.Context(), "app", "v1", dir, nil)
		require.NoError(t, err)
		assert.Equal(t, cost, resp.BytesTransferred)
		requireLayoutHolds(t, dir, img)
		requireValidLayout(t, dir)
	})

	t.Run("longer than the blob", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, ingestDir), 0o755))
		require.NoError(t, os.WriteFile(partialPath(dir, layer), append(append([]byte(nil), data...), "more"...), 0o644))
		resp, err := c.PullImage(t.Context(), "app", "v1", dir, nil)
		require.NoError(t, err)
		assert.Equal(t, img.size-img.manifestBytes(), resp.BytesTransferred)
		requireLayoutHolds(t, dir, img)
		requireValidLayout(t, dir)
	})
}

// TestPullImageConcurrentlyIntoOneLayout: pulls of different tags, some of
// the same tag and some of one image under two tags, all at once into one
// layout. Their blobs overlap (every image has the same config per
// platform). index.json must end with an entry for every tag and the
// layout must validate.
func TestPullImageConcurrentlyIntoOneLayout(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	platforms := []string{"linux/amd64", "linux/arm64"}
	want := map[string]string{} // tag → index digest
	for i := range 6 {
		tag := fmt.Sprintf("t%d", i)
		want[tag] = seedIndexLayers(t, srv, "app", tag, platforms, []int{20_000 + i*3_000, 40_000}, int64(100+i)).index
	}
	// One image under two tags.
	want["u1"] = seedIndexLayers(t, srv, "app", "u1", platforms, []int{50_000}, 7).index
	want["u2"] = seedIndexLayers(t, srv, "app", "u2", platforms, []int{50_000}, 7).index
	require.Equal(t, want["u1"], want["u2"])
	c := newTestClient(t, srv, srv.Credential())
	pulls := []string{"t0", "t1", "t2", "t3", "t4", "t5", "u1", "u2", "t0", "u1"}

	for round := range 4 {
		dir := t.TempDir()
		var wg sync.WaitGroup
		errs := make([]error, len(pulls))
		for i, tag := range pulls {
			wg.Go(func() {
				_, errs[i] = c.PullImage(t.Context(), "app", tag, dir, &ContainerRegistryClientPullImageOptions{Concurrency: 3})
			})
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "round %d, pull of %s", round, pulls[i])
		}
		s := requireValidLayout(t, dir)
		got := map[string]string{}
		for _, e := range s.entries {
			name := e.Annotations[AnnotationRefName]
			_, dup := got[name]
			require.False(t, dup, "round %d: two entries named %q", round, name)
			got[name] = e.Digest
		}
		require.Equal(t, want, got, "round %d", round)
	}
}

// faultClient returns a client of srv whose pipeline retries up to
// retries times, fast.
func faultClient(t *testing.T, srv *acrtest.Server, retries int) *ContainerRegistryClient {
	t.Helper()
	o := testClientOptions(srv)
	o.Retry = policy.RetryOptions{MaxRetries: int32(retries), RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Second}
	c, err := NewContainerRegistryClient(srv.URL, srv.Credential(), &ContainerRegistryClientOptions{ClientOptions: o})
	require.NoError(t, err)
	return c
}

// faultTally counts the runs of one kind of transfer under faults.
type faultTally struct {
	name                      string
	ok, failed, bad, attempts atomic.Int32
	mu                        sync.Mutex
	failures                  map[string]int    // error kinds
	examples                  map[string]string // an error of each kind
}

func (f *faultTally) fail(err error) {
	f.failed.Add(1)
	kind := "other"
	var re *azcore.ResponseError
	switch {
	case errors.Is(err, ErrDigestMismatch):
		kind = "digest mismatch"
	case errors.Is(err, ErrSizeMismatch):
		kind = "size mismatch"
	case errors.As(err, &re):
		kind = fmt.Sprintf("HTTP %d", re.StatusCode)
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "EOF"):
		kind = "EOF"
	case strings.Contains(err.Error(), "connection reset"):
		kind = "reset"
	}
	f.mu.Lock()
	if f.failures == nil {
		f.failures, f.examples = map[string]int{}, map[string]string{}
	}
	f.failures[kind]++
	if _, ok := f.examples[kind]; !ok {
		f.examples[kind] = err.Error()
	}
	f.mu.Unlock()
}

func (f *faultTally) String() string {
	return fmt.Sprintf("%s: %d runs, %d succeeded, %d failed %v, %d corrupt", f.name, f.ok.Load()+f.failed.Load(), f.ok.Load(), f.failed.Load(), f.failures, f.bad.Load())
}

// runParallel runs f(0) to f(n-1) on workers goroutines.
func runParallel(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	var next atomic.Int32
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

// TestImageTransfersUnderRandomFaults runs PullImage, PushImage and
// CopyImage (within a registry and between two) many times while the
// registries throttle, fail, drop connections and cut bodies at random,
// with clients that retry (three times, or once so that some runs fail).
// Each run may succeed or fail; none may leave a corrupt layout, nor a
// tag naming an image that is incomplete or not the one pushed or the one
// the tag named before.
func TestImageTransfersUnderRandomFaults(t *testing.T) {
	const runs, workers = 30, 3
	a, b := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
	platforms := []string{"linux/amd64", "linux/arm64"}
	img := seedIndexLayers(t, a, "app", "v1", platforms, []int{150_000, 60_000}, 11)
	clean := newTestClient(t, a, a.Credential())
	src := t.TempDir()
	_, err := clean.PullImage(t.Context(), "app", "v1", src, nil)
	require.NoError(t, err)
	// Targets whose tag names another image before the transfer; a
	// failed run must leave it so.
	old := map[string]string{}
	for i := range runs {
		if i%3 == 0 {
			for _, srv := range []*acrtest.Server{a, b} {
				for _, repo := range []string{"push", "mirror", "copy"} {
					name := fmt.Sprintf("%s%d", repo, i)
					old[srv.URL+"/"+name] = seedImage(t, srv, name, "v1")
				}
			}
		}
	}
	patient := [2]*ContainerRegistryClient{faultClient(t, a, 3), faultClient(t, b, 3)}
	hasty := [2]*ContainerRegistryClient{faultClient(t, a, 1), faultClient(t, b, 1)}
	client := func(i, srv int) *ContainerRegistryClient {
		if i%2 == 0 {
			return patient[srv]
		}
		return hasty[srv]
	}
	a.InjectRandomFaults(0.15, 1)
	b.InjectRandomFaults(0.15, 2)

	// checkTarget checks the registry side of run i into repo.
	checkTarget := func(tally *faultTally, srv *acrtest.Server, repo string, err error) {
		got, cerr := checkRegistryImage(srv, repo, "v1")
		switch {
		case cerr != nil:
			t.Errorf("%s run into %s: %v", tally.name, repo, cerr)
		case err == nil && got != img.index:
			t.Errorf("%s run into %s succeeded and the tag names %q", tally.name, repo, got)
		case got != "" && got != img.index && got != old[srv.URL+"/"+repo]:
			t.Errorf("%s run into %s: the tag names %s, neither the image nor the one before", tally.name, repo, got)
		case err != nil && got == "" && old[srv.URL+"/"+repo] != "":
			t.Errorf("%s run into %s failed and lost the tag", tally.name, repo)
		default:
			return
		}
		tally.bad.Add(1)
	}

	pull := &faultTally{name: "PullImage"}
	var resumedAfterFailure atomic.Int32
	t.Run("pull", func(t *testing.T) {
		runParallel(runs, workers, func(i int) {
			dir := t.TempDir()
			// A pull that fails is run again into its layout (up to
			// three attempts), continuing what the failed one left.
			want := img.size - img.manifestBytes()
			for attempt := range 3 {
				pull.attempts.Add(1)
				resp, err := client(i+attempt, 0).PullImage(t.Context(), "app", "v1", dir, &ContainerRegistryClientPullImageOptions{Concurrency: 3})
				s, serr := scanLayout(dir)
				if serr != nil {
					pull.bad.Add(1)
					t.Errorf("pull %d, attempt %d (%v): %v", i, attempt, err, serr)
					return
				}
				if err != nil {
					pull.fail(err)
					cost, _, wrong := pullCost(t, a, "app", img, dir, s)
					if wrong > 0 {
						pull.bad.Add(1)
						t.Errorf("pull %d, attempt %d (%v) left %d partial blobs that are not the start of their blob", i, attempt, err, wrong)
					}
					want = cost
					continue
				}
				pull.ok.Add(1)
				if attempt > 0 {
					resumedAfterFailure.Add(1)
				}
				if len(s.entries) != 1 || s.entries[0].Digest != img.index {
					pull.bad.Add(1)
					t.Errorf("pull %d: index.json has %v", i, s.entries)
				}
				if resp.BytesTransferred != want {
					// Every byte the layout lacked once: cut bodies
					// continued, and what a failed attempt stored or
					// left partial not fetched again.
					t.Errorf("pull %d, attempt %d moved %d bytes, want %d of a %d-byte image", i, attempt, resp.BytesTransferred, want, img.size)
				}
				return
			}
		})
	})

	push := &faultTally{name: "PushImage"}
	t.Run("push", func(t *testing.T) {
		runParallel(runs, workers, func(i int) {
			repo := fmt.Sprintf("push%d", i)
			push.attempts.Add(1)
			_, err := client(i, 0).PushImage(t.Context(), src, repo, "v1", &ContainerRegistryClientPushImageOptions{Concurrency: 3, ChunkSize: 64 << 10})
			if err != nil {
				push.fail(err)
			} else {
				push.ok.Add(1)
			}
			checkTarget(push, a, repo, err)
			// The source layout is only read.
			if _, serr := scanLayout(src); serr != nil {
				push.bad.Add(1)
				t.Errorf("push %d: the source layout: %v", i, serr)
			}
		})
	})

	mirror := &faultTally{name: "CopyImage within a registry"}
	t.Run("copy within", func(t *testing.T) {
		runParallel(runs, workers, func(i int) {
			repo := fmt.Sprintf("mirror%d", i)
			mirror.attempts.Add(1)
			c := client(i, 0)
			_, err := c.CopyImage(t.Context(), "app", "v1", c, repo, "v1", &ContainerRegistryClientCopyImageOptions{Concurrency: 3})
			if err != nil {
				mirror.fail(err)
			} else {
				mirror.ok.Add(1)
			}
			checkTarget(mirror, a, repo, err)
		})
	})

	across := &faultTally{name: "CopyImage between registries"}
	t.Run("copy across", func(t *testing.T) {
		runParallel(runs, workers, func(i int) {
			repo := fmt.Sprintf("copy%d", i)
			across.attempts.Add(1)
			_, err := client(i, 0).CopyImage(t.Context(), "app", "v1", client(i, 1), repo, "v1", &ContainerRegistryClientCopyImageOptions{Concurrency: 3, ChunkSize: 64 << 10})
			if err != nil {
				across.fail(err)
			} else {
				across.ok.Add(1)
			}
			checkTarget(across, b, repo, err)
		})
	})

	t.Logf("faults fired: %d on the source registry, %d on the target", a.FaultsFired(), b.FaultsFired())
	t.Logf("%s (%d attempts; %d layouts completed by a later attempt)", pull, pull.attempts.Load(), resumedAfterFailure.Load())
	for _, tally := range []*faultTally{push, mirror, across} {
		t.Log(tally)
	}
	for _, tally := range []*faultTally{pull, push, mirror, across} {
		for kind, example := range tally.examples {
			t.Logf("%s, %s: %s", tally.name, kind, example)
		}
		assert.Zero(t, tally.bad.Load(), tally.name)
		assert.NotZero(t, tally.ok.Load(), "%s never succeeded", tally.name)
	}
}

// flipByte changes one byte in the middle of the file at path.
func flipByte(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[len(data)/2] ^= 0x20
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

// TestPushImageRefusesACorruptLayoutBeforeTheTagChanges: a layout with a
// damaged layer, a truncated platform manifest or a truncated index is
// refused with an error saying so, and the target tag still names the
// image it named before.
func TestPushImageRefusesACorruptLayoutBeforeTheTagChanges(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	img := seedIndex(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 2, 100_000)
	c := newTestClient(t, srv, srv.Credential())
	platform := img.platforms["linux/arm64"]
	damage := map[string]func(t *testing.T, dir string, l *imageLayout){
		"layer with a flipped byte": func(t *testing.T, dir string, l *imageLayout) {
			flipByte(t, l.blobPath(img.largestLayer()))
		},
		"truncated platform manifest": func(t *testing.T, dir string, l *imageLayout) {
			require.NoError(t, os.Truncate(l.blobPath(platform), 10))
		},
		"platform manifest with a flipped byte": func(t *testing.T, dir string, l *imageLayout) {
			flipByte(t, l.blobPath(platform))
		},
		"truncated index": func(t *testing.T, dir string, l *imageLayout) {
			require.NoError(t, os.Truncate(l.blobPath(img.index), 20))
		},
	}
	for name, spoil := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := c.PullImage(t.Context(), "app", "v1", dir, nil)
			require.NoError(t, err)
			l, err := openLayout(dir)
			require.NoError(t, err)
			spoil(t, dir, l)
			repo := "dest-" + strings.ReplaceAll(name, " ", "-")
			before := seedImage(t, srv, repo, "v1")
			_, err = c.PushImage(t.Context(), dir, repo, "v1", nil)
			require.Error(t, err)
			t.Log(err)
			assert.True(t, errors.Is(err, ErrInvalidLayout) || errors.Is(err, ErrDigestMismatch), "%v", err)
			got, err := checkRegistryImage(srv, repo, "v1")
			require.NoError(t, err)
			assert.Equal(t, before, got, "the tag still names the image it named")
			_, _, ok := srv.Manifest(repo, img.index)
			assert.False(t, ok, "the index was not pushed")
		})
	}
}

// TestImageTransfersCancelledAtRandomMoments cancels PullImage, PushImage
// and CopyImage (between registries) at random moments. Every call must
// return promptly with success or an error wrapping context.Canceled,
// leave a valid layout and a complete (or absent) tag, and leave no
// goroutine behind.
func TestImageTransfersCancelledAtRandomMoments(t *testing.T) {
	a, b := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
	seedIndexLayers(t, a, "app", "v1", []string{"linux/amd64", "linux/arm64"}, []int{400_000, 100_000}, 5)
	ca, cb := newTestClient(t, a, a.Credential()), newTestClient(t, b, b.Credential())
	src := t.TempDir()
	_, err := ca.PullImage(t.Context(), "app", "v1", src, nil)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(5, 6))
	var n atomic.Int32
	type op struct {
		run   func(ctx context.Context) error
		check func(t *testing.T)
	}
	ops := map[string]func() op{
		"pull": func() op {
			dir := filepath.Join(t.TempDir(), "layout")
			return op{
				run: func(ctx context.Context) error {
					_, err := ca.PullImage(ctx, "app", "v1", dir, &ContainerRegistryClientPullImageOptions{Concurrency: 3})
					return err
				},
				check: func(t *testing.T) {
					if _, err := os.Stat(dir); err == nil {
						requireValidLayout(t, dir)
					}
				},
			}
		},
		"push": func() op {
			repo := fmt.Sprintf("push%d", n.Add(1))
			return op{
				run: func(ctx context.Context) error {
					_, err := ca.PushImage(ctx, src, repo, "v1", &ContainerRegistryClientPushImageOptions{ChunkSize: 64 << 10})
					return err
				},
				check: func(t *testing.T) {
					_, err := checkRegistryImage(a, repo, "v1")
					require.NoError(t, err)
				},
			}
		},
		"copy": func() op {
			repo := fmt.Sprintf("copy%d", n.Add(1))
			return op{
				run: func(ctx context.Context) error {
					_, err := ca.CopyImage(ctx, "app", "v1", cb, repo, "v1", &ContainerRegistryClientCopyImageOptions{ChunkSize: 64 << 10})
					return err
				},
				check: func(t *testing.T) {
					_, err := checkRegistryImage(b, repo, "v1")
					require.NoError(t, err)
				},
			}
		},
	}
	// Time each operation (warming connections and tokens), so that the
	// cancellations fall anywhere in it.
	took := map[string]time.Duration{}
	for name, newOp := range ops {
		o := newOp()
		start := time.Now()
		require.NoError(t, o.run(t.Context()))
		took[name] = time.Since(start)
		o.check(t)
	}
	settle := func(want int) int {
		b.Client().CloseIdleConnections()
		return settledGoroutines(a, want)
	}
	before := settle(0)

	var slowest time.Duration
	for name, newOp := range ops {
		t.Run(name, func(t *testing.T) {
			var cancelled, finished int
			for range 25 {
				o := newOp()
				ctx, cancel := context.WithCancel(t.Context())
				var at atomic.Int64 // when cancel ran, in UnixNano
				timer := time.AfterFunc(time.Duration(rng.Int64N(int64(took[name]*5/4)+1)), func() {
					at.Store(time.Now().UnixNano())
					cancel()
				})
				err := within(t, func() error { return o.run(ctx) })
				returned := time.Now()
				timer.Stop()
				cancel()
				if err != nil {
					require.ErrorIs(t, err, context.Canceled)
					cancelled++
					if lag := returned.Sub(time.Unix(0, at.Load())); lag > slowest {
						slowest = lag
					}
				} else {
					finished++
				}
				o.check(t)
			}
			t.Logf("%s (%v uncancelled): %d cancelled, %d finished first", name, took[name].Round(time.Millisecond), cancelled, finished)
		})
	}
	t.Logf("slowest return after a cancel: %v", slowest.Round(time.Millisecond))
	assert.Less(t, slowest, time.Second, "a cancelled call returns promptly")
	b.Client().CloseIdleConnections()
	assertNoLeak(t, a, before)
}

// TestACutManifestBodyIsRetried: a manifest answer cut short (status and
// headers arrive, the connection drops in the body) is fetched again under
// the caller's retry options, like a blob body cut the same way. GetManifest
// reads its body after the pipeline, to cap its size, so azcore's retry
// policy never sees the cut; PullImage and CopyImage read every manifest
// through it.
func TestACutManifestBodyIsRetried(t *testing.T) {
	calls := map[string]func(c *ContainerRegistryClient) error{
		"GetManifest": func(c *ContainerRegistryClient) error {
			_, err := c.GetManifest(t.Context(), "app", "v1", nil)
			return err
		},
		"PullImage, the root": func(c *ContainerRegistryClient) error {
			_, err := c.PullImage(t.Context(), "app", "v1", t.TempDir(), nil)
			return err
		},
		"CopyImage, a platform manifest": func(c *ContainerRegistryClient) error {
			_, err := c.CopyImage(t.Context(), "app", "v1", c, "mirror", "v1", nil)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			srv := acrtest.NewServer(t, nil)
			seedIndex(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64"}, 1, 1000)
			c := newTestClient(t, srv, srv.Credential()) // three retries
			nth := 1
			if strings.Contains(name, "platform") {
				nth = 2
			}
			srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/manifests/", Nth: nth, TruncateBody: 10})
			err := call(c)
			require.Equal(t, 1, srv.FaultsFired())
			assert.NoError(t, err, "one cut manifest body, and three retries allowed")
		})
	}
}
