//go:build unix

package azacr

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
)

// PullImage killed with SIGKILL at random moments: the test binary runs
// itself again as a child that pulls into a layout (TestHelperPullChild),
// and the parent kills it once a random number of bytes has gone to it.

// The environment of a child pull; without childURL the helper test does
// nothing.
const (
	childURL      = "AZACR_TEST_CHILD_URL"
	childCA       = "AZACR_TEST_CHILD_CA" // a PEM file of the certificate to trust
	childUser     = "AZACR_TEST_CHILD_USER"
	childPassword = "AZACR_TEST_CHILD_PASSWORD"
	childRepo     = "AZACR_TEST_CHILD_REPO"
	childRef      = "AZACR_TEST_CHILD_REF"
	childDir      = "AZACR_TEST_CHILD_DIR"
)

// TestHelperPullChild is the child process of the tests below, not a test:
// it pulls the image its environment names and exits.
func TestHelperPullChild(t *testing.T) {
	url := os.Getenv(childURL)
	if url == "" {
		return
	}
	pemData, err := os.ReadFile(os.Getenv(childCA))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pemData))
	transport := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	c, err := NewContainerRegistryClient(url, NewPasswordCredential(os.Getenv(childUser), os.Getenv(childPassword)),
		&ContainerRegistryClientOptions{ClientOptions: azcore.ClientOptions{Transport: transport}})
	require.NoError(t, err)
	_, err = c.PullImage(context.Background(), os.Getenv(childRepo), os.Getenv(childRef), os.Getenv(childDir), nil)
	require.NoError(t, err)
}

// childPull describes the pulls child processes make.
type childPull struct {
	url, ca, user, password, repo string
}

// start starts a child pulling ref into dir; its output goes to out.
func (p childPull) start(t *testing.T, ref, dir string, out io.Writer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPullChild$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), childURL+"="+p.url, childCA+"="+p.ca, childUser+"="+p.user, childPassword+"="+p.password,
		childRepo+"="+p.repo, childRef+"="+ref, childDir+"="+dir,
		// A binary built with -race sleeps a second before it exits,
		// unless told not to.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	// A test that fails before its child ends leaves no child behind.
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd
}

// newChildPull starts a registry with an admin user for child processes
// and writes its certificate where they can read it.
func newChildPull(t *testing.T, opts *acrtest.Options) (*acrtest.Server, childPull) {
	t.Helper()
	if opts == nil {
		opts = &acrtest.Options{}
	}
	opts.Users = []acrtest.User{{Name: "admin", Password: "child-pw"}}
	srv := acrtest.NewServer(t, opts)
	ca := filepath.Join(t.TempDir(), "registry.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644))
	return srv, childPull{url: srv.URL, ca: ca, user: "admin", password: "child-pw", repo: "app"}
}

// byteProxy forwards TCP connections to a registry and counts the bytes
// the registry sends back, so that a test can act once a given number of
// them has reached the client.
type byteProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu      sync.Mutex
	conns   map[net.Conn]bool
	served  int64
	trip    int64
	tripped chan struct{} // closed once served reaches trip; nil when unarmed
}

func newByteProxy(t *testing.T, target string) *byteProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &byteProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// URL is the registry's URL through the proxy.
func (p *byteProxy) URL() string { return "https://" + p.ln.Addr().String() }

// arm restarts the count and returns a channel closed once n more bytes
// have gone to the clients.
func (p *byteProxy) arm(n int64) <-chan struct{} {
	ch := make(chan struct{})
	p.mu.Lock()
	p.served, p.trip, p.tripped = 0, n, ch
	p.mu.Unlock()
	return ch
}

// servedBytes is the bytes sent to the clients since arm.
func (p *byteProxy) servedBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.served
}

// count records n bytes sent to a client.
func (p *byteProxy) count(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.served += int64(n)
	if p.tripped != nil && p.served >= p.trip {
		close(p.tripped)
		p.tripped = nil
	}
}

func (p *byteProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false // closed
	}
	if add {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *byteProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(client, true) {
			client.Close()
			return
		}
		p.wg.Go(func() { p.forward(client) })
	}
}

// forward copies between a client and the registry until either end
// closes, then closes both.
func (p *byteProxy) forward(client net.Conn) {
	defer p.track(client, false)
	defer client.Close()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(upstream, true) {
		upstream.Close()
		return
	}
	defer p.track(upstream, false)
	defer upstream.Close()
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(upstream, client)
		done <- struct{}{}
	}()
	go func() {
		buf := make([]byte, 16<<10)
		for {
			n, err := upstream.Read(buf)
			if n > 0 {
				if _, werr := client.Write(buf[:n]); werr != nil {
					break
				}
				p.count(n)
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}()
	<-done
	client.Close()
	upstream.Close()
	<-done
}

func (p *byteProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// killStats adds up what the kills left behind.
type killStats struct {
	kills, finished int            // children killed, children that finished first
	phases          map[string]int // what the layout held when each child ended
	lost            int64          // bytes sent to killed children and not on disk after the kill
	// Of the rounds whose last child was killed: how many, the bytes the
	// completing pulls moved, the partial bytes they continued, and the
	// bytes under blobs/ they kept.
	resumed                  int
	refetched, kept, already int64
	leftovers                int // files the kills left in ingest/
}

// TestPullImageKilledAtRandomMomentsLeavesALayoutThatResumes: a child
// process pulling a two-platform index of six layers (1 to 4 MiB) is
// killed with SIGKILL after a random number of bytes has reached it, one
// to three times per layout. After every kill the layout must open and
// validate (scanLayout), and every partial download in ingest/ must be
// the start of its blob. A pull in this process then completes the
// layout, and must download exactly what the layout lacked: the manifests
// not under blobs/, the blobs not under blobs/, less the partial bytes,
// which it continues.
func TestPullImageKilledAtRandomMomentsLeavesALayoutThatResumes(t *testing.T) {
	const rounds = 30
	srv, child := newChildPull(t, nil)
	img := seedIndexLayers(t, srv, "app", "v1", []string{"linux/amd64", "linux/arm64"}, []int{1 << 20, 5 << 19, 4 << 20}, 42)
	proxy := newByteProxy(t, srv.Host)
	child.url = proxy.URL()
	c := newTestClient(t, srv, srv.Credential())
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(42, seed))
	st := killStats{phases: map[string]int{}}
	start := time.Now()

	for round := range rounds {
		dir := filepath.Join(t.TempDir(), "layout")
		var (
			s      layoutScan
			killed bool
		)
		for k := range 1 + rng.IntN(3) {
			// Most kills come after a random number of bytes, at once or
			// a few milliseconds later; the others once the layout shows
			// a step of the pull's end (the last blob renamed, manifests
			// stored, index.json written), which lasts too short a time
			// for a count of bytes to land in.
			var (
				when    string
				tripped <-chan struct{}
				delay   time.Duration
			)
			stop := make(chan struct{})
			if rng.IntN(5) < 2 {
				step := endSteps[rng.IntN(len(endSteps))]
				when = step.name
				proxy.arm(math.MaxInt64)
				tripped = watchLayout(stop, func() bool { return step.reached(dir, img) })
				delay = time.Duration(rng.Int64N(int64(time.Millisecond)))
			} else {
				threshold := rng.Int64N(img.size)
				when = fmt.Sprintf("%d bytes", threshold)
				tripped = proxy.arm(threshold)
				if rng.IntN(2) == 0 {
					delay = time.Duration(rng.Int64N(int64(15 * time.Millisecond)))
				}
			}
			var out bytes.Buffer
			cmd := child.start(t, "v1", dir, &out)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var err error
			killed = false
			select {
			case <-tripped:
				time.Sleep(delay)
				cmd.Process.Signal(syscall.SIGKILL)
				err = <-exited
				killed = killedBySIGKILL(err)
			case err = <-exited:
			}
			close(stop)
			if !killed {
				require.NoError(t, err, "round %d, child %d finished with an error:\n%s", round, k, out.String())
				st.finished++
			} else {
				st.kills++
			}
			onDisk := s.blobBytes() + partialBytes(s)
			s, err = scanLayout(dir)
			require.NoError(t, err, "round %d, after child %d (at %s + %v)", round, k, when, delay)
			_, _, wrong := pullCost(t, srv, "app", img, dir, s)
			require.Zero(t, wrong, "round %d, after child %d: partial files that are not the start of their blob", round, k)
			st.phases[killPhase(s, img, killed)]++
			if killed {
				st.lost += max(0, proxy.servedBytes()-(s.blobBytes()+partialBytes(s)-onDisk))
			}
		}

		cost, kept, _ := pullCost(t, srv, "app", img, dir, s)
		var complete int64
		for d := range img.blobs {
			complete += s.blobs[d]
		}
		resp, err := c.PullImage(t.Context(), "app", "v1", dir, nil)
		require.NoError(t, err, "round %d", round)
		require.Equal(t, cost, resp.BytesTransferred,
			"round %d: the layout held %d bytes of blobs and %d of partials of a %d-byte image", round, complete, kept, img.size)
		s = requireValidLayout(t, dir)
		require.Empty(t, s.partials, "round %d: every partial became its blob", round)
		requireLayoutHolds(t, dir, img)
		leftovers, err := os.ReadDir(filepath.Join(dir, ingestDir))
		require.NoError(t, err)
		for _, f := range leftovers {
			if f.Name() != "index.lock" {
				st.leftovers++
			}
		}
		require.Len(t, s.entries, 1)
		require.Equal(t, img.index, s.entries[0].Digest)
		require.Equal(t, "v1", s.entries[0].Annotations[AnnotationRefName])
		if killed {
			st.resumed++
			st.refetched += resp.BytesTransferred
			st.kept += kept
			st.already += complete
		}
	}
	t.Logf("%d rounds in %v: %d children killed, %d finished first; when each child ended the layout held: %v",
		rounds, time.Since(start).Round(time.Millisecond), st.kills, st.finished, st.phases)
	require.NotZero(t, st.kills)
	require.NotZero(t, st.resumed)
	n := int64(st.resumed)
	t.Logf("after the %d rounds ending in a kill, the completing pull moved %d bytes on average of a %d-byte image (%.0f%%): "+
		"it kept %d bytes of finished blobs and continued %d bytes of partial ones; restarting every unfinished blob would have moved %d, restarting the pull %d",
		st.resumed, st.refetched/n, img.size, 100*float64(st.refetched)/float64(img.size*n), st.already/n, st.kept/n, (st.refetched+st.kept)/n, img.size)
	t.Logf("bytes sent to a killed child and not on disk after the kill (socket buffers, TLS and HTTP framing, read and not yet written): %d on average", st.lost/int64(st.kills))
	t.Logf("files the kills left in ingest/ that the completing pulls did not remove: %d", st.leftovers)
}

// partialBytes is the bytes of the partial files in a scanned layout.
func partialBytes(s layoutScan) int64 {
	var n int64
	for _, size := range s.partials {
		n += size
	}
	return n
}

// endStep is a step near the end of a pull, as the layout shows it.
type endStep struct {
	name    string
	reached func(dir string, img testImage) bool
}

// endSteps are the moments kills aim at besides byte counts.
var endSteps = []endStep{
	{"every blob stored", func(dir string, img testImage) bool {
		files, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
		return len(files) >= len(img.blobs)
	}},
	{"a platform manifest stored", func(dir string, img testImage) bool {
		for _, d := range img.platforms {
			if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", d[len("sha256:"):])); err == nil {
				return true
			}
		}
		return false
	}},
	{"the index stored", func(dir string, img testImage) bool {
		_, err := os.Stat(filepath.Join(dir, "blobs", "sha256", img.index[len("sha256:"):]))
		return err == nil
	}},
	{"index.json written", func(dir string, img testImage) bool {
		_, err := os.Stat(filepath.Join(dir, "index.json"))
		return err == nil
	}},
}

// watchLayout polls cond until it holds, then closes the channel it
// returned; it gives up when stop is closed.
func watchLayout(stop <-chan struct{}, cond func() bool) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if cond() {
				close(ch)
				return
			}
		}
	}()
	return ch
}

// killedBySIGKILL reports whether a child's Wait error says SIGKILL ended
// it.
func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// killPhase names what a layout held when its writer ended.
func killPhase(s layoutScan, img testImage, killed bool) string {
	switch {
	case !killed:
		return "finished"
	case len(s.entries) > 0:
		return "index.json written"
	}
	if _, ok := s.blobs[img.index]; ok {
		return "manifests stored"
	}
	for _, d := range img.platforms {
		if _, ok := s.blobs[d]; ok {
			return "manifests stored"
		}
	}
	var partial bool
	for _, n := range s.partials {
		partial = partial || n > 0
	}
	switch {
	case len(s.blobs) == len(img.blobs):
		return "all blobs stored"
	case len(s.blobs) > 0 && partial:
		return "blobs and partials"
	case partial:
		return "partials only"
	case len(s.blobs) > 0:
		return "blobs only"
	}
	return "nothing stored"
}

// TestPullImageFromSeveralProcessesIntoOneLayout: three processes pull
// into one layout at once, two of them the same tag, and a fourth pulling
// that tag too is killed at a random moment, maybe while it holds the
// lock of a partial blob or of index.json. The others must finish, taking
// over what the killed one was downloading; index.json ends with both
// tags, and the layout validates.
func TestPullImageFromSeveralProcessesIntoOneLayout(t *testing.T) {
	srv, child := newChildPull(t, nil)
	platforms := []string{"linux/amd64", "linux/arm64"}
	v1 := seedIndexLayers(t, srv, "app", "v1", platforms, []int{1 << 20, 2 << 20}, 1)
	v2 := seedIndexLayers(t, srv, "app", "v2", platforms, []int{300_000, 100_000}, 2)
	proxy := newByteProxy(t, srv.Host)
	victim := child
	victim.url = proxy.URL()
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	var kills int
	for round := range 5 {
		dir := filepath.Join(t.TempDir(), "layout")
		tripped := proxy.arm(rng.Int64N(v1.size / 2))
		var victimOut bytes.Buffer
		doomed := victim.start(t, "v1", dir, &victimOut)
		exited := make(chan error, 1)
		go func() { exited <- doomed.Wait() }()
		refs := []string{"v1", "v2", "v1"}
		outs := make([]bytes.Buffer, len(refs))
		cmds := make([]*exec.Cmd, len(refs))
		for i, ref := range refs {
			cmds[i] = child.start(t, ref, dir, &outs[i])
		}
		select {
		case <-tripped:
			doomed.Process.Signal(syscall.SIGKILL)
			if err := <-exited; killedBySIGKILL(err) {
				kills++
			} else {
				require.NoError(t, err, "round %d, the victim:\n%s", round, victimOut.String())
			}
		case err := <-exited:
			require.NoError(t, err, "round %d, the victim:\n%s", round, victimOut.String())
		}
		for i, cmd := range cmds {
			require.NoError(t, cmd.Wait(), "round %d, pull of %s:\n%s", round, refs[i], outs[i].String())
		}
		s := requireValidLayout(t, dir)
		got := map[string]string{}
		for _, e := range s.entries {
			got[e.Annotations[AnnotationRefName]] = e.Digest
		}
		require.Equal(t, map[string]string{"v1": v1.index, "v2": v2.index}, got, "round %d", round)
		requireLayoutHolds(t, dir, v1)
		requireLayoutHolds(t, dir, v2)
	}
	t.Logf("victims killed: %d of 5", kills)
}
