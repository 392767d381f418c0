package acrtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// This file serves the /acr/v1 metadata API and the OCI
// /v2/_catalog listing, which shares the repository paging.

// Error codes used only by the metadata API.
const (
	// codePaginationNumberInvalid is the distribution registry's code for
	// an n that is not a positive integer; ACR's own answer is not recorded.
	codePaginationNumberInvalid = "PAGINATION_NUMBER_INVALID"
)

// Messages of the metadata API's errors. TAG_UNKNOWN's is recorded;
// DENIED's is the one ACR gives for locked content.
const (
	metaMsgNameUnknown     = "repository name not known to registry"
	metaMsgNameInvalid     = "invalid repository name"
	metaMsgTagUnknown      = "the specified tag does not exist"
	metaMsgTagInvalid      = "invalid tag name"
	metaMsgManifestUnknown = "manifest unknown"
	metaMsgDenied          = "The operation is disallowed on this registry, repository or image."
	metaMsgMethod          = "The requested method is not supported."
)

// maxPatchBody bounds PATCH bodies; changeable attributes are a few bytes.
const maxPatchBody = 1 << 20

// metaChangeable is the changeableAttributes object of responses. The
// quarantine fields appear only on manifests, and only once set.
type metaChangeable struct {
	DeleteEnabled     bool   `json:"deleteEnabled"`
	WriteEnabled      bool   `json:"writeEnabled"`
	ReadEnabled       bool   `json:"readEnabled"`
	ListEnabled       bool   `json:"listEnabled"`
	QuarantineState   string `json:"quarantineState,omitempty"`
	QuarantineDetails string `json:"quarantineDetails,omitempty"`
}

// metaRepositoryAttributes is RepositoryAttributes, fields in
// the recorded order.
type metaRepositoryAttributes struct {
	Registry             string     `json:"registry"`
	ImageName            string     `json:"imageName"`
	CreatedTime          string     `json:"createdTime"`
	LastUpdateTime       string     `json:"lastUpdateTime"`
	ManifestCount        int        `json:"manifestCount"`
	TagCount             int        `json:"tagCount"`
	ChangeableAttributes attributes `json:"changeableAttributes"`
}

// metaTagAttributes is TagAttributesBase; every field is always present.
type metaTagAttributes struct {
	Name                 string     `json:"name"`
	Digest               string     `json:"digest"`
	CreatedTime          string     `json:"createdTime"`
	LastUpdateTime       string     `json:"lastUpdateTime"`
	Signed               bool       `json:"signed"`
	ChangeableAttributes attributes `json:"changeableAttributes"`
}

// metaManifestAttributes is ManifestAttributesBase as ACR sends it:
// architecture, os and configMediaType are absent for an index, tags
// for an untagged manifest, references for a single-platform manifest.
type metaManifestAttributes struct {
	Digest               string         `json:"digest"`
	ImageSize            int64          `json:"imageSize"`
	CreatedTime          string         `json:"createdTime"`
	LastUpdateTime       string         `json:"lastUpdateTime"`
	Architecture         string         `json:"architecture,omitempty"`
	OS                   string         `json:"os,omitempty"`
	MediaType            string         `json:"mediaType"`
	ConfigMediaType      string         `json:"configMediaType,omitempty"`
	ArtifactType         string         `json:"artifactType,omitempty"`
	Tags                 []string       `json:"tags,omitempty"`
	ChangeableAttributes metaChangeable `json:"changeableAttributes"`
	References           []platformRef  `json:"references,omitempty"`
}

type metaTagList struct {
	Registry  string              `json:"registry"`
	ImageName string              `json:"imageName"`
	Tags      []metaTagAttributes `json:"tags"`
}

type metaTagProperties struct {
	Registry  string            `json:"registry"`
	ImageName string            `json:"imageName"`
	Tag       metaTagAttributes `json:"tag"`
}

type metaManifestList struct {
	Registry  string                   `json:"registry"`
	ImageName string                   `json:"imageName"`
	Manifests []metaManifestAttributes `json:"manifests"`
}

type metaManifestProperties struct {
	Registry  string                 `json:"registry"`
	ImageName string                 `json:"imageName"`
	Manifest  metaManifestAttributes `json:"manifest"`
}

// metaCatalog is the body of both catalogs. ACR never sends the link
// property its REST API specification lists; paging is by the Link header
// only.
type metaCatalog struct {
	Repositories []string `json:"repositories"`
}

type metaDeletedRepository struct {
	ManifestsDeleted []string `json:"manifestsDeleted"`
	TagsDeleted      []string `json:"tagsDeleted"`
}

// handleCatalog serves GET /acr/v1/_catalog.
func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request, entry *Request) {
	s.serveCatalog(w, r, entry, "/acr/v1/_catalog", true)
}

// handleV2Catalog serves GET /v2/_catalog, the OCI listing. It pages like
// the ACR catalog but its Link carries only last and n [OCI].
func (s *Server) handleV2Catalog(w http.ResponseWriter, r *http.Request, entry *Request) {
	s.serveCatalog(w, r, entry, "/v2/_catalog", false)
}

func (s *Server) serveCatalog(w http.ResponseWriter, r *http.Request, entry *Request, path string, acr bool) {
	if r.Method != http.MethodGet {
		metaMethodNotAllowed(w, http.MethodGet)
		return
	}
	if !s.authorize(w, r, entry, catalogScope) {
		return
	}
	q := r.URL.Query()
	n, ok := s.metaPageSize(w, q, false)
	if !ok {
		return
	}
	last := q.Get("last")

	s.state.mu.Lock()
	var names []string
	for _, name := range s.state.sortedRepoNames() {
		repo := s.state.repos[name]
		// Repositories hidden with listEnabled=false are left out, and so
		// are ones that hold no image yet (only blobs): ACR's metadata
		// lists repositories from their manifests.
		if !metaVisible(repo) || !repo.Attrs.ListEnabled {
			continue
		}
		if last != "" && name <= last {
			continue
		}
		names = append(names, name)
	}
	s.state.mu.Unlock()

	page, more := metaPage(names, n)
	if more {
		params := [][2]string{{"last", page[len(page)-1]}, {"n", strconv.Itoa(n)}}
		if acr {
			// ACR's Link always carries orderby, empty when none was
			// asked for.
			params = append(params, [2]string{"orderby", q.Get("orderby")})
		}
		w.Header().Set("Link", metaLink(path, params))
	}
	writeJSON(w, http.StatusOK, metaCatalog{Repositories: page})
}

// metaAdmit starts a request on repository metadata: it refuses methods
// not in methods, authorizes with the action's scope (a tag delete most
// likely needs the delete action, like a repository's; ACR's challenge for
// it has not been observed),
// then validates the name. It answers and returns false when the request
// ends there.
func (s *Server) metaAdmit(w http.ResponseWriter, r *http.Request, entry *Request, name string, methods ...string) bool {
	var need scope
	switch {
	case !slices.Contains(methods, r.Method):
		metaMethodNotAllowed(w, methods...)
		return false
	case r.Method == http.MethodGet:
		need = repoScope(name, "metadata_read")
	case r.Method == http.MethodPatch:
		need = repoScope(name, "metadata_write")
	default:
		need = repoScope(name, "delete")
	}
	if !s.authorize(w, r, entry, need) {
		return false
	}
	if !isName(name) {
		writeError(w, http.StatusBadRequest, CodeNameInvalid, metaMsgNameInvalid, NoDetail)
		return false
	}
	return true
}

// metaLockRepo takes the state lock and returns the named repository, or
// answers NAME_UNKNOWN, releases the lock and returns nil.
func (s *Server) metaLockRepo(w http.ResponseWriter, name string) *repository {
	s.state.mu.Lock()
	repo := s.metaRepo(name)
	if repo == nil {
		s.state.mu.Unlock()
		metaNameUnknown(w)
	}
	return repo
}

// handleRepository serves GET, PATCH and DELETE /acr/v1/{name}.
func (s *Server) handleRepository(w http.ResponseWriter, r *http.Request, entry *Request, name string) {
	if name == "" {
		notFoundPage(w)
		return
	}
	if !s.metaAdmit(w, r, entry, name, http.MethodGet, http.MethodPatch, http.MethodDelete) {
		return
	}

	patch, ok := metaReadPatch(w, r, false)
	if !ok {
		return
	}

	repo := s.metaLockRepo(w, name)
	if repo == nil {
		return
	}
	switch r.Method {
	case http.MethodGet:
		out := s.metaRepositoryAttributes(repo)
		s.state.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case http.MethodPatch:
		// Changing attributes is allowed on locked content: it is how a
		// repository is unlocked.
		repo.Attrs.apply(patch)
		out := s.metaRepositoryAttributes(repo)
		s.state.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case http.MethodDelete:
		if !metaDeletable(repo.Attrs) || !metaContentDeletable(repo) {
			s.state.mu.Unlock()
			writeError(w, http.StatusForbidden, CodeDenied, metaMsgDenied, NoDetail)
			return
		}
		out := metaDeletedRepository{ManifestsDeleted: []string{}, TagsDeleted: []string{}}
		for d := range repo.Manifests {
			out.ManifestsDeleted = append(out.ManifestsDeleted, d)
		}
		for t := range repo.Tags {
			out.TagsDeleted = append(out.TagsDeleted, t)
		}
		sort.Strings(out.ManifestsDeleted)
		sort.Strings(out.TagsDeleted)
		// Blob bytes stay in the registry-wide store; only the
		// repository's metadata and links go.
		delete(s.state.repos, name)
		s.state.mu.Unlock()
		// ACR answers 202 with the deleted digests and tags.
		writeJSON(w, http.StatusAccepted, out)
	}
}

// handleListTags serves GET /acr/v1/{name}/_tags.
func (s *Server) handleListTags(w http.ResponseWriter, r *http.Request, entry *Request, name string) {
	if r.Method != http.MethodGet {
		metaMethodNotAllowed(w, http.MethodGet)
		return
	}
	if !s.authorize(w, r, entry, repoScope(name, "metadata_read")) {
		return
	}
	if !isName(name) {
		writeError(w, http.StatusBadRequest, CodeNameInvalid, metaMsgNameInvalid, NoDetail)
		return
	}
	q := r.URL.Query()
	order, ok := metaOrder(w, q)
	if !ok {
		return
	}
	n, ok := s.metaPageSize(w, q, order != "")
	if !ok {
		return
	}
	last, digest := q.Get("last"), q.Get("digest")

	repo := s.metaLockRepo(w, name)
	if repo == nil {
		return
	}
	tags := make([]*tag, 0, len(repo.Tags))
	for _, t := range repo.Tags {
		// digest= keeps the tags of one manifest.
		if digest == "" || t.Digest == digest {
			tags = append(tags, t)
		}
	}
	metaSortTags(tags, order)
	tags = metaAfter(tags, last, order != "", func(t *tag) string { return t.Name })
	var listed []metaTagAttributes
	for _, t := range tags {
		if t.Attrs.ListEnabled {
			listed = append(listed, metaTagAttrs(t))
		}
	}
	s.state.mu.Unlock()

	page, more := metaPage(listed, n)
	if more {
		params := [][2]string{{"last", page[len(page)-1].Name}, {"n", strconv.Itoa(n)}, {"orderby", q.Get("orderby")}}
		if digest != "" {
			params = append(params, [2]string{"digest", digest})
		}
		w.Header().Set("Link", metaLink("/acr/v1/"+name+"/_tags", params))
	}
	writeJSON(w, http.StatusOK, metaTagList{Registry: s.service, ImageName: name, Tags: page})
}

// handleTag serves GET, PATCH and DELETE /acr/v1/{name}/_tags/{tag}.
func (s *Server) handleTag(w http.ResponseWriter, r *http.Request, entry *Request, name, tagName string) {
	// A reference that is empty or spans path segments matches no route.
	if tagName == "" || strings.Contains(tagName, "/") {
		notFoundPage(w)
		return
	}
	if !s.metaAdmit(w, r, entry, name, http.MethodGet, http.MethodPatch, http.MethodDelete) {
		return
	}
	if !isTag(tagName) {
		writeError(w, http.StatusBadRequest, CodeTagInvalid, metaMsgTagInvalid, NoDetail)
		return
	}

	patch, ok := metaReadPatch(w, r, false)
	if !ok {
		return
	}

	repo := s.metaLockRepo(w, name)
	if repo == nil {
		return
	}
	t := repo.Tags[tagName]
	if t == nil {
		s.state.mu.Unlock()
		// ACR sends TAG_UNKNOWN without a detail field.
		writeError(w, http.StatusNotFound, CodeTagUnknown, metaMsgTagUnknown, NoDetail)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodPatch:
		t.Attrs.apply(patch) // a GET's patch is empty
		out := metaTagProperties{Registry: s.service, ImageName: name, Tag: metaTagAttrs(t)}
		s.state.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case http.MethodDelete:
		if !metaDeletable(repo.Attrs) || !metaDeletable(t.Attrs) {
			s.state.mu.Unlock()
			writeError(w, http.StatusForbidden, CodeDenied, metaMsgDenied, NoDetail)
			return
		}
		delete(repo.Tags, tagName)
		repo.Updated = s.now()
		s.state.mu.Unlock()
		// ACR answers 202 with an empty body.
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
	}
}

// handleListManifests serves GET /acr/v1/{name}/_manifests.
func (s *Server) handleListManifests(w http.ResponseWriter, r *http.Request, entry *Request, name string) {
	if r.Method != http.MethodGet {
		metaMethodNotAllowed(w, http.MethodGet)
		return
	}
	if !s.authorize(w, r, entry, repoScope(name, "metadata_read")) {
		return
	}
	if !isName(name) {
		writeError(w, http.StatusBadRequest, CodeNameInvalid, metaMsgNameInvalid, NoDetail)
		return
	}
	q := r.URL.Query()
	order, ok := metaOrder(w, q)
	if !ok {
		return
	}
	n, ok := s.metaPageSize(w, q, order != "")
	if !ok {
		return
	}
	last := q.Get("last")

	repo := s.metaLockRepo(w, name)
	if repo == nil {
		return
	}
	manifests := make([]*manifest, 0, len(repo.Manifests))
	for _, m := range repo.Manifests {
		manifests = append(manifests, m)
	}
	metaSortManifests(manifests, order)
	manifests = metaAfter(manifests, last, order != "", func(m *manifest) string { return m.Digest })
	tagsOf := metaTagsByDigest(repo)
	var listed []metaManifestAttributes
	for _, m := range manifests {
		if m.Attrs.ListEnabled {
			listed = append(listed, metaManifestAttrs(m, tagsOf[m.Digest]))
		}
	}
	s.state.mu.Unlock()

	page, more := metaPage(listed, n)
	if more {
		params := [][2]string{{"last", page[len(page)-1].Digest}, {"n", strconv.Itoa(n)}, {"orderby", q.Get("orderby")}}
		w.Header().Set("Link", metaLink("/acr/v1/"+name+"/_manifests", params))
	}
	writeJSON(w, http.StatusOK, metaManifestList{Registry: s.service, ImageName: name, Manifests: page})
}

// handleManifestProperties serves GET and PATCH
// /acr/v1/{name}/_manifests/{digest}. The router has already
// rejected references that are not digests.
func (s *Server) handleManifestProperties(w http.ResponseWriter, r *http.Request, entry *Request, name, digest string) {
	if !s.metaAdmit(w, r, entry, name, http.MethodGet, http.MethodPatch) {
		return
	}

	patch, ok := metaReadPatch(w, r, true)
	if !ok {
		return
	}

	repo := s.metaLockRepo(w, name)
	if repo == nil {
		return
	}
	m := repo.Manifests[digest]
	if m == nil {
		s.state.mu.Unlock()
		// MANIFEST_UNKNOWN, as on /v2, is the likely answer; it is not
		// recorded here. The /v2 variant's {"Tag":…} detail has no
		// counterpart for a digest.
		writeError(w, http.StatusNotFound, CodeManifestUnknown, metaMsgManifestUnknown, NoDetail)
		return
	}
	m.Attrs.apply(patch)
	if patch.QuarantineState != nil {
		m.QuarantineState = *patch.QuarantineState
	}
	if patch.QuarantineDetails != nil {
		m.QuarantineDetails = *patch.QuarantineDetails
	}
	out := metaManifestProperties{Registry: s.service, ImageName: name, Manifest: metaManifestAttrs(m, metaTagsByDigest(repo)[digest])}
	s.state.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// metaRepo returns the repository the metadata API knows under name, or
// nil. Call with s.state.mu held.
func (s *Server) metaRepo(name string) *repository {
	repo := s.state.repos[name]
	if !metaVisible(repo) {
		return nil
	}
	return repo
}

// metaVisible reports whether a repository exists as far as the metadata
// API is concerned: it has at least one manifest or tag. A repository that
// only holds uploaded blobs has no image yet.
func metaVisible(repo *repository) bool {
	return repo != nil && (len(repo.Manifests) > 0 || len(repo.Tags) > 0)
}

// metaDeletable reports whether content with these attributes may be
// deleted. ACR refuses deletion with deleteEnabled=false, and also for
// locked content (writeEnabled=false), which "can't be deleted or updated"
// (ACR image-lock documentation).
func metaDeletable(a attributes) bool {
	return a.DeleteEnabled && a.WriteEnabled
}

// metaContentDeletable reports whether every manifest and tag of repo may
// be deleted: ACR refuses to delete a repository holding a locked image.
// Call with s.state.mu held.
func metaContentDeletable(repo *repository) bool {
	for _, m := range repo.Manifests {
		if !metaDeletable(m.Attrs) {
			return false
		}
	}
	for _, t := range repo.Tags {
		if !metaDeletable(t.Attrs) {
			return false
		}
	}
	return true
}

func (s *Server) metaRepositoryAttributes(repo *repository) metaRepositoryAttributes {
	return metaRepositoryAttributes{
		Registry:             s.service,
		ImageName:            repo.Name,
		CreatedTime:          formatTime(repo.Created),
		LastUpdateTime:       formatTime(repo.Updated),
		ManifestCount:        len(repo.Manifests),
		TagCount:             len(repo.Tags),
		ChangeableAttributes: repo.Attrs,
	}
}

func metaTagAttrs(t *tag) metaTagAttributes {
	return metaTagAttributes{
		Name:                 t.Name,
		Digest:               t.Digest,
		CreatedTime:          formatTime(t.Created),
		LastUpdateTime:       formatTime(t.Updated),
		Signed:               t.Signed,
		ChangeableAttributes: t.Attrs,
	}
}

// metaManifestAttrs renders a manifest; tags are the names pointing at it.
func metaManifestAttrs(m *manifest, tags []string) metaManifestAttributes {
	out := metaManifestAttributes{
		Digest:         m.Digest,
		ImageSize:      m.ImageSize,
		CreatedTime:    formatTime(m.Created),
		LastUpdateTime: formatTime(m.Updated),
		MediaType:      m.MediaType,
		ArtifactType:   m.ArtifactType,
		Tags:           tags,
		ChangeableAttributes: metaChangeable{
			DeleteEnabled:     m.Attrs.DeleteEnabled,
			WriteEnabled:      m.Attrs.WriteEnabled,
			ReadEnabled:       m.Attrs.ReadEnabled,
			ListEnabled:       m.Attrs.ListEnabled,
			QuarantineState:   m.QuarantineState,
			QuarantineDetails: m.QuarantineDetails,
		},
	}
	if len(m.References) > 0 {
		// ACR gives an index or manifest list references instead of
		// architecture, os and configMediaType.
		out.References = append([]platformRef(nil), m.References...)
	} else {
		out.Architecture = m.Architecture
		out.OS = m.OS
		out.ConfigMediaType = m.ConfigMediaType
	}
	return out
}

// metaTagsByDigest maps each manifest digest of repo to its tag names,
// sorted. Call with s.state.mu held.
func metaTagsByDigest(repo *repository) map[string][]string {
	out := map[string][]string{}
	for _, t := range repo.Tags {
		out[t.Digest] = append(out[t.Digest], t.Name)
	}
	for _, names := range out {
		sort.Strings(names)
	}
	return out
}

// metaOrder validates orderby: "timedesc" or "timeasc" order by
// lastUpdateTime; absent, empty or "none" keep the lexical default.
// It returns "" for the default.
func metaOrder(w http.ResponseWriter, q url.Values) (string, bool) {
	switch o := strings.ToLower(q.Get("orderby")); o {
	case "", "none":
		return "", true
	case "timedesc", "timeasc":
		return o, true
	default:
		writeError(w, http.StatusBadRequest, CodeUnsupported, fmt.Sprintf("invalid orderby %q: use timedesc, timeasc or none", q.Get("orderby")), NoDetail)
		return "", false
	}
}

// metaPageSize returns the page size a list request asks for, capped at
// MaxPageSize, which is also the default. With ordered is set (orderby
// given) and no n, the size is 0, meaning unlimited: ACR has been seen
// returning a whole set in one page for that case.
func (s *Server) metaPageSize(w http.ResponseWriter, q url.Values, ordered bool) (int, bool) {
	raw := q.Get("n")
	if raw == "" {
		if ordered {
			return 0, true
		}
		return s.opts.MaxPageSize, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		writeError(w, http.StatusBadRequest, codePaginationNumberInvalid, "invalid number of results requested", map[string]string{"n": raw})
		return 0, false
	}
	return min(n, s.opts.MaxPageSize), true
}

// metaPage cuts the first n items (all when n is 0) and reports whether
// more remain, which is when a Link header is due.
func metaPage[T any](items []T, n int) ([]T, bool) {
	if items == nil {
		items = []T{} // lists are [] when empty, never null
	}
	if n == 0 || len(items) <= n {
		return items, false
	}
	return items[:n], true
}

// metaAfter keeps the items after last. In the lexical default order these
// are the keys greater than last, whether or not last exists. In a time
// order they are the items after the one whose key is last; if it is gone
// nothing follows, as a query anchored on its timestamp would find none.
func metaAfter[T any](items []T, last string, timeOrder bool, key func(T) string) []T {
	if last == "" {
		return items
	}
	if !timeOrder {
		i := sort.Search(len(items), func(i int) bool { return key(items[i]) > last })
		return items[i:]
	}
	for i, it := range items {
		if key(it) == last {
			return items[i+1:]
		}
	}
	return nil
}

func metaSortTags(tags []*tag, order string) {
	sort.Slice(tags, func(i, j int) bool {
		a, b := tags[i], tags[j]
		switch order {
		case "timeasc":
			return metaTimeLess(a.Updated.UnixNano(), a.Seq, b.Updated.UnixNano(), b.Seq)
		case "timedesc":
			return metaTimeLess(b.Updated.UnixNano(), b.Seq, a.Updated.UnixNano(), a.Seq)
		}
		return a.Name < b.Name
	})
}

func metaSortManifests(ms []*manifest, order string) {
	sort.Slice(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		switch order {
		case "timeasc":
			return metaTimeLess(a.Updated.UnixNano(), a.Seq, b.Updated.UnixNano(), b.Seq)
		case "timedesc":
			return metaTimeLess(b.Updated.UnixNano(), b.Seq, a.Updated.UnixNano(), a.Seq)
		}
		return a.Digest < b.Digest
	})
}

// metaTimeLess orders by lastUpdateTime, then by the event sequence, which
// separates items updated within the same clock tick.
func metaTimeLess(at, aseq, bt, bseq int64) bool {
	if at != bt {
		return at < bt
	}
	return aseq < bseq
}

// metaLink formats a next-page Link header as ACR does: the target is
// relative, has no api-version, and lists the parameters in this order
// with query-escaped values (a digest's ':' becomes %3A).
func metaLink(path string, params [][2]string) string {
	var b strings.Builder
	b.WriteString("<")
	b.WriteString(path)
	for i, p := range params {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p[0])
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p[1]))
	}
	b.WriteString(`>; rel="next"`)
	return b.String()
}

// metaReadPatch decodes a PATCH body of changeable attributes: only the
// fields present change. Quarantine fields are honoured on
// manifests only; their state must be Passed or Failed.
func metaReadPatch(w http.ResponseWriter, r *http.Request, manifest bool) (attributesPatch, bool) {
	if r.Method != http.MethodPatch {
		return attributesPatch{}, true // nothing to read: GET and DELETE change nothing
	}
	var p attributesPatch
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPatchBody+1))
	if err != nil || len(body) > maxPatchBody {
		writeError(w, http.StatusBadRequest, CodeUnsupported, "the request body could not be read", NoDetail)
		return p, false
	}
	if err := json.Unmarshal(body, &p); err != nil {
		writeError(w, http.StatusBadRequest, CodeUnsupported, "the request body is not valid JSON changeable attributes: "+err.Error(), NoDetail)
		return p, false
	}
	if !manifest {
		p.QuarantineState, p.QuarantineDetails = nil, nil
		return p, true
	}
	if p.QuarantineState != nil && *p.QuarantineState != "Passed" && *p.QuarantineState != "Failed" {
		writeError(w, http.StatusBadRequest, CodeUnsupported, fmt.Sprintf("invalid quarantineState %q: use Passed or Failed", *p.QuarantineState), NoDetail)
		return p, false
	}
	return p, true
}

// metaNameUnknown writes ACR's NAME_UNKNOWN, which has no detail.
func metaNameUnknown(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, CodeNameUnknown, metaMsgNameUnknown, NoDetail)
}

// metaMethodNotAllowed answers a method the route does not serve.
func metaMethodNotAllowed(w http.ResponseWriter, allow ...string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, CodeUnsupported, metaMsgMethod, NoDetail)
}
