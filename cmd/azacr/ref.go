package main

import (
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
)

// reference is a registry, or a repository in it, or a tag or digest of
// one, written the way users write image references:
// "myregistry.azurecr.io", "myregistry.azurecr.io/repo",
// "myregistry.azurecr.io/repo:tag", "myregistry.azurecr.io/repo@sha256:…".
type reference struct {
	Registry   string // host[:port]
	Repository string // "" for a registry alone
	Tag        string
	Digest     string
}

// String writes the reference back.
func (r reference) String() string {
	s := r.Registry
	if r.Repository != "" {
		s += "/" + r.Repository
	}
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Reference is the tag or digest, the digest when both are given.
func (r reference) Reference() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// parseReference reads s. The registry is everything before the first
// "/": ACR's login servers and local registries ("localhost:5000",
// "127.0.0.1:8080") alike; there is no default registry.
func parseReference(s string) (reference, error) {
	var r reference
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest, rest = rest[i+1:], rest[:i]
		if err := azacr.ValidateDigest(r.Digest); err != nil {
			return r, usageErrorf("%q: %v", s, err)
		}
	}
	host, repo, _ := strings.Cut(rest, "/")
	if host == "" || strings.IndexFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f || r > 0x7e }) >= 0 {
		return r, usageErrorf("%q: a reference starts with the registry, like myregistry.azurecr.io/repo:tag", s)
	}
	r.Registry = host
	if repo != "" {
		if i := strings.LastIndexByte(repo, ':'); i >= 0 {
			r.Tag, repo = repo[i+1:], repo[:i]
			if err := azacr.ValidateTag(r.Tag); err != nil {
				return r, usageErrorf("%q: %v", s, err)
			}
		}
		if err := azacr.ValidateRepository(repo); err != nil {
			return r, usageErrorf("%q: %v", s, err)
		}
		r.Repository = repo
	} else if r.Digest != "" || strings.HasSuffix(rest, "/") {
		return r, usageErrorf("%q: no repository", s)
	}
	return r, nil
}

// parseRepository reads a reference that names a repository, with or
// without a tag or digest.
func parseRepository(s string) (reference, error) {
	r, err := parseReference(s)
	if err == nil && r.Repository == "" {
		err = usageErrorf("%q names a registry; this command needs a repository, like %s/repo", s, r.Registry)
	}
	return r, err
}

// parseImage reads a reference that names a tag or digest of a
// repository.
func parseImage(s string) (reference, error) {
	r, err := parseRepository(s)
	if err == nil && r.Reference() == "" {
		err = usageErrorf("%q names no tag or digest, like %s:latest or %s@sha256:…", s, s, s)
	}
	return r, err
}

// parseRegistry reads a reference that names a registry alone.
func parseRegistry(s string) (reference, error) {
	r, err := parseReference(s)
	if err == nil && r.Repository != "" {
		err = usageErrorf("%q names a repository; this command takes a registry, like %s", s, r.Registry)
	}
	return r, err
}

// usageError is a mistake in how the command was called: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}
