package azacr

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// ErrInvalidLink is returned by a pager whose registry sent a Link header
// it cannot follow: malformed, pointing to another host, or looping back to
// a page already read. Paging stops instead of spinning or leaking a token.
var ErrInvalidLink = errors.New("azacr: invalid Link header")

// NewListRepositoriesPager lists the registry's repositories, in lexical
// order, following ACR's Link header from page to page. A repository
// hidden with CanList false is not listed.
func (c *ContainerRegistryClient) NewListRepositoriesPager(options *ContainerRegistryClientListRepositoriesOptions) *runtime.Pager[ContainerRegistryClientListRepositoriesResponse] {
	if options == nil {
		options = &ContainerRegistryClientListRepositoriesOptions{}
	}
	first := "/acr/v1/_catalog?" + pageQuery(options.N, options.Last, nil)
	return newLinkPager(c, first, "registry:catalog:*", validatePageSize(options.N),
		func(p *ContainerRegistryClientListRepositoriesResponse) **string { return &p.Link })
}

// NewListTagsPager lists a repository's tags, by name or, with
// options.OrderBy, by last update time. A malformed repository name is
// returned by the first NextPage, as an error wrapping ErrInvalidRepository.
func (c *ContainerRegistryClient) NewListTagsPager(name string, options *ContainerRegistryClientListTagsOptions) *runtime.Pager[ContainerRegistryClientListTagsResponse] {
	if options == nil {
		options = &ContainerRegistryClientListTagsOptions{}
	}
	extra := url.Values{}
	if options.OrderBy != nil {
		extra.Set("orderby", string(*options.OrderBy))
	}
	if options.Digest != nil {
		extra.Set("digest", *options.Digest)
	}
	invalid := errors.Join(ValidateRepository(name), validatePageSize(options.N))
	if invalid == nil && options.Digest != nil {
		invalid = ValidateDigest(*options.Digest)
	}
	first := "/acr/v1/" + escapePath(name) + "/_tags?" + pageQuery(options.N, options.Last, extra)
	return newLinkPager(c, first, repositoryScope(name, "metadata_read"), invalid,
		func(p *ContainerRegistryClientListTagsResponse) **string { return &p.Link })
}

// NewListManifestsPager lists a repository's manifests, by digest or, with
// options.OrderBy, by last update time.
func (c *ContainerRegistryClient) NewListManifestsPager(name string, options *ContainerRegistryClientListManifestsOptions) *runtime.Pager[ContainerRegistryClientListManifestsResponse] {
	if options == nil {
		options = &ContainerRegistryClientListManifestsOptions{}
	}
	extra := url.Values{}
	if options.OrderBy != nil {
		extra.Set("orderby", string(*options.OrderBy))
	}
	first := "/acr/v1/" + escapePath(name) + "/_manifests?" + pageQuery(options.N, options.Last, extra)
	return newLinkPager(c, first, repositoryScope(name, "metadata_read"), errors.Join(ValidateRepository(name), validatePageSize(options.N)),
		func(p *ContainerRegistryClientListManifestsResponse) **string { return &p.Link })
}

// validatePageSize refuses a page size the registry could only reject or
// misread: zero or negative.
func validatePageSize(n *int64) error {
	if n != nil && *n < 1 {
		return fmt.Errorf("%w: page size N must be at least 1, got %d", ErrInvalidOption, *n)
	}
	return nil
}

// linkPager follows Link headers from a first page to the last. Every page
// URL must stay on the registry's origin and may be read once only.
type linkPager[T any] struct {
	client *ContainerRegistryClient
	scope  authScope
	next   string                     // absolute URL of the page to fetch
	seen   map[[sha256.Size]byte]bool // pages read, by the hash of their URL
	link   func(*T) **string
	decode func(*http.Response, *T) error
}

func newLinkPager[T any](c *ContainerRegistryClient, first string, scope authScope, invalid error, link func(*T) **string) *runtime.Pager[T] {
	return newDecodingPager(c, first, scope, invalid, link, func(resp *http.Response, v *T) error { return decodeResponseJSON(resp, v) })
}

func newDecodingPager[T any](c *ContainerRegistryClient, first string, scope authScope, invalid error, link func(*T) **string, decode func(*http.Response, *T) error) *runtime.Pager[T] {
	lp := &linkPager[T]{
		client: c, scope: scope, next: c.endpoint.String() + first, seen: map[[sha256.Size]byte]bool{}, link: link, decode: decode,
	}
	return runtime.NewPager(runtime.PagingHandler[T]{
		More: func(page T) bool { return *link(&page) != nil },
		Fetcher: func(ctx context.Context, _ *T) (T, error) {
			if invalid != nil {
				var zero T
				return zero, invalid
			}
			return lp.fetch(ctx)
		},
		Tracer: c.internal.Tracer(),
	})
}

func (lp *linkPager[T]) fetch(ctx context.Context) (T, error) {
	var page T
	key := sha256.Sum256([]byte(lp.next))
	if lp.seen[key] {
		return page, fmt.Errorf("%w: the registry linked back to %s, a page already read", ErrInvalidLink, lp.next)
	}
	lp.seen[key] = true
	req, err := runtime.NewRequest(ctx, http.MethodGet, lp.next)
	if err != nil {
		return page, err
	}
	req.SetOperationValue(lp.scope)
	req.Raw().Header.Set("Accept", "application/json")
	resp, err := lp.client.send(req, http.StatusOK)
	if err != nil {
		return page, err
	}
	if err := lp.decode(resp, &page); err != nil {
		return page, err
	}
	next, err := nextLink(lp.client.endpoint, resp.Header.Values("Link"))
	if err != nil {
		return page, err
	}
	*lp.link(&page) = nil
	if next != "" {
		lp.next = next
		*lp.link(&page) = &next
	}
	return page, nil
}

// maxLinkLen bounds a Link target. ACR's are about 150 bytes (a path, a
// page size and the last item: a name, tag or digest); a longer one is a
// broken or hostile registry making each page's URL cost memory.
const maxLinkLen = 4 << 10

// nextLink finds the rel="next" target among Link header values and
// resolves it against the registry endpoint. ACR sends it relative, with
// an empty orderby= and no api-version (PROTOCOL.md §3.1); the target is
// followed verbatim. It returns "" when there is no next page.
func nextLink(endpoint *url.URL, values []string) (string, error) {
	for _, v := range values {
		links, err := parseLinks(v)
		if err != nil {
			return "", err
		}
		for _, l := range links {
			if !l.next {
				continue
			}
			if len(l.target) > maxLinkLen {
				return "", fmt.Errorf("%w: a target of %d bytes", ErrInvalidLink, len(l.target))
			}
			u, err := endpoint.Parse(l.target)
			if err != nil {
				return "", fmt.Errorf("%w: %q: %v", ErrInvalidLink, l.target, err)
			}
			if !sameOrigin(u, endpoint) {
				return "", fmt.Errorf("%w: %q leaves the registry %s", ErrInvalidLink, l.target, endpoint.Host)
			}
			return u.String(), nil
		}
	}
	return "", nil
}

type linkValue struct {
	target string
	next   bool
}

// parseLinks parses one Link header value (RFC 8288): comma-separated
// "<target>; param=value" entries. A target may itself contain commas and
// semicolons, so it is read up to its closing '>'.
func parseLinks(h string) ([]linkValue, error) {
	var out []linkValue
	rest := h
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return out, nil
		}
		if rest[0] != '<' {
			return nil, fmt.Errorf("%w: %q: expected '<'", ErrInvalidLink, h)
		}
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return nil, fmt.Errorf("%w: %q: no closing '>'", ErrInvalidLink, h)
		}
		lv := linkValue{target: rest[1:end]}
		rest = rest[end+1:]
		// Parameters up to the next comma outside quotes.
		for {
			rest = strings.TrimLeft(rest, " \t")
			if rest == "" || rest[0] == ',' {
				break
			}
			if rest[0] != ';' {
				return nil, fmt.Errorf("%w: %q: expected ';' or ','", ErrInvalidLink, h)
			}
			rest = strings.TrimLeft(rest[1:], " \t")
			key, after, ok := strings.Cut(rest, "=")
			if !ok {
				// A parameter without a value; skip to the next separator.
				i := strings.IndexAny(rest, ";,")
				if i < 0 {
					i = len(rest)
				}
				rest = rest[i:]
				continue
			}
			key = strings.ToLower(strings.TrimSpace(key))
			after = strings.TrimLeft(after, " \t")
			var val string
			if strings.HasPrefix(after, `"`) {
				closing := strings.IndexByte(after[1:], '"')
				if closing < 0 {
					return nil, fmt.Errorf("%w: %q: unterminated quote", ErrInvalidLink, h)
				}
				val, rest = after[1:1+closing], after[2+closing:]
			} else {
				i := strings.IndexAny(after, ";,")
				if i < 0 {
					i = len(after)
				}
				val, rest = strings.TrimSpace(after[:i]), after[i:]
			}
			if key == "rel" {
				for _, r := range strings.Fields(val) {
					if strings.EqualFold(r, "next") {
						lv.next = true
					}
				}
			}
		}
		out = append(out, lv)
	}
}

// NewListReferrersPager lists the manifests whose subject is the manifest
// with the given digest (the OCI 1.1 referrers API), such as signatures,
// SBOMs and attestations. With options.ArtifactType only referrers of that
// type are listed; when a registry ignores the filter (no
// OCI-Filters-Applied header), the pager applies it.
func (c *ContainerRegistryClient) NewListReferrersPager(name string, digest string, options *ContainerRegistryClientListReferrersOptions) *runtime.Pager[ContainerRegistryClientListReferrersResponse] {
	if options == nil {
		options = &ContainerRegistryClientListReferrersOptions{}
	}
	invalid := ValidateRepository(name)
	if invalid == nil {
		invalid = ValidateDigest(digest)
	}
	first := "/v2/" + escapePath(name) + "/referrers/" + url.PathEscape(digest)
	artifactType := ""
	if options.ArtifactType != nil {
		artifactType = *options.ArtifactType
		first += "?" + url.Values{"artifactType": {artifactType}}.Encode()
	}
	return newDecodingPager(c, first, repositoryScope(name, "pull"), invalid,
		func(p *ContainerRegistryClientListReferrersResponse) **string { return &p.Link },
		func(resp *http.Response, page *ContainerRegistryClientListReferrersResponse) error {
			var index ImageIndex
			if err := decodeResponseJSON(resp, &index); err != nil {
				return err
			}
			filtered := artifactType != "" && !strings.Contains(resp.Header.Get("OCI-Filters-Applied"), "artifactType")
			for _, d := range index.Manifests {
				if !filtered || d.ArtifactType == artifactType {
					page.Referrers = append(page.Referrers, d)
				}
			}
			return nil
		})
}
