package acrtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"html"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// codeContentLengthInvalid is the code ACR answers a chunked (unsized)
// upload body with. It is not one of the OCI distribution error codes.
const codeContentLengthInvalid = "CONTENT_LENGTH_INVALID"

// Messages of the distribution error codes used here. ACR's registry is
// derived from the distribution project and keeps its fixed messages; the
// DIGEST_INVALID pair is ACR's own, as seen in its recorded answers.
const (
	msgDigestInvalid     = "provided digest did not match uploaded content"
	detailDigestInvalid  = "digest parsing failed"
	msgBlobUnknown       = "blob unknown to registry"
	msgUploadUnknown     = "blob upload unknown to registry"
	msgUploadInvalid     = "blob upload invalid"
	msgNameInvalid       = "invalid repository name"
	msgDenied            = "The operation is disallowed on this registry, repository or image."
	msgUnsupportedMethod = "The operation is unsupported."
)

// sasLifetime is how long a blob redirect stays valid: ACR's SAS URLs are
// good for about 20 minutes.
const sasLifetime = 20 * time.Minute

// upload is one blob upload session. Its bytes live in a spool; a running
// SHA-256 follows them so completing a sha256 upload needs no re-read.
type upload struct {
	// mu serialises the requests of one session, so a PATCH and a PUT
	// racing on the same Location cannot interleave their bytes. It is
	// never taken while registry.mu is held.
	mu      sync.Mutex
	name    string // repository the session belongs to
	id      string // the Docker-Upload-Uuid
	started time.Time
	sp      *spool
	sum     hash.Hash // running sha256 of every byte in sp
	offset  int64     // bytes received so far
	// seq counts the PATCHes (and partial bodies) applied. It is part of
	// _state, so every PATCH yields a new Location even for an empty
	// chunk, and an older Location is recognisably stale.
	seq int64
	// done is set once the session is completed, cancelled or discarded;
	// a request that was waiting on mu then answers BLOB_UPLOAD_UNKNOWN.
	done bool
}

// uploadState is the JSON inside the opaque _state query parameter,
// with the fields ACR's own state carries plus Seq.
type uploadState struct {
	Name      string
	UUID      string
	Offset    int64
	StartedAt string
	Seq       int64
}

// stateMAC authenticates an upload state. The label keeps these MACs
// distinct from the JWT signatures made with the same key.
func (s *Server) stateMAC(payload []byte) []byte {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte("acrtest upload state\x00"))
	mac.Write(payload)
	return mac.Sum(nil)
}

// packState encodes the session's current position as base64(HMAC+JSON),
// the shape ACR's _state has. Call with u.mu held.
func (s *Server) packState(u *upload) string {
	payload, _ := json.Marshal(uploadState{
		Name: u.name, UUID: u.id, Offset: u.offset,
		StartedAt: u.started.Format(time.RFC3339Nano), Seq: u.seq,
	})
	return base64.URLEncoding.EncodeToString(append(s.stateMAC(payload), payload...))
}

var (
	errStateForged = errors.New("the _state query parameter is missing, malformed or was not issued by this registry")
	errStateStale  = errors.New("the _state query parameter is stale: use the Location of the latest response for this upload")
)

// checkState verifies the _state of a request against the session. A
// forged or foreign state is always refused; a stale one only when strict
// (PATCH and PUT). Status and cancel accept any state this registry issued
// for the session, so a client whose PATCH was cut off can ask where the
// upload stands with the Location it still has, and resume from the
// fresh Location that answer carries. Call with u.mu held.
func (s *Server) checkState(r *http.Request, u *upload, strict bool) error {
	raw, err := base64.URLEncoding.DecodeString(r.URL.Query().Get("_state"))
	if err != nil || len(raw) < sha256.Size {
		return errStateForged
	}
	mac, payload := raw[:sha256.Size], raw[sha256.Size:]
	if !hmac.Equal(mac, s.stateMAC(payload)) {
		return errStateForged
	}
	var st uploadState
	if json.Unmarshal(payload, &st) != nil || st.Name != u.name || st.UUID != u.id {
		return errStateForged
	}
	if strict && (st.Seq != u.seq || st.Offset != u.offset) {
		return errStateStale
	}
	return nil
}

// uploadLocation is the relative Location of a session's next step.
// The repository name goes in as given, slashes unescaped.
func (s *Server) uploadLocation(u *upload) string {
	return "/v2/" + u.name + "/blobs/uploads/" + u.id + "?_nouploadcache=false&_state=" + url.QueryEscape(s.packState(u))
}

// uploadRange is the Range header of an upload response: inclusive, no
// "bytes=" unit, and "0-0" for an empty session.
func uploadRange(offset int64) string {
	if offset <= 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(offset-1, 10)
}

// writeUploadProgress sets the headers every upload progress response
// carries. Call with u.mu held.
func (s *Server) writeUploadProgress(w http.ResponseWriter, u *upload) {
	h := w.Header()
	h.Set("Location", s.uploadLocation(u))
	h.Set("Range", uploadRange(u.offset))
	h.Set("Docker-Upload-Uuid", u.id)
}

// writeEmpty writes a bodiless response with an explicit Content-Length 0,
// which ACR sends on 201 and 202.
func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// writeDigestInvalid answers DIGEST_INVALID with the recorded message and
// string detail.
func writeDigestInvalid(w http.ResponseWriter) {
	writeError(w, http.StatusBadRequest, CodeDigestInvalid, msgDigestInvalid, detailDigestInvalid)
}

func writeNameInvalid(w http.ResponseWriter, name string) {
	writeError(w, http.StatusBadRequest, CodeNameInvalid, msgNameInvalid, map[string]string{"name": name})
}

func writeUploadUnknown(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, CodeBlobUploadUnknown, msgUploadUnknown, NoDetail)
}

// writeEnabled reports whether the repository accepts pushes; an unknown
// repository does (the push creates it).
func (s *Server) writeEnabled(name string) bool {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	repo := s.state.repos[name]
	return repo == nil || repo.Attrs.WriteEnabled
}

// refuseUnsized answers a request whose body has no Content-Length (sent
// with Transfer-Encoding: chunked): ACR refuses those with 400.
func refuseUnsized(w http.ResponseWriter, r *http.Request) bool {
	if r.ContentLength >= 0 {
		return false
	}
	writeError(w, http.StatusBadRequest, codeContentLengthInvalid,
		"a Content-Length header is required; chunked transfer encoding is not supported", NoDetail)
	return true
}

// handleStartUpload serves POST /v2/{name}/blobs/uploads/: a new session,
// a monolithic upload with ?digest=, or a cross-repository mount with
// ?from=&mount=.
func (s *Server) handleStartUpload(w http.ResponseWriter, r *http.Request, entry *Request, name string) {
	q := r.URL.Query()
	from, mount := q.Get("from"), q.Get("mount")
	isMount := from != "" && mount != ""
	// The POST challenge lists push before pull, unlike the PATCH that
	// follows; a mount adds a pull scope on the source.
	need := []scope{repoScope(name, "push", "pull")}
	if isMount {
		need = []scope{repoScope(name, "pull", "push"), repoScope(from, "pull")}
	}
	if !s.authorize(w, r, entry, need...) {
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, CodeUnsupported, msgUnsupportedMethod, NoDetail)
		return
	}
	if !isName(name) {
		writeNameInvalid(w, name)
		return
	}
	if isMount && !isName(from) {
		writeNameInvalid(w, from)
		return
	}
	if !s.writeEnabled(name) {
		writeError(w, http.StatusForbidden, CodeDenied, msgDenied, NoDetail)
		return
	}

	if isMount {
		if !isDigest(mount) {
			writeDigestInvalid(w)
			return
		}
		if s.mount(name, from, mount) {
			w.Header().Set("Location", "/v2/"+name+"/blobs/"+mount)
			w.Header().Set("Docker-Content-Digest", mount)
			writeEmpty(w, http.StatusCreated)
			return
		}
		// ACR answers a mount it cannot do with an ordinary new session,
		// so clients fall back to uploading.
	} else if digest, ok := q["digest"]; ok {
		s.monolithicUpload(w, r, name, digest[0])
		return
	}

	u := &upload{name: name, id: newID(), started: s.now(), sum: sha256.New()}
	sp, err := s.state.blobs.newSpool()
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeUnknown, err.Error(), NoDetail)
		return
	}
	u.sp = sp
	s.state.mu.Lock()
	s.state.uploads[u.id] = u
	s.state.mu.Unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	s.writeUploadProgress(w, u)
	writeEmpty(w, http.StatusAccepted)
}

// mount links digest from repository from into name when from has it and
// is readable, and reports whether it did.
func (s *Server) mount(name, from, digest string) bool {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	src := s.state.repos[from]
	if src == nil || !src.Attrs.ReadEnabled {
		return false
	}
	size, linked := src.Blobs[digest]
	if !linked {
		return false
	}
	if _, stored := s.state.blobs.stat(digest); !stored {
		return false
	}
	s.state.repo(name, true, s.now()).Blobs[digest] = size
	return true
}

// monolithicUpload stores a whole blob sent with POST ?digest= [OCI]; the
// answer is that of a completed upload.
func (s *Server) monolithicUpload(w http.ResponseWriter, r *http.Request, name, digest string) {
	if !isDigest(digest) {
		writeDigestInvalid(w)
		return
	}
	if refuseUnsized(w, r) {
		return
	}
	sp, err := s.state.blobs.newSpool()
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeUnknown, err.Error(), NoDetail)
		return
	}
	u := &upload{name: name, sp: sp, sum: sha256.New()}
	if _, err := io.Copy(uploadWriter{u}, r.Body); err != nil {
		sp.discard()
		writeError(w, http.StatusBadRequest, CodeBlobUploadInvalid, msgUploadInvalid, err.Error())
		return
	}
	s.finishUpload(w, u, digest)
}

// uploadWriter appends to a session's spool and advances its running hash
// and offset with exactly the bytes the spool took, so a body that breaks
// off midway leaves the three consistent.
type uploadWriter struct{ u *upload }

func (uw uploadWriter) Write(p []byte) (int, error) {
	n, err := uw.u.sp.Write(p)
	uw.u.sum.Write(p[:n])
	uw.u.offset += int64(n)
	return n, err
}

// lockUpload finds the session id of repository name and returns it with
// its mutex held, or answers 404 BLOB_UPLOAD_UNKNOWN.
func (s *Server) lockUpload(w http.ResponseWriter, name, id string) (*upload, bool) {
	s.state.mu.Lock()
	u := s.state.uploads[id]
	s.state.mu.Unlock()
	if u == nil || u.name != name {
		writeUploadUnknown(w)
		return nil, false
	}
	u.mu.Lock()
	if u.done {
		u.mu.Unlock()
		writeUploadUnknown(w)
		return nil, false
	}
	return u, true
}

// dropUpload ends a session: removes it from the registry and, unless its
// spool was committed, discards the bytes. Call with u.mu held.
func (s *Server) dropUpload(u *upload) {
	u.done = true
	if u.sp != nil {
		u.sp.discard()
		u.sp = nil
	}
	if u.id == "" {
		return // a monolithic upload was never registered
	}
	s.state.mu.Lock()
	delete(s.state.uploads, u.id)
	s.state.mu.Unlock()
}

// handleUpload serves an upload session's Location: PATCH a chunk, GET
// the status, PUT to complete, DELETE to cancel.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, entry *Request, name, id string) {
	// Cancel needs delete; the other steps pull,push, in that order, which
	// ACR uses here although the POST's challenge lists push,pull.
	need := repoScope(name, "pull", "push")
	if r.Method == http.MethodDelete {
		need = repoScope(name, "delete")
	}
	if !s.authorize(w, r, entry, need) {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodPatch, http.MethodPut, http.MethodDelete:
	default:
		writeError(w, http.StatusMethodNotAllowed, CodeUnsupported, msgUnsupportedMethod, NoDetail)
		return
	}
	if !isName(name) {
		writeNameInvalid(w, name)
		return
	}
	u, ok := s.lockUpload(w, name, id)
	if !ok {
		return
	}
	defer u.mu.Unlock()
	strict := r.Method == http.MethodPatch || r.Method == http.MethodPut
	if err := s.checkState(r, u, strict); err != nil {
		writeError(w, http.StatusBadRequest, CodeBlobUploadInvalid, msgUploadInvalid, err.Error())
		return
	}
	if strict && !s.writeEnabled(name) {
		writeError(w, http.StatusForbidden, CodeDenied, msgDenied, NoDetail)
		return
	}

	switch r.Method {
	case http.MethodGet:
		// 204 without Content-Length: net/http omits it for 204.
		s.writeUploadProgress(w, u)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		s.dropUpload(u)
		w.Header().Set("Docker-Upload-Uuid", u.id)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		if !s.receiveChunk(w, r, u) {
			return
		}
		s.writeUploadProgress(w, u)
		writeEmpty(w, http.StatusAccepted)
	case http.MethodPut:
		q := r.URL.Query()
		digest := q.Get("digest")
		if !isDigest(digest) {
			// The session survives a malformed request; only a digest
			// mismatch discards it.
			writeDigestInvalid(w)
			return
		}
		if r.ContentLength != 0 || r.Header.Get("Content-Range") != "" {
			if !s.receiveChunk(w, r, u) {
				return
			}
		}
		s.finishUpload(w, u, digest)
	}
}

// receiveChunk appends a PATCH (or final PUT) body to the session after
// checking its Content-Range, and answers the failure itself when it
// returns false. Call with u.mu held.
func (s *Server) receiveChunk(w http.ResponseWriter, r *http.Request, u *upload) bool {
	if refuseUnsized(w, r) {
		return false
	}
	// Content-Range is "start-end", inclusive, without a unit or total.
	// Anything else, a start other than the current offset
	// or a span other than the body's length is 416, as in distribution.
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, end, ok := parseUploadRange(cr)
		if !ok || start != u.offset || end-start+1 != r.ContentLength {
			w.Header().Set("Range", uploadRange(u.offset))
			w.Header().Set("Docker-Upload-Uuid", u.id)
			writeError(w, http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid, msgUploadInvalid,
				fmt.Sprintf("Content-Range %q does not continue the upload at offset %d with %d bytes", cr, u.offset, r.ContentLength))
			return false
		}
	}
	// io.Copy streams through a 32 KiB buffer, so a chunk is never held
	// in memory whole in directory mode.
	_, err := io.Copy(uploadWriter{u}, r.Body)
	u.seq++
	if err != nil {
		// What arrived stays appended and the offset says so; the client
		// learns where to resume from a status GET (see checkState).
		writeError(w, http.StatusBadRequest, CodeBlobUploadInvalid, msgUploadInvalid, "reading the request body failed: "+err.Error())
		return false
	}
	return true
}

// parseUploadRange parses the "start-end" Content-Range of a PATCH.
func parseUploadRange(v string) (start, end int64, ok bool) {
	a, b, found := strings.Cut(v, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// finishUpload verifies the session's bytes against digest, then stores
// the blob and links it into the repository (201), or discards the
// session (400 DIGEST_INVALID). Call with u.mu held.
func (s *Server) finishUpload(w http.ResponseWriter, u *upload, digest string) {
	var got string
	switch algorithmOf(digest) {
	case "sha256":
		got = "sha256:" + hex.EncodeToString(u.sum.Sum(nil))
	case "sha512":
		// Only sha256 runs alongside the upload; another algorithm
		// re-reads the spool.
		h := sha512.New()
		if _, err := io.Copy(h, io.NewSectionReader(u.sp, 0, u.offset)); err != nil {
			s.dropUpload(u)
			writeError(w, http.StatusInternalServerError, CodeUnknown, err.Error(), NoDetail)
			return
		}
		got = "sha512:" + hex.EncodeToString(h.Sum(nil))
	}
	if got != digest {
		s.dropUpload(u)
		writeDigestInvalid(w)
		return
	}
	// Committing is a rename or a map store, cheap enough to do under
	// the registry lock, which keeps a concurrent blob DELETE from
	// removing the content between the commit and the link.
	sp := u.sp
	u.sp = nil
	s.state.mu.Lock()
	err := s.state.blobs.commit(digest, sp)
	if err == nil {
		s.state.repo(u.name, true, s.now()).Blobs[digest] = u.offset
	}
	s.state.mu.Unlock()
	s.dropUpload(u)
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeUnknown, err.Error(), NoDetail)
		return
	}
	w.Header().Set("Location", "/v2/"+u.name+"/blobs/"+digest)
	w.Header().Set("Docker-Content-Digest", digest)
	writeEmpty(w, http.StatusCreated)
}

// handleBlob serves GET, HEAD and DELETE /v2/{name}/blobs/{digest}.
func (s *Server) handleBlob(w http.ResponseWriter, r *http.Request, entry *Request, name, digest string) {
	need := repoScope(name, "pull")
	if r.Method == http.MethodDelete {
		need = repoScope(name, "delete")
	}
	if !s.authorize(w, r, entry, need) {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
	default:
		writeError(w, http.StatusMethodNotAllowed, CodeUnsupported, msgUnsupportedMethod, NoDetail)
		return
	}
	if !isName(name) {
		writeNameInvalid(w, name)
		return
	}
	// A malformed digest reaches the handler and is refused there, not
	// by the router (unlike /acr/v1/.../_manifests, where ACR's router
	// answers a plain-text 404).
	if !isDigest(digest) {
		writeDigestInvalid(w)
		return
	}
	if r.Method == http.MethodDelete {
		s.deleteBlob(w, name, digest)
		return
	}
	br, ok := s.openLinkedBlob(w, r, name, digest)
	if !ok {
		return
	}
	defer br.Close()
	s.serveBlob(w, r, br, digest)
}

// openLinkedBlob opens a blob of repository name for reading, answering
// the request itself (403, 404) when the repository may not be read or
// does not hold the blob; a blob stored for another repository is unknown
// here too.
func (s *Server) openLinkedBlob(w http.ResponseWriter, r *http.Request, name, digest string) (blobReader, bool) {
	s.state.mu.Lock()
	repo := s.state.repos[name]
	var linked, readable bool
	if repo != nil {
		_, linked = repo.Blobs[digest]
		readable = repo.Attrs.ReadEnabled
	}
	s.state.mu.Unlock()
	head := r.Method == http.MethodHead // HEAD answers carry no body
	if linked && !readable {
		if head {
			w.WriteHeader(http.StatusForbidden)
		} else {
			writeError(w, http.StatusForbidden, CodeDenied, msgDenied, NoDetail)
		}
		return nil, false
	}
	var br blobReader
	if linked {
		var err error
		if br, err = s.state.blobs.open(digest); err != nil {
			linked = false
		}
	}
	if !linked {
		if head {
			w.WriteHeader(http.StatusNotFound)
		} else {
			writeError(w, http.StatusNotFound, CodeBlobUnknown, msgBlobUnknown, digest)
		}
		return nil, false
	}
	return br, true
}

// serveBlob answers a blob GET or HEAD: HEAD from the registry itself,
// full length and Range ignored; GET redirected to the storage host when
// there is one, as ACR does, or served here, ranges included.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, br blobReader, digest string) {
	h := w.Header()
	h.Set("Docker-Content-Digest", digest)
	if r.Method == http.MethodHead {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(br.Size(), 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	if s.storage != nil {
		// ACR sends blob reads to Azure Storage with a SAS URL; the 307
		// carries the digest and a small HTML body, the one
		// net/http's Redirect writes in the Go registry ACR derives from
		// (it ends in two newlines). Written here so it cannot drift.
		target := s.sasURL(digest)
		body := `<a href="` + html.EscapeString(target) + `">Temporary Redirect</a>.` + "\n\n"
		h.Set("Location", target)
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusTemporaryRedirect)
		_, _ = io.WriteString(w, body)
		return
	}
	serveRange(w, r, br, func(w http.ResponseWriter, size int64) {
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		_, _ = io.WriteString(w, "invalid range: failed to overlap\n")
	})
}

// deleteBlob unlinks digest from the repository, and drops the content
// once no repository links it: 202 with no Docker-Content-Digest.
func (s *Server) deleteBlob(w http.ResponseWriter, name, digest string) {
	s.state.mu.Lock()
	repo := s.state.repos[name]
	var linked bool
	if repo != nil {
		_, linked = repo.Blobs[digest]
	}
	if !linked {
		s.state.mu.Unlock()
		writeError(w, http.StatusNotFound, CodeBlobUnknown, msgBlobUnknown, digest)
		return
	}
	if !repo.Attrs.DeleteEnabled {
		s.state.mu.Unlock()
		writeError(w, http.StatusForbidden, CodeDenied, msgDenied, NoDetail)
		return
	}
	delete(repo.Blobs, digest)
	used := false
	for _, other := range s.state.repos {
		if _, ok := other.Blobs[digest]; ok {
			used = true
			break
		}
	}
	if !used {
		// Under the lock, so an upload completing concurrently cannot
		// link content that is about to vanish (see finishUpload).
		s.state.blobs.delete(digest)
	}
	s.state.mu.Unlock()
	writeEmpty(w, http.StatusAccepted)
}

// serveRange writes a stored blob as 200, or 206 for a satisfiable
// single "bytes=" Range. Malformed or multi-range headers are ignored, as
// RFC 9110 allows; an unsatisfiable range is left to unsatisfiable. The
// body streams from the store through a section reader.
func serveRange(w http.ResponseWriter, r *http.Request, br blobReader, unsatisfiable func(http.ResponseWriter, int64)) {
	size := br.Size()
	start, length, status := int64(0), size, http.StatusOK
	if v := r.Header.Get("Range"); v != "" {
		a, n, ok, sat := parseByteRange(v, size)
		if ok && !sat {
			unsatisfiable(w, size)
			return
		}
		if ok {
			start, length, status = a, n, http.StatusPartialContent
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, a+n-1, size))
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, io.NewSectionReader(br, start, length))
	}
}

// parseByteRange parses a single-range "bytes=a-b", "bytes=a-" or
// "bytes=-n" against size. ok is false when the header should be ignored;
// satisfiable is false when it names no byte of the blob.
func parseByteRange(v string, size int64) (start, length int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		n = min(n, size)
		return size - n, n, true, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, 0, false, false
	}
	last := int64(math.MaxInt64)
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, 0, false, false
		}
	}
	if first >= size {
		return 0, 0, true, false
	}
	last = min(last, size-1)
	return first, last - first + 1, true, true
}

// storagePath is the blob's path on the storage host, laid out as ACR's
// storage account lays it out.
func storagePath(digest string) string {
	alg, hx, _ := strings.Cut(digest, ":")
	return "/docker/registry/v2/blobs/" + alg + "/" + hx[:2] + "/" + hx + "/data"
}

// sasFormat is the second-precision UTC form of SAS times.
const sasFormat = "2006-01-02T15:04:05Z"

// sasSignature signs a storage path and expiry, so redirect URLs can be
// neither forged nor extended.
func (s *Server) sasSignature(path, expiry string) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte("acrtest sas\x00" + path + "\x00" + expiry))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// sasURL is the absolute, time-limited storage URL a blob GET redirects
// to, with the query parameters of ACR's SAS URLs.
func (s *Server) sasURL(digest string) string {
	p := storagePath(digest)
	se := s.now().Add(sasLifetime).Format(sasFormat)
	q := url.Values{
		"se": {se}, "sig": {s.sasSignature(p, se)},
		"sp": {"r"}, "spr": {"https"}, "sr": {"b"}, "sv": {"2016-05-31"},
	}
	return s.StorageURL() + p + "?" + q.Encode()
}

// serveStorage is the stand-in for Azure Storage that redirected blob GETs
// land on. It checks the SAS, refuses any Authorization
// header loudly (the registry's token must never leak to storage), and
// answers with storage's headers, never Docker-Content-Digest.
func (s *Server) serveStorage(w http.ResponseWriter, r *http.Request) {
	entry := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Host: storageHost(s.StorageURL()), Header: r.Header.Clone()}
	switch authz := r.Header.Get("Authorization"); {
	case authz == "":
	case strings.HasPrefix(authz, "Bearer "):
		entry.Auth = "bearer"
	case strings.HasPrefix(authz, "Basic "):
		entry.Auth = "basic"
	default:
		entry.Auth = "invalid"
	}
	rec := &recorder{ResponseWriter: w, entry: &entry}
	defer func() {
		entry.Status = rec.status
		s.mu.Lock()
		s.log = append(s.log, entry)
		s.mu.Unlock()
	}()
	// Injected faults reach the storage host only when aimed at it by
	// Path (see Fault), checked before anything else as on the registry.
	fw, handled := s.faults.applyStorage(rec, r)
	if handled {
		return
	}
	s.storageResponse(fw, r)
}

func (s *Server) storageResponse(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	h := w.Header()
	h.Set("Server", "Windows-Azure-Blob/1.0")
	h.Set("X-Ms-Request-Id", newID())
	h.Set("X-Ms-Version", "2016-05-31")

	if r.Header.Get("Authorization") != "" {
		// Azure Storage rejects a SAS request that also carries an
		// Authorization header it cannot parse, such as ACR's bearer.
		storageError(w, r, now, http.StatusBadRequest, "InvalidAuthenticationInfo",
			"Authentication information is not given in the correct format. Check the value of Authorization header.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		storageError(w, r, now, http.StatusMethodNotAllowed, "UnsupportedHttpVerb",
			"The resource doesn't support specified Http Verb.")
		return
	}
	digest, ok := digestFromStoragePath(r.URL.Path)
	if !ok {
		storageError(w, r, now, http.StatusNotFound, "ResourceNotFound", "The specified resource does not exist.")
		return
	}
	q := r.URL.Query()
	se := q.Get("se")
	expiry, err := time.Parse(sasFormat, se)
	sig, _ := base64.StdEncoding.DecodeString(q.Get("sig"))
	want, _ := base64.StdEncoding.DecodeString(s.sasSignature(r.URL.Path, se))
	if err != nil || !hmac.Equal(sig, want) || q.Get("sp") != "r" {
		storageError(w, r, now, http.StatusForbidden, "AuthenticationFailed",
			"Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.")
		return
	}
	if !now.Before(expiry) {
		storageError(w, r, now, http.StatusForbidden, "AuthenticationFailed",
			fmt.Sprintf("Server failed to authenticate the request. Signed expiry time [%s] must be after current time [%s].",
				expiry.Format(http.TimeFormat), now.Format(http.TimeFormat)))
		return
	}
	br, err := s.state.blobs.open(digest)
	if err != nil {
		storageError(w, r, now, http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
		return
	}
	defer br.Close()

	// Storage does not know when the registry stored the blob; the SAS
	// start (expiry minus lifetime) stands in, stable for one URL.
	modified := expiry.Add(-sasLifetime).Format(http.TimeFormat)
	_, hx, _ := strings.Cut(digest, ":")
	h.Set("ETag", `"0x8D`+strings.ToUpper(hx[:13])+`"`)
	h.Set("Last-Modified", modified)
	h.Set("X-Ms-Creation-Time", modified)
	h.Set("X-Ms-Blob-Type", "BlockBlob")
	h.Set("X-Ms-Lease-Status", "unlocked")
	h.Set("X-Ms-Lease-State", "available")
	h.Set("X-Ms-Server-Encrypted", "true")
	if r.Method == http.MethodHead {
		r.Header.Del("Range") // Get Blob Properties has no ranges
	}
	serveRange(w, r, br, func(w http.ResponseWriter, size int64) {
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		storageError(w, r, now, http.StatusRequestedRangeNotSatisfiable, "InvalidRange",
			"The range specified is invalid for the current size of the resource.")
	})
}

// digestFromStoragePath inverts storagePath.
func digestFromStoragePath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/docker/registry/v2/blobs/")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 || parts[3] != "data" || len(parts[2]) < 2 || parts[1] != parts[2][:2] {
		return "", false
	}
	d := parts[0] + ":" + parts[2]
	return d, isDigest(d)
}

// storageError writes Azure Storage's XML error body.
func storageError(w http.ResponseWriter, r *http.Request, now time.Time, status int, code, message string) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><Error><Code>`)
	b.WriteString(html.EscapeString(code))
	b.WriteString(`</Code><Message>`)
	b.WriteString(html.EscapeString(message))
	b.WriteString("\nRequestId:" + w.Header().Get("X-Ms-Request-Id"))
	b.WriteString("\nTime:" + now.Format("2006-01-02T15:04:05.0000000Z"))
	b.WriteString(`</Message></Error>`)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("X-Ms-Error-Code", code)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

// PutBlob stores content as a blob linked to repository, creating the
// repository if needed, as if it had been pushed, and returns its digest
// "sha256:<hex>". It panics if repository is not a valid repository name.
func (s *Server) PutBlob(repository string, content []byte) string {
	if !isName(repository) {
		panic(fmt.Sprintf("acrtest: PutBlob: invalid repository name %q", repository))
	}
	sum := sha256.Sum256(content)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	// Write the content outside the registry lock, then link it under the
	// lock; if a concurrent DELETE removed it meanwhile, store it again.
	for {
		if err := s.state.blobs.put(digest, content); err != nil {
			panic(fmt.Sprintf("acrtest: PutBlob: %v", err))
		}
		s.state.mu.Lock()
		_, stored := s.state.blobs.stat(digest)
		if stored {
			s.state.repo(repository, true, s.now()).Blobs[digest] = int64(len(content))
		}
		s.state.mu.Unlock()
		if stored {
			return digest
		}
	}
}

// Blob returns the bytes of the blob digest if it is linked to repository
// (pushed, mounted or seeded there), and whether it is.
func (s *Server) Blob(repository, digest string) ([]byte, bool) {
	s.state.mu.Lock()
	repo := s.state.repos[repository]
	var linked bool
	if repo != nil {
		_, linked = repo.Blobs[digest]
	}
	s.state.mu.Unlock()
	if !linked {
		return nil, false
	}
	b, err := s.state.blobs.readAll(digest, math.MaxInt64)
	if err != nil {
		return nil, false
	}
	return b, true
}

// storageHost is the host of the storage URL u, whatever its scheme.
func storageHost(u string) string {
	if _, host, ok := strings.Cut(u, "://"); ok {
		return host
	}
	return u
}
