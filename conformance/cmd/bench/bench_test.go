package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for the bench binary: the
// smoke test runs the real program, which re-executes itself (here, this
// test binary) as the registry and client children.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "-child" {
		if err := child(os.Args[2], os.Args[3:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBenchSmoke runs every mode on small blobs, plain HTTP only, and
// checks the rows for sense. It asserts no speed: only that bytes moved,
// the digest is right, and the requests are the ones each client should
// send.
func TestBenchSmoke(t *testing.T) {
	const sizeMiB, parallelMiB, blockMiB = 8, 16, 1
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "rows.jsonl")
	var out, logs bytes.Buffer
	err := run(context.Background(), []string{
		"-blob", "-size", fmt.Sprint(sizeMiB), "-runs", "1", "-tls", "plain", "-json", jsonPath,
		"-parallel", "-parallel-size", fmt.Sprint(parallelMiB), "-parallel-block", fmt.Sprint(blockMiB),
		"-parallel-rate", "200", "-parallel-peers", "",
		"-rss", "-rss-size", fmt.Sprint(sizeMiB),
		"-experiments",
	}, &out, &logs)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, logs.String())
	}
	for _, want := range []string{"| client | TLS | push MB/s", "| client | call | TLS | concurrency", "| azacr operation |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks the table starting %q:\n%s", want, out.String())
		}
	}

	want := independentDigest(t, filepath.Join(dir, "blob.bin"), sizeMiB*mib)
	var blobs []blobRow
	var pars []parallelRow
	var rsss []rssRow
	var exps []experimentRow
	f, err := os.Open(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var kind struct{ Kind string }
		if err := json.Unmarshal(sc.Bytes(), &kind); err != nil {
			t.Fatal(err)
		}
		var err error
		switch kind.Kind {
		case "blob":
			blobs = append(blobs, blobRow{})
			err = json.Unmarshal(sc.Bytes(), &blobs[len(blobs)-1])
		case "parallel":
			pars = append(pars, parallelRow{})
			err = json.Unmarshal(sc.Bytes(), &pars[len(pars)-1])
		case "rss":
			rsss = append(rsss, rssRow{})
			err = json.Unmarshal(sc.Bytes(), &rsss[len(rsss)-1])
		case "experiment":
			exps = append(exps, experimentRow{})
			err = json.Unmarshal(sc.Bytes(), &exps[len(exps)-1])
		default:
			t.Fatalf("unknown row kind %q", kind.Kind)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	if len(blobs) != len(blobClients) {
		t.Fatalf("%d blob rows, want one per client", len(blobs))
	}
	size := int64(sizeMiB * mib)
	chunks := int((size + 4*mib - 1) / (4 * mib))
	var limit blobRow
	for _, r := range blobs {
		if r.Client == limitClient {
			limit = r
		}
	}
	if limit.Client == "" {
		t.Fatalf("no limit row among %d blob rows", len(blobs))
	}
	for _, r := range blobs {
		if r.PushMBps <= 0 || r.PullMBps <= 0 {
			t.Errorf("%s: push %v MB/s, pull %v MB/s", r.Client, r.PushMBps, r.PullMBps)
		}
		if len(r.Push) != 1 || len(r.Pull) != 1 {
			t.Fatalf("%s: %d push and %d pull runs, want 1 each", r.Client, len(r.Push), len(r.Pull))
		}
		if r.Push[0].Digest != want || r.Push[0].Bytes != size || r.Pull[0].Bytes != size {
			t.Errorf("%s: pushed %s (%d bytes), pulled %d bytes; want %s, %d bytes", r.Client, r.Push[0].Digest, r.Push[0].Bytes, r.Pull[0].Bytes, want, size)
		}
		if runtime.GOOS == "linux" && (r.Push[0].CPUSec <= 0 || r.PushRSSMiB <= 0 || r.PullRSSMiB <= 0) {
			t.Errorf("%s: no CPU or RSS measured: %+v", r.Client, r.Push[0])
		}
		// The registry's own count of body bytes: every push delivers
		// the blob once, every pull receives it at least once.
		if in := r.Push[0].Server.BytesIn; in != size {
			t.Errorf("%s: the registry read %d bytes of push bodies, want %d", r.Client, in, size)
		}
		if out := r.Pull[0].Server.BytesOut; out < size {
			t.Errorf("%s: the registry wrote %d bytes of pull bodies, want at least %d", r.Client, out, size)
		}
		if r.Client != limitClient {
			wantPush, wantPull := r.PushMBps/limit.PushMBps, r.PullMBps/limit.PullMBps
			if !near(r.PushVsLimit, wantPush) || !near(r.PullVsLimit, wantPull) {
				t.Errorf("%s: ratios to the limit push %v, pull %v; want %v, %v", r.Client, r.PushVsLimit, r.PullVsLimit, wantPush, wantPull)
			}
		} else if r.PushVsLimit != 0 || r.PullVsLimit != 0 {
			t.Errorf("limit: a ratio to itself: %v, %v", r.PushVsLimit, r.PullVsLimit)
		}
		push, pull := r.PushRequests, r.PullRequests
		switch r.Client {
		case limitClient:
			// One POST with no body, one PUT with the whole blob, on one
			// connection; one GET with the whole blob. The pushed digest
			// is the registry's Docker-Content-Digest (checked above).
			p, g := r.Push[0].Server, r.Pull[0].Server
			if push["POST"] != 1 || push["PUT"] != 1 || len(push) != 2 {
				t.Errorf("limit push requests %v, want POST 1, PUT 1", push)
			}
			if pull["GET"] != 1 || len(pull) != 1 {
				t.Errorf("limit pull requests %v, want GET 1", pull)
			}
			if len(p.Timeline) != 2 || p.Timeline[0].Method != "POST" || p.Timeline[0].In != 0 ||
				p.Timeline[1].Method != "PUT" || p.Timeline[1].In != size {
				t.Errorf("limit push timeline %+v, want a POST with no body, then a PUT of %d bytes", p.Timeline, size)
			}
			if len(g.Timeline) != 1 || g.Timeline[0].Out != size || g.BytesOut != size {
				t.Errorf("limit pull timeline %+v (%d bytes out), want one GET of %d bytes", g.Timeline, g.BytesOut, size)
			}
			if p.Conns != 1 || g.Conns != 1 {
				t.Errorf("limit: %d push and %d pull connections, want 1 each", p.Conns, g.Conns)
			}
		case "azacr":
			// The file: one session, one PATCH per 4 MiB, one completion,
			// and a HEAD (is it there already?) when the hashing, which runs
			// alongside, ends before the last chunk.
			if push["HEAD"] > 1 || push["POST"] != 1 || push["PUT"] != 1 || push["PATCH"] != chunks || len(push) != 3+push["HEAD"] {
				t.Errorf("azacr push requests %v, want HEAD 0 or 1, POST 1, PATCH %d, PUT 1", push, chunks)
			}
			if pull["GET"] != 1 || len(pull) != 1 {
				t.Errorf("azacr pull requests %v, want GET 1", pull)
			}
		case "azacr-stream":
			// A bare reader: no HEAD (no digest before sending), one
			// session, 4 MiB chunks, one completion.
			if push["POST"] != 1 || push["PUT"] != 1 || push["PATCH"] < 1 || push["PATCH"] > chunks || len(push) != 3 {
				t.Errorf("azacr-stream push requests %v, want POST 1, 1..%d PATCH, PUT 1", push, chunks)
			}
		case "oras":
			if push["POST"] != 1 || push["PUT"] != 1 || len(push) != 2 || pull["GET"] != 1 {
				t.Errorf("oras requests push %v, pull %v", push, pull)
			}
		case "official":
			if push["POST"] != 1 || push["PATCH"] != chunks || push["PUT"] != 1 || pull["GET"] != 1 {
				t.Errorf("official requests push %v, pull %v", push, pull)
			}
		case "ggcr":
			if push["POST"] != 1 || push["PUT"] != 1 || pull["GET"] < 1 {
				t.Errorf("ggcr requests push %v, pull %v", push, pull)
			}
		}
	}

	if len(pars) != 3 {
		t.Fatalf("%d parallel rows, want concurrency 1 and 4, and 4 without writing", len(pars))
	}
	for _, r := range pars {
		if r.MBps <= 0 || r.Runs[0].Bytes != parallelMiB*mib {
			t.Errorf("parallel c=%d: %v MB/s, %d bytes", r.Concurrency, r.MBps, r.Runs[0].Bytes)
		}
		wantGets := 1
		if r.Concurrency > 1 {
			wantGets = parallelMiB / blockMiB
		}
		if r.Requests["GET"] != wantGets || len(r.Requests) != 1 {
			t.Errorf("parallel c=%d: requests %v, want GET %d", r.Concurrency, r.Requests, wantGets)
		}
		if r.Conns < 1 {
			t.Errorf("parallel c=%d: %d connections", r.Concurrency, r.Conns)
		}
	}

	if len(rsss) != 5 {
		t.Fatalf("%d rss rows, want idle, upload from a reader and from a file, get and download", len(rsss))
	}
	for _, r := range rsss {
		if runtime.GOOS != "linux" {
			continue
		}
		limit := r.LimitMiB
		if raceEnabled {
			// Shadow memory: the limit is checked for real by the
			// uninstrumented benchmark (-rss); here only that RSS is
			// measured and stays bounded.
			limit *= 4
		}
		if r.RSSMiB <= 0 || r.RSSMiB > limit {
			t.Errorf("rss %s: peak %.1f MiB, limit %.0f (race detector: %v)", r.Op, r.RSSMiB, limit, raceEnabled)
		}
	}

	if len(exps) != len(pushExperiments)+len(pullExperiments) {
		t.Fatalf("%d experiment rows, want %d", len(exps), len(pushExperiments)+len(pullExperiments))
	}
	for _, r := range exps {
		if r.MBps <= 0 || r.Runs[0].Bytes != size {
			t.Errorf("experiment %q: %v MB/s, %d bytes", r.Label, r.MBps, r.Runs[0].Bytes)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestBenchBlobOrder runs -blob over plain HTTP and TLS with two clients
// and two runs, and checks what the table's reading depends on: the runs
// go round the clients (run 1 of each, then run 2), TLS comes first, both
// when it runs and in the output, and the ratio columns are there.
func TestBenchBlobOrder(t *testing.T) {
	var out, logs bytes.Buffer
	err := run(context.Background(), []string{"-blob", "-size", "4", "-runs", "2", "-tls", "both", "-clients", "oras,limit"}, &out, &logs)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, logs.String())
	}
	line := regexp.MustCompile(`(?m)^(\S+)\s+(tls|plain)\s+run (\d+):`)
	var got []string
	for _, m := range line.FindAllStringSubmatch(logs.String(), -1) {
		got = append(got, m[1]+" "+m[2]+" "+m[3])
	}
	want := []string{
		"oras tls 1", "limit tls 1", "oras tls 2", "limit tls 2",
		"oras plain 1", "limit plain 1", "oras plain 2", "limit plain 2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("runs in the order %q, want %q\n%s", got, want, logs.String())
	}
	o := out.String()
	tlsAt, plainAt := strings.Index(o, "TLS (these rows decide):"), strings.Index(o, "Plain HTTP (for information):")
	if tlsAt < 0 || plainAt < tlsAt {
		t.Errorf("want the TLS table first, then the plain one labelled for information:\n%s", o)
	}
	if !strings.Contains(o, "| push ÷ limit | pull ÷ limit |") {
		t.Errorf("no ratio columns:\n%s", o)
	}
	for _, mode := range []string{"tls", "plain"} {
		if !regexp.MustCompile(`(?m)^\| oras \| ` + mode + ` \|[^\n]*\| [0-9.]+× \| [0-9.]+× \|`).MatchString(o) {
			t.Errorf("no ratios on the %s oras row:\n%s", mode, o)
		}
		if !regexp.MustCompile(`(?m)^\| limit \| ` + mode + ` \|[^\n]*\| — \| — \|`).MatchString(o) {
			t.Errorf("the %s limit row should show no ratio:\n%s", mode, o)
		}
	}
	if err := run(context.Background(), []string{"-blob", "-size", "1", "-runs", "1", "-clients", "limit,nope"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("an unknown -clients entry: err %v", err)
	}
}

// independentDigest regenerates the blob with genBlob and hashes the file
// it wrote, apart from the digest genBlob computed while writing.
func independentDigest(t *testing.T, path string, size int64) string {
	t.Helper()
	if _, err := genBlob(path, size); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if n, err := io.Copy(h, f); err != nil || n != size {
		t.Fatalf("read %d bytes of %d: %v", n, size, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// TestBenchImage runs -image on a tiny image, once, on loopback over TLS,
// and checks that every operation has a row for every client, that each
// pulled layout holds the whole image, and what the limit row and the
// mounts promise: the limit's exact requests, and a copy within one
// registry that moves no blob bytes.
func TestBenchImage(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "pulled")
	jsonPath := filepath.Join(dir, "rows.jsonl")
	var out, logs bytes.Buffer
	err := run(context.Background(), []string{
		"-image", "-image-size", "4", "-runs", "1", "-image-links", "loopback", "-tls", "tls",
		"-image-keep", keep, "-json", jsonPath,
	}, &out, &logs)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, logs.String())
	}
	clients := imageClients()
	if !slices.Contains(clients, "oras") || !slices.Contains(clients, "ggcr") || !slices.Contains(clients, limitClient) {
		t.Fatalf("image clients %v lack a peer or the limit", clients)
	}

	// The tables: one per operation, a row per client.
	o := out.String()
	for _, op := range imageOps {
		heading := imageOpText[op] + " — loopback:"
		at := strings.Index(o, heading)
		if at < 0 {
			t.Errorf("no table %q:\n%s", heading, o)
			continue
		}
		// The table runs from the blank line after its heading to the
		// next blank line.
		table := strings.TrimPrefix(o[at+len(heading):], "\n\n")
		if end := strings.Index(table, "\n\n"); end >= 0 {
			table = table[:end]
		}
		for _, cl := range clients {
			if !regexp.MustCompile(`(?m)^\| ` + cl + ` \| tls \| \*\*[0-9.]+\*\* `).MatchString(table) {
				t.Errorf("%s: no %s row:\n%s", op, cl, table)
			}
		}
	}

	// The rows.
	var rows []imageRow
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var r imageRow
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind != "image" {
			t.Fatalf("row kind %q", r.Kind)
		}
		rows = append(rows, r)
	}
	if len(rows) != len(imageOps)*len(clients) {
		t.Fatalf("%d rows, want %d operations × %d clients", len(rows), len(imageOps), len(clients))
	}
	// 2 platforms × (6 layers + a config + a manifest), and the index.
	const wantBlobs = 17
	var blobBytes int64
	for p := range imagePlatforms {
		for j := range imageLayerMiB[p] {
			blobBytes += imageLayerSize(4, p, j)
		}
	}
	for _, r := range rows {
		if len(r.Runs) != 1 || r.WallSec <= 0 || !r.TLS || r.Link != "loopback" {
			t.Errorf("%s %s: %d runs, %v s, TLS %v, link %q", r.Client, r.Op, len(r.Runs), r.WallSec, r.TLS, r.Link)
			continue
		}
		s := r.Runs[0].Server
		if runtime.GOOS == "linux" && (r.CPUSec <= 0 || r.RSSMiB <= 0) {
			t.Errorf("%s %s: no CPU or RSS measured", r.Client, r.Op)
		}
		if s.WireIn < s.BytesIn || s.WireOut < s.BytesOut {
			t.Errorf("%s %s: fewer bytes on the wire (%d in, %d out) than in bodies (%d, %d)", r.Client, r.Op, s.WireIn, s.WireOut, s.BytesIn, s.BytesOut)
		}
		switch r.Op {
		case "pull":
			if s.BytesOut < blobBytes {
				t.Errorf("%s pull: the registry sent %d body bytes, want at least the layers' %d", r.Client, s.BytesOut, blobBytes)
			}
		case "push":
			if s.BytesIn < blobBytes {
				t.Errorf("%s push: the registry read %d body bytes, want at least the layers' %d", r.Client, s.BytesIn, blobBytes)
			}
		case "copy-across":
			if s.BytesIn < blobBytes || s.BytesOut < blobBytes {
				t.Errorf("%s copy-across: %d body bytes in, %d out, want at least the layers' %d each way", r.Client, s.BytesIn, s.BytesOut, blobBytes)
			}
		case "copy-within":
			// Mounts: only manifests cross, both ways.
			if s.BytesIn > 64<<10 || s.BytesOut > 64<<10 {
				t.Errorf("%s copy-within: %d body bytes in, %d out: blobs moved instead of being mounted", r.Client, s.BytesIn, s.BytesOut)
			}
		}
		if r.Client == limitClient {
			want := map[string]map[string]int{
				"pull":        {"GET": 17},
				"push":        {"POST": 14, "PUT": 17},
				"copy-across": {"GET": 17, "POST": 14, "PUT": 17},
				"copy-within": {"GET": 3, "POST": 14, "PUT": 3},
			}[r.Op]
			if !maps.Equal(r.Requests, want) {
				t.Errorf("limit %s: requests %v, want %v", r.Op, r.Requests, want)
			}
		}
	}

	// Each pulled layout, read independently of the bench's own check.
	for _, cl := range clients {
		layoutDir := filepath.Join(keep, fmt.Sprintf("pull-loopback-tls-%s-1", cl))
		entries, err := os.ReadDir(filepath.Join(layoutDir, "blobs", "sha256"))
		if err != nil {
			t.Errorf("%s: %v", cl, err)
			continue
		}
		if len(entries) != wantBlobs {
			t.Errorf("%s pulled %d blobs, want %d", cl, len(entries), wantBlobs)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(layoutDir, "blobs", "sha256", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != e.Name() {
				t.Errorf("%s: blob %s does not match its name", cl, e.Name())
			}
		}
		if _, err := os.Stat(filepath.Join(layoutDir, "index.json")); err != nil {
			t.Errorf("%s: %v", cl, err)
		}
	}

	if err := run(context.Background(), []string{"-image", "-image-size", "1", "-runs", "1", "-image-ops", "pull,fetch"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "fetch") {
		t.Errorf("an unknown -image-ops entry: err %v", err)
	}
}
