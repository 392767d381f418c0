package main

// Changing a registry's content: tag, delete, lock, unlock, set.

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/spf13/cobra"
)

func init() { commandGroups = append(commandGroups, addChanges) }

func addChanges(root *cobra.Command, g *globals) {
	root.AddCommand(tagCommand(g), deleteCommand(g), lockCommand(g, true), lockCommand(g, false), setCommand(g))
}

// tagResultJSON is what tag prints in --output json.
type tagResultJSON struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Digest string `json:"digest"`
}

// parseNewTag reads tag's second argument: a tag name, or a full
// reference with a tag in src's repository.
func parseNewTag(src reference, s string) (reference, error) {
	dst := reference{Registry: src.Registry, Repository: src.Repository}
	if !strings.Contains(s, "/") {
		if err := azacr.ValidateTag(s); err != nil {
			return dst, usageErrorf("%q: %v", s, err)
		}
		dst.Tag = s
		return dst, nil
	}
	r, err := parseImage(s)
	if err != nil {
		return dst, err
	}
	if r.Digest != "" || r.Tag == "" {
		return dst, usageErrorf("%q: the new name must be a tag, like %s:v2", s, src.Registry+"/"+src.Repository)
	}
	if r.Registry != src.Registry || r.Repository != src.Repository {
		return dst, usageErrorf("%q: tag names a tag in the same repository as the source (%s/%s)", s, src.Registry, src.Repository)
	}
	return r, nil
}

func tagCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag REGISTRY/REPO:TAG|@DIGEST NEWTAG",
		Short: "Tag a manifest under another tag in the same repository (NEWTAG: a tag, or REGISTRY/REPO:TAG)",
		Long: "tag uploads the source's manifest, byte for byte, under NEWTAG in the same repository; " +
			"NEWTAG moves to that manifest if it already names another.",
		Args: args(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			src, err := parseImage(a[0])
			if err != nil {
				return err
			}
			dst, err := parseNewTag(src, a[1])
			if err != nil {
				return err
			}
			c, err := g.client(src.Registry)
			if err != nil {
				return err
			}
			m, err := c.GetManifest(cmd.Context(), src.Repository, src.Reference(), nil)
			if err != nil {
				return err
			}
			up, err := c.UploadManifest(cmd.Context(), dst.Repository, dst.Tag, azacr.ContentType(deref(m.ContentType)), bytes.NewReader(m.ManifestData), nil)
			if err != nil {
				return err
			}
			v := tagResultJSON{Source: src.String(), Target: dst.String(), Digest: deref(up.DockerContentDigest)}
			return g.out().emit(v, func(w io.Writer) {
				fmt.Fprintf(w, "tagged %s as %s (%s)\n", v.Source, v.Target, v.Digest)
			})
		},
	}
}

// deleteResultJSON is what delete prints in --output json.
type deleteResultJSON struct {
	Reference string `json:"reference"`
	// Deleted is "tag" (the tag alone; its manifest stays) or "manifest"
	// (the manifest and every tag of it).
	Deleted string `json:"deleted"`
}

func deleteCommand(g *globals) *cobra.Command {
	var untagOnly bool
	cmd := &cobra.Command{
		Use:   "delete REGISTRY/REPO:TAG|@DIGEST",
		Short: "Delete a tag (the tag alone), or a manifest by digest (with all its tags)",
		Long: "delete REGISTRY/REPO:TAG deletes the tag alone: the manifest it named stays, reachable by digest " +
			"and by its other tags (azacr purge --untagged removes manifests left without tags). " +
			"delete REGISTRY/REPO@DIGEST deletes the manifest and every tag that names it. " +
			"--untag-only says explicitly that only a tag may be deleted, and refuses a digest.",
		Args: args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			ref, err := parseImage(a[0])
			if err != nil {
				return err
			}
			if untagOnly && ref.Digest != "" {
				return usageErrorf("%q: --untag-only deletes a tag, and this names a digest", a[0])
			}
			c, err := g.client(ref.Registry)
			if err != nil {
				return err
			}
			v := deleteResultJSON{Reference: ref.String()}
			if ref.Digest != "" {
				_, err = c.DeleteManifest(cmd.Context(), ref.Repository, ref.Digest, nil)
				v.Deleted = "manifest"
			} else {
				_, err = c.DeleteTag(cmd.Context(), ref.Repository, ref.Tag, nil)
				v.Deleted = "tag"
			}
			if err != nil {
				return err
			}
			return g.out().emit(v, func(w io.Writer) {
				if v.Deleted == "tag" {
					fmt.Fprintf(w, "deleted tag %s (its manifest stays)\n", v.Reference)
				} else {
					fmt.Fprintf(w, "deleted manifest %s and its tags\n", v.Reference)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&untagOnly, "untag-only", false, "delete only the tag, never a manifest (refuses a digest)")
	return cmd
}

// propertiesJSON is what lock, unlock and set print in --output json: the
// item's writeable properties after the change.
type propertiesJSON struct {
	Reference string `json:"reference"`
	Kind      string `json:"kind"` // "tag" or "manifest"
	CanDelete bool   `json:"canDelete"`
	CanWrite  bool   `json:"canWrite"`
	CanRead   bool   `json:"canRead"`
	CanList   bool   `json:"canList"`
}

// properties are the changes to make; nil fields stay as they are.
type properties struct{ read, list, write, delete *bool }

// setProperties changes ref's properties: the tag's for a tag, the
// manifest's for a digest.
func setProperties(cmd *cobra.Command, g *globals, ref reference, p properties) error {
	c, err := g.client(ref.Registry)
	if err != nil {
		return err
	}
	v := propertiesJSON{Reference: ref.String()}
	if ref.Digest != "" {
		resp, err := c.UpdateManifestProperties(cmd.Context(), ref.Repository, ref.Digest, &azacr.ContainerRegistryClientUpdateManifestPropertiesOptions{
			Value: &azacr.ManifestWriteableProperties{CanRead: p.read, CanList: p.list, CanWrite: p.write, CanDelete: p.delete}})
		if err != nil {
			return err
		}
		v.Kind = "manifest"
		var attrs *azacr.ManifestWriteableProperties
		if resp.Manifest != nil {
			attrs = resp.Manifest.ChangeableAttributes
		}
		v.CanDelete = derefBool(attrs, func(p *azacr.ManifestWriteableProperties) *bool { return p.CanDelete })
		v.CanWrite = derefBool(attrs, func(p *azacr.ManifestWriteableProperties) *bool { return p.CanWrite })
		v.CanRead = derefBool(attrs, func(p *azacr.ManifestWriteableProperties) *bool { return p.CanRead })
		v.CanList = derefBool(attrs, func(p *azacr.ManifestWriteableProperties) *bool { return p.CanList })
	} else {
		resp, err := c.UpdateTagProperties(cmd.Context(), ref.Repository, ref.Tag, &azacr.ContainerRegistryClientUpdateTagPropertiesOptions{
			Value: &azacr.TagWriteableProperties{CanRead: p.read, CanList: p.list, CanWrite: p.write, CanDelete: p.delete}})
		if err != nil {
			return err
		}
		v.Kind = "tag"
		var attrs *azacr.TagWriteableProperties
		if resp.Tag != nil {
			attrs = resp.Tag.ChangeableAttributes
		}
		v.CanDelete = derefBool(attrs, func(p *azacr.TagWriteableProperties) *bool { return p.CanDelete })
		v.CanWrite = derefBool(attrs, func(p *azacr.TagWriteableProperties) *bool { return p.CanWrite })
		v.CanRead = derefBool(attrs, func(p *azacr.TagWriteableProperties) *bool { return p.CanRead })
		v.CanList = derefBool(attrs, func(p *azacr.TagWriteableProperties) *bool { return p.CanList })
	}
	return g.out().emit(v, func(w io.Writer) {
		fmt.Fprintf(w, "%s %s: delete=%v write=%v read=%v list=%v\n", v.Kind, v.Reference, v.CanDelete, v.CanWrite, v.CanRead, v.CanList)
	})
}

func lockCommand(g *globals, lock bool) *cobra.Command {
	name, short := "lock", "Lock a tag, or a manifest by digest, against deletion and overwriting (write and delete disabled)"
	if !lock {
		name, short = "unlock", "Unlock a tag, or a manifest by digest (write and delete enabled)"
	}
	return &cobra.Command{
		Use: name + " REGISTRY/REPO:TAG|@DIGEST", Short: short, Args: args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			ref, err := parseImage(a[0])
			if err != nil {
				return err
			}
			allowed := !lock
			return setProperties(cmd, g, ref, properties{write: to.Ptr(allowed), delete: to.Ptr(allowed)})
		},
	}
}

func setCommand(g *globals) *cobra.Command {
	var read, list, write, del bool
	cmd := &cobra.Command{
		Use:   "set REGISTRY/REPO:TAG|@DIGEST [--read=B] [--list=B] [--write=B] [--delete=B]",
		Short: "Change a tag's properties, or a manifest's by digest; only the flags given change",
		Args:  args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			ref, err := parseImage(a[0])
			if err != nil {
				return err
			}
			var p properties
			f := cmd.Flags()
			if f.Changed("read") {
				p.read = to.Ptr(read)
			}
			if f.Changed("list") {
				p.list = to.Ptr(list)
			}
			if f.Changed("write") {
				p.write = to.Ptr(write)
			}
			if f.Changed("delete") {
				p.delete = to.Ptr(del)
			}
			if p == (properties{}) {
				return usageErrorf("set changes nothing: give one or more of --read, --list, --write, --delete")
			}
			return setProperties(cmd, g, ref, p)
		},
	}
	cmd.Flags().BoolVar(&read, "read", true, "allow pulling")
	cmd.Flags().BoolVar(&list, "list", true, "show in listings")
	cmd.Flags().BoolVar(&write, "write", true, "allow overwriting (for a tag: moving it)")
	cmd.Flags().BoolVar(&del, "delete", true, "allow deleting")
	return cmd
}
