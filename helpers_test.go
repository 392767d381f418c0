package azacr

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
)

// testClientOptions are the emulator's client options with fast retries,
// so fault tests do not sleep for azcore's default backoff. MaxRetryDelay
// stays above the emulator's Retry-After values: azcore does not retry a
// 429 whose Retry-After exceeds it.
func testClientOptions(srv *acrtest.Server) azcore.ClientOptions {
	o := srv.ClientOptions()
	o.Retry = policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Second}
	return o
}

// newTestClient returns a ContainerRegistryClient on srv authenticating
// with cred (the emulator's fake Entra credential when cred is nil and
// anonymous is false).
func newTestClient(t *testing.T, srv *acrtest.Server, cred azcore.TokenCredential) *ContainerRegistryClient {
	t.Helper()
	c, err := NewContainerRegistryClient(srv.URL, cred, &ContainerRegistryClientOptions{ClientOptions: testClientOptions(srv)})
	require.NoError(t, err)
	return c
}

// seedImage stores a one-layer OCI image in repo under tag and returns the
// manifest digest.
func seedImage(t *testing.T, srv *acrtest.Server, repo, tag string) string {
	t.Helper()
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("layer of " + repo + ":" + tag)
	configDigest := srv.PutBlob(repo, config)
	layerDigest := srv.PutBlob(repo, layer)
	m := ImageManifest{
		SchemaVersion: 2,
		MediaType:     string(ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config:        Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: configDigest, Size: int64(len(config))},
		Layers:        []Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: layerDigest, Size: int64(len(layer))}},
	}
	body, err := json.Marshal(m)
	require.NoError(t, err)
	d, err := srv.PutManifest(repo, tag, m.MediaType, body)
	require.NoError(t, err)
	return d
}

// requestCounts summarises the emulator's log the way the issue's
// request-count table does.
type requestCounts struct {
	Total, Unauthorized, Exchange, Token, Other int
}

func countRequests(srv *acrtest.Server) requestCounts {
	var c requestCounts
	for _, r := range srv.Requests() {
		c.Total++
		switch {
		case r.Path == "/oauth2/exchange":
			c.Exchange++
		case r.Path == "/oauth2/token":
			c.Token++
		case r.Status == http.StatusUnauthorized:
			c.Unauthorized++
		default:
			c.Other++
		}
	}
	return c
}

func (c requestCounts) String() string {
	return fmt.Sprintf("total=%d 401=%d exchange=%d token=%d other=%d", c.Total, c.Unauthorized, c.Exchange, c.Token, c.Other)
}

// bearerOf returns the bearer token a logged request carried.
func bearerOf(r acrtest.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}
