// Command quickstart walks through azacr against a registry: by default an
// embedded acrtest emulator, so it needs nothing but Go; with
// AZURE_CONTAINERREGISTRY_ENDPOINT set, a real Azure Container Registry
// reached with DefaultAzureCredential.
//
//	go run ./cmd/quickstart
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
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
		res, err := blobs.UploadBlob(ctx, repository, bytes.NewReader(b), nil)
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
	tags := client.NewListTagsPager(repository, nil)
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

	// 4. Download the image: the manifest, then each blob, every one
	// verified against its digest, into a temporary directory.
	got, err := client.GetManifest(ctx, repository, "v1", nil)
	check(err)
	m, err := got.DecodeImageManifest()
	check(err)
	dir, err := os.MkdirTemp("", "azacr-quickstart-")
	check(err)
	defer os.RemoveAll(dir)
	for _, d := range append([]azacr.Descriptor{m.Config}, m.Layers...) {
		f, err := os.Create(filepath.Join(dir, strings.ReplaceAll(d.Digest, ":", "-")))
		check(err)
		res, err := blobs.DownloadBlob(ctx, repository, d.Digest, f, nil)
		check(err)
		check(f.Close())
		fmt.Printf("downloaded %s (%d bytes, verified)\n", d.Digest, res.Size)
	}

	// 5. Clean up: the manifest and its tags, then its blobs.
	_, err = client.DeleteManifest(ctx, repository, "v1", nil)
	check(err)
	fmt.Printf("deleted manifest %s and its tags\n", *got.DockerContentDigest)
	for _, d := range append([]azacr.Descriptor{m.Config}, m.Layers...) {
		_, err := blobs.DeleteBlob(ctx, repository, d.Digest, nil)
		check(err)
		fmt.Printf("deleted blob %s\n", d.Digest)
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
	srv := acrtest.NewUnstartedServer(&acrtest.Options{RedirectBlobs: true})
	srv.Start()
	return srv.URL, srv.Credential(), &azacr.ContainerRegistryClientOptions{ClientOptions: srv.ClientOptions()}
}

func sampleBlobs() (config, layer []byte) {
	return []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`), []byte("hello world\n")
}

func sampleManifest() ([]byte, string) {
	config, layer := sampleBlobs()
	m := azacr.ImageManifest{
		SchemaVersion: 2,
		MediaType:     string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config:        azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: azacr.ComputeDigest(config), Size: int64(len(config))},
		Layers: []azacr.Descriptor{{
			MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: azacr.ComputeDigest(layer), Size: int64(len(layer)),
			Annotations: map[string]string{"org.opencontainers.image.title": "hello.txt"},
		}},
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
