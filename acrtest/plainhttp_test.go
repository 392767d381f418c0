package acrtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
)

// With PlainHTTP the registry speaks plain HTTP, and a client that allows
// credentials over it signs in as the admin user, pushes a blob and a
// manifest and pulls them back, through the same challenges and tokens.
func TestPlainHTTPPushAndPull(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := acrtest.NewUnstartedServer(&acrtest.Options{PlainHTTP: true, Listener: ln, RedirectBlobs: true,
		Users: []acrtest.User{{Name: "admin", Password: "pw"}}})
	srv.Start()
	defer srv.Close()
	require.True(t, strings.HasPrefix(srv.URL, "http://"), srv.URL)
	require.Equal(t, ln.Addr().String(), srv.Host)
	require.Equal(t, srv.URL+"/oauth2/token", srv.Realm())

	cred := azacr.NewPasswordCredential("admin", "pw")
	opts := azcore.ClientOptions{InsecureAllowCredentialWithHTTP: true}
	blobs, err := azacr.NewBlobClient(srv.URL, cred, &azacr.BlobClientOptions{ClientOptions: opts})
	require.NoError(t, err)
	client, err := azacr.NewContainerRegistryClient(srv.URL, cred, &azacr.ContainerRegistryClientOptions{ClientOptions: opts})
	require.NoError(t, err)

	ctx := t.Context()
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("plain layer")
	for _, b := range [][]byte{config, layer} {
		_, err := blobs.UploadBlob(ctx, "plain", bytes.NewReader(b), nil)
		require.NoError(t, err)
	}
	m := azacr.ImageManifest{SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config: azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: azacr.ComputeDigest(config), Size: int64(len(config))},
		Layers: []azacr.Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: azacr.ComputeDigest(layer), Size: int64(len(layer))}}}
	body, err := json.Marshal(m)
	require.NoError(t, err)
	_, err = client.UploadManifest(ctx, "plain", "v1", azacr.ContentTypeApplicationVndOCIImageManifestV1JSON, bytes.NewReader(body), nil)
	require.NoError(t, err)

	got, err := client.GetManifest(ctx, "plain", "v1", nil)
	require.NoError(t, err)
	require.Equal(t, body, got.ManifestData)
	blob, err := blobs.GetBlob(ctx, "plain", azacr.ComputeDigest(layer), nil)
	require.NoError(t, err)
	data, err := io.ReadAll(blob.Body)
	require.NoError(t, err)
	require.NoError(t, blob.Body.Close())
	require.Equal(t, layer, data)
	require.True(t, strings.HasPrefix(srv.StorageURL(), "http://"), srv.StorageURL())
	require.Positive(t, srv.CountRequests("", "/oauth2/token"), "tokens as over TLS")
}
