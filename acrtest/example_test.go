package acrtest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
)

// An azacr client reaches the emulator at URL, trusts its certificate
// through ClientOptions, and authenticates with its fake Entra credential.
// A test would call acrtest.NewServer(t, nil) instead, which also closes
// the server when the test ends.
func Example() {
	srv := acrtest.NewUnstartedServer(nil)
	srv.Start()
	defer srv.Close()

	// Seed an image: an empty config and a manifest tagged latest.
	config := srv.PutBlob("hello-world", []byte("{}"))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[]}`, config)
	if _, err := srv.PutManifest("hello-world", "latest", "application/vnd.oci.image.manifest.v1+json", []byte(manifest)); err != nil {
		log.Fatal(err)
	}

	client, err := azacr.NewContainerRegistryClient(srv.URL, srv.Credential(),
		&azacr.ContainerRegistryClientOptions{ClientOptions: srv.ClientOptions()})
	if err != nil {
		log.Fatal(err)
	}
	repo, err := client.GetRepositoryProperties(context.Background(), "hello-world", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("login server is Host:", *repo.RegistryLoginServer == srv.Host)
	fmt.Println("tags:", *repo.TagCount)
	fmt.Println("token exchanges:", srv.CountRequests("POST", "/oauth2/exchange"))
	// Output:
	// login server is Host: true
	// tags: 1
	// token exchanges: 1
}
