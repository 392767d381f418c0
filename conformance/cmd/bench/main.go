// Command bench measures azacr side by side with its peers and prints
// markdown tables.
//
//	cd conformance && go run ./cmd/bench -metadata
//	cd conformance && go run ./cmd/bench -blob -parallel -rss -json results.jsonl
//
// -metadata counts the requests of a metadata workload against acrtest.
// The blob modes run CNCF distribution (filesystem storage, under -storage
// or the temp directory) in a child process and each client operation in a
// child process of its own, so CPU time and peak RSS belong to one client
// and one operation:
//
//   - -blob pushes and pulls a -size MiB blob with azacr, oras-go,
//     go-containerregistry and the official azcontainerregistry, and with
//     "limit", the fewest requests over plain net/http with no client
//     hashing (limit.go); runs are interleaved across clients, TLS rows
//     are printed first;
//   - -parallel downloads with azacr's DownloadBlob at several
//     concurrencies from a registry whose every connection is rate-capped;
//   - -rss pushes and pulls a -rss-size MiB blob with azacr and checks its
//     peak RSS;
//   - -experiments varies azacr's chunk size and read size and compares
//     with hand-written net/http downloads, to show where the time goes.
//
// BENCHMARKS.md at the module root has the results and how to read them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/conformance"
)

func main() {
	log.SetFlags(0)
	// The same binary is the registry and every client: the parent runs
	// itself with -child as the first argument.
	if len(os.Args) > 2 && os.Args[1] == "-child" {
		if err := child(os.Args[2], os.Args[3:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

func child(role string, args []string) error {
	switch role {
	case "registry":
		return registryChild(args)
	case "op":
		return opChild(args)
	}
	return fmt.Errorf("unknown child role %q", role)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	metadata := fs.Bool("metadata", true, "count the requests of the metadata workload against acrtest (the default when no other mode is chosen)")
	blob := fs.Bool("blob", false, "push/pull throughput, CPU and RSS of azacr and its peers")
	parallel := fs.Bool("parallel", false, "azacr DownloadBlob concurrency against a per-connection rate cap")
	rss := fs.Bool("rss", false, "azacr peak RSS pushing and pulling a large blob")
	experiments := fs.Bool("experiments", false, "take azacr's push and pull apart: chunk sizes, read sizes, pipelined hashing (uses -size, -runs)")
	size := fs.Int("size", 0, fmt.Sprintf("-blob, -experiments: blob size in MiB (default %d for -blob, %d for -experiments)", blobDefaultSize, experimentDefaultSize))
	runs := fs.Int("runs", 0, fmt.Sprintf("-blob, -parallel, -experiments: runs per row, interleaved across rows; the tables show medians (default %d for -blob, %d for the others)", blobDefaultRuns, otherDefaultRuns))
	tlsMode := fs.String("tls", "both", "plain, tls or both")
	clients := fs.String("clients", strings.Join(blobClients, ","), "-blob: clients to compare (limit: one POST and one PUT, one GET, plain net/http, no hashing; azacr-stream: azacr pushing from a bare io.Reader)")
	stream := fs.Bool("stream", false, "-blob: give every push but the limit's a bare io.Reader, not the *os.File")
	jsonFile := fs.String("json", "", "write one JSON line per row, with every run, to this file")
	profile := fs.String("profile", "", "write a CPU profile of every client operation into this directory")
	allocs := fs.Bool("allocs", false, "with -profile, also write exact allocation profiles (this records every allocation: do not read CPU or RSS from such runs)")
	storage := fs.String("storage", "", "parent directory for the registry's storage (default: the system temp directory); a tmpfs takes the disk's fsync latency out")
	pSize := fs.Int("parallel-size", 128, "-parallel: blob size in MiB")
	pBlock := fs.Int("parallel-block", 4, "-parallel: DownloadBlob BlockSize in MiB")
	pRate := fs.Float64("parallel-rate", 20, "-parallel: per-connection cap in MB/s (10^6 bytes)")
	pConc := fs.String("parallel-concurrency", "1,4", "-parallel: DownloadBlob concurrencies")
	pPeers := fs.String("parallel-peers", "oras,ggcr", "-parallel: single-stream pulls to compare with")
	rssSize := fs.Int("rss-size", 1024, "-rss: blob size in MiB")
	rssLimit := fs.Float64("rss-limit", 64, "-rss: peak RSS limit in MiB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *size < 0 || *runs < 0 {
		return fmt.Errorf("-size and -runs cannot be negative (0 means the mode's default)")
	}
	blobSize, blobRuns := orDefault(*size, blobDefaultSize), orDefault(*runs, blobDefaultRuns)
	expSize, otherRuns := orDefault(*size, experimentDefaultSize), orDefault(*runs, otherDefaultRuns)
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if *metadata && (explicit["metadata"] || !(*blob || *parallel || *rss || *experiments)) {
		if err := runMetadata(ctx, stdout); err != nil {
			return err
		}
	}
	if !(*blob || *parallel || *rss || *experiments) {
		return nil
	}

	env := &benchEnv{out: stdout, log: stderr, profile: *profile, allocs: *allocs, storage: *storage}
	switch *tlsMode {
	case "plain":
		env.modes = []bool{false}
	case "tls":
		env.modes = []bool{true}
	case "both":
		env.modes = []bool{false, true}
	default:
		return fmt.Errorf("-tls must be plain, tls or both, not %q", *tlsMode)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	env.exe = exe
	if env.tmp, err = os.MkdirTemp("", "azacr-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(env.tmp)
	if *jsonFile != "" {
		f, err := os.Create(*jsonFile)
		if err != nil {
			return err
		}
		defer f.Close()
		env.json = f
	}
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			return err
		}
	}

	if *blob {
		rows, err := env.runBlob(ctx, blobConfig{size: int64(blobSize) * mib, runs: blobRuns, clients: splitList(*clients), stream: *stream})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nBlob push and pull, %d MiB, median of %d interleaved runs, registry storage on %s (MB = 10^6 bytes; CPU and RSS are the client process's; ÷ limit is the median's ratio to the limit row's):\n", blobSize, blobRuns, env.storageKind())
		if blobRuns < blobDefaultRuns || blobSize < blobDefaultSize {
			fmt.Fprintf(stdout, "(fewer than %d runs or a blob under %d MiB: informative only, not a deciding measurement)\n", blobDefaultRuns, blobDefaultSize)
		}
		fmt.Fprintln(stdout)
		fmt.Fprint(stdout, blobTable(rows))
		fmt.Fprintf(stdout, "\nThe registry's side of the same runs (medians; connections of the first run):\n\n")
		fmt.Fprint(stdout, registryTable(rows))
	}
	if *parallel {
		conc, err := intList(*pConc)
		if err != nil {
			return err
		}
		rows, err := env.runParallel(ctx, parallelConfig{
			size: int64(*pSize) * mib, block: int64(*pBlock) * mib, rateMBps: *pRate, runs: otherRuns,
			concurrency: conc, peers: splitList(*pPeers),
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nDownload of %d MiB, every connection capped at %g MB/s, median of %d runs:\n\n", *pSize, *pRate, otherRuns)
		fmt.Fprint(stdout, parallelTable(rows))
	}
	if *experiments {
		rows, err := env.runExperiments(ctx, int64(expSize)*mib, otherRuns)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nExperiments, %d MiB, median of %d runs, registry storage on %s:\n\n", expSize, otherRuns, env.storageKind())
		fmt.Fprint(stdout, experimentTable(rows))
	}
	if *rss {
		rows, err := env.runRSS(ctx, rssConfig{size: int64(*rssSize) * mib, limitMiB: *rssLimit, block: 4 * mib})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nazacr peak RSS with a %d MiB blob (one run each):\n\n", *rssSize)
		fmt.Fprint(stdout, rssTable(rows))
	}
	return nil
}

// The defaults of -size and -runs depend on the mode. -blob follows the
// rule that decides the comparisons: medians of at least 5 interleaved
// runs of a blob of 256 MiB or more.
const (
	blobDefaultSize       = 256 // MiB
	blobDefaultRuns       = 5
	experimentDefaultSize = 512 // MiB
	otherDefaultRuns      = 3
)

// orDefault is v, or def when the flag was left at 0 (not given).
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func runMetadata(ctx context.Context, stdout io.Writer) error {
	var rows []conformance.RequestCounts
	for _, run := range []func(context.Context, *acrtest.Server) (conformance.RequestCounts, error){
		conformance.RunMetadataAzacr, conformance.RunMetadataOfficial,
	} {
		srv := acrtest.NewUnstartedServer(nil)
		srv.Start()
		if err := conformance.SeedMetadataWorkload(srv); err != nil {
			srv.Close()
			return err
		}
		row, err := run(ctx, srv)
		srv.Close()
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	fmt.Fprintln(stdout, "Metadata workload against acrtest (request counts):")
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, conformance.MetadataTable(rows...))
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func intList(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad concurrency %q", p)
		}
		out = append(out, n)
	}
	return out, nil
}
