package conformance

// Helpers of the whole-image judges (image_test.go): go-containerregistry
// and oras-go clients of a TestRegistry, images built by
// go-containerregistry and what it says they are made of, a walk of an
// image's content with oras-go, and the OCI 1.1 referrers API that
// distribution v3.1 lacks.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"
	"oras.land/oras-go/v2/content"
	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// ggcrRef parses ref ("repo:tag" or "repo@digest") as a reference to r for
// go-containerregistry, with the options its remote package needs to
// reach r: r's transport, and the test user's password, which the token
// service takes with Basic authentication (PROTOCOL.md §2.5).
func ggcrRef(t *testing.T, r *TestRegistry, ref string) (name.Reference, []remote.Option) {
	t.Helper()
	tr := r.Server.Client().Transport.(*http.Transport).Clone()
	var rt http.RoundTripper = tr
	host := r.Host
	if r.Options.TLS {
		// ggcr speaks plain HTTP to a loopback address whatever it is
		// told; a name in the test certificate, dialled to the loopback
		// address, keeps it on TLS. The token realm gets the same name:
		// ggcr refuses a realm on a loopback address for a registry that
		// is not on one.
		_, port, err := net.SplitHostPort(r.Host)
		require.NoError(t, err)
		host = "example.com:" + port
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, r.Host)
		}
		rt = realmRenamer{next: tr, from: "https://" + r.Host + "/", to: "https://" + host + "/"}
	}
	parsed, err := name.ParseReference(host+"/"+ref, name.StrictValidation)
	require.NoError(t, err)
	var a authn.Authenticator = authn.Anonymous
	if r.Options.Auth != AuthNone {
		a = &authn.Basic{Username: TestUsername, Password: TestPassword}
	}
	return parsed, []remote.Option{remote.WithTransport(rt), remote.WithAuth(a), remote.WithContext(t.Context())}
}

// realmRenamer rewrites the realm of the registry's challenges from one
// origin to another.
type realmRenamer struct {
	next     http.RoundTripper
	from, to string
}

func (rr realmRenamer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rr.next.RoundTrip(req)
	if resp != nil {
		if vs := resp.Header.Values("WWW-Authenticate"); len(vs) > 0 {
			resp.Header.Del("WWW-Authenticate")
			for _, v := range vs {
				resp.Header.Add("WWW-Authenticate", strings.ReplaceAll(v, rr.from, rr.to))
			}
		}
	}
	return resp, err
}

// orasRepo is an oras-go client of repository repo of r, authenticating
// as the test user.
func orasRepo(t *testing.T, r *TestRegistry, repo string) *orasremote.Repository {
	t.Helper()
	rp, err := orasremote.NewRepository(r.Host + "/" + repo)
	require.NoError(t, err)
	rp.PlainHTTP = !r.Options.TLS
	rp.Client = &auth.Client{
		Client:     r.Server.Client(),
		Cache:      auth.NewCache(),
		Credential: auth.StaticCredential(r.Host, auth.Credential{Username: TestUsername, Password: TestPassword}),
	}
	return rp
}

// randomSource makes go-containerregistry's random images reproducible.
func randomSource(seed int64) random.Option {
	return random.WithSource(rand.NewSource(seed))
}

// platformImage is a random image for os/arch/variant whose config says
// that platform: OCI media types throughout when oci, else Docker's.
// Its layers are extra and one of its own.
func platformImage(t *testing.T, seed int64, platform v1.Platform, oci bool, extra ...v1.Layer) v1.Image {
	t.Helper()
	img, layerType := empty.Image, types.DockerLayer
	if oci {
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
		layerType = types.OCILayer
	}
	own, err := random.Layer(3000, layerType, randomSource(seed))
	require.NoError(t, err)
	img, err = mutate.AppendLayers(img, append(slices.Clone(extra), own)...)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}

// ggcrIndex is an OCI index built by go-containerregistry: linux/amd64 and
// linux/arm64/v8 images with OCI media types that share a layer, a
// linux/s390x image with Docker media types, and a nested index of two
// random images without platforms (random.Index). Everything is a few KB.
func ggcrIndex(t *testing.T, seed int64) v1.ImageIndex {
	t.Helper()
	shared, err := random.Layer(2000, types.OCILayer, randomSource(seed))
	require.NoError(t, err)
	nested, err := random.Index(1500, 1, 2, randomSource(seed+1))
	require.NoError(t, err)
	adds := []mutate.IndexAddendum{
		{Add: platformImage(t, seed+2, v1.Platform{OS: "linux", Architecture: "amd64"}, true, shared),
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		{Add: platformImage(t, seed+3, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, true, shared),
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		{Add: platformImage(t, seed+4, v1.Platform{OS: "linux", Architecture: "s390x"}, false),
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		{Add: nested},
	}
	return mutate.AppendManifests(empty.Index, adds...)
}

// platformEntry returns the entry of idx for os/arch.
func platformEntry(t *testing.T, idx v1.ImageIndex, os, arch string) v1.Descriptor {
	t.Helper()
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == os && d.Platform.Architecture == arch {
			return d
		}
	}
	t.Fatalf("the index has no %s/%s entry", os, arch)
	return v1.Descriptor{}
}

// graphContent is every manifest and blob under a root, by digest, each
// read whole from a fetcher that checked it against its descriptor.
type graphContent struct {
	manifests map[digest.Digest][]byte
	blobs     map[digest.Digest][]byte
}

// walkGraph fetches root and everything under it from f with oras-go:
// content.FetchAll checks each digest and size, content.Successors says
// what a manifest refers to (an index's entries; an image's config,
// layers and subject).
func walkGraph(t *testing.T, f content.Fetcher, root ocispec.Descriptor) graphContent {
	t.Helper()
	g := graphContent{manifests: map[digest.Digest][]byte{}, blobs: map[digest.Digest][]byte{}}
	var visit func(d ocispec.Descriptor)
	visit = func(d ocispec.Descriptor) {
		if _, ok := g.manifests[d.Digest]; ok {
			return
		}
		if _, ok := g.blobs[d.Digest]; ok {
			return
		}
		data, err := content.FetchAll(t.Context(), f, d)
		require.NoError(t, err, "fetching %s %s", d.MediaType, d.Digest)
		if !isManifestType(d.MediaType) {
			g.blobs[d.Digest] = data
			return
		}
		g.manifests[d.Digest] = data
		next, err := content.Successors(t.Context(), f, d)
		require.NoError(t, err, d.Digest)
		for _, n := range next {
			visit(n)
		}
	}
	visit(root)
	return g
}

func isManifestType(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
		string(types.DockerManifestSchema2), string(types.DockerManifestList):
		return true
	}
	return false
}

// referrerKey is what identifies a referrer in a comparison.
type referrerKey struct {
	Digest       digest.Digest
	ArtifactType string
}

// referrerKeys sorts a list of referrers into comparable keys.
func referrerKeys(ds []ocispec.Descriptor) []referrerKey {
	out := make([]referrerKey, 0, len(ds))
	for _, d := range ds {
		out = append(out, referrerKey{d.Digest, d.ArtifactType})
	}
	slices.SortFunc(out, func(a, b referrerKey) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	return out
}

// referrersAPI serves the OCI 1.1 referrers API (distribution-spec
// "Listing Referrers") in front of a distribution registry, which lacks
// it: it records every manifest with a subject that the registry accepts
// (answering with OCI-Subject, as the spec asks), and lists them under
// GET /v2/<name>/referrers/<digest>, filtered by artifactType when asked.
// Who may list is the registry's decision: the request's credentials are
// first tried on HEAD of the subject's manifest, and a 401 or 403 from it
// is the answer.
type referrersAPI struct {
	next http.Handler
	mu   sync.Mutex
	// refs holds the referrers by repository and subject digest.
	refs map[string]map[digest.Digest][]ocispec.Descriptor
}

// withReferrersAPI is a RegistryOptions.WrapRegistry.
func withReferrersAPI(next http.Handler) http.Handler {
	return &referrersAPI{next: next, refs: map[string]map[digest.Digest][]ocispec.Descriptor{}}
}

func (a *referrersAPI) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	if repo, d, ok := cutAPIPath(p, "/referrers/"); ok && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		a.list(w, req, repo, d)
		return
	}
	if repo, _, ok := cutAPIPath(p, "/manifests/"); ok && req.Method == http.MethodPut {
		a.put(w, req, repo)
		return
	}
	a.next.ServeHTTP(w, req)
}

// cutAPIPath splits /v2/<repo><sep><rest>.
func cutAPIPath(p, sep string) (repo, rest string, ok bool) {
	if !strings.HasPrefix(p, "/v2/") {
		return "", "", false
	}
	i := strings.LastIndex(p, sep)
	if i <= len("/v2/") {
		return "", "", false
	}
	return p[len("/v2/"):i], p[i+len(sep):], true
}

// subjectDoc is what the API needs of a manifest or index.
type subjectDoc struct {
	MediaType    string              `json:"mediaType"`
	ArtifactType string              `json:"artifactType"`
	Config       *ocispec.Descriptor `json:"config"`
	Subject      *ocispec.Descriptor `json:"subject"`
	Annotations  map[string]string   `json:"annotations"`
}

func (a *referrersAPI) put(w http.ResponseWriter, req *http.Request, repo string) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 4<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	var doc subjectDoc
	if json.Unmarshal(body, &doc) != nil || doc.Subject == nil {
		a.next.ServeHTTP(w, req)
		return
	}
	sw := &subjectWriter{ResponseWriter: w, subject: doc.Subject.Digest.String()}
	a.next.ServeHTTP(sw, req)
	if sw.status != http.StatusCreated {
		return
	}
	desc := ocispec.Descriptor{
		MediaType: req.Header.Get("Content-Type"), Digest: digest.FromBytes(body), Size: int64(len(body)),
		ArtifactType: doc.ArtifactType, Annotations: doc.Annotations,
	}
	if desc.ArtifactType == "" && doc.Config != nil {
		desc.ArtifactType = doc.Config.MediaType
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	bySubject := a.refs[repo]
	if bySubject == nil {
		bySubject = map[digest.Digest][]ocispec.Descriptor{}
		a.refs[repo] = bySubject
	}
	list := bySubject[doc.Subject.Digest]
	if !slices.ContainsFunc(list, func(d ocispec.Descriptor) bool { return d.Digest == desc.Digest }) {
		bySubject[doc.Subject.Digest] = append(list, desc)
	}
}

func (a *referrersAPI) list(w http.ResponseWriter, req *http.Request, repo, d string) {
	dg, err := digest.Parse(d)
	if err != nil {
		http.Error(w, `{"errors":[{"code":"DIGEST_INVALID","message":"invalid digest"}]}`, http.StatusBadRequest)
		return
	}
	probe := req.Clone(req.Context())
	probe.Method = http.MethodHead
	probe.URL.Path = "/v2/" + repo + "/manifests/" + d
	probe.URL.RawQuery = ""
	probe.RequestURI = probe.URL.RequestURI()
	probe.Body = http.NoBody
	probe.ContentLength = 0
	rec := httptest.NewRecorder()
	a.next.ServeHTTP(rec, probe)
	if rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		return
	}
	a.mu.Lock()
	list := slices.Clone(a.refs[repo][dg])
	a.mu.Unlock()
	if list == nil {
		list = []ocispec.Descriptor{}
	}
	if at := req.URL.Query().Get("artifactType"); at != "" {
		list = slices.DeleteFunc(list, func(r ocispec.Descriptor) bool { return r.ArtifactType != at })
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	data, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: list,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		_, _ = w.Write(data)
	}
}

// subjectWriter adds OCI-Subject to a 201 for a manifest with a subject.
type subjectWriter struct {
	http.ResponseWriter
	subject string
	status  int
}

func (s *subjectWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
		if code == http.StatusCreated {
			s.Header().Set("OCI-Subject", s.subject)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *subjectWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

// ggcrParts lists what go-containerregistry says an index or image is
// made of: every manifest and every blob (configs and layers), each once,
// with its size.
type ggcrParts struct {
	manifests, blobs map[v1.Hash]int64
}

func newGgcrParts() ggcrParts {
	return ggcrParts{manifests: map[v1.Hash]int64{}, blobs: map[v1.Hash]int64{}}
}

func (p ggcrParts) addIndex(t *testing.T, idx v1.ImageIndex) {
	t.Helper()
	d, err := idx.Digest()
	require.NoError(t, err)
	size, err := idx.Size()
	require.NoError(t, err)
	p.manifests[d] = size
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	for _, e := range im.Manifests {
		if e.MediaType.IsIndex() {
			child, err := idx.ImageIndex(e.Digest)
			require.NoError(t, err)
			p.addIndex(t, child)
			continue
		}
		img, err := idx.Image(e.Digest)
		require.NoError(t, err)
		p.addImage(t, img)
	}
}

func (p ggcrParts) addImage(t *testing.T, img v1.Image) {
	t.Helper()
	d, err := img.Digest()
	require.NoError(t, err)
	size, err := img.Size()
	require.NoError(t, err)
	p.manifests[d] = size
	m, err := img.Manifest()
	require.NoError(t, err)
	p.blobs[m.Config.Digest] = m.Config.Size
	for _, l := range m.Layers {
		p.blobs[l.Digest] = l.Size
	}
}

func (p ggcrParts) blobBytes() int64 { return sum(p.blobs) }

func sum(m map[v1.Hash]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func indexParts(t *testing.T, idx v1.ImageIndex) ggcrParts {
	p := newGgcrParts()
	p.addIndex(t, idx)
	return p
}

func imageParts(t *testing.T, img v1.Image) ggcrParts {
	p := newGgcrParts()
	p.addImage(t, img)
	return p
}

// registryRequests is the log's requests to the registry API, not to
// the token service.
func registryRequests(r *TestRegistry) []RequestRecord {
	var out []RequestRecord
	for _, rec := range r.Log.Records() {
		if !strings.HasPrefix(rec.Path, "/oauth2/") {
			out = append(out, rec)
		}
	}
	return out
}

func mustDigest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	require.NoError(t, err)
	return h
}

// firstLine is the first line of err's message; a registry's error
// carries its whole response after it.
func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}
