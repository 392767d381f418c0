package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The -image mode moves a whole multi-platform image (image_gen.go) with
// each client, four ways, each client operation in a child of its own:
//
//   - pull: registry A → a new OCI layout directory, every platform;
//   - push: the generated OCI layout → a new repository on registry B,
//     whose storage is emptied before every run;
//   - copy-across: registry A → registry B (emptied before every run);
//   - copy-within: a repository of A → a new repository of A.
//
// A and B are two distribution children. Registry A holds the image, pushed
// once by the limit client before any run (not timed). Each operation is
// run on each link: loopback, and "shaped", where every client connection
// goes through a TCP proxy in this process (shaper.go) that adds a delay
// each way and caps each connection's rate. The registries count the
// requests and the bytes on their connections, so "sent" and "received"
// are the client's, TLS and headers included, whatever the client.

// imageOps, imageLinks: what -image-ops and -image-links accept.
var (
	imageOps   = []string{"pull", "push", "copy-across", "copy-within"}
	imageLinks = []string{"loopback", "shaped"}
)

// imageSourceRepo is where registry A holds the image.
const imageSourceRepo = "bench/source"

// imageClients are the -image-clients: the limit row, azacr once its image
// operations are in the build, and the two peers.
func imageClients() []string {
	out := []string{limitClient}
	if azacrImageReady {
		out = append(out, "azacr")
	}
	return append(out, imagePeers...)
}

// imagePeers are the other libraries; each row's ratio is to the fastest
// of them.
var imagePeers = []string{"oras", "ggcr"}

// imageConfig configures -image.
type imageConfig struct {
	totalMiB int
	runs     int
	clients  []string
	ops      []string
	links    []string
	delay    time.Duration // shaped link: one way
	rateMBps float64       // shaped link: per connection and direction, 10^6 bytes/s
	keep     string        // keep pulled layouts under this directory
}

// imageRow is one client's operation on one link and TLS setting: medians
// over the runs.
type imageRow struct {
	Kind       string         `json:"kind"`
	Link       string         `json:"link"`
	Op         string         `json:"op"`
	Client     string         `json:"client"`
	TLS        bool           `json:"tls"`
	ImageBytes int64          `json:"image_bytes"`
	WallSec    float64        `json:"wall_sec"`
	VsBestPeer float64        `json:"vs_best_peer,omitempty"`
	Requests   map[string]int `json:"requests"` // the first run's
	Conns      int64          `json:"conns"`    // the first run's
	SentMB     float64        `json:"sent_mb"`
	ReceivedMB float64        `json:"received_mb"`
	CPUSec     float64        `json:"cpu_sec"`
	RSSMiB     float64        `json:"peak_rss_mib"`
	Runs       []opRun        `json:"runs"`
}

func (r *imageRow) summarize() {
	r.WallSec = medianOf(r.Runs, func(o opRun) float64 { return o.WallSec })
	r.SentMB = medianOf(r.Runs, func(o opRun) float64 { return float64(o.Server.WireIn) / 1e6 })
	r.ReceivedMB = medianOf(r.Runs, func(o opRun) float64 { return float64(o.Server.WireOut) / 1e6 })
	r.CPUSec = medianOf(r.Runs, func(o opRun) float64 { return o.CPUSec })
	r.RSSMiB = medianOf(r.Runs, opRun.rssMiB)
	r.Requests, r.Conns = r.Runs[0].Server.Requests, r.Runs[0].Server.Conns
}

func checkList(flagName string, got, known []string) error {
	if len(got) == 0 {
		return fmt.Errorf("%s is empty", flagName)
	}
	for i, g := range got {
		if !slices.Contains(known, g) {
			return fmt.Errorf("%s: unknown %q (known: %s)", flagName, g, strings.Join(known, ", "))
		}
		if slices.Contains(got[:i], g) {
			return fmt.Errorf("%s: %q twice", flagName, g)
		}
	}
	return nil
}

func (c imageConfig) check() error {
	known := append([]string{limitClient, "azacr"}, imagePeers...)
	if err := checkList("-image-clients", c.clients, known); err != nil {
		return err
	}
	if slices.Contains(c.clients, "azacr") && !azacrImageReady {
		return fmt.Errorf("-image-clients: azacr has no image operations in this build")
	}
	if err := checkList("-image-ops", c.ops, imageOps); err != nil {
		return err
	}
	if err := checkList("-image-links", c.links, imageLinks); err != nil {
		return err
	}
	if c.totalMiB < 1 || c.runs < 1 {
		return fmt.Errorf("-image-size and -runs must be at least 1")
	}
	if slices.Contains(c.links, "shaped") && (c.delay < 0 || c.rateMBps < 0) {
		return fmt.Errorf("-image-delay and -image-rate cannot be negative")
	}
	return nil
}

// imageModes are the TLS settings run on a link, TLS first. Plain HTTP is
// for information on loopback only: the shaped link runs TLS alone unless
// plain is all there is.
func (e *benchEnv) imageModes(link string) []bool {
	modes := tlsFirst(e.modes)
	if link == "shaped" && slices.Contains(modes, true) {
		return []bool{true}
	}
	return modes
}

func (e *benchEnv) runImage(ctx context.Context, c imageConfig) ([]imageRow, imageInfo, error) {
	if err := c.check(); err != nil {
		return nil, imageInfo{}, err
	}
	layout := filepath.Join(e.tmp, "image-layout")
	e.logf("generating a %d MiB image", c.totalMiB)
	info, err := genImage(layout, c.totalMiB, imageTag)
	if err != nil {
		return nil, info, err
	}
	defer os.RemoveAll(layout)
	var rows []imageRow
	for _, link := range c.links {
		for _, useTLS := range e.imageModes(link) {
			r, err := e.runImageSetting(ctx, c, info, layout, link, useTLS)
			if err != nil {
				return nil, info, err
			}
			for _, row := range r {
				if err := e.emit(row); err != nil {
					return nil, info, err
				}
			}
			rows = append(rows, r...)
		}
	}
	return rows, info, nil
}

// runImageSetting runs every operation and client on one link and TLS
// setting, the runs going round the operations and clients.
func (e *benchEnv) runImageSetting(ctx context.Context, c imageConfig, info imageInfo, layout, link string, useTLS bool) ([]imageRow, error) {
	mode := modeName(useTLS)
	regA, err := e.startRegistry(ctx, useTLS, 0)
	if err != nil {
		return nil, err
	}
	defer regA.stop()
	regB := regA
	if slices.Contains(c.ops, "push") || slices.Contains(c.ops, "copy-across") {
		if regB, err = e.startRegistry(ctx, useTLS, 0); err != nil {
			return nil, err
		}
		defer regB.stop()
	}
	// Where the clients connect: the registries, or a shaper in front of
	// each. Seeding and checking go to the registries directly.
	addrA, addrB := regA.hello.Addr, regB.hello.Addr
	if link == "shaped" {
		shA, err := startShaper(regA.hello.Addr, c.delay, c.rateMBps*1e6)
		if err != nil {
			return nil, err
		}
		defer shA.Close()
		addrA, addrB = shA.Addr(), shA.Addr()
		if regB != regA {
			shB, err := startShaper(regB.hello.Addr, c.delay, c.rateMBps*1e6)
			if err != nil {
				return nil, err
			}
			defer shB.Close()
			addrB = shB.Addr()
		}
	}
	seed := opArgs{op: "image-push", client: limitClient, addr: regA.hello.Addr, tls: useTLS, caFile: regA.hello.CertFile,
		dir: layout, repo: imageSourceRepo, tag: imageTag}
	if _, err := e.runChild(ctx, seed); err != nil {
		return nil, fmt.Errorf("seeding registry A: %w", err)
	}
	if err := checkRemote(ctx, regA, imageSourceRepo, imageTag, info); err != nil {
		return nil, fmt.Errorf("seeding registry A: %w", err)
	}

	rows := map[string]*imageRow{}
	key := func(op, cl string) string { return op + " " + cl }
	for _, op := range c.ops {
		for _, cl := range c.clients {
			rows[key(op, cl)] = &imageRow{Kind: "image", Link: link, Op: op, Client: cl, TLS: useTLS, ImageBytes: info.Bytes}
		}
	}
	for run := 1; run <= c.runs; run++ {
		for _, op := range c.ops {
			for _, cl := range c.clients {
				a := opArgs{client: cl, tls: useTLS, caFile: regA.hello.CertFile, tag: imageTag, addr: addrA, repo: imageSourceRepo}
				regs, wipe := []*registryProc{regA}, []bool{false}
				target, targetRepo := regA, ""
				switch op {
				case "pull":
					a.op = "image-pull"
					dir := e.tmp
					if c.keep != "" {
						dir = c.keep
					}
					a.dir = filepath.Join(dir, fmt.Sprintf("pull-%s-%s-%s-%d", link, mode, cl, run))
				case "push":
					a.op, a.addr, a.caFile, a.dir = "image-push", addrB, regB.hello.CertFile, layout
					a.repo = fmt.Sprintf("bench/push-%s-%d", cl, run)
					regs, wipe, target, targetRepo = []*registryProc{regB}, []bool{true}, regB, a.repo
				case "copy-across":
					a.op, a.addr2, a.caFile2 = "image-copy", addrB, regB.hello.CertFile
					a.repo2 = fmt.Sprintf("bench/copy-%s-%d", cl, run)
					regs, wipe, target, targetRepo = []*registryProc{regA, regB}, []bool{false, true}, regB, a.repo2
				case "copy-within":
					a.op, a.addr2, a.caFile2 = "image-copy", addrA, regA.hello.CertFile
					a.repo2 = fmt.Sprintf("bench/within-%s-%d", cl, run)
					targetRepo = a.repo2
				}
				a = e.profiled(a, cl, "image", op, link, mode, run)
				r, err := e.imageOp(ctx, a, regs, wipe)
				if err != nil {
					return nil, fmt.Errorf("%s %s (%s, %s): %w", cl, op, link, mode, err)
				}
				if r.Digest != info.Root.Digest.String() {
					return nil, fmt.Errorf("%s %s (%s, %s): index digest %q, want %s", cl, op, link, mode, r.Digest, info.Root.Digest)
				}
				r.Bytes = info.Bytes
				if r.WallSec > 0 {
					r.MBps = float64(r.Bytes) / 1e6 / r.WallSec
				}
				if op == "pull" {
					_, err = checkLayout(a.dir, info)
					if c.keep == "" {
						_ = os.RemoveAll(a.dir)
					}
				} else {
					err = checkRemote(ctx, target, targetRepo, imageTag, info)
				}
				if err != nil {
					return nil, fmt.Errorf("%s %s (%s, %s): %w", cl, op, link, mode, err)
				}
				e.logf("%-6s %-12s %-8s %-5s run %d: %6.2f s, %s", cl, op, link, mode, run, r.WallSec, formatRequests(r.Server.Requests))
				row := rows[key(op, cl)]
				row.Runs = append(row.Runs, r)
			}
		}
	}
	var out []imageRow
	for _, op := range c.ops {
		best := 0.0
		for _, cl := range c.clients {
			row := rows[key(op, cl)]
			row.summarize()
			if slices.Contains(imagePeers, cl) && (best == 0 || row.WallSec < best) {
				best = row.WallSec
			}
		}
		for _, cl := range c.clients {
			row := rows[key(op, cl)]
			if best > 0 {
				row.VsBestPeer = row.WallSec / best
			}
			out = append(out, *row)
		}
	}
	return out, nil
}

// imageOp runs one image operation against regs, each reset (and wiped
// where wipe says) before it; the registries' counts are summed.
func (e *benchEnv) imageOp(ctx context.Context, a opArgs, regs []*registryProc, wipe []bool) (opRun, error) {
	for i, reg := range regs {
		if err := reg.reset(wipe[i]); err != nil {
			return opRun{}, err
		}
	}
	run, err := e.runChild(ctx, a)
	if err != nil {
		return opRun{}, err
	}
	for _, reg := range regs {
		s, err := reg.stats()
		if err != nil {
			return opRun{}, err
		}
		run.Server = run.Server.plus(s)
	}
	return run, nil
}

// plus adds two registries' counts: sums, and the larger peak RSS.
func (s serverStats) plus(o serverStats) serverStats {
	out := s
	out.Requests = map[string]int{}
	for _, m := range []map[string]int{s.Requests, o.Requests} {
		for k, v := range m {
			out.Requests[k] += v
		}
	}
	out.Conns += o.Conns
	out.CPUSec += o.CPUSec
	out.PeakRSSKiB = max(out.PeakRSSKiB, o.PeakRSSKiB)
	out.BytesIn += o.BytesIn
	out.BytesOut += o.BytesOut
	out.WireIn += o.WireIn
	out.WireOut += o.WireOut
	out.Timeline = append(slices.Clone(s.Timeline), o.Timeline...)
	return out
}

// checkRemote checks, on the registry directly, that repo:tag is the
// image's index and that every manifest and blob of it is in repo.
func checkRemote(ctx context.Context, reg *registryProc, repo, tag string, info imageInfo) error {
	tr, err := baseTransport(opArgs{tls: reg.tls, caFile: reg.hello.CertFile})
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	base := opArgs{addr: reg.hello.Addr, tls: reg.tls}.endpoint() + "/v2/" + repo
	send := func(method, u, accept string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, err
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("check %s %s: %s", method, req.URL.Path, resp.Status)
		}
		return resp, nil
	}
	resp, err := send(http.MethodGet, base+"/manifests/"+tag, ocispec.MediaTypeImageIndex)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if d := digest.FromBytes(raw); d != info.Root.Digest {
		return fmt.Errorf("check: %s:%s is %s, want the image's index %s", repo, tag, d, info.Root.Digest)
	}
	for _, d := range info.all()[1:] {
		kind := "blobs"
		if d.MediaType == ocispec.MediaTypeImageManifest {
			kind = "manifests"
		}
		resp, err := send(http.MethodHead, base+"/"+kind+"/"+d.Digest.String(), d.MediaType)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.ContentLength != d.Size {
			return fmt.Errorf("check: %s %s has %d bytes, want %d", kind, d.Digest, resp.ContentLength, d.Size)
		}
	}
	return nil
}

// imageOpText says what each operation does, for the table headings.
var imageOpText = map[string]string{
	"pull":        "pull: registry → new OCI layout directory, every platform",
	"push":        "push: OCI layout → new repository (registry storage emptied before each run)",
	"copy-across": "copy across registries: registry A → registry B (B emptied before each run)",
	"copy-within": "copy within one registry: repository → new repository of the same registry",
}

func (c imageConfig) linkText(link string) string {
	if link == "shaped" {
		return fmt.Sprintf("shaped link (%v added each way, each connection capped at %g MB/s each way)", c.delay, c.rateMBps)
	}
	return "loopback"
}

// imageTables prints one table per link and operation, TLS rows first.
func imageTables(rows []imageRow, c imageConfig) string {
	var b strings.Builder
	for _, link := range c.links {
		for _, op := range c.ops {
			var sel []imageRow
			for _, useTLS := range tlsFirst([]bool{false, true}) {
				for _, r := range rows {
					if r.Link == link && r.Op == op && r.TLS == useTLS {
						sel = append(sel, r)
					}
				}
			}
			if len(sel) == 0 {
				continue
			}
			fmt.Fprintf(&b, "\n%s — %s:\n\n", imageOpText[op], c.linkText(link))
			b.WriteString("| client | TLS | wall s, median (runs) | ÷ best peer | requests | connections | MB sent | MB received | CPU s | peak RSS MiB |\n")
			b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
			for _, r := range sel {
				ratio := "—"
				if r.VsBestPeer > 0 {
					ratio = fmt.Sprintf("%.2f×", r.VsBestPeer)
				}
				total := 0
				for _, v := range r.Requests {
					total += v
				}
				tlsText := modeName(r.TLS)
				if !r.TLS {
					tlsText += " (information)"
				}
				fmt.Fprintf(&b, "| %s | %s | **%.2f** (%s) | %s | %d (%s) | %d | %.2f | %.2f | %.2f | %.1f |\n",
					r.Client, tlsText, r.WallSec, runsOf(r.Runs, func(o opRun) float64 { return o.WallSec }, "%.2f"), ratio,
					total, formatRequests(r.Requests), r.Conns, r.SentMB, r.ReceivedMB, r.CPUSec, r.RSSMiB)
			}
		}
	}
	return b.String()
}
