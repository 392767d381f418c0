package main

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
)

// clock is a settable clock for acrtest's Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// newClockRegistry is newTestRegistry with the server's clock set by c.
func newClockRegistry(t testing.TB, c *clock) *testRegistry {
	srv := acrtest.NewServer(t, &acrtest.Options{Now: c.Now, Users: []acrtest.User{{Name: testUser, Password: testPassword}}})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644))
	return &testRegistry{Server: srv, caFile: ca}
}

// seedIndexOf stores an index of the given manifests under tag.
func seedIndexOf(t testing.TB, r *testRegistry, repo, tag string, children ...string) string {
	var ms []string
	for _, c := range children {
		body, mt, ok := r.Manifest(repo, c)
		require.True(t, ok)
		ms = append(ms, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"amd64","os":"linux"}}`, mt, c, len(body)))
	}
	body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + strings.Join(ms, ",") + `]}`
	d, err := r.PutManifest(repo, tag, "application/vnd.oci.image.index.v1+json", []byte(body))
	require.NoError(t, err)
	return d
}

func purgeJSON(t *testing.T, res result) purgeSummary {
	t.Helper()
	var s purgeSummary
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &s), res.stdout)
	return s
}

func keys(items []purgeItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.String())
	}
	sort.Strings(out)
	return out
}

func TestPlanPurge(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }
	f, err := parsePurgeFilter("app.*:v.*")
	require.NoError(t, err)
	listings := []repoListing{{
		Name: "app",
		Tags: []purgeTag{
			{Name: "v1", Digest: "sha256:1", Updated: day(50)},
			{Name: "v2", Digest: "sha256:2", Updated: day(40), Locked: true},
			{Name: "v3", Digest: "sha256:3", Updated: day(35)},
			{Name: "v4", Digest: "sha256:4", Updated: day(31)},
			{Name: "v5", Digest: "sha256:5", Updated: day(1)},
			{Name: "latest", Digest: "sha256:idx", Updated: day(60)},
		},
		Manifests: []purgeManifest{
			{Digest: "sha256:1", Updated: day(50), Tags: []string{"v1"}},
			{Digest: "sha256:2", Updated: day(40), Tags: []string{"v2"}},
			{Digest: "sha256:3", Updated: day(35), Tags: []string{"v3"}},
			{Digest: "sha256:4", Updated: day(31), Tags: []string{"v4"}},
			{Digest: "sha256:5", Updated: day(1), Tags: []string{"v5"}},
			{Digest: "sha256:idx", Updated: day(60), Tags: []string{"latest"}, Children: []string{"sha256:c1"}},
			{Digest: "sha256:c1", Updated: day(60)},
			{Digest: "sha256:old", Updated: day(90)},
			{Digest: "sha256:lockedold", Updated: day(90), Locked: true},
			{Digest: "sha256:young", Updated: day(2)},
			{Digest: "sha256:oldidx", Updated: day(90), Children: []string{"sha256:c2"}},
			{Digest: "sha256:c2", Updated: day(90)},
		},
	}, {Name: "other", Tags: []purgeTag{{Name: "v1", Updated: day(99)}}}}

	plan := planPurge(listings, purgeRules{filters: []purgeFilter{f}, ago: 30 * 24 * time.Hour, now: now, keep: 1})
	// v5 is the newest (kept by --keep), v4..v1 are old; v2 is locked.
	require.Equal(t, []string{"tag app:v1", "tag app:v3", "tag app:v4"}, keys(plan.Delete))
	require.Equal(t, []string{"tag app:v2"}, keys(plan.Locked))
	require.Equal(t, 1, plan.Kept)

	plan = planPurge(listings, purgeRules{filters: []purgeFilter{f}, ago: 30 * 24 * time.Hour, now: now, keep: 1, untagged: true})
	require.Equal(t, []string{
		"manifest app@sha256:1", "manifest app@sha256:3", "manifest app@sha256:4", "manifest app@sha256:c2",
		"manifest app@sha256:old", "manifest app@sha256:oldidx", "tag app:v1", "tag app:v3", "tag app:v4",
	}, keys(plan.Delete), "c1 is protected by the tagged index, young by its age")
	require.Equal(t, []string{"manifest app@sha256:lockedold", "tag app:v2"}, keys(plan.Locked))
	// Order: a manifest after its tag, a child after its index.
	pos := map[string]int{}
	for i, it := range plan.Delete {
		pos[it.key()] = i
	}
	require.Less(t, pos["app:v1"], pos["app@sha256:1"])
	require.Less(t, pos["app@sha256:oldidx"], pos["app@sha256:c2"])

	// --ago 0 is any age; --keep 0 keeps none; "latest" matches no v.*.
	plan = planPurge(listings, purgeRules{filters: []purgeFilter{f}, now: now})
	require.Equal(t, []string{"tag app:v1", "tag app:v3", "tag app:v4", "tag app:v5"}, keys(plan.Delete))

	// An index that stays because it is locked protects its children.
	listings[0].Manifests[10].Locked = true
	plan = planPurge(listings, purgeRules{filters: []purgeFilter{f}, now: now, untagged: true, keep: 10})
	require.NotContains(t, keys(plan.Delete), "manifest app@sha256:c2")
	require.Contains(t, keys(plan.Locked), "manifest app@sha256:oldidx")
}

func TestParsePurgeFlags(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "30d": 30 * 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute} {
		got, err := parseAge(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"x", "-1d", "3w", "d"} {
		_, err := parseAge(in)
		require.Error(t, err, in)
	}
	f, err := parsePurgeFilter("hello:v1")
	require.NoError(t, err)
	require.True(t, f.repo.MatchString("hello"))
	require.False(t, f.repo.MatchString("hello-world"), "anchored")
	require.False(t, f.tag.MatchString("v10"), "anchored")
	for _, in := range []string{"hello", ":v1", "hello:", "(:x", "a:("} {
		_, err := parsePurgeFilter(in)
		require.Error(t, err, in)
	}
}

// seedPurgeRegistry fills a registry: in "app", v1..v6 a day apart,
// 40 to 35 days old, v2 locked; an index "multi" 60 days old whose child
// is untagged; an untagged manifest 90 days old and one 1 day old; in
// "keep", the same tags, which the filter does not match.
func seedPurgeRegistry(t *testing.T) (*testRegistry, map[string]string) {
	c := &clock{}
	now := time.Now()
	r := newClockRegistry(t, c)
	d := map[string]string{}
	at := func(days int) { c.set(now.Add(-time.Duration(days) * 24 * time.Hour)) }
	for _, repo := range []string{"app", "keep"} {
		for i := 1; i <= 6; i++ {
			at(41 - i)
			d[fmt.Sprintf("%s:v%d", repo, i)] = seedTestImage(t, r, repo, fmt.Sprintf("v%d", i), fmt.Sprintf("%s layer %d", repo, i))
		}
	}
	at(60)
	child := seedTestImage(t, r, "app", "child", "child layer")
	d["app:multi"] = seedIndexOf(t, r, "app", "multi", child)
	d["app@child"] = child
	at(90)
	d["app@old"] = seedTestImage(t, r, "app", "gone", "old layer")
	at(1)
	d["app@young"] = seedTestImage(t, r, "app", "gone2", "young layer")
	c.set(now)
	// Untag the helpers' tags: the manifests stay, untagged.
	cl := r.client(t)
	for _, tag := range []string{"child", "gone", "gone2"} {
		_, err := cl.DeleteTag(t.Context(), "app", tag, nil)
		require.NoError(t, err)
	}
	res := r.azacr(t, "", "lock", r.ref("app:v2"))
	require.Equal(t, 0, res.code, res.stderr)
	r.ResetRequests()
	return r, d
}

// client is an azacr client signed in as the admin user.
func (r *testRegistry) client(t testing.TB) *azacr.ContainerRegistryClient {
	c, err := azacr.NewContainerRegistryClient(r.URL, azacr.NewPasswordCredential(testUser, testPassword),
		&azacr.ContainerRegistryClientOptions{ClientOptions: r.ClientOptions()})
	require.NoError(t, err)
	return c
}

func TestPurgeDeletesOldTagsAndUntaggedManifests(t *testing.T) {
	r, d := seedPurgeRegistry(t)
	res := r.azacr(t, "", "purge", r.ref(""), "--filter", "app:v.*|multi", "--ago", "30d", "--keep", "2", "--untagged", "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	s := purgeJSON(t, res)
	// v6 and v5 kept by --keep; v2 locked; v1, v3, v4 and multi deleted;
	// then their manifests, the index's child and the old untagged one.
	require.Equal(t, sortedCopy([]string{
		"manifest app@" + d["app:multi"], "manifest app@" + d["app:v1"], "manifest app@" + d["app:v3"], "manifest app@" + d["app:v4"],
		"manifest app@" + d["app@child"], "manifest app@" + d["app@old"],
		"tag app:multi", "tag app:v1", "tag app:v3", "tag app:v4",
	}), keys(s.DeletedItems))
	require.Equal(t, []string{"tag app:v2"}, keys(s.SkippedItems))
	require.Equal(t, 10, s.Deleted)
	require.Equal(t, 4, s.DeletedTags)
	require.Equal(t, 1, s.SkippedLocked)
	require.Equal(t, 0, s.Failed)
	require.Equal(t, 3, s.Kept, "v5, v6 and the young manifest")
	for _, k := range []string{"app:v2", "app:v5", "app:v6", "keep:v1", "app@" + d["app@young"]} {
		repo, ref, _ := strings.Cut(strings.Replace(k, "@", ":", 1), ":")
		_, _, ok := r.Manifest(repo, ref)
		require.True(t, ok, k)
	}
	_, _, ok := r.Manifest("app", d["app@child"])
	require.False(t, ok)

	// Table mode: one line per item and the summary.
	res = r.azacr(t, "", "purge", r.ref(""), "--filter", "app:.*", "--dry-run")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "would delete tag app:v5\n")
	require.Contains(t, res.stdout, "skipped tag app:v2 (locked)\n")
	require.True(t, strings.HasSuffix(res.stdout, "purge: would delete 2 (2 tags, 0 manifests), kept 0, skipped 1 as locked, 0 failed\n"), res.stdout)
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestPurgeProtectsTheChildrenOfKeptIndexes(t *testing.T) {
	r, d := seedPurgeRegistry(t)
	// The index's tag is kept: its untagged child stays.
	res := r.azacr(t, "", "purge", r.ref(""), "--filter", "app:v.*", "--untagged", "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	s := purgeJSON(t, res)
	require.NotContains(t, keys(s.DeletedItems), "manifest app@"+d["app@child"])
	require.Contains(t, keys(s.DeletedItems), "manifest app@"+d["app@young"], "--ago 0: any age")
	_, _, ok := r.Manifest("app", d["app@child"])
	require.True(t, ok)
	_, _, ok = r.Manifest("app", d["app:v2"])
	require.True(t, ok, "locked tag, so its manifest is tagged")
}

func TestPurgeDryRunListsWhatARunDeletes(t *testing.T) {
	for _, flags := range [][]string{
		{"--filter", "app:v.*", "--ago", "30d", "--keep", "2", "--untagged"},
		{"--filter", "app:.*", "--filter", "ke.p:v[1-3]", "--untagged"},
		{"--filter", ".*:.*", "--keep", "1"},
	} {
		dry, _ := seedPurgeRegistry(t)
		real, _ := seedPurgeRegistry(t)
		res := dry.azacr(t, "", append([]string{"purge", dry.ref(""), "--dry-run", "-o", "json"}, flags...)...)
		require.Equal(t, 0, res.code, res.stderr)
		want := purgeJSON(t, res)
		require.True(t, want.DryRun)
		require.Zero(t, dry.CountRequests("DELETE", ""), "a dry run deletes nothing")
		res = real.azacr(t, "", append([]string{"purge", real.ref(""), "--concurrency", "3", "-o", "json"}, flags...)...)
		require.Equal(t, 0, res.code, res.stderr)
		got := purgeJSON(t, res)
		// Digests differ between the registries only if content did; it
		// does not, so the lists compare whole.
		require.Equal(t, keys(want.DeletedItems), keys(got.DeletedItems), "%v", flags)
		require.Equal(t, keys(want.SkippedItems), keys(got.SkippedItems))
		// One request per deletion, but for a tag whose manifest goes too:
		// deleting the manifest deletes it.
		manifests := map[string]bool{}
		for _, it := range got.DeletedItems {
			if it.Kind == "manifest" {
				manifests[it.Repository+"@"+it.Digest] = true
			}
		}
		requests := 0
		for _, it := range got.DeletedItems {
			if it.Kind == "manifest" || !manifests[it.Repository+"@"+it.Digest] {
				requests++
			}
			if it.Kind == "tag" {
				_, _, ok := real.Manifest(it.Repository, it.Tag)
				require.False(t, ok, "tag %s:%s is gone", it.Repository, it.Tag)
			}
		}
		require.Equal(t, requests, real.CountRequests("DELETE", ""))
	}
}

func TestPurgeUsageErrors(t *testing.T) {
	r := newTestRegistry(t)
	for _, args := range [][]string{
		{"purge", r.ref("")},
		{"purge", r.ref("app"), "--filter", "a:b"},
		{"purge", r.ref(""), "--filter", "nocolon"},
		{"purge", r.ref(""), "--filter", "a:b", "--ago", "soon"},
		{"purge", r.ref(""), "--filter", "a:b", "--keep", "-1"},
		{"purge", r.ref(""), "--filter", "a:b", "--concurrency", "0"},
	} {
		res := r.azacr(t, "", args...)
		require.Equal(t, 2, res.code, "%v: %s", args, res.stderr)
	}
}

func TestPurgeReportsFailures(t *testing.T) {
	r, _ := seedPurgeRegistry(t)
	r.InjectFault(acrtest.Fault{Method: "DELETE", Status: 403})
	res := r.azacr(t, "", "purge", r.ref(""), "--filter", "keep:v1")
	require.Equal(t, 1, res.code, res.stdout)
	require.Contains(t, res.stdout, "failed tag keep:v1")
	require.Contains(t, res.stdout, "1 failed\n")
	require.Equal(t, 1, strings.Count(res.stderr, "\n"), res.stderr)
}
