// Copyright (c) Microsoft Corporation. All rights reserved.
// Licensed under the MIT License.

package azacr

import (
	"errors"
	"fmt"
	"strings"
)

// The validators below follow the OCI distribution spec grammar. They are
// hand-written byte loops rather than regexps because they run on every
// request, must not allocate when the input is valid, and must explain
// precisely what is wrong when it is not.

// Length limits from the OCI distribution spec. The spec bounds the whole
// "host/name" by 255 for many clients; we apply 255 to the name alone, the
// strictest limit a caller can check without knowing the host.
const (
	maxRepositoryLen = 255
	maxTagLen        = 128
)

var (
	// ErrInvalidRepository is wrapped by every error about a malformed
	// repository name. Names are checked locally because the registry
	// answers a bad one with an opaque 404 or NAME_INVALID, and because a
	// name is spliced into URL paths where '?', '#' or '%' would change the
	// request's meaning.
	ErrInvalidRepository = errors.New("azacr: invalid repository name")

	// ErrInvalidTag is wrapped by every error about a malformed tag.
	ErrInvalidTag = errors.New("azacr: invalid tag")

	// ErrInvalidReference is wrapped by every error about a manifest
	// reference that is neither a valid tag nor a valid digest. The error
	// also wraps [ErrInvalidTag] or [ErrInvalidDigest], whichever form the
	// reference was taken to be.
	ErrInvalidReference = errors.New("azacr: invalid reference")
)

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func isRepoSeparator(c byte) bool { return c == '.' || c == '_' || c == '-' }

// validRepoSeparator reports whether a run of separator characters between
// two alphanumerics is one the grammar allows: ".", "_", "__" or any number
// of '-'.
func validRepoSeparator(run string) bool {
	switch run {
	case ".", "_", "__":
		return true
	}
	for i := 0; i < len(run); i++ {
		if run[i] != '-' {
			return false
		}
	}
	return true
}

// repositoryProblem explains why name is not a valid repository name, or
// returns "" when it is. Reasons are built only on failure, so the happy
// path does not allocate.
func repositoryProblem(name string) string {
	if name == "" {
		return "empty repository name"
	}
	if len(name) > maxRepositoryLen {
		return fmt.Sprintf("too long: %d bytes, maximum %d", len(name), maxRepositoryLen)
	}
	compStart := 0
	for i := 0; i < len(name); {
		c := name[i]
		switch {
		case isLowerAlnum(c):
			i++
		case c == '/':
			if i == 0 {
				return "leading '/'"
			}
			if i == compStart {
				return fmt.Sprintf("empty path component at offset %d", i)
			}
			compStart = i + 1
			i++
		case isRepoSeparator(c):
			if i == compStart {
				return fmt.Sprintf("path component starts with separator %s at offset %d: components start with a-z or 0-9",
					describeChar(name, i), i)
			}
			j := i
			for j < len(name) && isRepoSeparator(name[j]) {
				j++
			}
			if !validRepoSeparator(name[i:j]) {
				return fmt.Sprintf("invalid separator %s at offset %d: want '.', '_', '__' or one or more '-'",
					quoteValue(name[i:j]), i)
			}
			if j == len(name) || name[j] == '/' {
				return fmt.Sprintf("path component ends with separator %s at offset %d: components end with a-z or 0-9",
					describeChar(name, j-1), j-1)
			}
			i = j
		case 'A' <= c && c <= 'Z':
			return fmt.Sprintf("uppercase character %s at offset %d: repository names are lowercase",
				describeChar(name, i), i)
		default:
			return fmt.Sprintf("invalid character %s at offset %d: want a-z, 0-9, '.', '_', '-' or '/'",
				describeChar(name, i), i)
		}
	}
	if name[len(name)-1] == '/' {
		return "trailing '/'"
	}
	return ""
}

// ValidateRepository reports whether name is a valid OCI repository name,
// such as "hello-world" or "library/hello-world": one or more path
// components of lowercase letters and digits, optionally joined inside a
// component by '.', '_', "__" or runs of '-', separated by single '/', at
// most 255 bytes in all. It returns nil for a valid name, otherwise an error
// wrapping [ErrInvalidRepository] that quotes the name and says what is
// wrong (empty, too long, uppercase, a bad character and its offset, an
// empty path component, ...).
func ValidateRepository(name string) error {
	if p := repositoryProblem(name); p != "" {
		return fmt.Errorf("%w: %s: %s", ErrInvalidRepository, quoteValue(name), p)
	}
	return nil
}

func isTagChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

// isTag reports whether s is a valid tag, without allocating.
func isTag(s string) bool {
	if s == "" || len(s) > maxTagLen || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTagChar(s[i]) {
			return false
		}
	}
	return true
}

// tagProblem explains why tag is not a valid tag, or returns "" when it is.
func tagProblem(tag string) string {
	if isTag(tag) {
		return ""
	}
	if tag == "" {
		return "empty tag"
	}
	if len(tag) > maxTagLen {
		return fmt.Sprintf("too long: %d bytes, maximum %d", len(tag), maxTagLen)
	}
	if tag[0] == '.' || tag[0] == '-' {
		return fmt.Sprintf("starts with %s: tags start with a letter, digit or '_'", describeChar(tag, 0))
	}
	for i := 0; i < len(tag); i++ {
		if !isTagChar(tag[i]) {
			return fmt.Sprintf("invalid character %s at offset %d: want A-Z, a-z, 0-9, '_', '.' or '-'",
				describeChar(tag, i), i)
		}
	}
	return "not a valid tag"
}

// ValidateTag reports whether tag is a valid OCI tag: 1 to 128 characters
// from A-Z, a-z, 0-9, '_', '.' and '-', not starting with '.' or '-'. It
// returns nil for a valid tag, otherwise an error wrapping [ErrInvalidTag]
// that quotes the tag and says what is wrong. Checking locally keeps
// characters such as '/', '?' or '#' from silently changing the URL a tag is
// spliced into.
func ValidateTag(tag string) error {
	if p := tagProblem(tag); p != "" {
		return fmt.Errorf("%w: %s: %s", ErrInvalidTag, quoteValue(tag), p)
	}
	return nil
}

// isTagOrDigest reports whether ref is a valid manifest reference, without
// allocating. A ':' can never appear in a tag, so its presence decides which
// grammar applies.
func isTagOrDigest(ref string) bool {
	if strings.IndexByte(ref, ':') >= 0 {
		return isDigest(ref)
	}
	return isTag(ref)
}

// ValidateReference reports whether ref can name a manifest: either a tag
// (see [ValidateTag]) or, when it contains ':', a digest (see
// [ValidateDigest]). It returns nil for a valid reference, otherwise an
// error wrapping [ErrInvalidReference] and also [ErrInvalidDigest] or
// [ErrInvalidTag], so callers can test for either the general or the
// specific problem.
func ValidateReference(ref string) error {
	if isTagOrDigest(ref) {
		return nil
	}
	if ref == "" {
		return &multiError{
			msg:  ErrInvalidReference.Error() + `: "": empty reference: want a tag or a digest`,
			errs: []error{ErrInvalidReference, ErrInvalidTag},
		}
	}
	if strings.IndexByte(ref, ':') >= 0 {
		return &multiError{
			msg:  fmt.Sprintf("%s: %s: not a valid digest (contains ':'): %s", ErrInvalidReference.Error(), quoteValue(ref), digestProblem(ref)),
			errs: []error{ErrInvalidReference, ErrInvalidDigest},
		}
	}
	return &multiError{
		msg:  fmt.Sprintf("%s: %s: not a valid tag: %s", ErrInvalidReference.Error(), quoteValue(ref), tagProblem(ref)),
		errs: []error{ErrInvalidReference, ErrInvalidTag},
	}
}
