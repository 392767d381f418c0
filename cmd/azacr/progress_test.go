package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
	"github.com/vbauerster/mpb/v8/decor"
)

// fakeTerminal makes the command draw bars into its stderr buffer, as on a
// terminal, for the rest of the test.
func fakeTerminal(t *testing.T) {
	old := stderrIsTerminal
	stderrIsTerminal = func(io.Writer) bool { return true }
	t.Cleanup(func() { stderrIsTerminal = old })
}

// azacrContext is testRegistry.azacr with a context.
func (r *testRegistry) azacrContext(ctx context.Context, t *testing.T, args ...string) result {
	t.Helper()
	all := append([]string{"--ca-file", r.caFile, "--username", testUser, "--password-stdin"}, args...)
	var out, errOut bytes.Buffer
	code := run(ctx, all, strings.NewReader(testPassword+"\n"), &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// requireNoBarGoroutines checks that mpb left no goroutine running.
func requireNoBarGoroutines(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		return !bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("vbauerster/mpb"))
	}, 5*time.Second, 10*time.Millisecond, "mpb goroutines left running")
}

func TestProgressBarsOnTerminal(t *testing.T) {
	fakeTerminal(t)
	r := newTestRegistry(t)
	img := seedLayeredImage(t, r, "hello", "v1", "linux/amd64", 11, 1<<20, 2<<20, 3<<20)

	res := r.azacr(t, "", "pull", r.ref("hello:v1"), t.TempDir())
	requireDigestOut(t, res, img.digest)
	requireNoBarGoroutines(t)

	require.Contains(t, res.stderr, "\x1b[", "drawn in place")
	require.NotContains(t, res.stderr, "aborted")
	// The total bar: every byte of the image, done.
	counters := fmt.Sprintf("% .1f / % .1f", decor.SizeB1024(img.bytes), decor.SizeB1024(img.bytes))
	var total string
	for line := range strings.SplitSeq(res.stderr, "\n") {
		if strings.Contains(line, "pull") && strings.Contains(line, counters) {
			total = line
		}
	}
	require.NotEmpty(t, total, "no total bar with %q in %q", counters, res.stderr)
	require.Contains(t, total, "done")
	// A bar per layer while it was in flight.
	var m azacr.ImageManifest
	require.NoError(t, json.Unmarshal(mustManifest(t, r, "hello", "v1"), &m))
	for _, l := range m.Layers {
		require.Contains(t, res.stderr, shortDigest(l.Digest))
	}
}

func TestProgressLinesWhenNotTerminal(t *testing.T) {
	r := newTestRegistry(t)
	img := seedLayeredImage(t, r, "hello", "v1", "linux/amd64", 12, 1<<20, 2<<20, 3<<20)

	res := r.azacr(t, "", "pull", r.ref("hello:v1"), t.TempDir())
	requireDigestOut(t, res, img.digest)
	require.NotContains(t, res.stderr, "\x1b[", "plain lines")
	lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
	for _, l := range lines {
		t.Log(l)
		require.True(t, strings.HasPrefix(l, "pull: "), l)
	}
	require.Regexp(t, regexp.MustCompile(fmt.Sprintf(`^pull: done, [0-9.]+ MiB \(%d bytes\) in [0-9.]+m?s, .+/s$`, img.bytes)), lines[len(lines)-1])
	require.LessOrEqual(t, len(lines), 11, "at most one line a tenth (or a second), and the last")

	// Push and copy within the registry report too; an up-to-date push
	// moves nothing and says nothing.
	dir := t.TempDir()
	res = r.azacr(t, "", "-q", "pull", r.ref("hello:v1"), dir)
	require.Equal(t, 0, res.code, res.stderr)
	res = r.azacr(t, "", "push", dir, r.ref("pushed:v1"))
	requireDigestOut(t, res, img.digest)
	require.Contains(t, res.stderr, fmt.Sprintf("push: done, 6.0 MiB (%d bytes)", img.bytes))
	res = r.azacr(t, "", "push", dir, r.ref("pushed:v1"))
	requireDigestOut(t, res, img.digest)
	require.Empty(t, res.stderr)
}

func TestProgressNothingDrawnBeforeAFailure(t *testing.T) {
	fakeTerminal(t)
	r := newTestRegistry(t)
	res := r.azacr(t, "", "pull", r.ref("hello:nosuch"), t.TempDir())
	require.Equal(t, 1, res.code)
	require.Equal(t, 1, strings.Count(res.stderr, "\n"), "the error line alone: %q", res.stderr)
	require.Contains(t, res.stderr, "MANIFEST_UNKNOWN")
	requireNoBarGoroutines(t)
}

func TestProgressBarsAbortOnCancel(t *testing.T) {
	fakeTerminal(t)
	r := newTestRegistry(t)
	img := seedLayeredImage(t, r, "hello", "v1", "linux/amd64", 13, 100_000, 200_000)
	var m azacr.ImageManifest
	require.NoError(t, json.Unmarshal(mustManifest(t, r, "hello", "v1"), &m))
	// The second layer's download hangs until the client goes away.
	r.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: m.Layers[1].Digest, Delay: time.Minute})

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	start := time.Now()
	res := r.azacrContext(ctx, t, "pull", r.ref("hello:v1"), t.TempDir())
	require.Less(t, time.Since(start), 30*time.Second)
	require.Equal(t, 1, res.code)
	require.Empty(t, res.stdout)
	require.True(t, strings.HasSuffix(res.stderr, "azacr: interrupted\n"), res.stderr)
	require.Contains(t, res.stderr, "aborted")
	require.NotContains(t, res.stderr, img.digest)
	requireNoBarGoroutines(t)
}

func TestProgressViewsEndCleanly(t *testing.T) {
	for _, ok := range []bool{true, false} {
		var buf bytes.Buffer
		p := &progress{view: newBarsView(&buf, "copy")}
		p.image(azacr.ImageProgress{Descriptor: azacr.Descriptor{Digest: azacr.ComputeDigest([]byte("a")), Size: 100}, Transferred: 40, TotalTransferred: 40, Total: 300})
		p.image(azacr.ImageProgress{Descriptor: azacr.Descriptor{Digest: azacr.ComputeDigest([]byte("b")), Size: 200}, Transferred: 10, TotalTransferred: 50, Total: 300})
		var err error
		if !ok {
			err = context.Canceled
		}
		done := make(chan struct{})
		go func() { p.finish(err); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("finish hangs")
		}
		p.finish(err)    // again: nothing
		p.stream(10, 20) // after: nothing
		require.Equal(t, !ok, strings.Contains(buf.String(), "aborted"), buf.String())
		requireNoBarGoroutines(t)
	}

	// Lines of a stream of unknown size, then the total.
	var buf bytes.Buffer
	p := &progress{view: newLinesView(&buf, "blob push")}
	p.stream(10, -1)
	p.finish(nil)
	require.Regexp(t, `^blob push: done, 10\.0 b \(10 bytes\) in `, buf.String())
}
