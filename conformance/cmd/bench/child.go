package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	official "github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// opArgs describes one client operation run in a child process.
type opArgs struct {
	op          string // push, pull, download, idle, or an experiment's
	client      string
	addr        string // 127.0.0.1:port of the registry
	tls         bool
	caFile      string
	repo        string
	file        string // push: the blob; download: where to write it
	digest      string
	size        int64
	stream      bool  // push: hide the file behind a bare io.Reader for the peers too
	concurrency int   // download: DownloadBlob's Concurrency
	block       int64 // download: BlockSize; push-chunk: ChunkSize
	cpuProfile  string
	memProfile  string
	// The image operations (image.go): dir is the OCI layout to push or
	// pull into, tag the image's tag; a copy goes to repo2 at addr2 (the
	// same registry as addr for a copy within one), trusting caFile2 too.
	dir     string
	tag     string
	addr2   string
	repo2   string
	caFile2 string
}

func (a opArgs) flags() []string {
	args := []string{
		"-op", a.op, "-client", a.client, "-addr", a.addr, "-repo", a.repo, "-file", a.file,
		"-digest", a.digest, fmt.Sprintf("-size=%d", a.size), fmt.Sprintf("-tls=%t", a.tls),
		fmt.Sprintf("-stream=%t", a.stream), fmt.Sprintf("-concurrency=%d", a.concurrency), fmt.Sprintf("-block=%d", a.block),
	}
	if a.caFile != "" {
		args = append(args, "-ca", a.caFile)
	}
	if a.dir != "" || a.tag != "" || a.addr2 != "" || a.repo2 != "" || a.caFile2 != "" {
		args = append(args, "-dir", a.dir, "-tag", a.tag, "-addr2", a.addr2, "-repo2", a.repo2, "-ca2", a.caFile2)
	}
	if a.cpuProfile != "" {
		args = append(args, "-cpuprofile", a.cpuProfile)
	}
	if a.memProfile != "" {
		args = append(args, "-memprofile", a.memProfile)
	}
	return args
}

// opResult is what a client child prints: the operation's own wall time
// (not process start or client construction), CPU time around it, and the
// peak RSS of the child's own address space.
type opResult struct {
	WallSec    float64 `json:"wall_sec"`
	OpCPUSec   float64 `json:"op_cpu_sec"`
	PeakRSSKiB int64   `json:"peak_rss_kib"`
	AnonKiB    int64   `json:"rss_anon_kib"` // at the end of the operation
	FileKiB    int64   `json:"rss_file_kib"`
	HeapSysKiB int64   `json:"heap_sys_kib"`
	SysKiB     int64   `json:"go_sys_kib"`
	AllocBytes uint64  `json:"alloc_bytes"` // allocated during the operation
	NumGC      uint32  `json:"num_gc"`      // collections during the operation
	Bytes      int64   `json:"bytes"`
	Digest     string  `json:"digest"`
}

func opChild(args []string) error {
	var a opArgs
	fs := flag.NewFlagSet("op", flag.ContinueOnError)
	fs.StringVar(&a.op, "op", "", "push, pull, download, idle, or an experiment's operation")
	fs.StringVar(&a.client, "client", "", "azacr, azacr-stream, oras, ggcr, official, limit or raw")
	fs.StringVar(&a.addr, "addr", "", "registry host:port")
	fs.BoolVar(&a.tls, "tls", false, "use https")
	fs.StringVar(&a.caFile, "ca", "", "PEM certificate to trust")
	fs.StringVar(&a.repo, "repo", "", "repository")
	fs.StringVar(&a.file, "file", "", "blob file")
	fs.StringVar(&a.digest, "digest", "", "blob digest")
	fs.Int64Var(&a.size, "size", 0, "blob size")
	fs.BoolVar(&a.stream, "stream", false, "give peers a bare io.Reader")
	fs.IntVar(&a.concurrency, "concurrency", 1, "DownloadBlob concurrency")
	fs.Int64Var(&a.block, "block", 0, "DownloadBlob block size, or UploadBlob chunk size")
	fs.StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile of the operation here")
	fs.StringVar(&a.memProfile, "memprofile", "", "write an allocation profile of the operation here")
	fs.StringVar(&a.dir, "dir", "", "image ops: the OCI layout to push, or to pull into")
	fs.StringVar(&a.tag, "tag", "", "image ops: the image's tag")
	fs.StringVar(&a.addr2, "addr2", "", "image-copy: the target registry host:port")
	fs.StringVar(&a.repo2, "repo2", "", "image-copy: the target repository")
	fs.StringVar(&a.caFile2, "ca2", "", "image-copy: the target registry's PEM certificate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if a.memProfile != "" {
		// Every allocation, not a sample: the operation allocates little,
		// and what it does allocate is the question.
		runtime.MemProfileRate = 1
	}
	ctx := context.Background()
	run, err := prepare(ctx, a)
	if err != nil {
		return err
	}
	if a.cpuProfile != "" {
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, t0 := selfCPU(), time.Now()
	res, err := run()
	wall, cpu := time.Since(t0), selfCPU()-cpu0
	if a.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", a.client, a.op, err)
	}
	if !isImageOp(a.op) && res.Bytes != a.size {
		return fmt.Errorf("%s %s: moved %d bytes, want %d", a.client, a.op, res.Bytes, a.size)
	}
	res.WallSec, res.OpCPUSec, res.PeakRSSKiB = wall.Seconds(), cpu.Seconds(), selfPeakRSSKiB()
	res.AnonKiB, res.FileKiB = selfRSSSplitKiB()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapSysKiB, res.SysKiB = int64(ms.HeapSys>>10), int64(ms.Sys>>10)
	res.AllocBytes, res.NumGC = ms.TotalAlloc-ms0.TotalAlloc, ms.NumGC-ms0.NumGC
	if a.memProfile != "" {
		if err := writeAllocs(a.memProfile); err != nil {
			return err
		}
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	return nil
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC() // the profile shows allocations up to the last collection
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// streamReader hides everything but Read (Seek, WriteTo, the *os.File
// behind it), as a pipe or a decompressor would: the upload cannot know
// the size, hash in advance, or hand the file to sendfile.
type streamReader struct{ r io.Reader }

func (s streamReader) Read(p []byte) (int, error) { return s.r.Read(p) }

// discardWriterAt keeps nothing: DownloadBlob into it shows what the
// download costs without the file writes.
type discardWriterAt struct{}

func (discardWriterAt) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

// baseTransport is net/http's default transport, trusting the registry's
// certificate: what oras and ggcr use by default, and what azacr's own
// default transport is cloned from.
func baseTransport(a opArgs) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if a.tls {
		pool := x509.NewCertPool()
		for _, file := range []string{a.caFile, a.caFile2} {
			if file == "" {
				continue
			}
			pemBytes, err := os.ReadFile(file)
			if err != nil {
				return nil, err
			}
			if !pool.AppendCertsFromPEM(pemBytes) {
				return nil, errors.New("no certificate in " + file)
			}
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return tr, nil
}

// sdkTransport is what the two Azure SDK clients send with. Over plain
// HTTP they keep their own default transport, so its settings (idle
// connections per host, for one) are measured as users get them; over TLS
// they must be given one that trusts the test certificate.
func sdkTransport(a opArgs, tr *http.Transport) policy.Transporter {
	if !a.tls {
		return nil
	}
	return &http.Client{Transport: tr}
}

func (a opArgs) endpoint() string {
	if a.tls {
		return "https://" + a.addr
	}
	return "http://" + a.addr
}

// prepare builds the client outside the timed region and returns the
// timed operation.
func prepare(ctx context.Context, a opArgs) (func() (opResult, error), error) {
	tr, err := baseTransport(a)
	if err != nil {
		return nil, err
	}
	if isImageOp(a.op) {
		return prepareImage(ctx, a, tr)
	}
	switch a.client {
	case "azacr", "azacr-stream":
		return prepareAzacr(ctx, a, tr)
	case "oras":
		return prepareOras(ctx, a, tr)
	case "ggcr":
		return prepareGgcr(ctx, a, tr)
	case "official":
		return prepareOfficial(ctx, a, tr)
	case "raw":
		return prepareRaw(ctx, a, tr)
	case "limit":
		return prepareLimit(ctx, a, tr)
	}
	return nil, fmt.Errorf("unknown client %q", a.client)
}

func prepareAzacr(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	cl, err := azacr.NewBlobClient(a.endpoint(), nil, &azacr.BlobClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: sdkTransport(a, tr)},
	})
	if err != nil {
		return nil, err
	}
	if run, ok := prepareAzacrExperiment(ctx, a, cl); ok {
		return run, nil
	}
	switch a.op {
	case "idle":
		// The floor: this binary's own RSS and CPU with a client built
		// and nothing sent.
		return func() (opResult, error) { return opResult{Bytes: a.size}, nil }, nil
	case "push":
		return func() (opResult, error) {
			// "azacr" gets what the peers get (the *os.File, or with -stream
			// a bare reader); "azacr-stream" always a bare reader, the
			// streaming path (no size, no pre-hash, read-ahead buffers).
			a := a
			a.stream = a.stream || a.client == "azacr-stream"
			in, err := openInput(a)
			if err != nil {
				return opResult{}, err
			}
			defer in.Close()
			resp, err := cl.UploadBlob(ctx, a.repo, in, nil)
			return opResult{Bytes: resp.Size, Digest: resp.Digest}, err
		}, nil
	case "pull":
		return func() (opResult, error) {
			resp, err := cl.GetBlob(ctx, a.repo, a.digest, nil)
			if err != nil {
				return opResult{}, err
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body) // verifies the digest at EOF
			return opResult{Bytes: n, Digest: a.digest}, err
		}, nil
	case "download-nowrite":
		// A diagnostic: the same download into a WriterAt that keeps
		// nothing, to see what writing the file costs the fetchers.
		return func() (opResult, error) {
			resp, err := cl.DownloadBlob(ctx, a.repo, a.digest, discardWriterAt{}, &azacr.BlobClientDownloadBlobOptions{
				Concurrency: a.concurrency, BlockSize: a.block,
			})
			return opResult{Bytes: resp.Size, Digest: a.digest}, err
		}, nil
	case "download":
		return func() (opResult, error) {
			f, err := os.Create(a.file)
			if err != nil {
				return opResult{}, err
			}
			defer f.Close()
			resp, err := cl.DownloadBlob(ctx, a.repo, a.digest, f, &azacr.BlobClientDownloadBlobOptions{
				Concurrency: a.concurrency, BlockSize: a.block,
			})
			if err == nil {
				err = f.Close()
			}
			return opResult{Bytes: resp.Size, Digest: a.digest}, err
		}, nil
	}
	return nil, fmt.Errorf("azacr: unknown op %q", a.op)
}

// openInput opens the blob for a peer's push: the file itself (what a
// caller pushing a file hands over), or with -stream a bare reader.
func openInput(a opArgs) (io.ReadCloser, error) {
	f, err := os.Open(a.file)
	if err != nil {
		return nil, err
	}
	if a.stream {
		return struct {
			io.Reader
			io.Closer
		}{streamReader{f}, f}, nil
	}
	return f, nil
}

// hashFile is the separate digest pass oras and ggcr need before a push:
// both APIs take the digest up front.
func hashFile(path string) (digest.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return digest.SHA256.FromReader(f)
}

func prepareOras(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	repo, err := orasremote.NewRepository(a.addr + "/" + a.repo)
	if err != nil {
		return nil, err
	}
	repo.PlainHTTP = !a.tls
	// As auth.DefaultClient, on our transport.
	repo.Client = &auth.Client{Client: &http.Client{Transport: retry.NewTransport(tr)}, Cache: auth.NewCache()}
	switch a.op {
	case "push":
		return func() (opResult, error) {
			d, err := hashFile(a.file)
			if err != nil {
				return opResult{}, err
			}
			in, err := openInput(a)
			if err != nil {
				return opResult{}, err
			}
			defer in.Close()
			desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: a.size}
			return opResult{Bytes: a.size, Digest: d.String()}, repo.Blobs().Push(ctx, desc, in)
		}, nil
	case "pull":
		return func() (opResult, error) {
			desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.Digest(a.digest), Size: a.size}
			rc, err := repo.Blobs().Fetch(ctx, desc)
			if err != nil {
				return opResult{}, err
			}
			defer rc.Close()
			vr := content.NewVerifyReader(rc, desc)
			n, err := io.Copy(io.Discard, vr)
			if err == nil {
				err = vr.Verify()
			}
			return opResult{Bytes: n, Digest: a.digest}, err
		}, nil
	}
	return nil, fmt.Errorf("oras: unknown op %q", a.op)
}

// fileLayer is a v1.Layer over the blob file with a digest computed in
// advance, so ggcr uploads it as is (no gzip, unlike stream.NewLayer).
type fileLayer struct {
	a      opArgs
	digest v1.Hash
}

func (l fileLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l fileLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l fileLayer) Compressed() (io.ReadCloser, error)   { return openInput(l.a) }
func (l fileLayer) Uncompressed() (io.ReadCloser, error) { return openInput(l.a) }
func (l fileLayer) Size() (int64, error)                 { return l.a.size, nil }
func (l fileLayer) MediaType() (types.MediaType, error)  { return types.OCIUncompressedLayer, nil }

func prepareGgcr(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	host := a.addr
	if a.tls {
		// ggcr speaks plain http to 127.0.0.1 whatever it is told; a name
		// in the test certificate, dialled to loopback, keeps it on TLS.
		_, port, err := net.SplitHostPort(a.addr)
		if err != nil {
			return nil, err
		}
		host = "example.com:" + port
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, a.addr)
		}
	}
	opts := []remote.Option{remote.WithTransport(tr), remote.WithContext(ctx)}
	switch a.op {
	case "push":
		repo, err := name.NewRepository(host + "/" + a.repo)
		if err != nil {
			return nil, err
		}
		return func() (opResult, error) {
			d, err := hashFile(a.file)
			if err != nil {
				return opResult{}, err
			}
			h, err := v1.NewHash(d.String())
			if err != nil {
				return opResult{}, err
			}
			return opResult{Bytes: a.size, Digest: d.String()}, remote.WriteLayer(repo, fileLayer{a: a, digest: h}, opts...)
		}, nil
	case "pull":
		ref, err := name.NewDigest(host + "/" + a.repo + "@" + a.digest)
		if err != nil {
			return nil, err
		}
		return func() (opResult, error) {
			l, err := remote.Layer(ref, opts...)
			if err != nil {
				return opResult{}, err
			}
			rc, err := l.Compressed() // verifies the digest at EOF
			if err != nil {
				return opResult{}, err
			}
			defer rc.Close()
			n, err := io.Copy(io.Discard, rc)
			return opResult{Bytes: n, Digest: a.digest}, err
		}, nil
	}
	return nil, fmt.Errorf("ggcr: unknown op %q", a.op)
}

// anonymousAuth gives every request an Authorization header. v0.2.3's
// authentication policy otherwise sends each request first without its
// body, waiting for a 401 challenge; a registry without auth never sends
// one, so chunks would arrive empty and the empty blob be committed.
type anonymousAuth struct{}

func (anonymousAuth) Do(req *policy.Request) (*http.Response, error) {
	req.Raw().Header.Set("Authorization", "Bearer anonymous")
	return req.Next()
}

// officialChunk is the chunk size used with the official client, the same
// as azacr's default, so both send the same requests.
const officialChunk = 4 << 20

func prepareOfficial(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	cl, err := official.NewBlobClient(a.endpoint(), nil, &official.BlobClientOptions{ClientOptions: azcore.ClientOptions{
		Transport:       sdkTransport(a, tr),
		PerCallPolicies: []policy.Policy{anonymousAuth{}},
	}})
	if err != nil {
		return nil, err
	}
	switch a.op {
	case "push":
		return func() (opResult, error) {
			f, err := os.Open(a.file)
			if err != nil {
				return opResult{}, err
			}
			defer f.Close()
			calc := official.NewBlobDigestCalculator()
			st, err := cl.StartUpload(ctx, a.repo, nil)
			if err != nil {
				return opResult{}, err
			}
			loc := *st.Location
			buf := make([]byte, officialChunk)
			var off int64
			for {
				n, rerr := io.ReadFull(streamReader{f}, buf)
				if n > 0 {
					if off+int64(n) > 1<<31-1 {
						return opResult{}, errors.New("official: Content-Range is int32; the blob is too large")
					}
					start, end := int32(off), int32(off+int64(n)-1)
					resp, err := cl.UploadChunk(ctx, loc, bytes.NewReader(buf[:n]), calc, &official.BlobClientUploadChunkOptions{RangeStart: &start, RangeEnd: &end})
					if err != nil {
						return opResult{}, err
					}
					loc = *resp.Location
					off += int64(n)
				}
				if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
					break
				}
				if rerr != nil {
					return opResult{}, rerr
				}
			}
			resp, err := cl.CompleteUpload(ctx, loc, calc, nil)
			if err != nil {
				return opResult{}, err
			}
			if resp.DockerContentDigest == nil {
				return opResult{}, errors.New("official: no Docker-Content-Digest on completion")
			}
			return opResult{Bytes: off, Digest: *resp.DockerContentDigest}, nil
		}, nil
	case "pull":
		return func() (opResult, error) {
			resp, err := cl.GetBlob(ctx, a.repo, a.digest, nil)
			if err != nil {
				return opResult{}, err
			}
			defer resp.BlobData.Close()
			vr, err := official.NewDigestValidationReader(a.digest, resp.BlobData)
			if err != nil {
				return opResult{}, err
			}
			n, err := io.Copy(io.Discard, vr)
			return opResult{Bytes: n, Digest: a.digest}, err
		}, nil
	}
	return nil, fmt.Errorf("official: unknown op %q", a.op)
}
