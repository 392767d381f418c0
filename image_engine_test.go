package azacr

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
)

func TestThrottleHalvesOn429AndGrowsBack(t *testing.T) {
	th := newThrottle(8)
	ctx := context.Background()
	for i := 0; i < 8; i++ {
		require.NoError(t, th.acquire(ctx))
	}
	// The budget is spent: a ninth waits until ctx ends.
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, th.acquire(short), context.DeadlineExceeded)

	th.throttled()
	require.Equal(t, 4, th.current())
	th.throttled()
	th.throttled()
	th.throttled()
	require.Equal(t, 1, th.current(), "never below one")
	for i := 0; i < 8; i++ {
		th.release()
	}
	// Releases grew it back: one per budget's worth.
	require.Greater(t, th.current(), 1)
	require.LessOrEqual(t, th.current(), 8)
	for i := 0; i < 100; i++ {
		require.NoError(t, th.acquire(ctx))
		th.release()
	}
	require.Equal(t, 8, th.current(), "and never past Concurrency")
}

func TestThrottleWaiterWakesOnRelease(t *testing.T) {
	th := newThrottle(1)
	require.NoError(t, th.acquire(context.Background()))
	got := make(chan error, 1)
	go func() { got <- th.acquire(context.Background()) }()
	th.release()
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(hangLimit):
		t.Fatal("a waiter was not woken by a release")
	}
}

func TestThe429sOfATransferReachItsThrottle(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedIndex(t, srv, "app", "v1", []string{"linux/amd64"}, 6, 1000)
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/", Status: http.StatusTooManyRequests, Times: 2})
	c := newTestClient(t, srv, srv.Credential())
	th := newThrottle(8)
	_, err := c.GetManifest(withThrottle(context.Background(), th), "app", "v1", nil)
	require.NoError(t, err)
	require.Equal(t, 8, th.current(), "no 429 yet")

	// A pull under 429s completes: azcore waits out each one.
	_, err = c.PullImage(context.Background(), "app", "v1", t.TempDir(), &ContainerRegistryClientPullImageOptions{Concurrency: 8})
	require.NoError(t, err)
	require.Equal(t, 2, srv.FaultsFired())

	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/manifests/", Status: http.StatusTooManyRequests, Times: 1})
	_, err = c.GetManifest(withThrottle(context.Background(), th), "app", "v1", nil)
	require.NoError(t, err)
	require.Equal(t, 4, th.current(), "the pipeline told the throttle of the 429")
}

func TestManifestLevelsPutChildrenAndSubjectsFirst(t *testing.T) {
	node := func(name string) *manifestNode { return &manifestNode{desc: Descriptor{Digest: name}} }
	a, b, idx := node("a"), node("b"), node("index")
	sigIdx, sbomA, sigSbom := node("sig-of-index"), node("sbom-of-a"), node("sig-of-sbom")
	idx.children = []*manifestNode{a, b}
	idx.referrers = []*manifestNode{sigIdx}
	a.referrers = []*manifestNode{sbomA}
	sbomA.referrers = []*manifestNode{sigSbom}
	var names [][]string
	for _, level := range manifestLevels(postOrder(idx)) {
		var l []string
		for _, n := range level {
			l = append(l, n.desc.Digest)
		}
		names = append(names, l)
	}
	require.Equal(t, [][]string{{"a", "b"}, {"sbom-of-a", "index"}, {"sig-of-sbom", "sig-of-index"}}, names)
}

func TestThrottleServesTheLargestBlobFirst(t *testing.T) {
	th := newThrottle(1)
	require.NoError(t, th.acquire(context.Background()))
	order := make(chan int64, 3)
	for i, p := range []int64{10, 1000, 10} {
		go func() {
			if th.acquireFor(context.Background(), p) == nil {
				order <- p
				th.release()
			}
		}()
		queued := i + 1
		require.Eventually(t, func() bool { th.mu.Lock(); defer th.mu.Unlock(); return len(th.waiters) == queued }, hangLimit, time.Millisecond)
	}
	th.release()
	require.Equal(t, int64(1000), <-order, "the largest first")
	require.Equal(t, int64(10), <-order)
	require.Equal(t, int64(10), <-order)
}

func TestParseManifestRefusesFieldsOfAnotherKind(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	image := `{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d + `","size":2},"layers":[{"digest":"` + d + `","size":2}]}`
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d + `","size":2}]}`
	for _, c := range []struct{ mediaType, doc string }{
		{string(ContentTypeApplicationVndOCIImageIndexV1JSON), image},    // an image served as an index
		{string(ContentTypeApplicationVndOCIImageManifestV1JSON), index}, // and the reverse
		{string(ContentTypeApplicationVndOCIArtifactManifestV1JSON), image},
		{string(ContentTypeApplicationVndOCIImageIndexV1JSON), `{"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}`},
	} {
		_, err := parseManifest(c.mediaType, []byte(c.doc))
		require.ErrorIs(t, err, ErrUnexpectedManifest, c.mediaType)
	}
	// A config marked foreign is still the config.
	foreign := `{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"` + d + `","size":2,"urls":["https://example.com"]},"layers":[]}`
	r, err := parseManifest(string(ContentTypeApplicationVndOCIImageManifestV1JSON), []byte(foreign))
	require.NoError(t, err)
	require.NotNil(t, r.config)
	require.Len(t, r.blobs, 1)
}

func TestReferrersMustNameTheirSubject(t *testing.T) {
	subject := Descriptor{Digest: "sha256:" + strings.Repeat("a", 64)}
	other := Descriptor{Digest: "sha256:" + strings.Repeat("b", 64)}
	tr := &imageTransfer{opts: imageOptions{artifactTypes: []string{"sig"}}}
	check := tr.refersTo(subject)
	keep, err := check(&manifestNode{desc: other, refs: manifestRefs{subject: &other, artifactType: "sig"}})
	require.ErrorIs(t, err, ErrUnexpectedManifest, "listed as a referrer of subject, but it refers to another")
	require.False(t, keep)
	keep, err = check(&manifestNode{desc: other, refs: manifestRefs{subject: &subject, artifactType: "sbom"}})
	require.NoError(t, err)
	require.False(t, keep, "its own artifact type decides, not the listing's")
	keep, err = check(&manifestNode{desc: other, refs: manifestRefs{subject: &subject, artifactType: "sig"}})
	require.NoError(t, err)
	require.True(t, keep)
}

func TestBlobDescriptorsMustAgreeOnSize(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	a := &manifestNode{refs: manifestRefs{blobs: []Descriptor{{Digest: d, Size: 10}}}}
	b := &manifestNode{refs: manifestRefs{blobs: []Descriptor{{Digest: d, Size: 11}}}}
	_, err := distinctBlobs([]*manifestNode{a, b})
	require.ErrorIs(t, err, ErrSizeMismatch)
}
