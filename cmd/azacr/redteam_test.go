package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// What the command's red team found, kept fixed.

func TestDangerousInputsAreUsageErrors(t *testing.T) {
	r := newTestRegistry(t)
	seedTestImage(t, r, "hello", "v1", "one")
	seedTestImage(t, r, "application", "v1", "two")
	for name, args := range map[string][]string{
		// 110000 days overflowed a duration into a negative age: every
		// tag looked old enough.
		"ago past a hundred years": {"purge", r.ref(""), "--filter", "hello:.*", "--ago", "110000d"},
		// "app)|(zzz" wrapped in ^(?:…)$ escaped the anchors.
		"repository pattern escaping its anchors": {"purge", r.ref(""), "--filter", "app)|(zzz:.*", "--dry-run"},
		"tag pattern escaping its anchors":        {"purge", r.ref(""), "--filter", "hello:v)|(zzz", "--dry-run"},
		"a CA file without end":                   {"--ca-file", "/dev/zero", "repos", r.ref("")},
		"a control character in the registry":     {"tags", "reg\nistry/hello"},
		"no command":                              {},
	} {
		res := runCommand(t, "", args...)
		require.Equal(t, 2, res.code, "%s: %s", name, res.stderr)
		lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
		require.True(t, strings.HasPrefix(lines[len(lines)-1], "azacr: "), "%s: %q", name, res.stderr)
		if name != "no command" { // which prints the help first
			require.Len(t, lines, 1, "%s: one line: %q", name, res.stderr)
		}
	}
	tags := r.azacr(t, "", "tags", r.ref("hello"), "-o", "json")
	require.Contains(t, tags.stdout, `"v1"`, "nothing was deleted")
}

func TestErrorLinesStayOneLine(t *testing.T) {
	require.Equal(t, "GET /x: 400 BAD SECOND LINE", oneLine("azacr: GET /x: 400 BAD\nSECOND LINE"))
	require.Equal(t, "digest mismatch", oneLine("azacr: azacr: digest mismatch"))
}
