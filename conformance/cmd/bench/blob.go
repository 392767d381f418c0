package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

const (
	mib = 1 << 20
	gib = 1 << 30
)

// benchEnv is what every mode shares: the executable to re-run as a
// child, a scratch directory, and where rows go.
type benchEnv struct {
	exe     string
	tmp     string
	modes   []bool // TLS off/on
	json    io.Writer
	out     io.Writer
	log     io.Writer
	profile string // directory for CPU profiles of client children; "" for none
	allocs  bool   // also exact allocation profiles (slows the children down)
	storage string // parent directory of the registries' storage roots
}

// opRun is one client child's operation as the parent saw it.
type opRun struct {
	Op string `json:"op"`
	opResult
	MBps      float64     `json:"mb_per_s"`
	CPUSec    float64     `json:"cpu_sec"`    // the child's user+sys, whole process
	MaxRSSKiB int64       `json:"maxrss_kib"` // the child's getrusage maxrss
	Server    serverStats `json:"server"`
}

func (r opRun) cpuPerGiB() float64 { return r.CPUSec / (float64(r.Bytes) / gib) }
func (r opRun) rssMiB() float64    { return float64(r.PeakRSSKiB) / 1024 }

// blobRow is the -blob table's row: medians of each metric over the runs.
type blobRow struct {
	Kind                string         `json:"kind"`
	Client              string         `json:"client"`
	TLS                 bool           `json:"tls"`
	SizeBytes           int64          `json:"size_bytes"`
	PushMBps            float64        `json:"push_mb_per_s"`
	PullMBps            float64        `json:"pull_mb_per_s"`
	PushCPUPerGiB       float64        `json:"push_cpu_sec_per_gib"`
	PullCPUPerGiB       float64        `json:"pull_cpu_sec_per_gib"`
	PushRSSMiB          float64        `json:"push_peak_rss_mib"`
	PullRSSMiB          float64        `json:"pull_peak_rss_mib"`
	ServerPushCPUPerGiB float64        `json:"server_push_cpu_sec_per_gib"`
	ServerPullCPUPerGiB float64        `json:"server_pull_cpu_sec_per_gib"`
	PushRequests        map[string]int `json:"push_requests"`
	PullRequests        map[string]int `json:"pull_requests"`
	// PushVsLimit and PullVsLimit are the medians' ratios to the limit
	// row's medians with the same TLS setting; 0 for the limit row itself
	// and when there is none.
	PushVsLimit float64 `json:"push_vs_limit,omitempty"`
	PullVsLimit float64 `json:"pull_vs_limit,omitempty"`
	Push        []opRun `json:"push_runs"`
	Pull        []opRun `json:"pull_runs"`
}

// parallelRow is one download configuration against the rate-capped
// registry.
type parallelRow struct {
	Kind        string         `json:"kind"`
	Client      string         `json:"client"`
	Method      string         `json:"method"`
	TLS         bool           `json:"tls"`
	Concurrency int            `json:"concurrency"`
	BlockSize   int64          `json:"block_size"`
	SizeBytes   int64          `json:"size_bytes"`
	CapMBps     float64        `json:"per_conn_cap_mb_per_s"`
	MBps        float64        `json:"mb_per_s"`
	RSSMiB      float64        `json:"peak_rss_mib"`
	Requests    map[string]int `json:"requests"`
	Conns       int64          `json:"conns"`
	// FirstAloneMs is how long the first request ran before the second
	// started; InFlight the mean number of requests the registry was
	// serving from the first start to the last end (the concurrency the
	// download really achieved).
	FirstAloneMs float64 `json:"first_alone_ms"`
	InFlight     float64 `json:"mean_in_flight"`
	Runs         []opRun `json:"runs"`
}

func firstAlone(tl []requestTiming) float64 {
	if len(tl) < 2 {
		return 0
	}
	// The timeline is in order of completion; starts are what count here.
	starts := make([]float64, len(tl))
	for i, t := range tl {
		starts[i] = t.StartMs
	}
	slices.Sort(starts)
	return starts[1] - starts[0]
}

func inFlight(tl []requestTiming) float64 {
	if len(tl) == 0 {
		return 0
	}
	var busy, end float64
	start := tl[0].StartMs
	for _, t := range tl {
		busy += t.DurMs
		end = max(end, t.StartMs+t.DurMs)
		start = min(start, t.StartMs)
	}
	if end <= start {
		return 0
	}
	return busy / (end - start)
}

// rssRow is one operation of the large-blob memory check.
type rssRow struct {
	Kind      string  `json:"kind"`
	Client    string  `json:"client"`
	Op        string  `json:"op"`
	TLS       bool    `json:"tls"`
	SizeBytes int64   `json:"size_bytes"`
	LimitMiB  float64 `json:"limit_mib"`
	RSSMiB    float64 `json:"peak_rss_mib"`
	MaxRSSMiB float64 `json:"maxrss_mib"`
	MBps      float64 `json:"mb_per_s"`
	OK        bool    `json:"ok"`
	Run       opRun   `json:"run"`
}

func (e *benchEnv) emit(row any) error {
	if e.json == nil {
		return nil
	}
	line, err := json.Marshal(row)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.json, "%s\n", line)
	return err
}

func (e *benchEnv) logf(format string, args ...any) {
	fmt.Fprintf(e.log, format+"\n", args...)
}

// genBlob writes size bytes of reproducible pseudo-random data (random
// enough that nothing on the path can compress it) and returns its digest.
// Written once, it then sits in the page cache for every push.
func genBlob(path string, size int64) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{'a', 'z', 'a', 'c', 'r'})
	h := sha256.New()
	buf := make([]byte, mib)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		_, _ = rng.Read(buf[:n])
		h.Write(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			return "", err
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// registryProc is a registry child process.
type registryProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	hello registryHello
	tls   bool
	dir   string
	ctl   *http.Client
}

func (e *benchEnv) startRegistry(ctx context.Context, useTLS bool, rateMBps float64) (*registryProc, error) {
	dir, err := os.MkdirTemp(e.storage, "azacr-bench-registry-")
	if err != nil {
		return nil, err
	}
	r, err := e.startRegistryIn(ctx, dir, useTLS, rateMBps)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return r, nil
}

func (e *benchEnv) startRegistryIn(ctx context.Context, dir string, useTLS bool, rateMBps float64) (*registryProc, error) {
	args := []string{"-child", "registry", "-dir", dir, fmt.Sprintf("-rate=%g", rateMBps*1e6)}
	if useTLS {
		args = append(args, "-tls", "-cert", filepath.Join(e.tmp, filepath.Base(dir)+".pem"))
	}
	cmd := exec.CommandContext(ctx, e.exe, args...)
	cmd.SysProcAttr = childSysProcAttr()
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &registryProc{cmd: cmd, stdin: stdin, tls: useTLS, dir: dir, ctl: &http.Client{Timeout: time.Minute}}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &r.hello)
	}
	if err != nil {
		r.stop()
		return nil, fmt.Errorf("registry child did not start: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return r, nil
}

// stop closes the child's stdin, on which it exits, and removes its
// storage.
func (r *registryProc) stop() {
	_ = r.stdin.Close()
	_ = r.cmd.Wait()
	_ = os.RemoveAll(r.dir)
}

func (r *registryProc) reset(wipe bool) error {
	u := "http://" + r.hello.Control + "/reset"
	if wipe {
		u += "?wipe=1"
	}
	resp, err := r.ctl.Post(u, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("registry reset: %s: %s", resp.Status, b)
	}
	return nil
}

func (r *registryProc) stats() (serverStats, error) {
	var s serverStats
	resp, err := r.ctl.Get("http://" + r.hello.Control + "/stats")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// op runs one client operation in a fresh child with the registry's
// counters reset before it, and collects both sides' view of it.
func (e *benchEnv) op(ctx context.Context, reg *registryProc, a opArgs, wipe bool) (opRun, error) {
	if err := reg.reset(wipe); err != nil {
		return opRun{}, err
	}
	a.addr, a.tls, a.caFile = reg.hello.Addr, reg.tls, reg.hello.CertFile
	run, err := e.runChild(ctx, a)
	if err != nil {
		return opRun{}, err
	}
	if run.Server, err = reg.stats(); err != nil {
		return opRun{}, err
	}
	return run, nil
}

// runChild runs one client operation in a fresh child and returns what
// it reported, with the child's CPU time and maxrss; the registry's side
// is the caller's to add.
func (e *benchEnv) runChild(ctx context.Context, a opArgs) (opRun, error) {
	cmd := exec.CommandContext(ctx, e.exe, append([]string{"-child", "op"}, a.flags()...)...)
	cmd.SysProcAttr = childSysProcAttr()
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return opRun{}, fmt.Errorf("%s %s child: %w", a.client, a.op, err)
	}
	run := opRun{Op: a.op}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &run.opResult); err != nil {
		return opRun{}, fmt.Errorf("%s %s child printed %q: %w", a.client, a.op, out, err)
	}
	cpu, maxRSS := processUsage(cmd.ProcessState)
	run.CPUSec, run.MaxRSSKiB = cpu.Seconds(), maxRSS
	if run.WallSec > 0 {
		run.MBps = float64(run.Bytes) / 1e6 / run.WallSec
	}
	return run, nil
}

// profiled sets a's CPU profile path when -profile asks for one, and its
// allocation profile path with -allocs too, named after the parts.
func (e *benchEnv) profiled(a opArgs, parts ...any) opArgs {
	a.cpuProfile, a.memProfile = "", ""
	if e.profile == "" {
		return a
	}
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = fmt.Sprint(p)
	}
	base := filepath.Join(e.profile, strings.Join(s, "-"))
	a.cpuProfile = base + ".cpu.pprof"
	if e.allocs {
		a.memProfile = base + ".allocs.pprof"
	}
	return a
}

func (e *benchEnv) storageKind() string {
	dir := e.storage
	if dir == "" {
		dir = os.TempDir()
	}
	return fsKind(dir)
}

func modeName(useTLS bool) string {
	if useTLS {
		return "tls"
	}
	return "plain"
}

// blobConfig configures the -blob comparison.
type blobConfig struct {
	size    int64
	runs    int
	clients []string
	stream  bool
}

// blobClients are the -clients the -blob mode knows. limit is not a
// client library: see limit.go.
var blobClients = []string{"limit", "azacr", "azacr-stream", "oras", "ggcr", "official"}

// limitClient names the limit row.
const limitClient = "limit"

// tlsFirst orders TLS settings as the -blob tables show them: TLS, which
// decides, before plain HTTP, which is for information.
func tlsFirst(modes []bool) []bool {
	out := slices.Clone(modes)
	slices.SortStableFunc(out, func(a, b bool) int {
		switch {
		case a == b:
			return 0
		case a:
			return -1
		}
		return 1
	})
	return out
}

func (e *benchEnv) runBlob(ctx context.Context, c blobConfig) ([]blobRow, error) {
	if len(c.clients) == 0 {
		return nil, fmt.Errorf("-clients is empty")
	}
	for i, cl := range c.clients {
		if !slices.Contains(blobClients, cl) {
			return nil, fmt.Errorf("-clients: unknown client %q (known: %s)", cl, strings.Join(blobClients, ", "))
		}
		if slices.Contains(c.clients[:i], cl) {
			return nil, fmt.Errorf("-clients: %q twice", cl)
		}
	}
	file := filepath.Join(e.tmp, "blob.bin")
	e.logf("generating a %d MiB blob", c.size/mib)
	want, err := genBlob(file, c.size)
	if err != nil {
		return nil, err
	}
	defer os.Remove(file)
	var rows []blobRow
	for _, useTLS := range tlsFirst(e.modes) {
		reg, err := e.startRegistry(ctx, useTLS, 0)
		if err != nil {
			return nil, err
		}
		byClient := map[string]*blobRow{}
		for _, cl := range c.clients {
			byClient[cl] = &blobRow{Kind: "blob", Client: cl, TLS: useTLS, SizeBytes: c.size}
		}
		// Runs go round the clients, so a slow spell of the machine
		// spreads over all of them rather than hitting one.
		for run := 1; run <= c.runs; run++ {
			for _, cl := range c.clients {
				a := opArgs{client: cl, repo: fmt.Sprintf("bench/%s-%d", cl, run), file: file, digest: want, size: c.size, stream: c.stream}
				a.op = "push"
				a = e.profiled(a, cl, "push", modeName(useTLS), run)
				push, err := e.op(ctx, reg, a, true)
				if err != nil {
					reg.stop()
					return nil, err
				}
				if push.Digest != want {
					reg.stop()
					return nil, fmt.Errorf("%s pushed digest %s, want %s", cl, push.Digest, want)
				}
				a.op = "pull"
				a = e.profiled(a, cl, "pull", modeName(useTLS), run)
				pull, err := e.op(ctx, reg, a, false)
				if err != nil {
					reg.stop()
					return nil, err
				}
				e.logf("%-8s %-5s run %d: push %4.0f MB/s, pull %4.0f MB/s", cl, modeName(useTLS), run, push.MBps, pull.MBps)
				row := byClient[cl]
				row.Push, row.Pull = append(row.Push, push), append(row.Pull, pull)
			}
		}
		reg.stop()
		for _, cl := range c.clients {
			byClient[cl].summarize()
		}
		if lim, ok := byClient[limitClient]; ok && lim.PushMBps > 0 && lim.PullMBps > 0 {
			for _, cl := range c.clients {
				if row := byClient[cl]; cl != limitClient {
					row.PushVsLimit, row.PullVsLimit = row.PushMBps/lim.PushMBps, row.PullMBps/lim.PullMBps
				}
			}
		}
		for _, cl := range c.clients {
			row := byClient[cl]
			rows = append(rows, *row)
			if err := e.emit(row); err != nil {
				return nil, err
			}
		}
	}
	return rows, nil
}

func (r *blobRow) summarize() {
	r.PushMBps = medianOf(r.Push, func(o opRun) float64 { return o.MBps })
	r.PullMBps = medianOf(r.Pull, func(o opRun) float64 { return o.MBps })
	r.PushCPUPerGiB = medianOf(r.Push, opRun.cpuPerGiB)
	r.PullCPUPerGiB = medianOf(r.Pull, opRun.cpuPerGiB)
	r.PushRSSMiB = medianOf(r.Push, opRun.rssMiB)
	r.PullRSSMiB = medianOf(r.Pull, opRun.rssMiB)
	r.ServerPushCPUPerGiB = medianOf(r.Push, func(o opRun) float64 { return o.Server.CPUSec / (float64(o.Bytes) / gib) })
	r.ServerPullCPUPerGiB = medianOf(r.Pull, func(o opRun) float64 { return o.Server.CPUSec / (float64(o.Bytes) / gib) })
	r.PushRequests, r.PullRequests = r.Push[0].Server.Requests, r.Pull[0].Server.Requests
}

func medianOf(runs []opRun, f func(opRun) float64) float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return median(xs)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// methodOrder is the order requests are listed in.
var methodOrder = []string{"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"}

func formatRequests(m map[string]int) string {
	var parts []string
	for _, k := range methodOrder {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	var rest []string
	for k, v := range m {
		if v > 0 && !slices.Contains(methodOrder, k) {
			rest = append(rest, fmt.Sprintf("%s %d", k, v))
		}
	}
	sort.Strings(rest)
	parts = append(parts, rest...)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func runsOf(runs []opRun, f func(opRun) float64, format string) string {
	s := make([]string, len(runs))
	for i, r := range runs {
		s[i] = fmt.Sprintf(format, f(r))
	}
	return strings.Join(s, ", ")
}

// blobTable prints the rows TLS first, each TLS setting as a table of its
// own, since the ratios to the limit row are within one setting.
func blobTable(rows []blobRow) string {
	var b strings.Builder
	mbps := func(o opRun) float64 { return o.MBps }
	ratio := func(x float64) string {
		if x <= 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f×", x)
	}
	for _, useTLS := range tlsFirst([]bool{false, true}) {
		sel := slices.DeleteFunc(slices.Clone(rows), func(r blobRow) bool { return r.TLS != useTLS })
		if len(sel) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		if useTLS {
			b.WriteString("TLS (these rows decide):\n\n")
		} else {
			b.WriteString("Plain HTTP (for information):\n\n")
		}
		b.WriteString("| client | TLS | push MB/s (runs) | pull MB/s (runs) | push ÷ limit | pull ÷ limit | push CPU s/GiB | pull CPU s/GiB | push peak RSS MiB | pull peak RSS MiB | push requests | pull requests |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range sel {
			fmt.Fprintf(&b, "| %s | %s | **%.0f** (%s) | **%.0f** (%s) | %s | %s | %.2f | %.2f | %.1f | %.1f | %s | %s |\n",
				r.Client, modeName(r.TLS),
				r.PushMBps, runsOf(r.Push, mbps, "%.0f"), r.PullMBps, runsOf(r.Pull, mbps, "%.0f"),
				ratio(r.PushVsLimit), ratio(r.PullVsLimit),
				r.PushCPUPerGiB, r.PullCPUPerGiB, r.PushRSSMiB, r.PullRSSMiB,
				formatRequests(r.PushRequests), formatRequests(r.PullRequests))
		}
	}
	return b.String()
}

func registryTable(rows []blobRow) string {
	var b strings.Builder
	b.WriteString("| client | TLS | registry CPU s/GiB, push | registry CPU s/GiB, pull | registry peak RSS MiB, push / pull | connections push / pull |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, useTLS := range tlsFirst([]bool{false, true}) {
		for _, r := range rows {
			if r.TLS != useTLS {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %.0f / %.0f | %d / %d |\n", r.Client, modeName(r.TLS),
				r.ServerPushCPUPerGiB, r.ServerPullCPUPerGiB,
				medianOf(r.Push, func(o opRun) float64 { return float64(o.Server.PeakRSSKiB) / 1024 }),
				medianOf(r.Pull, func(o opRun) float64 { return float64(o.Server.PeakRSSKiB) / 1024 }),
				r.Push[0].Server.Conns, r.Pull[0].Server.Conns)
		}
	}
	return b.String()
}

// parallelConfig configures -parallel.
type parallelConfig struct {
	size        int64
	block       int64
	rateMBps    float64
	runs        int
	concurrency []int
	peers       []string // single-stream pulls to compare with
}

func (e *benchEnv) runParallel(ctx context.Context, c parallelConfig) ([]parallelRow, error) {
	if c.block <= 0 || c.size/c.block < 16 {
		return nil, fmt.Errorf("-parallel wants at least 16 blocks: %d MiB in %d KiB blocks is %d", c.size/mib, c.block>>10, c.size/max(c.block, 1))
	}
	file := filepath.Join(e.tmp, "parallel.bin")
	e.logf("generating a %d MiB blob for -parallel", c.size/mib)
	want, err := genBlob(file, c.size)
	if err != nil {
		return nil, err
	}
	defer os.Remove(file)
	var rows []parallelRow
	for _, useTLS := range e.modes {
		reg, err := e.startRegistry(ctx, useTLS, c.rateMBps)
		if err != nil {
			return nil, err
		}
		repo := "bench/parallel"
		// The cap is on the registry's writes only, so this upload is
		// not slowed by it.
		if _, err := e.op(ctx, reg, opArgs{op: "push", client: "azacr", repo: repo, file: file, digest: want, size: c.size}, true); err != nil {
			reg.stop()
			return nil, err
		}
		var cur []*parallelRow
		for _, n := range c.concurrency {
			cur = append(cur, &parallelRow{Kind: "parallel", Client: "azacr", Method: "DownloadBlob", Concurrency: n, BlockSize: c.block})
		}
		if top := slices.Max(c.concurrency); top > 1 {
			cur = append(cur, &parallelRow{Kind: "parallel", Client: "azacr", Method: "DownloadBlob-nowrite", Concurrency: top, BlockSize: c.block})
		}
		for _, p := range c.peers {
			cur = append(cur, &parallelRow{Kind: "parallel", Client: p, Method: "pull", Concurrency: 1})
		}
		for run := 1; run <= c.runs; run++ {
			for _, row := range cur {
				a := opArgs{op: row.Method, client: row.Client, repo: repo, digest: want, size: c.size}
				switch row.Method {
				case "DownloadBlob":
					a.op, a.file, a.concurrency, a.block = "download", filepath.Join(e.tmp, "download.bin"), row.Concurrency, row.BlockSize
				case "DownloadBlob-nowrite":
					a.op, a.concurrency, a.block = "download-nowrite", row.Concurrency, row.BlockSize
				}
				a = e.profiled(a, row.Client, "download", row.Concurrency, modeName(useTLS), run)
				r, err := e.op(ctx, reg, a, false)
				_ = os.Remove(filepath.Join(e.tmp, "download.bin"))
				if err != nil {
					reg.stop()
					return nil, err
				}
				e.logf("%-8s %-12s c=%d %-5s run %d: %5.1f MB/s, %d connections", row.Client, row.Method, row.Concurrency, modeName(useTLS), run, r.MBps, r.Server.Conns)
				row.Runs = append(row.Runs, r)
			}
		}
		reg.stop()
		for _, row := range cur {
			row.TLS, row.SizeBytes, row.CapMBps = useTLS, c.size, c.rateMBps
			row.MBps = medianOf(row.Runs, func(o opRun) float64 { return o.MBps })
			row.RSSMiB = medianOf(row.Runs, opRun.rssMiB)
			row.Requests, row.Conns = row.Runs[0].Server.Requests, row.Runs[0].Server.Conns
			row.FirstAloneMs = medianOf(row.Runs, func(o opRun) float64 { return firstAlone(o.Server.Timeline) })
			row.InFlight = medianOf(row.Runs, func(o opRun) float64 { return inFlight(o.Server.Timeline) })
			rows = append(rows, *row)
			if err := e.emit(row); err != nil {
				return nil, err
			}
		}
	}
	return rows, nil
}

func parallelTable(rows []parallelRow) string {
	var b strings.Builder
	b.WriteString("| client | call | TLS | concurrency | block | MB/s (runs) | × single stream | requests | connections | first request alone ms | mean requests in flight | peak RSS MiB |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	base := map[bool]float64{}
	for _, r := range rows {
		if r.Client == "azacr" && r.Method == "DownloadBlob" && r.Concurrency <= 1 {
			base[r.TLS] = r.MBps
		}
	}
	for _, r := range rows {
		block, ratio := "—", "—"
		if r.BlockSize > 0 && r.Concurrency > 1 {
			block = fmt.Sprintf("%d MiB", r.BlockSize/mib)
		}
		if b := base[r.TLS]; b > 0 {
			ratio = fmt.Sprintf("%.2f", r.MBps/b)
		}
		call := "DownloadBlob to a file"
		switch {
		case r.Method == "DownloadBlob-nowrite":
			call = "DownloadBlob to a no-op WriterAt (diagnostic)"
		case r.Method != "DownloadBlob":
			call = map[string]string{"oras": "Blobs().Fetch", "ggcr": "remote.Layer", "official": "GetBlob"}[r.Client] + " to io.Discard"
		}
		alone := "—"
		if r.Concurrency > 1 {
			alone = fmt.Sprintf("%.0f", r.FirstAloneMs)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | **%.1f** (%s) | %s | %s | %d | %s | %.2f | %.1f |\n",
			r.Client, call, modeName(r.TLS), r.Concurrency, block, r.MBps,
			runsOf(r.Runs, func(o opRun) float64 { return o.MBps }, "%.1f"), ratio, formatRequests(r.Requests), r.Conns, alone, r.InFlight, r.RSSMiB)
	}
	return b.String()
}

// rssConfig configures the large-blob memory check.
type rssConfig struct {
	size     int64
	limitMiB float64
	block    int64
}

func (e *benchEnv) runRSS(ctx context.Context, c rssConfig) ([]rssRow, error) {
	file := filepath.Join(e.tmp, "rss.bin")
	e.logf("generating a %d MiB blob for -rss", c.size/mib)
	want, err := genBlob(file, c.size)
	if err != nil {
		return nil, err
	}
	defer os.Remove(file)
	var rows []rssRow
	for _, useTLS := range e.modes {
		reg, err := e.startRegistry(ctx, useTLS, 0)
		if err != nil {
			return nil, err
		}
		base := opArgs{client: "azacr", repo: "bench/rss", file: file, digest: want, size: c.size}
		steps := []struct {
			label string
			a     opArgs
			wipe  bool
		}{
			{"none (client built, idle: the process floor)", withOp(base, "idle", "", 0, 0), true},
			{"UploadBlob (bare reader)", withOp(base, "push", "", 0, 0).streamed(), false},
			{"UploadBlob (*os.File)", withOp(base, "push", "", 0, 0), true},
			{"GetBlob → io.Discard", withOp(base, "pull", "", 0, 0), false},
			{"DownloadBlob, concurrency 4", withOp(base, "download", filepath.Join(e.tmp, "rss-download.bin"), 4, c.block), false},
		}
		for _, s := range steps {
			s.a = e.profiled(s.a, "azacr", "rss", s.a.op, modeName(useTLS))
			r, err := e.op(ctx, reg, s.a, s.wipe)
			_ = os.Remove(filepath.Join(e.tmp, "rss-download.bin"))
			if err != nil {
				reg.stop()
				return nil, err
			}
			if s.a.op == "push" && r.Digest != want {
				reg.stop()
				return nil, fmt.Errorf("azacr pushed digest %s, want %s", r.Digest, want)
			}
			row := rssRow{Kind: "rss", Client: "azacr", Op: s.label, TLS: useTLS, SizeBytes: c.size, LimitMiB: c.limitMiB,
				RSSMiB: r.rssMiB(), MaxRSSMiB: float64(r.MaxRSSKiB) / 1024, MBps: r.MBps, Run: r}
			if s.a.op == "idle" {
				row.MBps = 0
			}
			row.OK = row.RSSMiB <= c.limitMiB
			e.logf("azacr %-28s %-5s: peak RSS %.1f MiB, %4.0f MB/s", s.label, modeName(useTLS), row.RSSMiB, r.MBps)
			rows = append(rows, row)
			if err := e.emit(row); err != nil {
				return nil, err
			}
		}
		reg.stop()
	}
	return rows, nil
}

func withOp(a opArgs, op, file string, concurrency int, block int64) opArgs {
	a.op, a.concurrency, a.block = op, concurrency, block
	if file != "" {
		a.file = file
	}
	return a
}

// streamed hides the file behind a bare io.Reader for a push.
func (a opArgs) streamed() opArgs {
	a.stream = true
	return a
}

func rssTable(rows []rssRow) string {
	var b strings.Builder
	b.WriteString("| azacr operation | TLS | blob | MB/s | peak RSS MiB (VmHWM) | getrusage maxrss MiB | limit MiB | within limit |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		ok := "yes"
		if !r.OK {
			ok = "**no**"
		}
		speed := "—"
		if r.MBps > 0 {
			speed = fmt.Sprintf("%.0f", r.MBps)
		}
		fmt.Fprintf(&b, "| %s | %s | %d MiB | %s | **%.1f** | %.1f | %.0f | %s |\n", r.Op, modeName(r.TLS), r.SizeBytes/mib, speed, r.RSSMiB, r.MaxRSSMiB, r.LimitMiB, ok)
	}
	return b.String()
}
