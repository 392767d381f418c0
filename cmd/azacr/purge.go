package main

// purge: delete tags (and untagged manifests) by age and count, ACR's
// acr purge done from the client. Planning is planPurge (purge_plan.go);
// this file lists and deletes.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/spf13/cobra"
)

func init() { commandGroups = append(commandGroups, addPurge) }

func addPurge(root *cobra.Command, g *globals) { root.AddCommand(purgeCommand(g)) }

// purgeFlags are purge's flags, as given.
type purgeFlags struct {
	filters     []string
	ago         string
	keep        int
	untagged    bool
	dryRun      bool
	concurrency int
}

// rules checks the flags and turns them into the plan's rules.
func (f *purgeFlags) rules(now time.Time) (purgeRules, error) {
	rules := purgeRules{keep: f.keep, untagged: f.untagged, now: now}
	if len(f.filters) == 0 {
		return rules, usageErrorf("purge needs at least one --filter REPO_REGEX:TAG_REGEX")
	}
	for _, s := range f.filters {
		pf, err := parsePurgeFilter(s)
		if err != nil {
			return rules, err
		}
		rules.filters = append(rules.filters, pf)
	}
	var err error
	if rules.ago, err = parseAge(f.ago); err != nil {
		return rules, err
	}
	if f.keep < 0 {
		return rules, usageErrorf("--keep %d: want 0 or more", f.keep)
	}
	if f.concurrency < 1 {
		return rules, usageErrorf("--concurrency %d: want 1 or more", f.concurrency)
	}
	return rules, nil
}

func purgeCommand(g *globals) *cobra.Command {
	var pf purgeFlags
	cmd := &cobra.Command{
		Use:   "purge REGISTRY --filter 'REPO_REGEX:TAG_REGEX' [--ago 30d] [--keep N] [--untagged] [--dry-run]",
		Short: "Delete old tags (and with --untagged, manifests left without tags), like ACR's acr purge",
		Long: "purge deletes, in each repository whose whole name a filter's REPO_REGEX matches, the tags whose whole name its TAG_REGEX matches " +
			"and that were last updated more than --ago ago (0: any age), except the newest --keep of the matching tags in each repository. " +
			"With --untagged it also deletes the manifests left without tags that were last updated more than --ago ago. " +
			"It never deletes a locked tag or manifest (write or delete disabled), nor a manifest that an index left in place refers to. " +
			"--dry-run lists what a run would delete and deletes nothing.",
		Args: args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			ref, err := parseRegistry(a[0])
			if err != nil {
				return err
			}
			rules, err := pf.rules(time.Now())
			if err != nil {
				return err
			}
			c, err := g.client(ref.Registry)
			if err != nil {
				return err
			}
			sum, err := runPurge(cmd.Context(), c, rules, pf)
			if err != nil {
				return err
			}
			if err := g.out().emit(sum, func(w io.Writer) { printPurge(w, sum) }); err != nil {
				return err
			}
			if err := cmd.Context().Err(); err != nil {
				return err
			}
			if sum.Failed > 0 {
				return fmt.Errorf("purge: %d of %d deletions failed, the first: %s: %s", sum.Failed, sum.Failed+sum.Deleted, sum.FailedItems[0], sum.FailedItems[0].Reason)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&pf.filters, "filter", nil, "REPO_REGEX:TAG_REGEX, each matching whole names (repeatable)")
	f.StringVar(&pf.ago, "ago", "0", "only what was last updated longer ago than this: 30d, 12h, 90m; 0 for any age")
	f.IntVar(&pf.keep, "keep", 0, "keep the newest N matching tags of each repository")
	f.BoolVar(&pf.untagged, "untagged", false, "also delete manifests left without tags (older than --ago)")
	f.BoolVar(&pf.dryRun, "dry-run", false, "list what would be deleted; delete nothing")
	f.IntVar(&pf.concurrency, "concurrency", 4, "requests in flight at most")
	return cmd
}

// runPurge lists, plans and (unless a dry run) deletes, and accounts for
// it.
func runPurge(ctx context.Context, c *azacr.ContainerRegistryClient, rules purgeRules, pf purgeFlags) (purgeSummary, error) {
	listings, err := listForPurge(ctx, c, rules, pf.concurrency)
	if err != nil {
		return purgeSummary{}, err
	}
	plan := planPurge(listings, rules)
	sum := purgeSummary{DryRun: pf.dryRun, Kept: plan.Kept, SkippedLocked: len(plan.Locked),
		DeletedItems: []purgeItem{}, SkippedItems: append([]purgeItem{}, plan.Locked...), FailedItems: []purgeItem{}}
	if pf.dryRun {
		sum.DeletedItems = append(sum.DeletedItems, plan.Delete...)
	} else {
		sum.DeletedItems, sum.FailedItems = executePurge(ctx, c, plan, pf.concurrency)
	}
	for _, it := range sum.DeletedItems {
		if it.Kind == "tag" {
			sum.DeletedTags++
		} else {
			sum.DeletedManifests++
		}
	}
	sum.Deleted, sum.Failed = len(sum.DeletedItems), len(sum.FailedItems)
	return sum, nil
}

// printPurge writes the table: one line per item, then the summary.
func printPurge(w io.Writer, s purgeSummary) {
	verb := "deleted"
	if s.DryRun {
		verb = "would delete"
	}
	for _, it := range s.DeletedItems {
		fmt.Fprintf(w, "%s %s\n", verb, it)
	}
	for _, it := range s.SkippedItems {
		fmt.Fprintf(w, "skipped %s (locked)\n", it)
	}
	for _, it := range s.FailedItems {
		fmt.Fprintf(w, "failed %s: %s\n", it, it.Reason)
	}
	fmt.Fprintln(w, s.line())
}

// forEach calls f for each of n items with at most limit calls at once,
// and returns the first error.
func forEach(ctx context.Context, n, limit int, f func(i int) error) error {
	sem := make(chan struct{}, limit)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				once.Do(func() { first = err })
			}
		}()
	}
	wg.Wait()
	return first
}

// listForPurge reads the repositories a filter matches: their tags, and
// with --untagged their manifests and what indexes refer to.
func listForPurge(ctx context.Context, c *azacr.ContainerRegistryClient, rules purgeRules, concurrency int) ([]repoListing, error) {
	var names []string
	pager := c.NewListRepositoriesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range page.Repositories.Repositories {
			if n != nil && len(rules.tagPatterns(*n)) > 0 {
				names = append(names, *n)
			}
		}
	}
	listings := make([]repoListing, len(names))
	err := forEach(ctx, len(names), concurrency, func(i int) error {
		l, err := listRepository(ctx, c, names[i], rules.untagged)
		listings[i] = l
		return err
	})
	return listings, err
}

func listRepository(ctx context.Context, c *azacr.ContainerRegistryClient, name string, manifests bool) (repoListing, error) {
	l := repoListing{Name: name}
	tags := c.NewListTagsPager(name, nil)
	for tags.More() {
		page, err := tags.NextPage(ctx)
		if err != nil {
			return l, err
		}
		for _, t := range page.TagAttributeBases {
			l.Tags = append(l.Tags, purgeTag{Name: deref(t.Name), Digest: deref(t.Digest), Updated: derefTime(t.LastUpdatedOn),
				Locked: !derefBool(t.ChangeableAttributes, func(p *azacr.TagWriteableProperties) *bool { return p.CanDelete }) ||
					!derefBool(t.ChangeableAttributes, func(p *azacr.TagWriteableProperties) *bool { return p.CanWrite })})
		}
	}
	if !manifests {
		return l, nil
	}
	pager := c.NewListManifestsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return l, err
		}
		for _, m := range page.Manifests.Manifests {
			j := newManifestJSON(m)
			pm := purgeManifest{Digest: j.Digest, Updated: j.LastUpdatedOn, Locked: !j.CanDelete || !j.CanWrite, Tags: j.Tags}
			for _, r := range m.RelatedArtifacts {
				if r != nil && r.Digest != nil {
					pm.Children = append(pm.Children, *r.Digest)
				}
			}
			if len(pm.Children) == 0 && isIndex(j.MediaType) {
				// The listing named no children: read the index itself.
				if pm.Children, err = indexChildren(ctx, c, name, pm.Digest); err != nil {
					return l, err
				}
			}
			l.Manifests = append(l.Manifests, pm)
		}
	}
	return l, nil
}

func isIndex(mediaType string) bool {
	return mediaType == string(azacr.ContentTypeApplicationVndOCIImageIndexV1JSON) ||
		mediaType == string(azacr.ContentTypeApplicationVndDockerDistributionManifestListV2JSON)
}

// indexChildren reads an index and returns the digests it refers to.
func indexChildren(ctx context.Context, c *azacr.ContainerRegistryClient, repository, digest string) ([]string, error) {
	m, err := c.GetManifest(ctx, repository, digest, nil)
	if err != nil {
		return nil, err
	}
	var index struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(m.ManifestData, &index); err != nil {
		return nil, fmt.Errorf("reading index %s@%s: %w", repository, digest, err)
	}
	var out []string
	for _, d := range index.Manifests {
		out = append(out, d.Digest)
	}
	return out, nil
}

// executePurge deletes the plan's items, at most concurrency at once, an
// item only once everything in its after has been deleted. The library's
// retry policy backs off on 429 and 503.
func executePurge(ctx context.Context, c *azacr.ContainerRegistryClient, plan purgePlan, concurrency int) (deleted, failed []purgeItem) {
	// Waves: an item's wave is one more than its latest prerequisite's.
	index := map[string]int{}
	for i, it := range plan.Delete {
		index[it.key()] = i
	}
	wave := make([]int, len(plan.Delete))
	last := 0
	for i, it := range plan.Delete { // prerequisites come first in a plan
		for _, k := range it.after {
			if j, ok := index[k]; ok && j < i {
				wave[i] = max(wave[i], wave[j]+1)
			}
		}
		last = max(last, wave[i])
	}
	// A tag whose manifest goes too is deleted with it (deleting a
	// manifest deletes its tags): one request instead of two.
	withManifest := map[int]int{}
	for i, it := range plan.Delete {
		if it.Kind == "tag" {
			if j, ok := index[it.Repository+"@"+it.Digest]; ok {
				withManifest[i] = j
			}
		}
	}
	done := make([]error, len(plan.Delete))
	ran := make([]bool, len(plan.Delete))
	for w := 0; w <= last; w++ {
		var todo []int
		for i := range plan.Delete {
			if wave[i] == w {
				todo = append(todo, i)
			}
		}
		_ = forEach(ctx, len(todo), concurrency, func(n int) error {
			i := todo[n]
			it := plan.Delete[i]
			ran[i] = true
			for _, k := range it.after {
				if j, ok := index[k]; ok && done[j] != nil {
					done[i] = fmt.Errorf("not attempted: %s was not deleted", plan.Delete[j])
					return nil
				}
			}
			if _, later := withManifest[i]; later {
				return nil // see below
			}
			if it.Kind == "tag" {
				_, done[i] = c.DeleteTag(ctx, it.Repository, it.Tag, nil)
			} else {
				_, done[i] = c.DeleteManifest(ctx, it.Repository, it.Digest, nil)
			}
			return nil
		})
	}
	for i, j := range withManifest {
		ran[i], done[i] = ran[j], done[j] // gone with its manifest, or not
	}
	for i, it := range plan.Delete {
		if !ran[i] {
			done[i] = fmt.Errorf("not attempted: %w", context.Cause(ctx))
		}
		if done[i] != nil {
			it.Reason = describe(done[i])
			failed = append(failed, it)
		} else {
			deleted = append(deleted, it)
		}
	}
	return deleted, failed
}
