package main

// Transfers: pull, push, copy, blob push, blob pull. Progress goes to
// stderr (progress.go); stdout carries the digest alone, or one JSON
// object with --output json.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/spf13/cobra"
)

func init() { commandGroups = append(commandGroups, addTransfer) }

func addTransfer(root *cobra.Command, g *globals) {
	blob := &cobra.Command{
		Use: "blob", Short: "Push and pull single blobs",
		RunE: func(cmd *cobra.Command, a []string) error {
			return usageErrorf("blob takes a subcommand: push or pull (azacr blob --help)")
		},
	}
	blob.AddCommand(blobPushCommand(g), blobPullCommand(g))
	root.AddCommand(pullCommand(g), pushCommand(g), copyCommand(g), blob)
}

// jsonResultHelp documents the --output json result of pull, push and copy.
const jsonResultHelp = `
Stdout carries the root manifest's digest alone, or with --output json one
object: {"digest": "sha256:…", "mediaType": "…", "blobs": N,
"bytesTransferred": N, "upToDate": false}. blobs counts the image's blobs,
bytesTransferred the blob bytes that moved (fewer when the target had some
already, none for blobs mounted within a registry); upToDate is true when
the target already had the image under the tag and nothing was sent, blobs
then 0 (push and copy; always false for pull). Progress goes to stderr:
bars on a terminal, plain lines otherwise, none with --quiet.`

// transferJSON is the result of pull, push and copy in --output json.
type transferJSON struct {
	Digest           string `json:"digest"`
	MediaType        string `json:"mediaType"`
	Blobs            int    `json:"blobs"`
	BytesTransferred int64  `json:"bytesTransferred"`
	UpToDate         bool   `json:"upToDate"`
}

// blobJSON is the result of blob push in --output json.
type blobJSON struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// printDigest prints v in --output json, else the digest alone.
func (g *globals) printDigest(digest string, v any) error {
	if g.output == "json" {
		return g.out().emit(v, nil)
	}
	_, err := fmt.Fprintln(g.stdout, digest)
	return err
}

// imageFlags are the flags of pull and copy (push takes no --platform).
type imageFlags struct {
	platforms   []string
	referrers   bool
	concurrency int
}

func (f *imageFlags) add(cmd *cobra.Command, all bool) {
	fl := cmd.Flags()
	fl.IntVar(&f.concurrency, "concurrency", 0, fmt.Sprintf("blobs and manifests moved at once (0: %d, at most %d)", azacr.DefaultImageConcurrency, azacr.MaxConcurrency))
	fl.BoolVar(&f.referrers, "referrers", false, "also transfer the artifacts (signatures, SBOMs) that refer to the image")
	if all {
		fl.StringSliceVar(&f.platforms, "platform", nil, "only these platforms of an index, os/arch[/variant]; repeat or separate with commas")
	}
}

// check validates the flags as usage errors, before anything is sent.
func (f *imageFlags) check() error {
	if f.concurrency < 0 || f.concurrency > azacr.MaxConcurrency {
		return usageErrorf("--concurrency %d: want 0 to %d", f.concurrency, azacr.MaxConcurrency)
	}
	for _, p := range f.platforms {
		parts := strings.Split(p, "/")
		ok := len(parts) == 2 || len(parts) == 3
		for _, s := range parts {
			ok = ok && s != "" && !strings.ContainsAny(s, " \t")
		}
		if !ok {
			return usageErrorf("--platform %q: want os/arch or os/arch/variant, like linux/amd64 or linux/arm64/v8", p)
		}
	}
	return nil
}

func pullCommand(g *globals) *cobra.Command {
	var f imageFlags
	cmd := &cobra.Command{
		Use:   "pull REGISTRY/REPO:TAG|@DIGEST DIR",
		Short: "Pull an image into an OCI image layout directory",
		Long: `Pull an image, with every manifest and blob under it, into the OCI image
layout at DIR (created when absent, added to when it exists). Everything is
checked against its digest as it arrives; a pull interrupted and run again
fetches only what is missing. index.json names the image by its tag (a
pull by digest lists it unnamed).
` + jsonResultHelp,
		Example: "  azacr pull myregistry.azurecr.io/hello-world:v1 ./hello\n  azacr pull --platform linux/amd64 myregistry.azurecr.io/base:3 ./base",
		Args:    args(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			ref, err := parseImage(a[0])
			if err != nil {
				return err
			}
			if a[1] == "" {
				return usageErrorf("pull needs a directory")
			}
			if err := f.check(); err != nil {
				return err
			}
			c, err := g.client(ref.Registry)
			if err != nil {
				return err
			}
			prog := g.startProgress("pull")
			resp, err := c.PullImage(cmd.Context(), ref.Repository, ref.Reference(), a[1], &azacr.ContainerRegistryClientPullImageOptions{
				Concurrency: f.concurrency, Platforms: f.platforms, Referrers: f.referrers, Progress: prog.image})
			prog.finish(err)
			if err != nil {
				return err
			}
			return g.printDigest(resp.Digest, transferJSON{Digest: resp.Digest, MediaType: resp.MediaType, Blobs: resp.Blobs, BytesTransferred: resp.BytesTransferred})
		},
	}
	f.add(cmd, true)
	return cmd
}

func pushCommand(g *globals) *cobra.Command {
	var f imageFlags
	var reference string
	cmd := &cobra.Command{
		Use:   "push DIR REGISTRY/REPO[:TAG]",
		Short: "Push an image from an OCI image layout directory",
		Long: `Push the image of the OCI image layout at DIR and tag it TAG (without a
tag, it is pushed by digest only). The image is the index.json entry that
--reference names (its org.opencontainers.image.ref.name, or a digest);
without it, the entry named like the tag, else the only entry. Blobs go
first and the tag last; blobs the repository has are not sent again.
` + jsonResultHelp,
		Example: "  azacr push ./hello myregistry.azurecr.io/hello-world:v1\n  azacr push --reference v2 ./hello myregistry.azurecr.io/hello-world:latest",
		Args:    args(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			ref, err := parseRepository(a[1])
			if err != nil {
				return err
			}
			if ref.Digest != "" {
				return usageErrorf("%q: push takes a tag, not a digest (the digest is the image's own)", a[1])
			}
			if a[0] == "" {
				return usageErrorf("push needs a directory")
			}
			if err := f.check(); err != nil {
				return err
			}
			c, err := g.client(ref.Registry)
			if err != nil {
				return err
			}
			prog := g.startProgress("push")
			resp, err := c.PushImage(cmd.Context(), a[0], ref.Repository, ref.Tag, &azacr.ContainerRegistryClientPushImageOptions{
				Concurrency: f.concurrency, Reference: reference, Referrers: f.referrers, Progress: prog.image})
			prog.finish(err)
			if err != nil {
				return err
			}
			return g.printDigest(resp.Digest, transferJSON{Digest: resp.Digest, MediaType: resp.MediaType, Blobs: resp.Blobs, BytesTransferred: resp.BytesTransferred, UpToDate: resp.UpToDate})
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&reference, "reference", "", "the layout's entry to push: its ref name (tag) or digest")
	return cmd
}

func copyCommand(g *globals) *cobra.Command {
	var f imageFlags
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy an image between repositories or registries",
		Long: `Copy the image SRC (REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST) to DST
(REGISTRY/REPO:TAG, or REGISTRY/REPO to copy it by digest only). Within one
registry blobs are mounted, moving no bytes; between registries they stream
from one to the other without touching the disk. Both registries are
signed in to with the same credential.
` + jsonResultHelp,
		Example: "  azacr copy myregistry.azurecr.io/hello-world:v1 myregistry.azurecr.io/mirror/hello-world:v1\n  azacr copy --platform linux/arm64 src.azurecr.io/base:3 dst.azurecr.io/base:3-arm64",
		Args:    args(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			src, err := parseImage(a[0])
			if err != nil {
				return err
			}
			dst, err := parseRepository(a[1])
			if err != nil {
				return err
			}
			if dst.Digest != "" {
				return usageErrorf("%q: the destination takes a tag, or none to copy by digest; not a digest", a[1])
			}
			if err := f.check(); err != nil {
				return err
			}
			from, err := g.client(src.Registry)
			if err != nil {
				return err
			}
			to := from
			if dst.Registry != src.Registry {
				if to, err = g.client(dst.Registry); err != nil {
					return err
				}
			}
			prog := g.startProgress("copy")
			resp, err := from.CopyImage(cmd.Context(), src.Repository, src.Reference(), to, dst.Repository, dst.Tag, &azacr.ContainerRegistryClientCopyImageOptions{
				Concurrency: f.concurrency, Platforms: f.platforms, Referrers: f.referrers, Progress: prog.image})
			prog.finish(err)
			if err != nil {
				return err
			}
			return g.printDigest(resp.Digest, transferJSON{Digest: resp.Digest, MediaType: resp.MediaType, Blobs: resp.Blobs, BytesTransferred: resp.BytesTransferred, UpToDate: resp.UpToDate})
		},
	}
	f.add(cmd, true)
	return cmd
}

func blobPushCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "push FILE REGISTRY/REPO",
		Short: "Upload a blob and print its digest",
		Long: `Upload FILE (- for standard input) as a blob of REPO and print its digest
alone on stdout; with --output json, {"digest": "sha256:…", "size": N}.
A blob the repository already has is not sent again when its digest is
known before sending (a file is hashed while it is sent).`,
		Example: "  azacr blob push ./config.json myregistry.azurecr.io/hello-world\n  tar c . | azacr blob push - myregistry.azurecr.io/hello-world",
		Args:    args(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			ref, err := parseRepository(a[1])
			if err != nil {
				return err
			}
			if ref.Reference() != "" {
				return usageErrorf("%q: blob push takes a repository alone, like %s/%s", a[1], ref.Registry, ref.Repository)
			}
			// The client first: the password may come first on stdin.
			c, err := g.blobClient(ref.Registry)
			if err != nil {
				return err
			}
			var body io.Reader = g.stdin
			if a[0] != "-" {
				file, err := os.Open(a[0])
				if err != nil {
					return err
				}
				defer file.Close()
				body = file
			}
			prog := g.startProgress("blob push")
			resp, err := c.UploadBlob(cmd.Context(), ref.Repository, body, &azacr.BlobClientUploadBlobOptions{Progress: prog.stream})
			prog.finish(err)
			if err != nil {
				return err
			}
			return g.printDigest(resp.Digest, blobJSON{Digest: resp.Digest, Size: resp.Size})
		},
	}
}

func blobPullCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pull REGISTRY/REPO@DIGEST FILE",
		Short: "Download a blob, verified against its digest",
		Long: `Download a blob into FILE (- for standard output), checked against its
digest. A file is written beside FILE and renamed to it only once the bytes
are verified, so a failed check leaves FILE as it was. On standard output
the bytes are written as they arrive: when the check fails at the end they
have already been written, and the command exits 1; discard the output
then.`,
		Example: "  azacr blob pull myregistry.azurecr.io/hello-world@sha256:… ./layer.tar\n  azacr blob pull myregistry.azurecr.io/hello-world@sha256:… - | tar t",
		Args:    args(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			ref, err := parseRepository(a[0])
			if err != nil {
				return err
			}
			if ref.Digest == "" || ref.Tag != "" {
				return usageErrorf("%q: blob pull takes REGISTRY/REPO@DIGEST", a[0])
			}
			if a[1] == "" {
				return usageErrorf("blob pull needs a file, or - for standard output")
			}
			c, err := g.blobClient(ref.Registry)
			if err != nil {
				return err
			}
			prog := g.startProgress("blob pull")
			if a[1] == "-" {
				err = pullBlobTo(cmd, c, ref, g.stdout, prog)
			} else {
				err = pullBlobFile(cmd, c, ref, a[1], prog)
			}
			prog.finish(err)
			return err
		},
	}
}

// pullBlobTo streams a blob to w, verified as it is read: the error at the
// end says when the bytes written were wrong.
func pullBlobTo(cmd *cobra.Command, c *azacr.BlobClient, ref reference, w io.Writer, prog *progress) error {
	resp, err := c.GetBlob(cmd.Context(), ref.Repository, ref.Digest, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	total := int64(-1)
	if resp.ContentLength != nil {
		total = *resp.ContentLength
	}
	_, err = io.Copy(w, &countingReader{r: resp.Body, total: total, report: prog.stream})
	return err
}

// pullBlobFile downloads a blob beside file and renames it into place
// once verified.
func pullBlobFile(cmd *cobra.Command, c *azacr.BlobClient, ref reference, file string, prog *progress) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".azacr-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = c.DownloadBlob(cmd.Context(), ref.Repository, ref.Digest, tmp, &azacr.BlobClientDownloadBlobOptions{Progress: prog.stream}); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r      io.Reader
	n      int64
	total  int64
	report func(done, total int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.report(c.n, c.total)
	}
	return n, err
}
