// Command quickstart walks through azacr against a registry: by default an
// embedded acrtest emulator, so it needs nothing but Go; with
// AZURE_CONTAINERREGISTRY_ENDPOINT set (like https://myregistry.azurecr.io),
// a real Azure Container Registry reached with DefaultAzureCredential.
//
//	go run ./cmd/quickstart
//
// Against a real registry the identity needs to push, read, write metadata
// and delete: the AcrPush and AcrDelete roles on the registry (or, on a
// registry with ABAC repository permissions, "Container Registry Repository
// Contributor" on the samples/hello repository), and AcrPull for the
// listing. The program creates samples/hello:v1 (and copies of it in
// samples/hello-backup and samples/hello-mirror) and removes them at the end.
// QUICKSTART_LAYER_MIB=64 pushes and pulls a layer of that size, showing
// transfer progress.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
)

const repository = "samples/hello"

func main() {
	log.SetFlags(0)
	ctx := context.Background()
	endpoint, cred, options := connect()

	client, err := azacr.NewContainerRegistryClient(endpoint, cred, options)
	check(err)
	blobs, err := azacr.NewBlobClient(endpoint, cred, &azacr.BlobClientOptions{ClientOptions: options.ClientOptions})
	check(err)
	fmt.Printf("registry: %s\n", endpoint)

	// 1. An image: its blobs first, then the manifest naming them, tagged v1.
	config, layer := sampleBlobs()
	for _, b := range [][]byte{config, layer} {
		res, err := blobs.UploadBlob(ctx, repository, bytes.NewReader(b), &azacr.BlobClientUploadBlobOptions{Progress: progress("uploading")})
		check(err)
		fmt.Printf("uploaded blob %s (%d bytes)\n", res.Digest, res.Size)
	}
	manifest, mediaType := sampleManifest()
	up, err := client.UploadManifest(ctx, repository, "v1", azacr.ContentType(mediaType), streaming.NopCloser(bytes.NewReader(manifest)), nil)
	check(err)
	fmt.Printf("uploaded manifest %s as %s:v1\n", *up.DockerContentDigest, repository)

	// 2. Listing: repositories, tags, manifests newest first.
	repos := client.NewListRepositoriesPager(nil)
	for repos.More() {
		page, err := repos.NextPage(ctx)
		check(err)
		for _, r := range page.Repositories.Repositories {
			fmt.Printf("repository: %s\n", *r)
		}
	}
	// Tags need no credential on a registry with anonymous pull enabled
	// (the emulator here has it); otherwise the signed-in client lists them.
	lister, err := azacr.NewContainerRegistryClient(endpoint, nil, options)
	check(err)
	if _, err := lister.NewListTagsPager(repository, nil).NextPage(ctx); err != nil {
		fmt.Println("anonymous pull is off on this registry; listing tags signed in")
		lister = client
	} else {
		fmt.Println("listing tags anonymously")
	}
	tags := lister.NewListTagsPager(repository, nil)
	for tags.More() {
		page, err := tags.NextPage(ctx)
		check(err)
		for _, t := range page.TagAttributeBases {
			fmt.Printf("tag: %s -> %s\n", *t.Name, *t.Digest)
		}
	}
	manifests := client.NewListManifestsPager(repository, &azacr.ContainerRegistryClientListManifestsOptions{
		OrderBy: to.Ptr(azacr.ArtifactManifestOrderByLastUpdatedOnDescending),
	})
	for manifests.More() {
		page, err := manifests.NextPage(ctx)
		check(err)
		for _, m := range page.Manifests.Manifests {
			fmt.Printf("manifest: %s (%s/%s, %d bytes)\n", *m.Digest, deref(m.OperatingSystem), deref(m.Architecture), *m.Size)
		}
	}

	// 3. Lock the tag, show that a delete is refused, unlock it.
	_, err = client.UpdateTagProperties(ctx, repository, "v1", &azacr.ContainerRegistryClientUpdateTagPropertiesOptions{
		Value: &azacr.TagWriteableProperties{CanWrite: to.Ptr(false), CanDelete: to.Ptr(false)},
	})
	check(err)
	_, err = client.DeleteTag(ctx, repository, "v1", nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		fmt.Printf("locked tag v1: delete refused with %d %s\n", re.StatusCode, re.ErrorCode)
	} else {
		log.Fatalf("expected the locked tag's delete to be refused, got %v", err)
	}
	_, err = client.UpdateTagProperties(ctx, repository, "v1", &azacr.ContainerRegistryClientUpdateTagPropertiesOptions{
		Value: &azacr.TagWriteableProperties{CanWrite: to.Ptr(true), CanDelete: to.Ptr(true)},
	})
	check(err)
	fmt.Println("unlocked tag v1")

	// 4. The whole image: pull it into an OCI image layout (every blob
	// verified against its digest), push it from there to another
	// repository, and copy it within the registry, where its blobs are
	// mounted rather than sent.
	got, err := client.GetManifest(ctx, repository, "v1", nil)
	check(err)
	m, err := got.DecodeImageManifest()
	check(err)
	dir, err := os.MkdirTemp("", "azacr-quickstart-")
	check(err)
	defer os.RemoveAll(dir)
	pulled, err := client.PullImage(ctx, repository, "v1", dir, &azacr.ContainerRegistryClientPullImageOptions{Progress: imageProgress("downloading")})
	check(err)
	fmt.Printf("pulled %s:v1 into an OCI image layout (%d blobs, %d bytes, verified)\n", repository, pulled.Blobs, pulled.BytesTransferred)
	pushed, err := client.PushImage(ctx, dir, repository+"-backup", "v1", nil)
	check(err)
	fmt.Printf("pushed the layout to %s-backup:v1 (%s)\n", repository, pushed.Digest)
	copied, err := client.CopyImage(ctx, repository, "v1", client, repository+"-mirror", "v1", nil)
	check(err)
	fmt.Printf("copied %s:v1 to %s-mirror:v1, %d blob bytes sent (every blob mounted)\n", repository, repository, copied.BytesTransferred)

	// 5. The Azure SDK READMEs' "delete images" story: push three newer
	// versions, then delete every image older than the newest three (v1
	// here).
	for v := 2; v <= 4; v++ {
		body, mt := sampleManifestVersion(v)
		_, err := client.UploadManifest(ctx, repository, fmt.Sprintf("v%d", v), azacr.ContentType(mt), streaming.NopCloser(bytes.NewReader(body)), nil)
		check(err)
	}
	newest := client.NewListManifestsPager(repository, &azacr.ContainerRegistryClientListManifestsOptions{
		OrderBy: to.Ptr(azacr.ArtifactManifestOrderByLastUpdatedOnDescending),
	})
	kept := 0
	for newest.More() {
		page, err := newest.NextPage(ctx)
		check(err)
		for _, m := range page.Manifests.Manifests {
			if kept++; kept <= 3 {
				continue
			}
			_, err := client.DeleteManifest(ctx, repository, *m.Digest, nil)
			check(err)
			fmt.Printf("deleted image %s (tags %s), older than the newest three\n", *m.Digest, tagList(m.Tags))
		}
	}

	// 6. Clean up: the remaining manifests and their tags, then the blobs.
	for v := 2; v <= 4; v++ {
		_, err = client.DeleteManifest(ctx, repository, fmt.Sprintf("v%d", v), nil)
		check(err)
	}
	fmt.Println("deleted v2, v3 and v4")
	for _, d := range append([]azacr.Descriptor{m.Config}, m.Layers...) {
		_, err := blobs.DeleteBlob(ctx, repository, d.Digest, nil)
		check(err)
		fmt.Printf("deleted blob %s\n", d.Digest)
	}
	for _, r := range []string{repository + "-backup", repository + "-mirror"} {
		_, err := client.DeleteRepository(ctx, r, nil)
		check(err)
		fmt.Printf("deleted repository %s\n", r)
	}
}

// connect picks the registry: a real one from the environment, or an
// embedded emulator that redirects blob reads to a storage host, as ACR does.
func connect() (string, azcore.TokenCredential, *azacr.ContainerRegistryClientOptions) {
	if ep := os.Getenv("AZURE_CONTAINERREGISTRY_ENDPOINT"); ep != "" {
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		check(err)
		return ep, cred, &azacr.ContainerRegistryClientOptions{}
	}
	srv := acrtest.NewUnstartedServer(&acrtest.Options{RedirectBlobs: true, AnonymousPull: true})
	srv.Start()
	return srv.URL, srv.Credential(), &azacr.ContainerRegistryClientOptions{ClientOptions: srv.ClientOptions()}
}

func sampleBlobs() (config, layer []byte) {
	layer = []byte("hello world\n")
	if mib, err := strconv.Atoi(os.Getenv("QUICKSTART_LAYER_MIB")); err == nil && mib > 0 {
		layer = bytes.Repeat([]byte("hello world\n"), mib<<20/12)
	}
	return []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`), layer
}

// progress prints a transfer's progress at most every 16 MiB, and at the
// end; small transfers print nothing.
func progress(verb string) func(done, total int64) {
	var last int64
	return func(done, total int64) {
		if total < 16<<20 || (done-last < 16<<20 && done != total) {
			return
		}
		last = done
		fmt.Printf("  %s: %d of %d MiB\n", verb, done>>20, total>>20)
	}
}

// imageProgress reports a whole-image transfer as progress does a blob.
func imageProgress(verb string) func(azacr.ImageProgress) {
	report := progress(verb)
	return func(p azacr.ImageProgress) { report(p.TotalTransferred, p.Total) }
}

func tagList(tags []*string) string {
	var out []string
	for _, t := range tags {
		out = append(out, *t)
	}
	return strings.Join(out, ",")
}

func sampleManifest() ([]byte, string) { return sampleManifestVersion(1) }

// sampleManifestVersion is the sample image; versions differ by an
// annotation, so each has its own digest.
func sampleManifestVersion(v int) ([]byte, string) {
	config, layer := sampleBlobs()
	m := azacr.ImageManifest{
		SchemaVersion: 2,
		MediaType:     string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config:        azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: azacr.ComputeDigest(config), Size: int64(len(config))},
		Layers: []azacr.Descriptor{{
			MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: azacr.ComputeDigest(layer), Size: int64(len(layer)),
			Annotations: map[string]string{"org.opencontainers.image.title": "hello.txt"},
		}},
		Annotations: map[string]string{"org.opencontainers.image.version": strconv.Itoa(v)},
	}
	b, err := json.Marshal(m)
	check(err)
	return b, m.MediaType
}

func deref[T ~string](p *T) string {
	if p == nil {
		return "-"
	}
	return string(*p)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
