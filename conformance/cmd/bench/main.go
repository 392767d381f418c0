// Command bench measures azacr side by side with its peers and prints
// markdown tables.
//
//	cd conformance && go run ./cmd/bench -metadata
//	cd conformance && go run ./cmd/bench -blob -parallel -rss -json results.jsonl
//	cd conformance && go run ./cmd/bench -image
//
// -metadata counts the requests of a metadata workload against acrtest.
// The other modes run CNCF distribution (filesystem storage, under -storage
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
//     with hand-written net/http downloads, to show where the time goes;
//   - -image moves a whole image with azacr, oras-go and
//     go-containerregistry, and the limit (image.go).
//
// The -image mode's image has 2 platforms (linux/amd64, linux/arm64) of 6
// layers each, random bytes from a fixed seed, 1 to 64 MiB and 250 MiB in
// all (-image-size scales every layer alike), a config per platform and an
// OCI image index over both. Each client moves it four ways (-image-ops):
// pull from registry A into a new OCI layout (every platform), push that
// layout into a new repository of registry B, copy from A to B, and copy
// into a new repository within A, where the blobs can be mounted rather
// than moved. A and B are two distribution children; the image is pushed
// into A once, untimed, and B's storage is emptied before every push and
// every copy into it. oras-go runs oras.Copy (with an oci.Store for the
// layout, and told to mount from the source within one registry);
// go-containerregistry runs remote with layout, and crane.Copy's calls for
// copies (it mounts on its own). The limit (image_limit.go) is the fewest
// requests and bytes over plain net/http, with no hashing.
//
// Every operation runs on each of -image-links: loopback, TLS and (for
// information) plain HTTP; and "shaped", TLS only, where each client
// connection goes through a TCP proxy in the bench (shaper.go) that adds
// -image-delay each way and caps the connection at -image-rate in each
// direction. Runs (-runs, 3 by default) go round the operations and
// clients. Each link and operation gets a table: median wall time, its
// ratio to the faster peer, requests by method and connections as the
// registries counted them, the bytes the client sent and received
// (counted on the registries' connections, so headers and TLS are in),
// and the client's CPU time and peak RSS. Every pulled layout and every
// pushed or copied repository is checked blob by blob after its run.
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
	"time"

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
	image := fs.Bool("image", false, "pull, push and copy a whole two-platform image with azacr, oras-go, go-containerregistry and the limit, on loopback and on a shaped link (uses -runs, -tls)")
	imageSize := fs.Int("image-size", imageDefaultMiB, "-image: the image's layers in all, MiB (2 platforms × 6 layers, 1 to 64 MiB each at the default, all scaled alike)")
	imageOpsFlag := fs.String("image-ops", strings.Join(imageOps, ","), "-image: operations to run")
	imageLinksFlag := fs.String("image-links", strings.Join(imageLinks, ","), "-image: links to run on (shaped: through a TCP proxy adding -image-delay each way and capping each connection at -image-rate; TLS only, unless -tls plain)")
	imageClientsFlag := fs.String("image-clients", strings.Join(imageClients(), ","), "-image: clients to compare (limit: the fewest requests and bytes, plain net/http, no hashing)")
	imageDelay := fs.Duration("image-delay", 10*time.Millisecond, "-image: shaped link's added delay, each way")
	imageRate := fs.Float64("image-rate", 25, "-image: shaped link's cap per connection and direction, MB/s (10^6 bytes)")
	imageKeep := fs.String("image-keep", "", "-image: keep the pulled OCI layouts under this directory")
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
	other := *blob || *parallel || *rss || *experiments || *image
	if *metadata && (explicit["metadata"] || !other) {
		if err := runMetadata(ctx, stdout); err != nil {
			return err
		}
	}
	if !other {
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
	if *image {
		c := imageConfig{
			totalMiB: *imageSize, runs: otherRuns, clients: splitList(*imageClientsFlag), ops: splitList(*imageOpsFlag),
			links: splitList(*imageLinksFlag), delay: *imageDelay, rateMBps: *imageRate, keep: *imageKeep,
		}
		rows, info, err := env.runImage(ctx, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nWhole image: %d platforms × %d layers (%d MiB of layers; %.1f MB with configs, manifests and index), median of %d interleaved runs, registry storage on %s.\n",
			len(imagePlatforms), len(imageLayerMiB[0]), c.totalMiB, float64(info.Bytes)/1e6, c.runs, env.storageKind())
		fmt.Fprintf(stdout, "Requests and connections are the first run's, as the registries saw them; MB (10^6 bytes) sent and received are the client's, counted on the registries' connections (headers and TLS included); CPU (user+sys) and peak RSS are the client process's. ÷ best peer is the median wall time over the fastest of %s on the same link and TLS setting. limit is not a library: the fewest requests and bytes, plain net/http, no hashing, %d blobs at a time.\n",
			strings.Join(imagePeers, " and "), limitImageConcurrency)
		if !azacrImageReady {
			fmt.Fprintln(stdout, "(azacr has no image operations in this build: no azacr rows.)")
		}
		if c.runs < otherDefaultRuns || c.totalMiB < imageDefaultMiB {
			fmt.Fprintf(stdout, "(fewer than %d runs or an image under %d MiB: informative only)\n", otherDefaultRuns, imageDefaultMiB)
		}
		fmt.Fprint(stdout, imageTables(rows, c))
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
