// Package conformance runs azacr against independent judges: the CNCF
// distribution registry in-process, and peer clients side by side. It is a
// separate module so its heavy dependencies never reach azacr's go.mod.
package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	official "github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
)

// MetadataRepositories are the repositories of the metadata workload.
var MetadataRepositories = []string{"a", "b"}

// MetadataOps is the number of operations one workload run performs: the
// catalog, then for each repository its properties, tags, tag properties,
// manifest properties and manifest, all twice.
const MetadataOps = 2 * (1 + 5*2)

// RequestCounts is what one client spent on the workload, as the
// registry's request log saw it.
type RequestCounts struct {
	Client       string
	Ops          int
	Total        int
	Unauthorized int
	Exchange     int
	Token        int
	EntraTokens  int // Microsoft Entra GetToken calls
}

// SeedMetadataWorkload stores one tagged image in each workload repository.
func SeedMetadataWorkload(srv *acrtest.Server) error {
	for _, repo := range MetadataRepositories {
		config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
		layer := []byte("layer of " + repo)
		m := azacr.ImageManifest{
			SchemaVersion: 2,
			MediaType:     string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
			Config:        azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: srv.PutBlob(repo, config), Size: int64(len(config))},
			Layers:        []azacr.Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: srv.PutBlob(repo, layer), Size: int64(len(layer))}},
		}
		body, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if _, err := srv.PutManifest(repo, "v1", m.MediaType, body); err != nil {
			return err
		}
	}
	return nil
}

// count summarises the request log since the last reset.
func count(srv *acrtest.Server, client string, entraBefore int) RequestCounts {
	c := RequestCounts{Client: client, Ops: MetadataOps, EntraTokens: len(srv.Credential().Scopes()) - entraBefore}
	for _, r := range srv.Requests() {
		c.Total++
		switch {
		case r.Path == "/oauth2/exchange":
			c.Exchange++
		case r.Path == "/oauth2/token":
			c.Token++
		case r.Status == http.StatusUnauthorized:
			c.Unauthorized++
		}
	}
	return c
}

// RunMetadataAzacr runs the workload with azacr.
func RunMetadataAzacr(ctx context.Context, srv *acrtest.Server) (RequestCounts, error) {
	c, err := azacr.NewContainerRegistryClient(srv.URL, srv.Credential(), &azacr.ContainerRegistryClientOptions{ClientOptions: srv.ClientOptions()})
	if err != nil {
		return RequestCounts{}, err
	}
	srv.ResetRequests()
	before := len(srv.Credential().Scopes())
	for range 2 {
		if _, err := c.NewListRepositoriesPager(nil).NextPage(ctx); err != nil {
			return RequestCounts{}, err
		}
		for _, repo := range MetadataRepositories {
			if _, err := c.GetRepositoryProperties(ctx, repo, nil); err != nil {
				return RequestCounts{}, err
			}
			if _, err := c.NewListTagsPager(repo, nil).NextPage(ctx); err != nil {
				return RequestCounts{}, err
			}
			tag, err := c.GetTagProperties(ctx, repo, "v1", nil)
			if err != nil {
				return RequestCounts{}, err
			}
			if _, err := c.GetManifestProperties(ctx, repo, *tag.Tag.Digest, nil); err != nil {
				return RequestCounts{}, err
			}
			if _, err := c.GetManifest(ctx, repo, "v1", nil); err != nil {
				return RequestCounts{}, err
			}
		}
	}
	return count(srv, "azacr", before), nil
}

// RunMetadataOfficial runs the workload with the official
// azcontainerregistry module.
func RunMetadataOfficial(ctx context.Context, srv *acrtest.Server) (RequestCounts, error) {
	c, err := official.NewClient(srv.URL, srv.Credential(), &official.ClientOptions{ClientOptions: srv.ClientOptions()})
	if err != nil {
		return RequestCounts{}, err
	}
	srv.ResetRequests()
	before := len(srv.Credential().Scopes())
	for range 2 {
		if _, err := c.NewListRepositoriesPager(nil).NextPage(ctx); err != nil {
			return RequestCounts{}, err
		}
		for _, repo := range MetadataRepositories {
			if _, err := c.GetRepositoryProperties(ctx, repo, nil); err != nil {
				return RequestCounts{}, err
			}
			if _, err := c.NewListTagsPager(repo, nil).NextPage(ctx); err != nil {
				return RequestCounts{}, err
			}
			tag, err := c.GetTagProperties(ctx, repo, "v1", nil)
			if err != nil {
				return RequestCounts{}, err
			}
			if _, err := c.GetManifestProperties(ctx, repo, *tag.Tag.Digest, nil); err != nil {
				return RequestCounts{}, err
			}
			// The official client sends Accept: application/json unless
			// told the type; ACR then refuses an OCI manifest.
			if _, err := c.GetManifest(ctx, repo, "v1", &official.ClientGetManifestOptions{Accept: to.Ptr(string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON))}); err != nil {
				return RequestCounts{}, err
			}
		}
	}
	return count(srv, "azcontainerregistry v0.2.3", before), nil
}

// MetadataTable renders request counts as a markdown table.
func MetadataTable(rows ...RequestCounts) string {
	var b strings.Builder
	b.WriteString("| client | operations | requests | 401s | /oauth2/exchange | /oauth2/token | Entra tokens |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d |\n", r.Client, r.Ops, r.Total, r.Unauthorized, r.Exchange, r.Token, r.EntraTokens)
	}
	return b.String()
}
