package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTagUploadsTheSameManifestUnderANewTag(t *testing.T) {
	r := newTestRegistry(t)
	d := seedTestImage(t, r, "hello", "v1", "one")

	res := r.azacr(t, "", "tag", r.ref("hello:v1"), "v2")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "tagged "+r.ref("hello:v1")+" as "+r.ref("hello:v2")+" ("+d+")\n", res.stdout)

	res = r.azacr(t, "", "tag", r.ref("hello@"+d), r.ref("hello:v3"), "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	var v map[string]string
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &v))
	require.Equal(t, map[string]string{"source": r.ref("hello@" + d), "target": r.ref("hello:v3"), "digest": d}, v)
	want, _, _ := r.Manifest("hello", "v1")
	for _, tag := range []string{"v2", "v3"} {
		got, _, ok := r.Manifest("hello", tag)
		require.True(t, ok, tag)
		require.Equal(t, want, got, "the same bytes")
	}

	for _, args := range [][]string{
		{"tag", r.ref("hello:v1"), r.ref("other:v2")},
		{"tag", r.ref("hello:v1"), "bad tag"},
		{"tag", r.ref("hello:v1"), r.ref("hello@" + d)},
		{"tag", r.ref("hello"), "v2"},
		{"tag", r.ref("hello:v1")},
	} {
		res := r.azacr(t, "", args...)
		require.Equal(t, 2, res.code, "%v: %s", args, res.stderr)
	}
}

func TestDeleteTagKeepsTheManifestDigestDeletesIt(t *testing.T) {
	r := newTestRegistry(t)
	d := seedTestImage(t, r, "hello", "v1", "one")
	_, err := r.PutManifest("hello", "v2", "application/vnd.oci.image.manifest.v1+json", mustManifest(t, r, "hello", "v1"))
	require.NoError(t, err)

	res := r.azacr(t, "", "delete", r.ref("hello:v1"))
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "deleted tag "+r.ref("hello:v1")+" (its manifest stays)\n", res.stdout)
	_, _, ok := r.Manifest("hello", d)
	require.True(t, ok, "the manifest stays")

	res = r.azacr(t, "", "delete", "--untag-only", r.ref("hello:v2"), "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	require.JSONEq(t, `{"reference":"`+r.ref("hello:v2")+`","deleted":"tag"}`, res.stdout)

	res = r.azacr(t, "", "delete", "--untag-only", r.ref("hello@"+d))
	require.Equal(t, 2, res.code, res.stderr)

	res = r.azacr(t, "", "delete", r.ref("hello@"+d), "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	require.JSONEq(t, `{"reference":"`+r.ref("hello@"+d)+`","deleted":"manifest"}`, res.stdout)
	_, _, ok = r.Manifest("hello", d)
	require.False(t, ok)

	// Like the library, deleting what is already gone succeeds.
	res = r.azacr(t, "", "delete", r.ref("hello:v1"))
	require.Equal(t, 0, res.code, res.stderr)
}

func mustManifest(t *testing.T, r *testRegistry, repo, ref string) []byte {
	t.Helper()
	b, _, ok := r.Manifest(repo, ref)
	require.True(t, ok)
	return b
}

func TestLockRefusesDeletionUnlockAllowsIt(t *testing.T) {
	r := newTestRegistry(t)
	d := seedTestImage(t, r, "hello", "v1", "one")

	res := r.azacr(t, "", "lock", r.ref("hello:v1"))
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "tag "+r.ref("hello:v1")+": delete=false write=false read=true list=true\n", res.stdout)

	res = r.azacr(t, "", "delete", r.ref("hello:v1"))
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "DENIED")
	require.Equal(t, 1, strings.Count(res.stderr, "\n"), res.stderr)

	res = r.azacr(t, "", "unlock", r.ref("hello:v1"), "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	require.JSONEq(t, `{"reference":"`+r.ref("hello:v1")+`","kind":"tag","canDelete":true,"canWrite":true,"canRead":true,"canList":true}`, res.stdout)

	res = r.azacr(t, "", "lock", r.ref("hello@"+d), "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	require.JSONEq(t, `{"reference":"`+r.ref("hello@"+d)+`","kind":"manifest","canDelete":false,"canWrite":false,"canRead":true,"canList":true}`, res.stdout)
	res = r.azacr(t, "", "delete", r.ref("hello@"+d))
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "DENIED")
	res = r.azacr(t, "", "unlock", r.ref("hello@"+d))
	require.Equal(t, 0, res.code, res.stderr)
	res = r.azacr(t, "", "delete", r.ref("hello:v1"))
	require.Equal(t, 0, res.code, res.stderr)

	for _, args := range [][]string{{"lock", r.ref("hello")}, {"unlock", "nohost"}, {"lock"}} {
		require.Equal(t, 2, r.azacr(t, "", args...).code, "%v", args)
	}
}

func TestSetChangesOnlyTheFlagsGiven(t *testing.T) {
	r := newTestRegistry(t)
	d := seedTestImage(t, r, "hello", "v1", "one")

	res := r.azacr(t, "", "set", r.ref("hello:v1"), "--list=false")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "tag "+r.ref("hello:v1")+": delete=true write=true read=true list=false\n", res.stdout)
	res = r.azacr(t, "", "set", r.ref("hello:v1"), "--delete=false", "-o", "json")
	require.Equal(t, 0, res.code, res.stderr)
	require.JSONEq(t, `{"reference":"`+r.ref("hello:v1")+`","kind":"tag","canDelete":false,"canWrite":true,"canRead":true,"canList":false}`, res.stdout)

	res = r.azacr(t, "", "set", r.ref("hello@"+d), "--read=false", "--write=false")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "manifest "+r.ref("hello@"+d)+": delete=true write=false read=false list=true\n", res.stdout)

	require.Equal(t, 2, r.azacr(t, "", "set", r.ref("hello:v1")).code, "nothing to change")
	require.Equal(t, 2, r.azacr(t, "", "set", r.ref("hello:v1"), "--read=maybe").code)
	res = r.azacr(t, "", "set", r.ref("hello:missing"), "--read=false")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "TAG_UNKNOWN")
}
