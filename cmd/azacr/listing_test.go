package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReposAndTagsAsJSON(t *testing.T) {
	r := newTestRegistry(t)
	seedTestImage(t, r, "hello", "v1", "one")
	seedTestImage(t, r, "hello", "v2", "two")
	seedTestImage(t, r, "other", "latest", "three")

	res := r.azacr(t, "", "repos", r.ref(""), "--output", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var repos []string
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &repos))
	require.Equal(t, []string{"hello", "other"}, repos)

	res = r.azacr(t, "", "tags", r.ref("hello"), "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var tags []map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &tags))
	require.Len(t, tags, 2)
	require.Equal(t, "v2", tags[0]["name"], "newest first")
	for _, tag := range tags {
		require.Contains(t, tag, "digest")
		require.Contains(t, tag, "lastUpdatedOn")
	}
	res = r.azacr(t, "", "tags", r.ref("hello"), "--oldest-first")
	require.Equal(t, 0, res.code, res.stderr)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, 3)
	require.True(t, strings.HasPrefix(lines[1], "v1 "), res.stdout)
}

func TestUsageErrorsExitTwo(t *testing.T) {
	r := newTestRegistry(t)
	for _, args := range [][]string{
		{"tags"},
		{"tags", r.ref("")},
		{"tags", r.ref("Bad_Name")},
		{"repos", r.ref("hello")},
		{"tags", r.ref("hello"), "--output", "yaml"},
		{"show", r.ref("hello")},
		{"nosuchcommand"},
		{"tags", r.ref("hello"), "--nosuchflag"},
	} {
		res := r.azacr(t, "", args...)
		require.Equal(t, 2, res.code, "%v: %s", args, res.stderr)
		require.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
		require.True(t, strings.HasPrefix(res.stderr, "azacr: "), res.stderr)
	}
}

func TestRefusalsExitOneWithTheErrorCode(t *testing.T) {
	r := newTestRegistry(t)
	res := r.azacr(t, "", "show", r.ref("missing:v1"))
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "MANIFEST_UNKNOWN")
	require.Equal(t, 1, strings.Count(res.stderr, "\n"), res.stderr)
}

func TestManifestsReferrersAndShow(t *testing.T) {
	r := newTestRegistry(t)
	digest := seedTestImage(t, r, "hello", "v1", "one")
	sig := seedTestSignature(t, r, "hello", digest, "application/vnd.example.signature")

	res := r.azacr(t, "", "manifests", r.ref("hello"), "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var manifests []map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &manifests))
	var found bool
	for _, m := range manifests {
		if m["digest"] == digest {
			found = true
			require.Equal(t, "linux/amd64", m["platform"])
			require.Equal(t, []any{"v1"}, m["tags"])
			require.NotZero(t, m["size"])
			require.Equal(t, true, m["canDelete"])
		}
	}
	require.True(t, found, res.stdout)
	res = r.azacr(t, "", "manifests", r.ref("hello"))
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "linux/amd64")

	res = r.azacr(t, "", "referrers", r.ref("hello:v1"), "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var referrers []map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &referrers))
	require.Len(t, referrers, 1)
	require.Equal(t, sig, referrers[0]["digest"])
	require.Equal(t, "application/vnd.example.signature", referrers[0]["artifactType"])
	res = r.azacr(t, "", "referrers", r.ref("hello@"+digest), "--artifact-type", "application/vnd.example.sbom", "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	require.JSONEq(t, "[]", res.stdout)

	res = r.azacr(t, "", "show", r.ref("hello:v1"), "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var shown map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &shown))
	require.Equal(t, digest, shown["properties"].(map[string]any)["digest"])
	require.Contains(t, shown["manifest"], "layers")
	res = r.azacr(t, "", "show", r.ref("hello:v1"))
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, digest)
	require.Contains(t, res.stdout, `"layers"`)
}
