package conformance

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var faultLoadFull = flag.Bool("faultload.full", false, "run the proxy fault load at full size: 200 uploads and downloads of up to 32 MiB")

// resetProxy forwards TCP connections to a target and resets a fraction of
// them after a random number of bytes, in one direction or the other: a
// network that drops connections mid-request and mid-response.
type resetProxy struct {
	ln     net.Listener
	target string
	rate   float64
	max    int64

	mu     sync.Mutex
	rng    *rand.Rand
	conns  map[net.Conn]bool
	resets atomic.Int32
	wg     sync.WaitGroup
}

func startResetProxy(tb testing.TB, target string, rate float64, maxOffset int64, seed uint64) *resetProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	p := &resetProxy{ln: ln, target: target, rate: rate, max: maxOffset, rng: rand.New(rand.NewPCG(seed, seed+1)), conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

func (p *resetProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		reset := p.rng.Float64() < p.rate
		offset := p.rng.Int64N(p.max)
		upstream := p.rng.IntN(2) == 0
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(c, reset, offset, upstream)
	}
}

// serve copies both ways; a doomed connection is reset once offset bytes
// have passed in the chosen direction.
func (p *resetProxy) serve(client net.Conn, reset bool, offset int64, upstream bool) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns[server] = true
	p.mu.Unlock()
	kill := func() {
		for _, c := range []net.Conn{client, server} {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN: a reset, not a clean end
			}
			c.Close()
		}
	}
	pipe := func(dst, src net.Conn, doomed bool, done chan<- struct{}) {
		defer close(done)
		if doomed {
			if _, err := io.CopyN(dst, src, offset); err == nil {
				p.resets.Add(1)
				kill()
				return
			}
		} else {
			_, _ = io.Copy(dst, src)
		}
		kill()
	}
	up, down := make(chan struct{}), make(chan struct{})
	go pipe(server, client, reset && upstream, up)
	go pipe(client, server, reset && !upstream, down)
	<-up
	<-down
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

func (p *resetProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestFaultLoadThroughResettingProxy pushes and pulls blobs through a
// proxy that resets one connection in two at a random byte offset, in
// front of the real distribution registry. Operations may fail; none may
// lose or corrupt a blob: every upload reported done is read back directly
// from the registry and compared, every download reported done is compared.
func TestFaultLoadThroughResettingProxy(t *testing.T) {
	n, maxSize, chunk := 40, 2<<20, int64(256<<10)
	if *faultLoadFull {
		n, maxSize, chunk = 200, 32<<20, 0
	}
	reg := StartOpenRegistry(t, false)
	// Half the connections die within their first MiB: with keep-alive
	// there are few connections, so each must be likely to break.
	proxy := startResetProxy(t, reg.Host, 0.5, 1<<20, 42)
	client, err := azacr.NewBlobClient("http://"+proxy.ln.Addr().String(), nil, &azacr.BlobClientOptions{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 10 * time.Millisecond}},
	})
	require.NoError(t, err)
	direct := reg.BlobClient(t)

	rng := rand.New(rand.NewPCG(3, 4))
	blobs := make([][]byte, n)
	for i := range blobs {
		size := rng.IntN(maxSize + 1)
		if i%10 == 0 {
			size = rng.IntN(4)
		}
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		blobs[i] = b
	}
	var upOK, upErr, downOK, downErr, corrupt atomic.Int32
	digests := make([]string, n)
	run := func(f func(i int)) {
		var wg sync.WaitGroup
		var next atomic.Int32
		for range 8 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					f(i)
				}
			})
		}
		wg.Wait()
	}
	ctx := context.Background()
	files := t.TempDir()
	run(func(i int) {
		var body io.Reader = bytes.NewReader(blobs[i])
		switch i % 3 {
		case 1:
			body = io.MultiReader(body) // hides Seek: a stream read once
		case 2:
			// A file: its chunks go out by sendfile(2), into the resets.
			path := filepath.Join(files, fmt.Sprint(i))
			if err := os.WriteFile(path, blobs[i], 0o600); err != nil {
				t.Error(err)
				return
			}
			f, err := os.Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			body = f
		}
		res, err := client.UploadBlob(ctx, "load", body, &azacr.BlobClientUploadBlobOptions{ChunkSize: chunk})
		if err != nil {
			upErr.Add(1)
			return
		}
		upOK.Add(1)
		digests[i] = res.Digest
		stored, err := direct.GetBlob(ctx, "load", res.Digest, nil)
		if err != nil {
			corrupt.Add(1) // reported uploaded, yet not there
			return
		}
		got, err := io.ReadAll(stored.Body)
		if err != nil || !bytes.Equal(got, blobs[i]) {
			corrupt.Add(1)
		}
	})
	dir := t.TempDir()
	run(func(i int) {
		if digests[i] == "" {
			return
		}
		var got []byte
		var err error
		if i%2 == 0 {
			var res azacr.BlobClientGetBlobResponse
			if res, err = client.GetBlob(ctx, "load", digests[i], nil); err == nil {
				got, err = io.ReadAll(res.Body)
				res.Body.Close()
			}
		} else {
			path := filepath.Join(dir, digests[i])
			var f *os.File
			if f, err = os.Create(path); err == nil {
				_, err = client.DownloadBlob(ctx, "load", digests[i], f, &azacr.BlobClientDownloadBlobOptions{Concurrency: 4, BlockSize: 512 << 10})
				f.Close()
				if err == nil {
					got, err = os.ReadFile(path)
				}
			}
		}
		if err != nil {
			if errors.Is(err, azacr.ErrDigestMismatch) {
				t.Errorf("blob %d: a reset produced a digest mismatch: %v", i, err)
			}
			downErr.Add(1)
			return
		}
		downOK.Add(1)
		if !bytes.Equal(got, blobs[i]) {
			corrupt.Add(1)
		}
	})
	t.Logf("resetting proxy: %d uploads ok, %d failed; %d downloads ok, %d failed; %d connections reset; %d corrupted or lost",
		upOK.Load(), upErr.Load(), downOK.Load(), downErr.Load(), proxy.resets.Load(), corrupt.Load())
	assert.Zero(t, corrupt.Load(), "no blob may be lost or corrupted")
	assert.Positive(t, proxy.resets.Load())
	assert.Greater(t, int(upOK.Load()), n/2)
	assert.Greater(t, int(downOK.Load()), int(upOK.Load())/2)
}
