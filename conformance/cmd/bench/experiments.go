package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
)

// The -experiments mode takes azacr's results apart: which part of a push
// is the registry's per-request cost (chunk size), and which part of a
// pull is transfer, hashing, read size, or hashing on the reading
// goroutine. The "raw" client is plain net/http with hand-written
// verification: not a peer, a prototype of what azacr could do.

// experimentBuffer is the read size of the large-read pulls.
const experimentBuffer = 1 << 20

// readerOnly and writerOnly hide io.WriterTo and io.ReaderFrom, so that
// io.CopyBuffer really reads with the buffer it is given (io.Discard
// would otherwise read in 8 KiB pieces through its own ReadFrom).
type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }

// prepareAzacrExperiment handles azacr's experiment-only operations.
func prepareAzacrExperiment(ctx context.Context, a opArgs, cl *azacr.BlobClient) (func() (opResult, error), bool) {
	switch a.op {
	case "push-chunk":
		return func() (opResult, error) {
			f, err := os.Open(a.file)
			if err != nil {
				return opResult{}, err
			}
			defer f.Close()
			resp, err := cl.UploadBlob(ctx, a.repo, streamReader{f}, &azacr.BlobClientUploadBlobOptions{ChunkSize: a.block})
			return opResult{Bytes: resp.Size, Digest: resp.Digest}, err
		}, true
	case "pull-bigread":
		return func() (opResult, error) {
			resp, err := cl.GetBlob(ctx, a.repo, a.digest, nil)
			if err != nil {
				return opResult{}, err
			}
			defer resp.Body.Close()
			n, err := io.CopyBuffer(writerOnly{io.Discard}, readerOnly{resp.Body}, make([]byte, experimentBuffer))
			return opResult{Bytes: n, Digest: a.digest}, err
		}, true
	}
	return nil, false
}

func prepareRaw(ctx context.Context, a opArgs, tr *http.Transport) (func() (opResult, error), error) {
	client := &http.Client{Transport: tr}
	get := func() (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.endpoint()+"/v2/"+a.repo+"/blobs/"+a.digest, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("raw GET: %s", resp.Status)
		}
		return resp.Body, nil
	}
	check := func(sum []byte) error {
		if got := "sha256:" + hex.EncodeToString(sum); got != a.digest {
			return fmt.Errorf("raw: digest %s, want %s", got, a.digest)
		}
		return nil
	}
	switch a.op {
	case "pull-nohash":
		// The ceiling: the same transfer with no verification at all.
		return func() (opResult, error) {
			body, err := get()
			if err != nil {
				return opResult{}, err
			}
			defer body.Close()
			n, err := io.CopyBuffer(writerOnly{io.Discard}, readerOnly{body}, make([]byte, experimentBuffer))
			return opResult{Bytes: n, Digest: a.digest}, err
		}, nil
	case "pull-hash":
		// Verification on the reading goroutine, with large reads.
		return func() (opResult, error) {
			body, err := get()
			if err != nil {
				return opResult{}, err
			}
			defer body.Close()
			h := sha256.New()
			n, err := io.CopyBuffer(writerOnly{h}, readerOnly{body}, make([]byte, experimentBuffer))
			if err == nil {
				err = check(h.Sum(nil))
			}
			return opResult{Bytes: n, Digest: a.digest}, err
		}, nil
	case "pull-pipelined":
		// Verification on its own goroutine: one reads the socket into a
		// ring of buffers while the other hashes the previous ones.
		return func() (opResult, error) {
			body, err := get()
			if err != nil {
				return opResult{}, err
			}
			defer body.Close()
			n, sum, err := pipelinedHash(body, 4, experimentBuffer)
			if err == nil {
				err = check(sum)
			}
			return opResult{Bytes: n, Digest: a.digest}, err
		}, nil
	}
	return nil, fmt.Errorf("raw: unknown op %q", a.op)
}

// pipelinedHash reads r to its end on one goroutine and hashes on
// another, through n buffers of size bytes.
func pipelinedHash(r io.Reader, n, size int) (int64, []byte, error) {
	free := make(chan []byte, n)
	full := make(chan []byte, n)
	for range n {
		free <- make([]byte, size)
	}
	errc := make(chan error, 1)
	go func() {
		defer close(full)
		for buf := range free {
			k, err := io.ReadFull(r, buf)
			if k > 0 {
				full <- buf[:k]
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				errc <- nil
				return
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	h := sha256.New()
	var total int64
	for buf := range full {
		h.Write(buf)
		total += int64(len(buf))
		free <- buf[:cap(buf)]
	}
	close(free)
	return total, h.Sum(nil), <-errc
}

// experiment is one row of the -experiments tables.
type experiment struct {
	label  string
	client string
	op     string
	chunk  int64
}

var pushExperiments = []experiment{
	{"azacr UploadBlob, ChunkSize 4 MiB (default)", "azacr", "push-chunk", 4 * mib},
	{"azacr UploadBlob, ChunkSize 16 MiB", "azacr", "push-chunk", 16 * mib},
	{"azacr UploadBlob, ChunkSize 64 MiB", "azacr", "push-chunk", 64 * mib},
	{"oras Blobs().Push (one PUT, reference)", "oras", "push", 0},
}

var pullExperiments = []experiment{
	{"azacr GetBlob, io.Copy to io.Discard (8 KiB reads)", "azacr", "pull", 0},
	{"azacr GetBlob, io.CopyBuffer with 1 MiB reads", "azacr", "pull-bigread", 0},
	{"oras Fetch + VerifyReader, io.Copy (reference)", "oras", "pull", 0},
	{"net/http GET, sha256 on the reading goroutine, 1 MiB reads", "raw", "pull-hash", 0},
	{"net/http GET, sha256 on a second goroutine, 1 MiB reads", "raw", "pull-pipelined", 0},
	{"net/http GET, no verification, 1 MiB reads (ceiling)", "raw", "pull-nohash", 0},
}

// experimentRow is one experiment's result.
type experimentRow struct {
	Kind      string  `json:"kind"`
	Label     string  `json:"label"`
	Client    string  `json:"client"`
	Op        string  `json:"op"`
	TLS       bool    `json:"tls"`
	SizeBytes int64   `json:"size_bytes"`
	MBps      float64 `json:"mb_per_s"`
	CPUPerGiB float64 `json:"cpu_sec_per_gib"`
	RSSMiB    float64 `json:"peak_rss_mib"`
	Requests  string  `json:"requests"`
	Runs      []opRun `json:"runs"`
}

func (e *benchEnv) runExperiments(ctx context.Context, size int64, runs int) ([]experimentRow, error) {
	file := filepath.Join(e.tmp, "experiment.bin")
	e.logf("generating a %d MiB blob for -experiments", size/mib)
	want, err := genBlob(file, size)
	if err != nil {
		return nil, err
	}
	defer os.Remove(file)
	var rows []experimentRow
	for _, useTLS := range e.modes {
		reg, err := e.startRegistry(ctx, useTLS, 0)
		if err != nil {
			return nil, err
		}
		var cur []*experimentRow
		for _, x := range append(append([]experiment{}, pushExperiments...), pullExperiments...) {
			cur = append(cur, &experimentRow{Kind: "experiment", Label: x.label, Client: x.client, Op: x.op, TLS: useTLS, SizeBytes: size})
		}
		all := append(append([]experiment{}, pushExperiments...), pullExperiments...)
		for run := 1; run <= runs; run++ {
			for i, x := range all {
				a := opArgs{op: x.op, client: x.client, repo: "bench/experiment", file: file, digest: want, size: size, block: x.chunk}
				a = e.profiled(a, "experiment", x.client, x.op, x.chunk>>20, modeName(useTLS), run)
				// Each push starts from empty storage; pulls read what the
				// last push stored.
				r, err := e.op(ctx, reg, a, strings.HasPrefix(x.op, "push"))
				if err != nil {
					reg.stop()
					return nil, err
				}
				if strings.HasPrefix(x.op, "push") && r.Digest != want {
					reg.stop()
					return nil, fmt.Errorf("%s pushed %s, want %s", x.label, r.Digest, want)
				}
				e.logf("%-62s %-5s run %d: %4.0f MB/s", x.label, modeName(useTLS), run, r.MBps)
				cur[i].Runs = append(cur[i].Runs, r)
			}
		}
		reg.stop()
		for _, row := range cur {
			row.MBps = medianOf(row.Runs, func(o opRun) float64 { return o.MBps })
			row.CPUPerGiB = medianOf(row.Runs, opRun.cpuPerGiB)
			row.RSSMiB = medianOf(row.Runs, opRun.rssMiB)
			row.Requests = formatRequests(row.Runs[0].Server.Requests)
			rows = append(rows, *row)
			if err := e.emit(row); err != nil {
				return nil, err
			}
		}
	}
	return rows, nil
}

func experimentTable(rows []experimentRow) string {
	var b strings.Builder
	b.WriteString("| experiment | TLS | MB/s (runs) | client CPU s/GiB | peak RSS MiB | requests |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | **%.0f** (%s) | %.2f | %.1f | %s |\n", r.Label, modeName(r.TLS), r.MBps,
			runsOf(r.Runs, func(o opRun) float64 { return o.MBps }, "%.0f"), r.CPUPerGiB, r.RSSMiB, r.Requests)
	}
	return b.String()
}
