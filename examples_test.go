package azacr_test

// Runnable examples, one per operation. Each starts an acrtest emulator of
// its own, so `go test` runs it and checks its output; against a real
// registry, create the clients as in the examples of
// NewContainerRegistryClient and NewBlobClient instead.
//
// The lines between "// setup" and "// end setup" stand in for that
// client creation and for seeding the emulator. README.md shows the rest
// of many examples verbatim; readme_test.go keeps the two in sync.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
)

// exServer starts an emulated registry for one example, which closes it.
// Examples have no testing.TB, so acrtest.NewServer is not an option.
func exServer(opts *acrtest.Options) *acrtest.Server {
	srv := acrtest.NewUnstartedServer(opts)
	srv.Start()
	return srv
}

func exClient(srv *acrtest.Server) *azacr.ContainerRegistryClient {
	client, err := azacr.NewContainerRegistryClient(srv.URL, srv.Credential(),
		&azacr.ContainerRegistryClientOptions{ClientOptions: srv.ClientOptions()})
	if err != nil {
		log.Fatal(err)
	}
	return client
}

func exBlobClient(srv *acrtest.Server) *azacr.BlobClient {
	client, err := azacr.NewBlobClient(srv.URL, srv.Credential(),
		&azacr.BlobClientOptions{ClientOptions: srv.ClientOptions()})
	if err != nil {
		log.Fatal(err)
	}
	return client
}

// exConfig is the config blob of every example image: fixed bytes, so
// every digest an example prints is the same on every run.
var exConfig = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)

// exImage seeds a linux/amd64 image with one layer holding layer, tagged
// tag (when not empty), and returns the manifest's descriptor.
func exImage(srv *acrtest.Server, repository, tag, layer string) azacr.Descriptor {
	m := azacr.ImageManifest{
		SchemaVersion: 2,
		MediaType:     string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config: azacr.Descriptor{
			MediaType: "application/vnd.oci.image.config.v1+json",
			Digest:    srv.PutBlob(repository, exConfig),
			Size:      int64(len(exConfig)),
		},
		Layers: []azacr.Descriptor{{
			MediaType: "application/vnd.oci.image.layer.v1.tar",
			Digest:    srv.PutBlob(repository, []byte(layer)),
			Size:      int64(len(layer)),
		}},
	}
	return exPutManifest(srv, repository, tag, m)
}

// exSignature seeds an artifact of type artifactType whose subject is
// subject, as signing tools push signatures.
func exSignature(srv *acrtest.Server, repository, artifactType string, subject azacr.Descriptor) azacr.Descriptor {
	empty := []byte("{}")
	signature := []byte("signature of " + subject.Digest)
	m := azacr.ImageManifest{
		SchemaVersion: 2,
		MediaType:     string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		ArtifactType:  artifactType,
		Config:        azacr.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: srv.PutBlob(repository, empty), Size: int64(len(empty))},
		Layers:        []azacr.Descriptor{{MediaType: "application/octet-stream", Digest: srv.PutBlob(repository, signature), Size: int64(len(signature))}},
		Subject:       &subject,
	}
	return exPutManifest(srv, repository, "", m)
}

func exPutManifest(srv *acrtest.Server, repository, tag string, m azacr.ImageManifest) azacr.Descriptor {
	body, err := json.Marshal(m)
	if err != nil {
		log.Fatal(err)
	}
	reference := tag
	if reference == "" {
		reference = azacr.ComputeDigest(body)
	}
	digest, err := srv.PutManifest(repository, reference, m.MediaType, body)
	if err != nil {
		log.Fatal(err)
	}
	return azacr.Descriptor{MediaType: m.MediaType, Digest: digest, Size: int64(len(body))}
}

// exContent is deterministic content of n bytes, big enough to take
// several chunks or blocks.
func exContent(n int) []byte {
	return bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
}

func ExampleNewContainerRegistryClient() {
	// setup: the emulator's endpoint, credential and TLS trust
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	endpoint, cred := srv.URL, srv.Credential()
	options := &azacr.ContainerRegistryClientOptions{ClientOptions: srv.ClientOptions()}
	// end setup

	client, err := azacr.NewContainerRegistryClient(endpoint, cred, options)
	if err != nil {
		log.Fatal(err)
	}
	props, err := client.GetRepositoryProperties(context.Background(), "hello-world", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*props.Name)
	// Output:
	// hello-world
}

// Microsoft Entra ID is the usual way in: DefaultAzureCredential finds
// a managed identity, workload identity, environment variables or a
// developer login. This example needs a real registry, so it only compiles.
func ExampleNewContainerRegistryClient_defaultAzureCredential() {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		log.Fatal(err)
	}
	client, err := azacr.NewContainerRegistryClient("https://myregistry.azurecr.io", cred, nil)
	if err != nil {
		log.Fatal(err)
	}
	_ = client
}

// In a national cloud, the credential authenticates against that cloud's
// Microsoft Entra authority. The default audience is accepted in every
// cloud; Audience is for registries that require Azure Resource Manager
// audience tokens. This example needs a real registry, so it only compiles.
func ExampleNewContainerRegistryClient_nationalCloud() {
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: cloud.AzureChina},
	})
	if err != nil {
		log.Fatal(err)
	}
	client, err := azacr.NewContainerRegistryClient("https://myregistry.azurecr.cn", cred, &azacr.ContainerRegistryClientOptions{
		// Needed only by registries that require an Azure Resource
		// Manager audience; empty means DefaultAudience.
		Audience: "https://management.core.chinacloudapi.cn",
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = client
}

// A nil credential reads from a registry with anonymous pull enabled.
func ExampleContainerRegistryClient_NewListTagsPager_anonymous() {
	// setup: a registry with anonymous pull, and TLS trust for it
	srv := exServer(&acrtest.Options{AnonymousPull: true})
	defer srv.Close()
	exImage(srv, "library/hello-world", "latest", "hello")
	exImage(srv, "library/hello-world", "v1", "hello, v1")
	endpoint := srv.URL
	options := &azacr.ContainerRegistryClientOptions{ClientOptions: srv.ClientOptions()}
	// end setup

	client, err := azacr.NewContainerRegistryClient(endpoint, nil, options)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	pager := client.NewListTagsPager("library/hello-world", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, tag := range page.TagAttributeBases {
			fmt.Println("tag:", *tag.Name)
		}
	}
	// Output:
	// tag: latest
	// tag: v1
}

// The registry's admin user, or a repository-scoped token, logs in with a
// username and password.
func ExampleNewPasswordCredential() {
	// setup: a registry with a repository-scoped token
	srv := exServer(&acrtest.Options{Users: []acrtest.User{{
		Name: "hello-reader", Password: "token-password",
		Repositories: map[string][]string{"hello-world": {"pull", "metadata_read"}},
	}}})
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	endpoint := srv.URL
	options := &azacr.ContainerRegistryClientOptions{ClientOptions: srv.ClientOptions()}
	// end setup

	cred := azacr.NewPasswordCredential("hello-reader", "token-password")
	client, err := azacr.NewContainerRegistryClient(endpoint, cred, options)
	if err != nil {
		log.Fatal(err)
	}
	tag, err := client.GetTagProperties(context.Background(), "hello-world", "latest", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("tag:", *tag.Tag.Name)
	// Output:
	// tag: latest
}

func ExampleNewBlobClient() {
	// setup: the emulator's endpoint, credential and TLS trust
	srv := exServer(nil)
	defer srv.Close()
	endpoint, cred := srv.URL, srv.Credential()
	options := &azacr.BlobClientOptions{ClientOptions: srv.ClientOptions()}
	// end setup

	blobClient, err := azacr.NewBlobClient(endpoint, cred, options)
	if err != nil {
		log.Fatal(err)
	}
	res, err := blobClient.UploadBlob(context.Background(), "hello-world", strings.NewReader("hello world"), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Digest)
	// Output:
	// sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9
}

func ExampleContainerRegistryClient_NewListRepositoriesPager() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	exImage(srv, "samples/nginx", "1.27", "nginx")
	client := exClient(srv)
	// end setup

	ctx := context.Background()
	pager := client.NewListRepositoriesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, name := range page.Repositories.Repositories {
			fmt.Println("repository:", *name)
		}
	}
	// Output:
	// repository: hello-world
	// repository: samples/nginx
}

func ExampleContainerRegistryClient_GetRepositoryProperties() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	exImage(srv, "hello-world", "v2", "hello again")
	client := exClient(srv)
	// end setup

	props, err := client.GetRepositoryProperties(context.Background(), "hello-world", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d manifests, %d tags\n", *props.Name, *props.ManifestCount, *props.TagCount)
	// Output:
	// hello-world: 2 manifests, 2 tags
}

// Hiding a repository from the catalog, and making it read-only.
func ExampleContainerRegistryClient_UpdateRepositoryProperties() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	client := exClient(srv)
	// end setup

	res, err := client.UpdateRepositoryProperties(context.Background(), "hello-world", &azacr.ContainerRegistryClientUpdateRepositoryPropertiesOptions{
		Value: &azacr.RepositoryWriteableProperties{CanList: to.Ptr(false), CanWrite: to.Ptr(false)},
	})
	if err != nil {
		log.Fatal(err)
	}
	attrs := res.ChangeableAttributes
	fmt.Printf("list: %t, write: %t, read: %t\n", *attrs.CanList, *attrs.CanWrite, *attrs.CanRead)
	// Output:
	// list: false, write: false, read: true
}

func ExampleContainerRegistryClient_DeleteRepository() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	exImage(srv, "hello-world", "v2", "hello again")
	client := exClient(srv)
	// end setup

	res, err := client.DeleteRepository(context.Background(), "hello-world", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("deleted %d manifests and %d tags\n", len(res.DeletedManifests), len(res.DeletedTags))
	// Output:
	// deleted 2 manifests and 2 tags
}

// Tags newest first, with the manifest each points to.
func ExampleContainerRegistryClient_NewListTagsPager() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "v1", "hello")
	exImage(srv, "hello-world", "v2", "hello again")
	client := exClient(srv)
	// end setup

	ctx := context.Background()
	pager := client.NewListTagsPager("hello-world", &azacr.ContainerRegistryClientListTagsOptions{
		OrderBy: to.Ptr(azacr.ArtifactTagOrderByLastUpdatedOnDescending),
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, tag := range page.TagAttributeBases {
			fmt.Println(*tag.Name, *tag.Digest)
		}
	}
	// Output:
	// v2 sha256:c3060662714a5585f855a31b9028b24e70edcc4fc63970e3ea304ef15eb03648
	// v1 sha256:8a2d898df57047246035e19407fd74f8f37afc29d44febea7e3275b7979f3ba3
}

func ExampleContainerRegistryClient_GetTagProperties() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	client := exClient(srv)
	// end setup

	res, err := client.GetTagProperties(context.Background(), "hello-world", "latest", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*res.Tag.Name, "->", *res.Tag.Digest)
	fmt.Println("can delete:", *res.Tag.ChangeableAttributes.CanDelete)
	// Output:
	// latest -> sha256:8a2d898df57047246035e19407fd74f8f37afc29d44febea7e3275b7979f3ba3
	// can delete: true
}

// Locking a tag keeps it from being moved to another image or deleted.
func ExampleContainerRegistryClient_UpdateTagProperties() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "library/hello-world", "latest", "hello")
	client := exClient(srv)
	// end setup

	res, err := client.UpdateTagProperties(context.Background(), "library/hello-world", "latest", &azacr.ContainerRegistryClientUpdateTagPropertiesOptions{
		Value: &azacr.TagWriteableProperties{CanWrite: to.Ptr(false), CanDelete: to.Ptr(false)},
	})
	if err != nil {
		log.Fatal(err)
	}
	attrs := res.Tag.ChangeableAttributes
	fmt.Printf("library/hello-world:latest can write: %t, can delete: %t\n", *attrs.CanWrite, *attrs.CanDelete)
	// Output:
	// library/hello-world:latest can write: false, can delete: false
}

// Deleting a tag leaves the image it pointed to in place.
func ExampleContainerRegistryClient_DeleteTag() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	client := exClient(srv)
	// end setup

	ctx := context.Background()
	if _, err := client.DeleteTag(ctx, "hello-world", "latest", nil); err != nil {
		log.Fatal(err)
	}
	props, err := client.GetRepositoryProperties(ctx, "hello-world", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d manifests, %d tags\n", *props.ManifestCount, *props.TagCount)
	// Output:
	// 1 manifests, 0 tags
}

func ExampleContainerRegistryClient_NewListManifestsPager() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "v1", "hello")
	exImage(srv, "hello-world", "v2", "hello again")
	client := exClient(srv)
	// end setup

	ctx := context.Background()
	pager := client.NewListManifestsPager("hello-world", &azacr.ContainerRegistryClientListManifestsOptions{
		OrderBy: to.Ptr(azacr.ArtifactManifestOrderByLastUpdatedOnDescending),
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, m := range page.Manifests.Manifests {
			fmt.Print(*m.Digest)
			for _, tag := range m.Tags {
				fmt.Print(" ", *tag)
			}
			fmt.Println()
		}
	}
	// Output:
	// sha256:c3060662714a5585f855a31b9028b24e70edcc4fc63970e3ea304ef15eb03648 v2
	// sha256:8a2d898df57047246035e19407fd74f8f37afc29d44febea7e3275b7979f3ba3 v1
}

// A tag is accepted wherever a digest is: it is resolved first.
func ExampleContainerRegistryClient_GetManifestProperties() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	client := exClient(srv)
	// end setup

	res, err := client.GetManifestProperties(context.Background(), "hello-world", "latest", nil)
	if err != nil {
		log.Fatal(err)
	}
	m := res.Manifest
	fmt.Printf("%s %s/%s, %d bytes of layers\n", *m.Digest, *m.OperatingSystem, *m.Architecture, *m.Size)
	// Output:
	// sha256:8a2d898df57047246035e19407fd74f8f37afc29d44febea7e3275b7979f3ba3 linux/amd64, 5 bytes of layers
}

func ExampleContainerRegistryClient_UpdateManifestProperties() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	client := exClient(srv)
	// end setup

	res, err := client.UpdateManifestProperties(context.Background(), "hello-world", "latest", &azacr.ContainerRegistryClientUpdateManifestPropertiesOptions{
		Value: &azacr.ManifestWriteableProperties{CanDelete: to.Ptr(false)},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("can delete:", *res.Manifest.ChangeableAttributes.CanDelete)
	// Output:
	// can delete: false
}

// Deleting a manifest deletes every tag pointing to it.
func ExampleContainerRegistryClient_DeleteManifest() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	exImage(srv, "hello-world", "v2", "hello again")
	client := exClient(srv)
	// end setup

	ctx := context.Background()
	if _, err := client.DeleteManifest(ctx, "hello-world", "latest", nil); err != nil {
		log.Fatal(err)
	}
	props, err := client.GetRepositoryProperties(ctx, "hello-world", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d manifests, %d tags\n", *props.ManifestCount, *props.TagCount)
	// Output:
	// 1 manifests, 1 tags
}

// Downloading an image starts with its manifest, which lists the blobs
// to fetch next.
func ExampleContainerRegistryClient_GetManifest() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	client := exClient(srv)
	// end setup

	res, err := client.GetManifest(context.Background(), "hello-world", "latest", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*res.ContentType, *res.DockerContentDigest)
	manifest, err := res.DecodeImageManifest()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("config:", manifest.Config.Digest)
	for _, layer := range manifest.Layers {
		fmt.Println("layer:", layer.Digest, layer.Size)
	}
	// Output:
	// application/vnd.oci.image.manifest.v1+json sha256:8a2d898df57047246035e19407fd74f8f37afc29d44febea7e3275b7979f3ba3
	// config: sha256:c5b1d63604f273462ef36fadac3182d43ae6a6138731cf594b314835cf1c034f
	// layer: sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 5
}

// Uploading an image: its blobs first, then the manifest that names them.
func ExampleContainerRegistryClient_UploadManifest() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	client, blobClient := exClient(srv), exBlobClient(srv)
	// end setup

	ctx := context.Background()
	layer := []byte("hello world")
	layerRes, err := blobClient.UploadBlob(ctx, "library/hello-world", bytes.NewReader(layer), nil)
	if err != nil {
		log.Fatal(err)
	}
	config := []byte(`{"architecture":"amd64","os":"windows","rootfs":{"type":"layers","diff_ids":[]}}`)
	configRes, err := blobClient.UploadBlob(ctx, "library/hello-world", bytes.NewReader(config), nil)
	if err != nil {
		log.Fatal(err)
	}
	manifest, err := json.Marshal(azacr.ImageManifest{
		SchemaVersion: 2,
		MediaType:     string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config:        azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: configRes.Digest, Size: configRes.Size},
		Layers: []azacr.Descriptor{{
			MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: layerRes.Digest, Size: layerRes.Size,
			Annotations: map[string]string{"org.opencontainers.image.title": "artifact.txt"},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.UploadManifest(ctx, "library/hello-world", "1.0.0", azacr.ContentTypeApplicationVndOCIImageManifestV1JSON,
		streaming.NopCloser(bytes.NewReader(manifest)), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("uploaded manifest", *res.DockerContentDigest)
	// Output:
	// uploaded manifest sha256:df7fd14b19c3acbc15024820856dfaf34a4531214add2a4f3a6fbe4a9c7cb458
}

// Signatures, SBOMs and attestations refer to an image by its digest.
func ExampleContainerRegistryClient_NewListReferrersPager() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	subject := exImage(srv, "hello-world", "v1", "hello")
	exSignature(srv, "hello-world", "application/vnd.example.signature", subject)
	exSignature(srv, "hello-world", "application/vnd.example.sbom", subject)
	client := exClient(srv)
	// end setup

	ctx := context.Background()
	image, err := client.GetManifestProperties(ctx, "hello-world", "v1", nil)
	if err != nil {
		log.Fatal(err)
	}
	pager := client.NewListReferrersPager("hello-world", *image.Manifest.Digest, &azacr.ContainerRegistryClientListReferrersOptions{
		ArtifactType: to.Ptr("application/vnd.example.signature"),
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range page.Referrers {
			fmt.Println(r.ArtifactType, r.Digest)
		}
	}
	// Output:
	// application/vnd.example.signature sha256:94372581f340d36c0d452886fbf31134303e590c920ad16ccdad1c4c9eae9e95
}

// Keeping the three most recent images of every repository and deleting
// the rest.
func Example_deleteImages() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	for _, v := range []string{"v1", "v2", "v3", "v4", "v5"} {
		exImage(srv, "hello-world", v, "hello "+v)
	}
	client := exClient(srv)
	// end setup

	ctx := context.Background()
	const imagesToKeep = 3
	repositories := client.NewListRepositoriesPager(nil)
	for repositories.More() {
		page, err := repositories.NextPage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, repository := range page.Repositories.Repositories {
			manifests := client.NewListManifestsPager(*repository, &azacr.ContainerRegistryClientListManifestsOptions{
				OrderBy: to.Ptr(azacr.ArtifactManifestOrderByLastUpdatedOnDescending),
			})
			seen := 0
			for manifests.More() {
				page, err := manifests.NextPage(ctx)
				if err != nil {
					log.Fatal(err)
				}
				for _, m := range page.Manifests.Manifests {
					if seen++; seen <= imagesToKeep {
						continue
					}
					// Deleting the manifest deletes its tags too.
					if _, err := client.DeleteManifest(ctx, *repository, *m.Digest, nil); err != nil {
						log.Fatal(err)
					}
					fmt.Printf("deleted %s@%s\n", *repository, *m.Digest)
				}
			}
		}
	}
	// Output:
	// deleted hello-world@sha256:d08316a05f226ae2de76193d45ce67fd021df0d2d9fc4a972f9b443935eedc79
	// deleted hello-world@sha256:4dad806ccf4e6ca78edbf707ea45c79721686cd6b1aef5319842be82455de693
}

// Uploading a file, reporting progress after each chunk the registry
// accepts (4 MiB by default).
func ExampleBlobClient_UploadBlob() {
	// setup: a 10 MiB file to upload
	srv := exServer(nil)
	defer srv.Close()
	blobClient := exBlobClient(srv)
	dir, err := os.MkdirTemp("", "azacr-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "layer.tar")
	if err := os.WriteFile(path, exContent(10<<20), 0o600); err != nil {
		log.Fatal(err)
	}
	// end setup

	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	res, err := blobClient.UploadBlob(context.Background(), "hello-world", f, &azacr.BlobClientUploadBlobOptions{
		Progress: func(sent, total int64) { fmt.Printf("sent %d of %d bytes\n", sent, total) },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("uploaded", res.Digest)
	// Output:
	// sent 4194304 of 10485760 bytes
	// sent 8388608 of 10485760 bytes
	// sent 10485760 of 10485760 bytes
	// uploaded sha256:3f5862181da2da49ce240dea1c5cfdafda27f0864f7576b59b0b437c3e463bfd
}

// Uploading a blob and downloading it again. Reading Body to its end
// verifies the content against the digest.
func ExampleBlobClient_GetBlob() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	blobClient := exBlobClient(srv)
	// end setup

	ctx := context.Background()
	uploaded, err := blobClient.UploadBlob(ctx, "library/hello-world", strings.NewReader("hello world"), nil)
	if err != nil {
		log.Fatal(err)
	}
	downloaded, err := blobClient.GetBlob(ctx, "library/hello-world", uploaded.Digest, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer downloaded.Body.Close()
	blob, err := io.ReadAll(downloaded.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("blob content: %s\n", blob)
	// Output:
	// blob content: hello world
}

// A damaged download fails at the Read that reaches its end, instead of
// ending as if all were well.
func ExampleBlobClient_GetBlob_digestMismatch() {
	// setup: a registry whose blob downloads arrive corrupted
	srv := exServer(nil)
	defer srv.Close()
	digest := srv.PutBlob("hello-world", []byte("hello world"))
	srv.InjectFault(acrtest.Fault{Method: http.MethodGet, Path: "/blobs/", CorruptBody: true})
	blobClient := exBlobClient(srv)
	// end setup

	blob, err := blobClient.GetBlob(context.Background(), "hello-world", digest, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer blob.Body.Close()
	_, err = io.ReadAll(blob.Body)
	if errors.Is(err, azacr.ErrDigestMismatch) {
		fmt.Println("corrupted in transit: discard what was read")
	}
	// Output:
	// corrupted in transit: discard what was read
}

// GetChunk reads a range of a blob. A range cannot be checked against the
// blob's digest; DownloadBlob checks the whole.
func ExampleBlobClient_GetChunk() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	digest := srv.PutBlob("hello-world", []byte("hello world"))
	blobClient := exBlobClient(srv)
	// end setup

	chunk, err := blobClient.GetChunk(context.Background(), "hello-world", digest, 6, 10, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer chunk.Body.Close()
	b, err := io.ReadAll(chunk.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (%s)\n", b, *chunk.ContentRange)
	// Output:
	// world (bytes 6-10/11)
}

// Downloading a blob to a file with four ranged GETs at a time; the
// digest of the whole is verified.
func ExampleBlobClient_DownloadBlob() {
	// setup: a 10 MiB blob, and a directory to download it to
	srv := exServer(nil)
	defer srv.Close()
	digest := srv.PutBlob("hello-world", exContent(10<<20))
	blobClient := exBlobClient(srv)
	dir, err := os.MkdirTemp("", "azacr-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// end setup

	f, err := os.Create(filepath.Join(dir, "layer.tar"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	res, err := blobClient.DownloadBlob(context.Background(), "hello-world", digest, f, &azacr.BlobClientDownloadBlobOptions{
		Concurrency: 4,
	})
	if err != nil {
		log.Fatal(err) // with ErrDigestMismatch, the file's content must not be used
	}
	fmt.Printf("downloaded %d bytes\n", res.Size)
	// Output:
	// downloaded 10485760 bytes
}

// The steps UploadBlob takes, for callers who drive an upload themselves:
// start a session, send chunks, ask how much arrived, complete it with the
// digest. Each step answers with the session's next location.
func ExampleBlobClient_StartUpload() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	blobClient := exBlobClient(srv)
	// end setup

	ctx := context.Background()
	content := []byte("hello, registry")
	session, err := blobClient.StartUpload(ctx, "hello-world", nil)
	if err != nil {
		log.Fatal(err)
	}
	location := *session.Location
	for _, r := range [][2]int64{{0, 5}, {6, int64(len(content)) - 1}} {
		chunk, err := blobClient.UploadChunk(ctx, location, streaming.NopCloser(bytes.NewReader(content[r[0]:r[1]+1])),
			&azacr.BlobClientUploadChunkOptions{RangeStart: to.Ptr(r[0]), RangeEnd: to.Ptr(r[1])})
		if err != nil {
			log.Fatal(err)
		}
		location = *chunk.Location
	}
	status, err := blobClient.GetUploadStatus(ctx, location, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("received:", *status.Range)
	done, err := blobClient.CompleteUpload(ctx, *status.Location, azacr.ComputeDigest(content), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored:", *done.DockerContentDigest)

	// A session that is not completed is abandoned with CancelUpload.
	abandoned, err := blobClient.StartUpload(ctx, "hello-world", nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := blobClient.CancelUpload(ctx, *abandoned.Location, nil); err != nil {
		log.Fatal(err)
	}
	// Output:
	// received: 0-14
	// stored: sha256:d4ceac3b8b759b17b86618c4165bb23a506c157c81a034147cf8e3510691aa1c
}

// Copying a blob between repositories of one registry: a mount links it
// without moving the bytes; when the registry declines, copy them.
func ExampleBlobClient_MountBlob() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	digest := srv.PutBlob("hello-world", []byte("hello world"))
	blobClient := exBlobClient(srv)
	// end setup

	ctx := context.Background()
	mount, err := blobClient.MountBlob(ctx, "backup/hello-world", "hello-world", digest, nil)
	if err != nil {
		log.Fatal(err)
	}
	if !mount.Mounted {
		// The registry opened an upload session instead; drop it and
		// upload the bytes.
		if _, err := blobClient.CancelUpload(ctx, *mount.Location, nil); err != nil {
			log.Fatal(err)
		}
		blob, err := blobClient.GetBlob(ctx, "hello-world", digest, nil)
		if err != nil {
			log.Fatal(err)
		}
		defer blob.Body.Close()
		_, err = blobClient.UploadBlob(ctx, "backup/hello-world", blob.Body, &azacr.BlobClientUploadBlobOptions{Digest: digest})
		if err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("mounted:", mount.Mounted)
	// Output:
	// mounted: true
}

func ExampleBlobClient_CheckBlobExists() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	digest := srv.PutBlob("hello-world", []byte("hello world"))
	blobClient := exBlobClient(srv)
	// end setup

	res, err := blobClient.CheckBlobExists(context.Background(), "hello-world", digest, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("exists: %t, %d bytes\n", res.Exists, *res.ContentLength)
	// Output:
	// exists: true, 11 bytes
}

func ExampleBlobClient_DeleteBlob() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	digest := srv.PutBlob("hello-world", []byte("hello world"))
	blobClient := exBlobClient(srv)
	// end setup

	ctx := context.Background()
	if _, err := blobClient.DeleteBlob(ctx, "hello-world", digest, nil); err != nil {
		log.Fatal(err)
	}
	res, err := blobClient.CheckBlobExists(ctx, "hello-world", digest, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exists:", res.Exists)
	// Output:
	// exists: false
}

// Verifying content from any source, such as a cache, without holding
// it in memory.
func ExampleNewVerifyingReader() {
	want := azacr.ComputeDigest([]byte("hello world"))
	r, err := azacr.NewVerifyingReader(strings.NewReader("hello w0rld"), want, 11)
	if err != nil {
		log.Fatal(err)
	}
	_, err = io.ReadAll(r)
	fmt.Println(errors.Is(err, azacr.ErrDigestMismatch))
	// Output:
	// true
}

func ExampleComputeDigest() {
	fmt.Println(azacr.ComputeDigest([]byte("hello world")))
	// Output:
	// sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9
}

// Names are checked before any request; the error says what is wrong.
func ExampleValidateRepository() {
	for _, name := range []string{"library/hello-world", "Hello-World", "hello//world"} {
		err := azacr.ValidateRepository(name)
		fmt.Println(name, errors.Is(err, azacr.ErrInvalidRepository))
	}
	// Output:
	// library/hello-world false
	// Hello-World true
	// hello//world true
}

// HTTP failures are *azcore.ResponseError carrying ACR's error code;
// malformed input is refused before any request.
func ExampleContainerRegistryClient_GetRepositoryProperties_errorHandling() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	client := exClient(srv)
	// end setup

	ctx := context.Background()
	_, err := client.GetRepositoryProperties(ctx, "does-not-exist", nil)
	var respErr *azcore.ResponseError
	if errors.As(err, &respErr) {
		fmt.Println(respErr.StatusCode, respErr.ErrorCode)
	}
	_, err = client.GetRepositoryProperties(ctx, "Not/Valid", nil)
	fmt.Println(errors.Is(err, azacr.ErrInvalidRepository))
	// Output:
	// 404 NAME_UNKNOWN
	// true
}

// Every client logs through azcore/log; AZURE_SDK_GO_LOGGING=all turns
// it on without code. The listener is process-wide, so this example only
// compiles.
func Example_logging() {
	azlog.SetListener(func(event azlog.Event, msg string) {
		fmt.Printf("[%s] %s\n", event, msg)
	})
	azlog.SetEvents(azlog.EventRequest, azlog.EventResponse, azlog.EventRetryPolicy)
}

// The raw *http.Response of a call, for headers the response types do not
// carry.
func Example_captureResponse() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	exImage(srv, "hello-world", "latest", "hello")
	client := exClient(srv)
	// end setup

	var raw *http.Response
	ctx := policy.WithCaptureResponse(context.Background(), &raw)
	if _, err := client.GetRepositoryProperties(ctx, "hello-world", nil); err != nil {
		log.Fatal(err)
	}
	fmt.Println(raw.StatusCode, raw.Header.Get("Docker-Distribution-Api-Version"))
	// Output:
	// 200 registry/2.0
}

// acrtest in a program (or a TestMain): seed before Start, close when done.
// In a test, acrtest.NewServer(t, nil) does all three.
func Example_acrtest() {
	srv := acrtest.NewUnstartedServer(&acrtest.Options{RedirectBlobs: true})
	exImage(srv, "hello-world", "latest", "hello")
	srv.Start()
	defer srv.Close()

	client, err := azacr.NewContainerRegistryClient(srv.URL, srv.Credential(),
		&azacr.ContainerRegistryClientOptions{ClientOptions: srv.ClientOptions()})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.GetTagProperties(context.Background(), "hello-world", "latest", nil); err != nil {
		log.Fatal(err)
	}
	// The request log shows what the client sent: here one token exchange,
	// one token request and the call itself.
	for _, r := range srv.Requests() {
		fmt.Println(r.Method, r.Path, r.Status)
	}
	// Output:
	// POST /oauth2/exchange 200
	// POST /oauth2/token 200
	// GET /acr/v1/hello-world/_tags/latest 200
}

// TestReadmeAcrtest is the README's example of acrtest in a test: the
// emulator fails one chunk of an upload, and the test checks that the
// upload still stores the exact bytes.
func TestReadmeAcrtest(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	blobClient, err := azacr.NewBlobClient(srv.URL, srv.Credential(),
		&azacr.BlobClientOptions{ClientOptions: srv.ClientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	// The registry fails the second chunk once; the upload must get past it.
	srv.InjectFault(acrtest.Fault{Method: http.MethodPatch, Nth: 2, Status: http.StatusServiceUnavailable})

	content := bytes.Repeat([]byte("layer data "), 1000)
	res, err := blobClient.UploadBlob(context.Background(), "my-app", bytes.NewReader(content),
		&azacr.BlobClientUploadBlobOptions{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if stored, _ := srv.Blob("my-app", res.Digest); !bytes.Equal(stored, content) {
		t.Fatal("the registry holds other bytes than those uploaded")
	}
	if srv.FaultsFired() != 1 {
		t.Fatalf("the fault fired %d times, want 1", srv.FaultsFired())
	}
}

// Download images: the whole image (every platform of an index, with
// configs and layers) into an OCI image layout, which tools such as
// oras, crane, skopeo and containerd read.
func ExampleContainerRegistryClient_PullImage() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	client := exClient(srv)
	exImage(srv, "hello-world", "v1", "hello")
	dir, err := os.MkdirTemp("", "layout")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// end setup
	ctx := context.Background()
	resp, err := client.PullImage(ctx, "hello-world", "v1", dir, &azacr.ContainerRegistryClientPullImageOptions{
		// Leave Platforms empty for every platform of an index.
		Platforms: []string{"linux/amd64"},
		Progress: func(p azacr.ImageProgress) {
			if p.TotalTransferred == p.Total {
				fmt.Printf("%d bytes\n", p.Total)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pulled", resp.Digest, "with", resp.Blobs, "blobs")
	// Output:
	// 476 bytes
	// pulled sha256:8a2d898df57047246035e19407fd74f8f37afc29d44febea7e3275b7979f3ba3 with 2 blobs
}

// Upload images: an image from an OCI image layout, here the one
// PullImage wrote; layouts written by oras, crane or buildx work the
// same. PushImage sends only what the repository lacks, children first,
// and the tag last.
func ExampleContainerRegistryClient_PushImage() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	client := exClient(srv)
	exImage(srv, "hello-world", "v1", "hello")
	dir, err := os.MkdirTemp("", "layout")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if _, err := client.PullImage(context.Background(), "hello-world", "v1", dir, nil); err != nil {
		log.Fatal(err)
	}
	// end setup
	ctx := context.Background()
	resp, err := client.PushImage(ctx, dir, "backup/hello-world", "v1", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pushed", resp.Digest)

	// Again: the repository has it under the tag, so nothing is sent.
	resp, err = client.PushImage(ctx, dir, "backup/hello-world", "v1", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("up to date:", resp.UpToDate)
	// Output:
	// pushed sha256:8a2d898df57047246035e19407fd74f8f37afc29d44febea7e3275b7979f3ba3
	// up to date: true
}

// Copy images: within a registry every blob is mounted, so no layer
// bytes move; between registries (target is another client) they stream
// from one to the other. Referrers brings signatures and SBOMs along.
func ExampleContainerRegistryClient_CopyImage() {
	// setup
	srv := exServer(nil)
	defer srv.Close()
	client := exClient(srv)
	image := exImage(srv, "hello-world", "v1", "hello")
	exSignature(srv, "hello-world", "application/vnd.cncf.notary.signature", image)
	// end setup
	ctx := context.Background()
	resp, err := client.CopyImage(ctx, "hello-world", "v1", client, "mirror/hello-world", "v1",
		&azacr.ContainerRegistryClientCopyImageOptions{Referrers: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("copied", resp.Digest, "with", resp.Manifests-1, "referrer")
	// Output:
	// copied sha256:8a2d898df57047246035e19407fd74f8f37afc29d44febea7e3275b7979f3ba3 with 1 referrer
}
