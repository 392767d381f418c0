package acrtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Manifest media types the registry stores. Only these may be
// PUT; anything else is MANIFEST_INVALID.
const (
	mediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeOCIArtifact    = "application/vnd.oci.artifact.manifest.v1+json"
	mediaTypeORASArtifact   = "application/vnd.cncf.oras.artifact.manifest.v1+json"

	// Config media types whose blob is an image configuration, from which
	// ACR reports architecture and os.
	mediaTypeOCIConfig    = "application/vnd.oci.image.config.v1+json"
	mediaTypeDockerConfig = "application/vnd.docker.container.image.v1+json"
)

// maxManifestBytes is ACR's documented manifest size limit, 4 MiB. Bodies
// and config blobs above it are never buffered.
const maxManifestBytes = 4 << 20

// disallowedMessage is the text ACR answers when a changeable attribute
// (readEnabled, writeEnabled, deleteEnabled) forbids an operation; the
// metadata and blob handlers use the same words.
const disallowedMessage = "The operation is disallowed on this registry, repository or image."

// manifestError is a registry error answer: the status and the errors[]
// entry to write. PutManifest returns it as its error.
type manifestError struct {
	status  int
	code    string
	message string
	detail  any
}

func (e *manifestError) Error() string {
	return fmt.Sprintf("acrtest: %d %s: %s", e.status, e.code, e.message)
}

func (e *manifestError) write(w http.ResponseWriter) {
	writeError(w, e.status, e.code, e.message, e.detail)
}

// errDisallowed is the answer to an operation a changeable attribute
// forbids: 403 DENIED, the code the OCI and ACR documentation give for
// it, though no recorded ACR traffic shows it.
func errDisallowed() *manifestError {
	return &manifestError{http.StatusForbidden, CodeDenied, disallowedMessage, NoDetail}
}

func errManifestInvalid(format string, args ...any) *manifestError {
	return &manifestError{http.StatusBadRequest, CodeManifestInvalid, fmt.Sprintf(format, args...), NoDetail}
}

// errManifestUnknown is the 404 for a missing manifest. By tag ACR names
// the tag in the message and sends detail {"Tag":"<tag>"}.
// An unknown repository gets the same answer: ACR reports the manifest, not
// the repository, as missing.
func errManifestUnknown(ref string) *manifestError {
	if isDigest(ref) {
		return &manifestError{http.StatusNotFound, CodeManifestUnknown, fmt.Sprintf("manifest %s is not found", ref), NoDetail}
	}
	return &manifestError{http.StatusNotFound, CodeManifestUnknown, fmt.Sprintf("manifest tagged by %q is not found", ref), map[string]string{"Tag": ref}}
}

// checkName and checkReference validate path parameters after
// authorization, with the OCI grammar and the OCI error codes, which ACR
// uses.
func checkName(name string) *manifestError {
	if !isName(name) {
		return &manifestError{http.StatusBadRequest, CodeNameInvalid, "invalid repository name", NoDetail}
	}
	return nil
}

func checkReference(ref string) *manifestError {
	switch {
	case isTag(ref) || isDigest(ref):
		return nil
	case strings.Contains(ref, ":"):
		// Tags cannot contain ':', so this was meant as a digest.
		return &manifestError{http.StatusBadRequest, CodeDigestInvalid, "invalid digest", NoDetail}
	default:
		return &manifestError{http.StatusBadRequest, CodeTagInvalid, "invalid tag", NoDetail}
	}
}

// handleManifest serves /v2/{name}/manifests/{reference}.
func (s *Server) handleManifest(w http.ResponseWriter, r *http.Request, entry *Request, name, ref string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.getManifest(w, r, entry, name, ref)
	case http.MethodPut:
		s.putManifest(w, r, entry, name, ref)
	case http.MethodDelete:
		s.deleteManifest(w, r, entry, name, ref)
	default:
		writeError(w, http.StatusMethodNotAllowed, CodeUnsupported, "The requested method is not supported.", NoDetail)
	}
}

// getManifest serves GET and HEAD: the stored bytes with the manifest's own
// Content-Type, Docker-Content-Digest, a quoted-digest ETag and
// Content-Length; HEAD sends the same headers only.
func (s *Server) getManifest(w http.ResponseWriter, r *http.Request, entry *Request, name, ref string) {
	if !s.authorize(w, r, entry, repoScope(name, "pull")) {
		return
	}
	if e := firstError(checkName(name), checkReference(ref)); e != nil {
		e.write(w)
		return
	}
	body, mediaType, digest, e := s.lookupManifest(name, ref)
	if e != nil {
		e.write(w)
		return
	}
	if msg := acceptRefusal(r.Header, mediaType, isDigest(ref)); msg != "" {
		writeError(w, http.StatusNotFound, CodeManifestUnknown, msg, NoDetail)
		return
	}
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Docker-Content-Digest", digest)
	h.Set("ETag", `"`+digest+`"`)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// lookupManifest resolves a tag or digest to a copy of the stored bytes,
// honouring readEnabled on the repository, the tag and the manifest.
func (s *Server) lookupManifest(name, ref string) ([]byte, string, string, *manifestError) {
	st := s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	repo := st.repo(name, false, time.Time{})
	if repo == nil {
		return nil, "", "", errManifestUnknown(ref)
	}
	if !repo.Attrs.ReadEnabled {
		return nil, "", "", errDisallowed()
	}
	digest := ref
	if !isDigest(ref) {
		t := repo.Tags[ref]
		if t == nil {
			return nil, "", "", errManifestUnknown(ref)
		}
		if !t.Attrs.ReadEnabled {
			return nil, "", "", errDisallowed()
		}
		digest = t.Digest
	}
	m := repo.Manifests[digest]
	if m == nil {
		return nil, "", "", errManifestUnknown(ref)
	}
	if !m.Attrs.ReadEnabled {
		return nil, "", "", errDisallowed()
	}
	return bytes.Clone(m.Body), m.MediaType, m.Digest, nil
}

// acceptRefusal returns "" when the request's Accept headers allow a
// manifest of mediaType, else the MANIFEST_UNKNOWN message ACR sends.
//
// ACR follows the distribution registry here: an OCI manifest, index or
// artifact is served only when its type is acceptable, otherwise 404 with
// "OCI manifest found, but accept header does not support OCI manifests"
// (Azure/acr PR #764; the index and artifact wordings are from Azure CLI
// issues 25280 and 24976). Accept values come from every Accept line and
// every comma-separated element (Go clients send several lines, .NET ones
// one joined line); parameters are ignored except q=0, which refuses.
// "*/*" accepts anything.
//
// Docker schema 2 manifests and lists are also acceptable through
// "application/json" (the .NET SDK's Accept). By tag, a registry answers a
// client that accepts none of these with a schema 1 conversion; the
// emulator has no schema 1, so it answers 404 instead. By digest they are
// served whatever the Accept, since the digest pins the exact bytes.
func acceptRefusal(h http.Header, mediaType string, byDigest bool) string {
	accepted := map[string]bool{}
	for _, line := range h.Values("Accept") {
		for _, item := range strings.Split(line, ",") {
			if t, ok := acceptItem(item); ok {
				accepted[t] = true
			}
		}
	}
	if accepted["*/*"] || accepted[mediaType] {
		return ""
	}
	switch mediaType {
	case mediaTypeOCIManifest:
		return "OCI manifest found, but accept header does not support OCI manifests"
	case mediaTypeOCIIndex:
		return "OCI index found, but accept header does not support OCI indexes"
	case mediaTypeOCIArtifact:
		return "OCI artifact found, but accept header does not support OCI artifacts"
	case mediaTypeORASArtifact:
		return "ORAS artifact found, but accept header does not support ORAS artifacts"
	case mediaTypeDockerManifest, mediaTypeDockerList:
		if byDigest || accepted["application/json"] {
			return ""
		}
		if mediaType == mediaTypeDockerList {
			return "Docker manifest list found, but accept header does not support Docker manifest lists"
		}
		return "Docker manifest found, but accept header does not support Docker manifests"
	}
	return "manifest found, but accept header does not support its media type"
}

// acceptItem parses one Accept element into its lower-cased media type;
// ok is false for empty elements and for q=0 (explicitly not acceptable).
func acceptItem(item string) (string, bool) {
	item = strings.TrimSpace(item)
	if item == "" {
		return "", false
	}
	t, params, err := mime.ParseMediaType(item)
	if err != nil {
		// Be lenient with malformed parameters: keep the type itself.
		t, _, _ = strings.Cut(item, ";")
		t = strings.ToLower(strings.TrimSpace(t))
		params = nil
	}
	if q, ok := params["q"]; ok {
		if v, err := strconv.ParseFloat(q, 64); err == nil && v <= 0 {
			return "", false
		}
	}
	return t, t != ""
}

// putManifest serves PUT: 201 with an empty body, Docker-Content-Digest and
// a relative Location, plus OCI-Subject when the manifest
// has a subject (OCI 1.1).
func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, entry *Request, name, ref string) {
	if !s.authorize(w, r, entry, repoScope(name, "push", "pull")) {
		return
	}
	if e := firstError(checkName(name), checkReference(ref)); e != nil {
		e.write(w)
		return
	}
	// The size cap is enforced before buffering: a declared length over the
	// limit is refused unread, and a chunked body is cut at the limit.
	if r.ContentLength > maxManifestBytes {
		errTooBig().write(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxManifestBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			errTooBig().write(w)
			return
		}
		errManifestInvalid("failed to read manifest body: %v", err).write(w)
		return
	}
	m, e := s.storeManifest(name, ref, r.Header.Get("Content-Type"), body)
	if e != nil {
		e.write(w)
		return
	}
	h := w.Header()
	h.Set("Docker-Content-Digest", m.Digest)
	h.Set("Location", "/v2/"+name+"/manifests/"+m.Digest)
	if m.Subject != "" {
		h.Set("OCI-Subject", m.Subject)
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

func errTooBig() *manifestError {
	return errManifestInvalid("manifest exceeds the maximum size of 4 MiB (%d bytes)", maxManifestBytes)
}

// manifestDoc is the union of the fields the registry reads from image
// manifests, indexes and artifact manifests.
type manifestDoc struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *descriptorDoc    `json:"config"`
	Layers        []descriptorDoc   `json:"layers"`
	Blobs         []descriptorDoc   `json:"blobs"`
	Manifests     []descriptorDoc   `json:"manifests"`
	Subject       *descriptorDoc    `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

type descriptorDoc struct {
	MediaType string   `json:"mediaType"`
	Digest    string   `json:"digest"`
	Size      int64    `json:"size"`
	URLs      []string `json:"urls"`
	Platform  *struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	} `json:"platform"`
}

// storeManifest validates and stores a manifest the way PUT does and
// returns a copy of what was stored.
func (s *Server) storeManifest(name, ref, contentType string, body []byte) (*manifest, *manifestError) {
	if e := firstError(checkName(name), checkReference(ref)); e != nil {
		return nil, e
	}
	mediaType, doc, e := parseManifest(contentType, body)
	if e != nil {
		return nil, e
	}
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if isDigest(ref) && ref != digest {
		return nil, &manifestError{http.StatusBadRequest, CodeDigestInvalid, "provided digest did not match uploaded content", NoDetail}
	}
	m := &manifest{
		Digest: digest, MediaType: mediaType, Body: bytes.Clone(body),
		ArtifactType: doc.ArtifactType, Annotations: doc.Annotations,
	}
	need, e := describeManifest(m, doc)
	if e != nil {
		return nil, e
	}
	if m.ConfigMediaType == mediaTypeOCIConfig || m.ConfigMediaType == mediaTypeDockerConfig {
		// Read outside the state lock: the blob store locks itself. A
		// config that is missing or unreadable just leaves the fields empty;
		// the link check rejects a config that was never pushed.
		m.Architecture, m.OS = s.platformOf(doc.Config.Digest)
	}
	return s.commitManifest(name, ref, m, need)
}

// parseManifest checks a pushed manifest's media type, JSON, mediaType
// field and schemaVersion, as ACR does before anything else.
func parseManifest(contentType string, body []byte) (string, *manifestDoc, *manifestError) {
	if len(body) > maxManifestBytes {
		return "", nil, errTooBig()
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil || !knownManifestType(mediaType) {
		return "", nil, errManifestInvalid("unsupported manifest media type %q", contentType)
	}
	var doc manifestDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", nil, errManifestInvalid("manifest is not valid JSON: %v", err)
	}
	// Content-Type must equal the body's mediaType. OCI makes the field
	// optional; Docker schema 2 requires it.
	isDocker := mediaType == mediaTypeDockerManifest || mediaType == mediaTypeDockerList
	if doc.MediaType != mediaType && (doc.MediaType != "" || isDocker) {
		return "", nil, errManifestInvalid("manifest mediaType %q does not match Content-Type %q", doc.MediaType, mediaType)
	}
	isArtifact := mediaType == mediaTypeOCIArtifact || mediaType == mediaTypeORASArtifact
	if !isArtifact && (doc.SchemaVersion == nil || *doc.SchemaVersion != 2) {
		return "", nil, errManifestInvalid("manifest schemaVersion must be 2")
	}
	return mediaType, &doc, nil
}

// manifestNeeds are the digests a manifest refers to, which the
// repository must already hold.
type manifestNeeds struct {
	blobs    []string // config and layers, or an artifact's blobs
	children []string // an index's manifests
}

// describeManifest fills in what the metadata API reports of a manifest
// (config type, size, references, subject) and returns what it refers to.
func describeManifest(m *manifest, doc *manifestDoc) (manifestNeeds, *manifestError) {
	var need manifestNeeds
	var e *manifestError
	switch m.MediaType {
	case mediaTypeOCIManifest, mediaTypeDockerManifest:
		need.blobs, e = describeImage(m, doc)
	case mediaTypeOCIIndex, mediaTypeDockerList:
		need.children, e = describeIndex(m, doc)
	default: // artifact manifests
		for _, b := range doc.Blobs {
			if !isDigest(b.Digest) {
				return need, errManifestInvalid("blob digest %q is invalid", b.Digest)
			}
			m.ImageSize += b.Size
			need.blobs = append(need.blobs, b.Digest)
		}
	}
	if e != nil {
		return need, e
	}
	if doc.Subject != nil {
		if !isDigest(doc.Subject.Digest) {
			return need, errManifestInvalid("subject digest %q is invalid", doc.Subject.Digest)
		}
		m.Subject = doc.Subject.Digest
	}
	return need, nil
}

// describeImage reads an image manifest's config and layers.
func describeImage(m *manifest, doc *manifestDoc) ([]string, *manifestError) {
	if doc.Config == nil || !isDigest(doc.Config.Digest) {
		return nil, errManifestInvalid("manifest config is missing or has an invalid digest")
	}
	m.ConfigMediaType = doc.Config.MediaType
	blobs := []string{doc.Config.Digest}
	for _, l := range doc.Layers {
		if !isDigest(l.Digest) {
			return nil, errManifestInvalid("layer digest %q is invalid", l.Digest)
		}
		// imageSize is the sum of the layer sizes, the config not
		// included, as in ACR's answers.
		m.ImageSize += l.Size
		// Foreign (non-distributable) layers with URLs live outside the
		// registry, so they need not have been pushed.
		if len(l.URLs) > 0 && (strings.Contains(l.MediaType, "foreign") || strings.Contains(l.MediaType, "nondistributable")) {
			continue
		}
		blobs = append(blobs, l.Digest)
	}
	return blobs, nil
}

// describeIndex reads an index's child manifests. ACR gives a list
// references and no architecture, os or configMediaType.
func describeIndex(m *manifest, doc *manifestDoc) ([]string, *manifestError) {
	m.References = []platformRef{}
	var children []string
	for _, c := range doc.Manifests {
		if !isDigest(c.Digest) {
			return nil, errManifestInvalid("child manifest digest %q is invalid", c.Digest)
		}
		ref := platformRef{Digest: c.Digest}
		if c.Platform != nil {
			ref.Architecture, ref.OS = c.Platform.Architecture, c.Platform.OS
		}
		m.References = append(m.References, ref)
		children = append(children, c.Digest)
	}
	return children, nil
}

// commitManifest stores m in repository name under ref, once the locks
// allow it and everything it refers to is there, and returns a copy.
func (s *Server) commitManifest(name, ref string, m *manifest, need manifestNeeds) (*manifest, *manifestError) {
	st := s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	now := s.now()
	repo := st.repo(name, false, now)
	if e := checkManifestWritable(repo, m.Digest, ref); e != nil {
		return nil, e
	}
	if e := checkManifestLinks(repo, m, need); e != nil {
		return nil, e
	}
	repo = st.repo(name, true, now)
	if old := repo.Manifests[m.Digest]; old != nil {
		// Re-pushing the same bytes keeps the creation time, attributes
		// and quarantine state set through /acr/v1.
		m.Created, m.Attrs = old.Created, old.Attrs
		m.QuarantineState, m.QuarantineDetails = old.QuarantineState, old.QuarantineDetails
	} else {
		m.Created, m.Attrs = now, defaultAttributes
	}
	m.Updated = now
	m.Seq = st.nextSeq()
	repo.Manifests[m.Digest] = m
	if !isDigest(ref) {
		t := repo.Tags[ref]
		switch {
		case t == nil:
			repo.Tags[ref] = &tag{Name: ref, Digest: m.Digest, Created: now, Updated: now, Seq: st.nextSeq(), Attrs: defaultAttributes}
		case t.Digest != m.Digest:
			t.Digest, t.Updated, t.Seq = m.Digest, now, st.nextSeq()
		}
	}
	repo.Updated = now
	stored := *m
	stored.Body = bytes.Clone(m.Body)
	return &stored, nil
}

// checkManifestWritable refuses a push that a lock forbids: on the
// repository, on the manifest being replaced, or on the tag being moved.
func checkManifestWritable(repo *repository, digest, ref string) *manifestError {
	if repo == nil {
		return nil
	}
	if !repo.Attrs.WriteEnabled {
		return errDisallowed()
	}
	if old := repo.Manifests[digest]; old != nil && !old.Attrs.WriteEnabled {
		return errDisallowed()
	}
	if t := repo.Tags[ref]; t != nil && !isDigest(ref) && !t.Attrs.WriteEnabled {
		return errDisallowed()
	}
	return nil
}

// checkManifestLinks refuses a manifest whose blobs or child manifests the
// repository lacks (MANIFEST_BLOB_UNKNOWN), and adds an index's children's
// sizes to its own.
func checkManifestLinks(repo *repository, m *manifest, need manifestNeeds) *manifestError {
	for _, d := range need.blobs {
		if !linkedBlob(repo, d) {
			return &manifestError{http.StatusBadRequest, CodeManifestBlobUnknown, "blob unknown to registry", d}
		}
	}
	for _, d := range need.children {
		if repo == nil || repo.Manifests[d] == nil {
			return &manifestError{http.StatusBadRequest, CodeManifestBlobUnknown, "manifest unknown to registry", d}
		}
		m.ImageSize += repo.Manifests[d].ImageSize
	}
	return nil
}

// linkedBlob reports whether digest was pushed or mounted into repo.
func linkedBlob(repo *repository, digest string) bool {
	if repo == nil {
		return false
	}
	_, ok := repo.Blobs[digest]
	return ok
}

// platformOf reads architecture and os from an image config blob, capped
// at maxManifestBytes so an odd config cannot exhaust memory.
func (s *Server) platformOf(configDigest string) (arch, os string) {
	b, err := s.state.blobs.readAll(configDigest, maxManifestBytes)
	if err != nil {
		return "", ""
	}
	var cfg struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return "", ""
	}
	return cfg.Architecture, cfg.OS
}

func knownManifestType(t string) bool {
	switch t {
	case mediaTypeOCIManifest, mediaTypeOCIIndex, mediaTypeDockerManifest, mediaTypeDockerList,
		mediaTypeOCIArtifact, mediaTypeORASArtifact:
		return true
	}
	return false
}

// deleteManifest serves DELETE: by digest only (202, empty body), removing
// every tag that points at the manifest; by tag 405 UNSUPPORTED.
func (s *Server) deleteManifest(w http.ResponseWriter, r *http.Request, entry *Request, name, ref string) {
	if !s.authorize(w, r, entry, repoScope(name, "delete")) {
		return
	}
	if e := checkName(name); e != nil {
		e.write(w)
		return
	}
	if isTag(ref) {
		writeError(w, http.StatusMethodNotAllowed, CodeUnsupported, "A manifest can only be deleted by digest.", NoDetail)
		return
	}
	if e := checkReference(ref); e != nil {
		e.write(w)
		return
	}
	if e := s.removeManifest(name, ref); e != nil {
		e.write(w)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

// removeManifest deletes a manifest and its tags. A lock anywhere refuses
// it: deleteEnabled=false, and also writeEnabled=false, which ACR's image
// lock documentation describes as preventing both update and deletion.
func (s *Server) removeManifest(name, digest string) *manifestError {
	st := s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	repo := st.repo(name, false, time.Time{})
	if repo == nil || repo.Manifests[digest] == nil {
		return errManifestUnknown(digest)
	}
	locked := func(a attributes) bool { return !a.DeleteEnabled || !a.WriteEnabled }
	if locked(repo.Attrs) || locked(repo.Manifests[digest].Attrs) {
		return errDisallowed()
	}
	for _, t := range repo.Tags {
		if t.Digest == digest && locked(t.Attrs) {
			return errDisallowed()
		}
	}
	for n, t := range repo.Tags {
		if t.Digest == digest {
			delete(repo.Tags, n)
		}
	}
	delete(repo.Manifests, digest)
	repo.Updated = s.now()
	return nil
}

// handleV2Tags serves GET /v2/{name}/tags/list?n=&last= (OCI): tags in
// lexical order, paged with a relative Link header like the /acr/v1 lists.
func (s *Server) handleV2Tags(w http.ResponseWriter, r *http.Request, entry *Request, name string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, CodeUnsupported, "The requested method is not supported.", NoDetail)
		return
	}
	if !s.authorize(w, r, entry, repoScope(name, "pull")) {
		return
	}
	if e := checkName(name); e != nil {
		e.write(w)
		return
	}
	q := r.URL.Query()
	limit := -1 // no n: the whole list
	if v := q.Get("n"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", NoDetail)
			return
		}
		limit = n
	}
	last := q.Get("last")

	st := s.state
	st.mu.Lock()
	repo := st.repo(name, false, time.Time{})
	if repo == nil {
		st.mu.Unlock()
		writeError(w, http.StatusNotFound, CodeNameUnknown, "repository name not known to registry", NoDetail)
		return
	}
	tags := []string{}
	for n, t := range repo.Tags {
		// listEnabled=false hides a tag from listings.
		if t.Attrs.ListEnabled && n > last {
			tags = append(tags, n)
		}
	}
	st.mu.Unlock()
	sort.Strings(tags)
	if limit >= 0 && len(tags) > limit {
		tags = tags[:limit]
		if limit > 0 {
			w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?last=%s&n=%d>; rel="next"`, name, url.QueryEscape(tags[limit-1]), limit))
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, tags})
}

// referrerDescriptor is one entry of a referrers index (OCI 1.1).
type referrerDescriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// handleReferrers serves GET /v2/{name}/referrers/{digest}?artifactType=
// (OCI 1.1): an image index of the manifests whose subject is digest,
// empty (never 404) when there are none.
func (s *Server) handleReferrers(w http.ResponseWriter, r *http.Request, entry *Request, name, digest string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, CodeUnsupported, "The requested method is not supported.", NoDetail)
		return
	}
	if !s.authorize(w, r, entry, repoScope(name, "pull")) {
		return
	}
	if e := checkName(name); e != nil {
		e.write(w)
		return
	}
	if !isDigest(digest) {
		writeError(w, http.StatusBadRequest, CodeDigestInvalid, "invalid digest", NoDetail)
		return
	}
	filter := r.URL.Query().Get("artifactType")

	refs := []referrerDescriptor{}
	st := s.state
	st.mu.Lock()
	if repo := st.repo(name, false, time.Time{}); repo != nil {
		for _, m := range repo.Manifests {
			if m.Subject != digest {
				continue
			}
			// OCI 1.1: artifactType, else the config media type.
			at := m.ArtifactType
			if at == "" {
				at = m.ConfigMediaType
			}
			if filter != "" && at != filter {
				continue
			}
			refs = append(refs, referrerDescriptor{
				MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Body)),
				ArtifactType: at, Annotations: m.Annotations,
			})
		}
	}
	st.mu.Unlock()
	sort.Slice(refs, func(i, j int) bool { return refs[i].Digest < refs[j].Digest })

	body, _ := json.Marshal(struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		Manifests     []referrerDescriptor `json:"manifests"`
	}{2, mediaTypeOCIIndex, refs})
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", mediaTypeOCIIndex)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func firstError(errs ...*manifestError) *manifestError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// PutManifest stores a manifest in repository under reference (a tag or
// the manifest's digest) exactly as PUT /v2/{repository}/manifests/{reference}
// with Content-Type mediaType would: the same validation (media type,
// size limit, referenced blobs and child manifests present in the
// repository, locks) and the same derived metadata. It returns the
// manifest's digest. Use it to seed content without going through HTTP.
func (s *Server) PutManifest(repository, reference, mediaType string, body []byte) (string, error) {
	m, e := s.storeManifest(repository, reference, mediaType, body)
	if e != nil {
		return "", e
	}
	return m.Digest, nil
}

// Manifest returns the stored bytes and media type of the manifest that
// reference (a tag or digest) names in repository, and whether it exists.
// It ignores changeable attributes and Accept negotiation.
func (s *Server) Manifest(repository, reference string) (body []byte, mediaType string, ok bool) {
	st := s.state
	st.mu.Lock()
	defer st.mu.Unlock()
	repo := st.repo(repository, false, time.Time{})
	if repo == nil {
		return nil, "", false
	}
	digest := reference
	if t := repo.Tags[reference]; t != nil && !isDigest(reference) {
		digest = t.Digest
	}
	m := repo.Manifests[digest]
	if m == nil {
		return nil, "", false
	}
	return bytes.Clone(m.Body), m.MediaType, true
}
