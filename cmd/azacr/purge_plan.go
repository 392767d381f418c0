package main

// Planning a purge: a pure function from listings to what to delete.

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// purgeFilter is one --filter REPO_REGEX:TAG_REGEX, both anchored.
type purgeFilter struct {
	text      string
	repo, tag *regexp.Regexp
}

// parsePurgeFilter reads REPO_REGEX:TAG_REGEX, split at the first colon
// (repository names have none), each matching whole names.
func parsePurgeFilter(s string) (purgeFilter, error) {
	repo, tag, ok := strings.Cut(s, ":")
	if !ok || repo == "" || tag == "" {
		return purgeFilter{}, usageErrorf("--filter %q: want REPO_REGEX:TAG_REGEX, like 'hello-world:.*'", s)
	}
	f := purgeFilter{text: s}
	var err error
	if f.repo, err = wholeMatch(repo); err != nil {
		return f, usageErrorf("--filter %q: repository pattern: %v", s, err)
	}
	if f.tag, err = wholeMatch(tag); err != nil {
		return f, usageErrorf("--filter %q: tag pattern: %v", s, err)
	}
	return f, nil
}

// wholeMatch compiles pattern to match whole names. The pattern must be
// a regular expression on its own: wrapped unchecked, "a)|(b" would
// become "^(?:a)|(b)$", which matches any name starting with a.
func wholeMatch(pattern string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(pattern); err != nil {
		return nil, err
	}
	return regexp.Compile("^(?:" + pattern + ")$")
}

// maxAgoDays bounds --ago in days: a hundred years, far inside what a
// time.Duration holds (a larger count would wrap around to a negative
// age, and every tag would look old enough).
const maxAgoDays = 36500

// parseAge reads --ago: a number and a unit d, h, m or s (30d, 12h, 90m),
// combinations Go's durations allow (1h30m), or 0 for any age.
func parseAge(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > maxAgoDays {
			return 0, usageErrorf("--ago %q: want a duration like 30d, 12h or 90m, at most %dd", s, maxAgoDays)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, usageErrorf("--ago %q: want a duration like 30d, 12h or 90m", s)
	}
	return d, nil
}

// purgeRules are a purge's options.
type purgeRules struct {
	filters  []purgeFilter
	ago      time.Duration // 0: any age
	now      time.Time
	keep     int
	untagged bool
}

// matches reports whether rules consider repository at all, and the tag
// patterns that apply to it.
func (r purgeRules) tagPatterns(repository string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, f := range r.filters {
		if f.repo.MatchString(repository) {
			out = append(out, f.tag)
		}
	}
	return out
}

// old reports whether t is older than --ago.
func (r purgeRules) old(t time.Time) bool {
	return r.ago == 0 || t.Before(r.now.Add(-r.ago))
}

// purgeTag is a tag as listed.
type purgeTag struct {
	Name    string
	Digest  string
	Updated time.Time
	Locked  bool // CanDelete or CanWrite false
}

// purgeManifest is a manifest as listed; Children are the manifests an
// index or manifest list refers to.
type purgeManifest struct {
	Digest   string
	Updated  time.Time
	Locked   bool
	Tags     []string
	Children []string
}

// repoListing is what a purge reads of one repository. Manifests are
// listed only with --untagged.
type repoListing struct {
	Name      string
	Tags      []purgeTag
	Manifests []purgeManifest
}

// purgeItem is a tag or manifest a purge deletes, skips or failed on.
type purgeItem struct {
	Repository string `json:"repository"`
	Kind       string `json:"kind"` // "tag" or "manifest"
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest"`
	Reason     string `json:"reason,omitempty"` // why skipped or failed

	// after are the keys of deletions that must succeed first: a
	// manifest's tags, and the indexes that refer to it.
	after []string
}

// key identifies an item within a plan.
func (it purgeItem) key() string {
	if it.Kind == "tag" {
		return it.Repository + ":" + it.Tag
	}
	return it.Repository + "@" + it.Digest
}

func (it purgeItem) String() string {
	if it.Kind == "tag" {
		return "tag " + it.Repository + ":" + it.Tag
	}
	return "manifest " + it.Repository + "@" + it.Digest
}

// purgePlan is what a purge deletes, in an order that respects each
// item's after: tags first, then indexes, then what they referred to.
type purgePlan struct {
	Delete []purgeItem
	Locked []purgeItem // would be deleted but for a lock
	Kept   int         // matching tags and untagged manifests left alone
}

// planPurge decides, for each listed repository that a filter's pattern
// matches, what to delete:
//
//   - the tags a filter's tag pattern matches, but the newest --keep of
//     them and those updated within --ago;
//   - with --untagged, the manifests left without tags, updated before
//     --ago, that no index left in place refers to (directly or through
//     other indexes);
//   - never a locked tag or manifest: those are reported in Locked and
//     stay, and with them what they protect.
func planPurge(listings []repoListing, rules purgeRules) purgePlan {
	var plan purgePlan
	sorted := append([]repoListing(nil), listings...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, l := range sorted {
		planRepository(&plan, l, rules)
	}
	return plan
}

// planRepository adds one repository's deletions to plan: its tags, then
// with --untagged its manifests.
func planRepository(plan *purgePlan, l repoListing, rules purgeRules) {
	patterns := rules.tagPatterns(l.Name)
	if len(patterns) == 0 {
		return
	}
	deletedTags := planTags(plan, l, matchingTags(l.Tags, patterns), rules)
	if !rules.untagged {
		return
	}
	byDigest := map[string]purgeManifest{}
	for _, m := range l.Manifests {
		byDigest[m.Digest] = m
	}
	candidate := untaggedCandidates(plan, l, deletedTags, rules)
	protectChildren(plan, l.Manifests, candidate)
	for _, d := range parentsFirst(candidate, byDigest) {
		item := purgeItem{Repository: l.Name, Kind: "manifest", Digest: d.digest}
		for _, t := range byDigest[d.digest].Tags {
			item.after = append(item.after, l.Name+":"+t)
		}
		for _, p := range d.parents {
			item.after = append(item.after, l.Name+"@"+p)
		}
		sort.Strings(item.after)
		plan.Delete = append(plan.Delete, item)
	}
}

// matchingTags are the tags a pattern matches, newest first; ties by
// name, so the plan does not depend on listing order.
func matchingTags(tags []purgeTag, patterns []*regexp.Regexp) []purgeTag {
	var matching []purgeTag
	for _, t := range tags {
		for _, p := range patterns {
			if p.MatchString(t.Name) {
				matching = append(matching, t)
				break
			}
		}
	}
	sort.Slice(matching, func(i, j int) bool {
		if !matching[i].Updated.Equal(matching[j].Updated) {
			return matching[i].Updated.After(matching[j].Updated)
		}
		return matching[i].Name < matching[j].Name
	})
	return matching
}

// planTags deletes the matching tags but the newest --keep and those
// updated within --ago, and never a locked one; it returns the names of
// those it deletes.
func planTags(plan *purgePlan, l repoListing, matching []purgeTag, rules purgeRules) map[string]bool {
	deleted := map[string]bool{}
	for i, t := range matching {
		item := purgeItem{Repository: l.Name, Kind: "tag", Tag: t.Name, Digest: t.Digest}
		switch {
		case i < rules.keep || !rules.old(t.Updated):
			plan.Kept++
		case t.Locked:
			item.Reason = "locked"
			plan.Locked = append(plan.Locked, item)
		default:
			deleted[t.Name] = true
			plan.Delete = append(plan.Delete, item)
		}
	}
	return deleted
}

// untaggedCandidates are the manifests with no tags left, old enough and
// unlocked.
func untaggedCandidates(plan *purgePlan, l repoListing, deletedTags map[string]bool, rules purgeRules) map[string]bool {
	candidate := map[string]bool{}
	for _, m := range l.Manifests {
		left := 0
		for _, t := range m.Tags {
			if !deletedTags[t] {
				left++
			}
		}
		switch {
		case left > 0:
		case !rules.old(m.Updated):
			plan.Kept++
		case m.Locked:
			plan.Locked = append(plan.Locked, purgeItem{Repository: l.Name, Kind: "manifest", Digest: m.Digest, Reason: "locked"})
		default:
			candidate[m.Digest] = true
		}
	}
	return candidate
}

// protectChildren keeps what an index that stays refers to, until nothing
// changes (an index may refer to indexes).
func protectChildren(plan *purgePlan, manifests []purgeManifest, candidate map[string]bool) {
	for changed := true; changed; {
		changed = false
		for _, m := range manifests {
			if candidate[m.Digest] {
				continue
			}
			for _, c := range m.Children {
				if candidate[c] {
					delete(candidate, c)
					plan.Kept++
					changed = true
				}
			}
		}
	}
}

// orderedManifest is a manifest to delete and the deleted indexes that
// refer to it.
type orderedManifest struct {
	digest  string
	parents []string
}

// parentsFirst orders the manifests to delete by depth below the deleted
// indexes, so no index is left pointing at a deleted manifest.
func parentsFirst(candidate map[string]bool, byDigest map[string]purgeManifest) []orderedManifest {
	parents := map[string][]string{}
	for d := range candidate {
		for _, c := range byDigest[d].Children {
			parents[c] = append(parents[c], d)
		}
	}
	depth := map[string]int{}
	var depthOf func(d string, seen map[string]bool) int
	depthOf = func(d string, seen map[string]bool) int {
		if v, ok := depth[d]; ok {
			return v
		}
		if seen[d] {
			return 0 // a cycle cannot be stored; stay finite anyway
		}
		seen[d] = true
		v := 0
		for _, p := range parents[d] {
			v = max(v, depthOf(p, seen)+1)
		}
		depth[d] = v
		return v
	}
	out := make([]orderedManifest, 0, len(candidate))
	for d := range candidate {
		depthOf(d, map[string]bool{})
		out = append(out, orderedManifest{digest: d, parents: parents[d]})
	}
	sort.Slice(out, func(i, j int) bool {
		if depth[out[i].digest] != depth[out[j].digest] {
			return depth[out[i].digest] < depth[out[j].digest]
		}
		return out[i].digest < out[j].digest
	})
	return out
}

// summary is the plan's one-line account.
func (s purgeSummary) line() string {
	verb := "deleted"
	if s.DryRun {
		verb = "would delete"
	}
	return fmt.Sprintf("purge: %s %d (%d tags, %d manifests), kept %d, skipped %d as locked, %d failed",
		verb, s.Deleted, s.DeletedTags, s.DeletedManifests, s.Kept, s.SkippedLocked, s.Failed)
}

// purgeSummary is what purge prints in --output json.
type purgeSummary struct {
	DryRun           bool        `json:"dryRun"`
	Deleted          int         `json:"deleted"`
	DeletedTags      int         `json:"deletedTags"`
	DeletedManifests int         `json:"deletedManifests"`
	Kept             int         `json:"kept"`
	SkippedLocked    int         `json:"skippedLocked"`
	Failed           int         `json:"failed"`
	DeletedItems     []purgeItem `json:"deletedItems"`
	SkippedItems     []purgeItem `json:"skippedLockedItems"`
	FailedItems      []purgeItem `json:"failedItems"`
}
