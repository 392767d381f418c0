// Copyright (c) Microsoft Corporation. All rights reserved.
// Licensed under the MIT License.

package azacr

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateRepository(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		reason string // "" means valid
	}{
		{"single letter", "a", ""},
		{"single digit", "0", ""},
		{"dash", "hello-world", ""},
		{"namespace", "library/hello-world", ""},
		{"deep", "a/b/c/d/e", ""},
		{"dot", "a.b", ""},
		{"underscore", "a_b", ""},
		{"double underscore", "a__b", ""},
		{"dash run", "a---b", ""},
		{"mixed separators", "foo.bar_baz__qux-x--y/z0", ""},
		{"255 bytes", strings.Repeat("a", 255), ""},
		{"255 bytes with slashes", strings.Repeat("ab/", 84) + "abc", ""},

		{"empty", "", "empty repository name"},
		{"256 bytes", strings.Repeat("a", 256), "too long: 256 bytes, maximum 255"},
		{"very long", strings.Repeat("ab/", 1000), "too long: 3000 bytes"},
		{"uppercase", "Hello", "uppercase character 'H' at offset 0: repository names are lowercase"},
		{"uppercase later", "library/helloWorld", "uppercase character 'W' at offset 13"},
		{"leading slash", "/a", "leading '/'"},
		{"only slash", "/", "leading '/'"},
		{"trailing slash", "a/", "trailing '/'"},
		{"double slash", "a//b", "empty path component at offset 2"},
		{"dot dot", "..", "path component starts with separator '.' at offset 0"},
		{"dot dot component", "a/../b", "path component starts with separator '.' at offset 2"},
		{"dot component", "a/./b", "path component starts with separator '.' at offset 2"},
		{"leading dot", ".a", "starts with separator '.'"},
		{"leading dash", "-a", "starts with separator '-'"},
		{"leading underscore", "_a", "starts with separator '_'"},
		{"trailing dot", "a.", "path component ends with separator '.' at offset 1"},
		{"trailing dash before slash", "a-/b", "ends with separator '-' at offset 1"},
		{"double dot inside", "a..b", `invalid separator ".." at offset 1`},
		{"triple underscore", "a___b", `invalid separator "___" at offset 1`},
		{"dot underscore", "a._b", `invalid separator "._"`},
		{"dash dot", "a-.b", `invalid separator "-."`},
		{"underscore dash", "a_-b", `invalid separator "_-"`},
		{"question mark", "a?b", "invalid character '?' at offset 1"},
		{"hash", "a#b", "invalid character '#' at offset 1"},
		{"percent escape", "library%2fhello", "invalid character '%' at offset 7"},
		{"colon", "a:b", "invalid character ':' at offset 1"},
		{"at", "a@sha256", "invalid character '@' at offset 1"},
		{"plus", "a+b", "invalid character '+' at offset 1"},
		{"backslash", `a\b`, `invalid character '\\' at offset 1`},
		{"space", "a b", "invalid character ' ' at offset 1"},
		{"tab", "a\tb", `invalid character '\t' at offset 1`},
		{"newline", "a\n", `invalid character '\n' at offset 1`},
		{"NUL", "a\x00b", `invalid character '\x00' at offset 1`},
		{"unicode", "héllo", "invalid character 'é' (non-ASCII) at offset 1"},
		{"invalid UTF-8", "a\xffb", "invalid character byte 0xff (invalid UTF-8) at offset 1"},
		{"long invalid", strings.Repeat("a", 200) + "?", "invalid character '?' at offset 200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateRepository(tc.in)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			assertValidationError(t, err, tc.in, tc.reason, ErrInvalidRepository)
		})
	}
}

func TestValidateTag(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		reason string // "" means valid
	}{
		{"latest", "latest", ""},
		{"semver", "v1.2.3-rc.1", ""},
		{"uppercase", "Latest", ""},
		{"underscore only", "_", ""},
		{"leading underscore", "_hidden", ""},
		{"digit", "1", ""},
		{"all classes", "aZ0_.-", ""},
		{"128 chars", strings.Repeat("t", 128), ""},
		{"looks like hex", strings.Repeat("ab", 32), ""},

		{"empty", "", "empty tag"},
		{"129 chars", strings.Repeat("t", 129), "too long: 129 bytes, maximum 128"},
		{"very long", strings.Repeat("t", 5000), "too long: 5000 bytes"},
		{"leading dot", ".hidden", "starts with '.': tags start with a letter, digit or '_'"},
		{"leading dash", "-rc", "starts with '-'"},
		{"dot dot", "..", "starts with '.'"},
		{"slash", "a/b", "invalid character '/' at offset 1"},
		{"colon", "v1:2", "invalid character ':' at offset 2"},
		{"question mark", "v1?x=1", "invalid character '?' at offset 2"},
		{"hash", "v1#frag", "invalid character '#' at offset 2"},
		{"percent", "v1%20", "invalid character '%' at offset 2"},
		{"plus", "1.0+build", "invalid character '+' at offset 3"},
		{"at", "a@b", "invalid character '@' at offset 1"},
		{"space", "my tag", "invalid character ' ' at offset 2"},
		{"trailing newline", "latest\n", `invalid character '\n' at offset 6`},
		{"NUL", "latest\x00", `invalid character '\x00' at offset 6`},
		{"unicode", "tág", "invalid character 'á' (non-ASCII) at offset 1"},
		{"leading unicode", "ñ", "invalid character 'ñ' (non-ASCII) at offset 0"},
		{"invalid UTF-8", "\xfe", "invalid character byte 0xfe (invalid UTF-8) at offset 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateTag(tc.in)
			assert.Equal(t, tc.reason == "", isTag(tc.in), "isTag disagrees with the table")
			if tc.reason == "" {
				require.NoError(t, err)
				require.NoError(t, ValidateReference(tc.in), "every tag is a reference")
				return
			}
			assertValidationError(t, err, tc.in, tc.reason, ErrInvalidTag)
		})
	}
}

func TestValidateReference(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		reason    string // "" means valid
		sentinels []error
	}{
		{"tag", "latest", "", nil},
		{"sha256 digest", emptySHA256, "", nil},
		{"sha512 digest", emptySHA512, "", nil},
		{"hex-looking tag", emptySHA256[7:], "", nil},

		{"empty", "", "empty reference", []error{ErrInvalidTag}},
		{"bad tag", ".hidden", "not a valid tag: starts with '.'", []error{ErrInvalidTag}},
		{"tag with slash", "a/b", "not a valid tag: invalid character '/' at offset 1", []error{ErrInvalidTag}},
		{"long tag", strings.Repeat("x", 129), "not a valid tag: too long", []error{ErrInvalidTag}},
		{"short digest", "sha256:abc", "not a valid digest (contains ':'): wrong hex length", []error{ErrInvalidDigest}},
		{"empty hex", "sha256:", `missing hex after "sha256:"`, []error{ErrInvalidDigest}},
		{"md5", "md5:d41d8cd98f00b204e9800998ecf8427e", `unsupported algorithm "md5"`, []error{ErrInvalidDigest}},
		{"uppercase hex", "sha256:" + strings.ToUpper(emptySHA256[7:]), "uppercase hex character", []error{ErrInvalidDigest}},
		{"tag with colon", "v1:2", `unsupported algorithm "v1"`, []error{ErrInvalidDigest}},
		{"docker-style", "latest@" + emptySHA256, `unsupported algorithm "latest@sha256"`, []error{ErrInvalidDigest}},
		{"leading colon", ":latest", "missing algorithm", []error{ErrInvalidDigest}},
		{"query", "latest?x", "invalid character '?'", []error{ErrInvalidTag}},
		{"invalid UTF-8", "\xc3", "byte 0xc3 (invalid UTF-8)", []error{ErrInvalidTag}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateReference(tc.in)
			assert.Equal(t, tc.reason == "", isTagOrDigest(tc.in), "isTagOrDigest disagrees with the table")
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			assertValidationError(t, err, tc.in, tc.reason, append(tc.sentinels, ErrInvalidReference)...)
			// One message, not the wrapped errors' messages strung together.
			assert.Equal(t, 1, strings.Count(err.Error(), "azacr: "), err.Error())
		})
	}
}

func TestValidatorsDoNotAllocate(t *testing.T) {
	name := "library/hello-world.v2__x"
	for fn, f := range map[string]func() error{
		"ValidateRepository": func() error { return ValidateRepository(name) },
		"ValidateTag":        func() error { return ValidateTag("v1.2.3") },
		"ValidateReference":  func() error { return ValidateReference(emptySHA256) },
	} {
		allocs := testing.AllocsPerRun(100, func() {
			if f() != nil {
				t.Fatal("valid value rejected")
			}
		})
		assert.Zero(t, allocs, fn)
	}
}
