package main

// Listing and inspecting: repos, tags, manifests, referrers, show.

import (
	"fmt"
	"io"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/spf13/cobra"
)

func init() { commandGroups = append(commandGroups, addListing) }

func addListing(root *cobra.Command, g *globals) {
	root.AddCommand(reposCommand(g), tagsCommand(g), manifestsCommand(g), referrersCommand(g), showCommand(g))
}

func reposCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "repos REGISTRY", Short: "List the repositories of a registry", Args: args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			ref, err := parseRegistry(a[0])
			if err != nil {
				return err
			}
			c, err := g.client(ref.Registry)
			if err != nil {
				return err
			}
			names, err := collect(cmd.Context(), c.NewListRepositoriesPager(nil), func(page azacr.ContainerRegistryClientListRepositoriesResponse) (out []string) {
				for _, n := range page.Repositories.Repositories {
					out = append(out, *n)
				}
				return out
			})
			if err != nil {
				return err
			}
			return g.out().emit(names, func(w io.Writer) {
				for _, n := range names {
					row(w, n)
				}
			})
		},
	}
}

// tagJSON is a tag in --output json.
type tagJSON struct {
	Name          string    `json:"name"`
	Digest        string    `json:"digest"`
	CreatedOn     time.Time `json:"createdOn"`
	LastUpdatedOn time.Time `json:"lastUpdatedOn"`
	CanDelete     bool      `json:"canDelete"`
	CanWrite      bool      `json:"canWrite"`
	CanRead       bool      `json:"canRead"`
	CanList       bool      `json:"canList"`
}

func tagsCommand(g *globals) *cobra.Command {
	var oldest bool
	cmd := &cobra.Command{
		Use: "tags REGISTRY/REPO", Short: "List a repository's tags, newest first", Args: args(1),
		RunE: g.withClient(parseRepository, func(cmd *cobra.Command, c *azacr.ContainerRegistryClient, ref reference) error {
			order := azacr.ArtifactTagOrderByLastUpdatedOnDescending
			if oldest {
				order = azacr.ArtifactTagOrderByLastUpdatedOnAscending
			}
			pager := c.NewListTagsPager(ref.Repository, &azacr.ContainerRegistryClientListTagsOptions{OrderBy: to.Ptr(order)})
			tags, err := collect(cmd.Context(), pager, func(page azacr.ContainerRegistryClientListTagsResponse) (out []tagJSON) {
				for _, t := range page.TagAttributeBases {
					out = append(out, tagJSON{Name: deref(t.Name), Digest: deref(t.Digest), CreatedOn: derefTime(t.CreatedOn), LastUpdatedOn: derefTime(t.LastUpdatedOn),
						CanDelete: derefBool(t.ChangeableAttributes, func(p *azacr.TagWriteableProperties) *bool { return p.CanDelete }),
						CanWrite:  derefBool(t.ChangeableAttributes, func(p *azacr.TagWriteableProperties) *bool { return p.CanWrite }),
						CanRead:   derefBool(t.ChangeableAttributes, func(p *azacr.TagWriteableProperties) *bool { return p.CanRead }),
						CanList:   derefBool(t.ChangeableAttributes, func(p *azacr.TagWriteableProperties) *bool { return p.CanList })})
				}
				return out
			})
			if err != nil {
				return err
			}
			return g.out().emit(tags, func(w io.Writer) {
				row(w, "TAG", "DIGEST", "UPDATED", "LOCKED")
				for _, t := range tags {
					row(w, t.Name, t.Digest, t.LastUpdatedOn, !t.CanDelete || !t.CanWrite)
				}
			})
		}),
	}
	cmd.Flags().BoolVar(&oldest, "oldest-first", false, "oldest first")
	return cmd
}

// manifestJSON is a manifest in --output json.
type manifestJSON struct {
	Digest        string    `json:"digest"`
	MediaType     string    `json:"mediaType,omitempty"`
	Size          int64     `json:"size"`
	Platform      string    `json:"platform,omitempty"`
	Tags          []string  `json:"tags"`
	CreatedOn     time.Time `json:"createdOn"`
	LastUpdatedOn time.Time `json:"lastUpdatedOn"`
	CanDelete     bool      `json:"canDelete"`
	CanWrite      bool      `json:"canWrite"`
	CanRead       bool      `json:"canRead"`
	CanList       bool      `json:"canList"`
}

func newManifestJSON(m *azacr.ManifestAttributesBase) manifestJSON {
	j := manifestJSON{Digest: deref(m.Digest), MediaType: deref(m.MediaType), Tags: []string{}, CreatedOn: derefTime(m.CreatedOn), LastUpdatedOn: derefTime(m.LastUpdatedOn)}
	if m.Size != nil {
		j.Size = *m.Size
	}
	if m.OperatingSystem != nil && m.Architecture != nil {
		j.Platform = string(*m.OperatingSystem) + "/" + string(*m.Architecture)
	}
	for _, t := range m.Tags {
		j.Tags = append(j.Tags, *t)
	}
	get := func(f func(p *azacr.ManifestWriteableProperties) *bool) bool {
		return derefBool(m.ChangeableAttributes, f)
	}
	j.CanDelete = get(func(p *azacr.ManifestWriteableProperties) *bool { return p.CanDelete })
	j.CanWrite = get(func(p *azacr.ManifestWriteableProperties) *bool { return p.CanWrite })
	j.CanRead = get(func(p *azacr.ManifestWriteableProperties) *bool { return p.CanRead })
	j.CanList = get(func(p *azacr.ManifestWriteableProperties) *bool { return p.CanList })
	return j
}

func manifestsCommand(g *globals) *cobra.Command {
	var oldest bool
	cmd := &cobra.Command{
		Use: "manifests REGISTRY/REPO", Short: "List a repository's manifests with sizes, platforms, tags and locks, newest first", Args: args(1),
		RunE: g.withClient(parseRepository, func(cmd *cobra.Command, c *azacr.ContainerRegistryClient, ref reference) error {
			order := azacr.ArtifactManifestOrderByLastUpdatedOnDescending
			if oldest {
				order = azacr.ArtifactManifestOrderByLastUpdatedOnAscending
			}
			pager := c.NewListManifestsPager(ref.Repository, &azacr.ContainerRegistryClientListManifestsOptions{OrderBy: to.Ptr(order)})
			list, err := collect(cmd.Context(), pager, func(page azacr.ContainerRegistryClientListManifestsResponse) (out []manifestJSON) {
				for _, m := range page.Manifests.Manifests {
					out = append(out, newManifestJSON(m))
				}
				return out
			})
			if err != nil {
				return err
			}
			return g.out().emit(list, func(w io.Writer) {
				row(w, "DIGEST", "SIZE", "PLATFORM", "TAGS", "UPDATED", "LOCKED")
				for _, m := range list {
					row(w, m.Digest, m.Size, orDash(m.Platform), orDash(joinTags(m.Tags)), m.LastUpdatedOn, !m.CanDelete || !m.CanWrite)
				}
			})
		}),
	}
	cmd.Flags().BoolVar(&oldest, "oldest-first", false, "oldest first")
	return cmd
}

// referrerJSON is a referrer in --output json.
type referrerJSON struct {
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType,omitempty"`
	Size         int64  `json:"size"`
}

func referrersCommand(g *globals) *cobra.Command {
	var artifactType string
	cmd := &cobra.Command{
		Use: "referrers REGISTRY/REPO:TAG|@DIGEST", Short: "List the artifacts (signatures, SBOMs) that refer to a manifest", Args: args(1),
		RunE: g.withClient(parseImage, func(cmd *cobra.Command, c *azacr.ContainerRegistryClient, ref reference) error {
			digest := ref.Digest
			if digest == "" {
				m, err := c.GetManifest(cmd.Context(), ref.Repository, ref.Tag, nil)
				if err != nil {
					return err
				}
				digest = *m.DockerContentDigest
			}
			var opts *azacr.ContainerRegistryClientListReferrersOptions
			if artifactType != "" {
				opts = &azacr.ContainerRegistryClientListReferrersOptions{ArtifactType: to.Ptr(artifactType)}
			}
			list, err := collect(cmd.Context(), c.NewListReferrersPager(ref.Repository, digest, opts), func(page azacr.ContainerRegistryClientListReferrersResponse) (out []referrerJSON) {
				for _, r := range page.Referrers {
					out = append(out, referrerJSON{Digest: r.Digest, MediaType: r.MediaType, ArtifactType: r.ArtifactType, Size: r.Size})
				}
				return out
			})
			if err != nil {
				return err
			}
			return g.out().emit(list, func(w io.Writer) {
				row(w, "DIGEST", "ARTIFACT TYPE", "SIZE")
				for _, r := range list {
					row(w, r.Digest, orDash(r.ArtifactType), r.Size)
				}
			})
		}),
	}
	cmd.Flags().StringVar(&artifactType, "artifact-type", "", "only referrers of this artifact type")
	return cmd
}

// showJSON is what show prints in --output json.
type showJSON struct {
	Reference  string       `json:"reference"`
	Properties manifestJSON `json:"properties"`
	MediaType  string       `json:"mediaType"`
	Manifest   rawJSON      `json:"manifest"`
}

func showCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "show REGISTRY/REPO:TAG|@DIGEST", Short: "Show a manifest's properties and the manifest itself", Args: args(1),
		RunE: g.withClient(parseImage, func(cmd *cobra.Command, c *azacr.ContainerRegistryClient, ref reference) error {
			m, err := c.GetManifest(cmd.Context(), ref.Repository, ref.Reference(), nil)
			if err != nil {
				return err
			}
			props, err := c.GetManifestProperties(cmd.Context(), ref.Repository, *m.DockerContentDigest, nil)
			if err != nil {
				return err
			}
			v := showJSON{Reference: ref.String(), MediaType: deref(m.ContentType), Manifest: m.ManifestData}
			if props.Manifest != nil {
				v.Properties = newManifestJSON(props.Manifest)
			}
			return g.out().emit(v, func(w io.Writer) {
				p := v.Properties
				row(w, "digest:", p.Digest)
				row(w, "media type:", v.MediaType)
				row(w, "size:", p.Size)
				row(w, "platform:", orDash(p.Platform))
				row(w, "tags:", orDash(joinTags(p.Tags)))
				row(w, "created:", p.CreatedOn)
				row(w, "updated:", p.LastUpdatedOn)
				row(w, "can delete/write/read/list:", fmt.Sprintf("%v/%v/%v/%v", p.CanDelete, p.CanWrite, p.CanRead, p.CanList))
				fmt.Fprintf(w, "\n%s\n", m.ManifestData)
			})
		}),
	}
}
