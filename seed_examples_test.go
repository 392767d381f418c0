//lint:file-ignore SA1019 the README's code is kept as written, deprecated calls included

package azacr_test

// The examples of the seed README (the module's API contract), kept as
// they were written. They compile here; they run against a real registry
// only, because they read the endpoint from a placeholder and authenticate
// with DefaultAzureCredential. The same flows run against acrtest in the
// package's tests.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
)

func Example_seedCreateClient() {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		log.Fatalf("failed to obtain a credential: %v", err)
	}

	client, err := azacr.NewContainerRegistryClient("<your Container Registry's endpoint URL>", cred, nil)
	if err != nil {
		log.Fatalf("failed to create client: %v", err)
	}
	_ = client
}

func Example_seedListRepositories() {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		log.Fatalf("failed to obtain a credential: %v", err)
	}
	client, err := azacr.NewContainerRegistryClient("<your Container Registry's endpoint URL>", cred, nil)
	if err != nil {
		log.Fatalf("failed to create client: %v", err)
	}
	ctx := context.Background()
	pager := client.NewListRepositoriesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			log.Fatalf("failed to advance page: %v", err)
		}
		for _, v := range page.Repositories.Repositories {
			fmt.Printf("repository: %s\n", *v)
		}
	}
}

func Example_seedListTagsAnonymous() {
	client, err := azacr.NewContainerRegistryClient("<your Container Registry's endpoint URL>", nil, nil)
	if err != nil {
		log.Fatalf("failed to create client: %v", err)
	}
	ctx := context.Background()
	pager := client.NewListTagsPager("library/hello-world", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			log.Fatalf("failed to advance page: %v", err)
		}
		for _, v := range page.TagAttributeBases {
			fmt.Printf("tag: %s\n", *v.Name)
		}
	}
}

func Example_seedSetArtifactProperties() {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		log.Fatalf("failed to obtain a credential: %v", err)
	}
	client, err := azacr.NewContainerRegistryClient("<your Container Registry's endpoint URL>", cred, nil)
	if err != nil {
		log.Fatalf("failed to create client: %v", err)
	}
	ctx := context.Background()
	res, err := client.UpdateTagProperties(ctx, "library/hello-world", "latest", &azacr.ContainerRegistryClientUpdateTagPropertiesOptions{
		Value: &azacr.TagWriteableProperties{
			CanWrite:  to.Ptr(false),
			CanDelete: to.Ptr(false),
		}})
	if err != nil {
		log.Fatalf("failed to finish the request: %v", err)
	}
	fmt.Printf("repository library/hello-world - tag latest: 'CanWrite' property: %t, 'CanDelete' property: %t\n", *res.Tag.ChangeableAttributes.CanWrite, *res.Tag.ChangeableAttributes.CanDelete)
}

func Example_seedDeleteImages() {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		log.Fatalf("failed to obtain a credential: %v", err)
	}
	client, err := azacr.NewContainerRegistryClient("<your Container Registry's endpoint URL>", cred, nil)
	if err != nil {
		log.Fatalf("failed to create client: %v", err)
	}
	ctx := context.Background()
	repositoryPager := client.NewListRepositoriesPager(nil)
	for repositoryPager.More() {
		repositoryPage, err := repositoryPager.NextPage(ctx)
		if err != nil {
			log.Fatalf("failed to advance repository page: %v", err)
		}
		for _, r := range repositoryPage.Repositories.Repositories {
			manifestPager := client.NewListManifestsPager(*r, &azacr.ContainerRegistryClientListManifestsOptions{
				OrderBy: to.Ptr(azacr.ArtifactManifestOrderByLastUpdatedOnDescending),
			})
			for manifestPager.More() {
				manifestPage, err := manifestPager.NextPage(ctx)
				if err != nil {
					log.Fatalf("failed to advance manifest page: %v", err)
				}
				imagesToKeep := 3
				for i, m := range manifestPage.Manifests.Manifests {
					if i >= imagesToKeep {
						for _, t := range m.Tags {
							fmt.Printf("delete tag from image: %s", *t)
							_, err := client.DeleteTag(ctx, *r, *t, nil)
							if err != nil {
								log.Fatalf("failed to delete tag: %v", err)
							}
						}
						_, err := client.DeleteManifest(ctx, *r, *m.Digest, nil)
						if err != nil {
							log.Fatalf("failed to delete manifest: %v", err)
						}
						fmt.Printf("delete image with digest: %s", *m.Digest)
					}
				}
			}
		}
	}
}

func Example_seedErrorHandling() {
	client, _ := azacr.NewContainerRegistryClient("<your Container Registry's endpoint URL>", nil, nil)
	ctx := context.Background()
	resp, err := client.GetRepositoryProperties(ctx, "library/hello-world", nil)
	if err != nil {
		var httpErr *azcore.ResponseError
		if errors.As(err, &httpErr) {
			// TODO: investigate httpErr
		} else {
			// TODO: not an HTTP error
		}
	}
	_ = resp
}

func Example_seedLogging() {
	// Print log events to stdout
	azlog.SetListener(func(cls azlog.Event, msg string) {
		fmt.Println(msg)
	})

	// Includes only requests and responses in credential logs
	azlog.SetEvents(azlog.EventRequest, azlog.EventResponse)
}

func Example_seedCaptureResponse() {
	client, _ := azacr.NewContainerRegistryClient("<your Container Registry's endpoint URL>", nil, nil)
	var response *http.Response
	ctx := runtime.WithCaptureResponse(context.TODO(), &response)
	_, err := client.GetRepositoryProperties(ctx, "library/hello-world", nil)
	if err != nil {
		// TODO: handle error
	}
	// TODO: do something with response
	_ = response
}

func Example_seedUploadAndDownloadBlob() {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		log.Fatalf("failed to obtain a credential: %v", err)
	}
	client, err := azacr.NewContainerRegistryBlobClient("<your Container Registry's endpoint URL>", cred, nil)
	if err != nil {
		log.Fatalf("failed to create client: %v", err)
	}
	ctx := context.Background()
	uploadRes, err := client.UploadBlob(ctx, "library/hello-world", streaming.NopCloser(bytes.NewReader([]byte("hello world"))), nil)
	if err != nil {
		log.Fatalf("failed to upload blob: %v", err)
	}
	downloadRes, err := client.GetBlob(ctx, "library/hello-world", uploadRes.Digest, nil)
	if err != nil {
		log.Fatalf("failed to download blob: %v", err)
	}
	blob, err := io.ReadAll(downloadRes.Body)
	if err != nil {
		log.Fatalf("failed to read blob: %v", err)
	}
	fmt.Printf("blob content: %s", blob)
}

// The seed's manifest is not JSON (unquoted keys) and is sent with the
// config's media type; a real registry refuses it (MANIFEST_INVALID), and
// so does acrtest. It is kept as written because it is the API contract.
func Example_seedUploadManifest() {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		log.Fatalf("failed to obtain a credential: %v", err)
	}
	client, err := azacr.NewContainerRegistryClient("<your Container Registry's endpoint URL>", cred, nil)
	if err != nil {
		log.Fatalf("failed to create client: %v", err)
	}
	blobClient, err := azacr.NewContainerRegistryBlobClient("<your Container Registry's endpoint URL>", cred, nil)
	if err != nil {
		log.Fatalf("failed to create blob client: %v", err)
	}
	ctx := context.Background()
	layer := "hello world"
	layerUploadRes, err := blobClient.UploadBlob(ctx, "library/hello-world", streaming.NopCloser(bytes.NewReader([]byte(layer))), nil)
	if err != nil {
		log.Fatalf("failed to upload layer blob: %v", err)
	}
	config := fmt.Sprintf(`{
  architecture: "amd64",
  os: "windows",
  rootfs: {
	type: "layers",
	diff_ids: [%s],
  },
}`, layerUploadRes.Digest)
	configUploadRes, err := blobClient.UploadBlob(ctx, "library/hello-world", streaming.NopCloser(bytes.NewReader([]byte(config))), nil)
	if err != nil {
		log.Fatalf("failed to upload config blob: %v", err)
	}
	manifest := fmt.Sprintf(`{
  schemaVersion: 2,
  config: {
	mediaType: "application/vnd.oci.image.config.v1+json",
	digest: %s,
	size: %d,
  },
  layers: [
	{
	  mediaType: "application/vnd.oci.image.layer.v1.tar",
	  digest: %s,
	  size: %d,
	  annotations: {
		title: "artifact.txt",
	  },
	  },
  ],
}`, configUploadRes.Digest, len(config), layerUploadRes.Digest, len(layer))
	uploadManifestRes, err := client.UploadManifest(ctx, "library/hello-world", "1.0.0", "application/vnd.oci.image.config.v1+json", streaming.NopCloser(bytes.NewReader([]byte(manifest))), nil)
	if err != nil {
		log.Fatalf("failed to upload manifest: %v", err)
	}
	fmt.Printf("digest of uploaded manifest: %s", *uploadManifestRes.DockerContentDigest)
}
