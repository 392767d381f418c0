package acrtest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Options configures a Server. The zero value is a TLS registry that keeps
// its content in memory, refuses anonymous access and serves blobs directly.
type Options struct {
	// AnonymousPull lets clients without credentials obtain a token with
	// grant_type=password and use it for reads (catalog, metadata, pull),
	// as a registry with anonymous pull enabled does. Writes still fail.
	AnonymousPull bool

	// RefreshTokenLifetime is how long a refresh token from /oauth2/exchange
	// stays valid. Zero means ACR's 3 hours.
	RefreshTokenLifetime time.Duration
	// AccessTokenLifetime is how long an access token from /oauth2/token
	// stays valid. Zero means ACR's 75 minutes.
	AccessTokenLifetime time.Duration
	// AnonymousTokenLifetime is the lifetime of anonymous access tokens.
	// Zero means ACR's 20 minutes.
	AnonymousTokenLifetime time.Duration

	// MaxPageSize caps the n query parameter of the /acr/v1 list
	// operations; it is also the page size when a request has no n.
	// Zero means 100.
	MaxPageSize int

	// Dir, when set, keeps blobs and upload sessions in files under that
	// directory instead of in memory, so large blobs cost disk, not memory.
	Dir string

	// RedirectBlobs makes blob GETs answer 307 Temporary Redirect to a
	// second TLS host standing in for Azure Storage, as ACR does. The
	// storage host refuses any request that carries an Authorization header.
	RedirectBlobs bool

	// Audiences are the Microsoft Entra token audiences /oauth2/exchange
	// accepts. Nil means the ACR audience https://containerregistry.azure.net
	// and the two Azure Resource Manager audiences.
	Audiences []string

	// Users are the accounts accepted by Basic authentication on
	// GET /oauth2/token: the admin user and repository-scoped tokens.
	Users []User

	// Now is the clock used for timestamps and token lifetimes. Nil means
	// time.Now.
	Now func() time.Time

	// Service is the registry's login server name, such as
	// "myregistry.azurecr.io": the service parameter of the server's
	// challenges, the only service its token endpoints accept, and the
	// audience of the tokens it issues. It need not resolve to the server;
	// clients still connect to URL, and the server's certificate is also
	// valid for the name. Empty means Host, the listening address. A
	// client must take the service from a challenge: one that derives it
	// from the URL it connects to is refused.
	Service string
	// Realm is the token endpoint URL the server's challenges name. Empty
	// means "https://" + Host + "/oauth2/token", this server's own token
	// endpoint. A client fetches tokens from the realm, so set it only to
	// a URL that reaches this server.
	Realm string

	// PlainHTTP serves the registry (and the storage host, with
	// RedirectBlobs) over plain HTTP instead of TLS: URL starts with
	// "http://", and so does the default Realm. Tokens, challenges and
	// every answer are otherwise the same. Clients must allow credentials
	// over plain HTTP (azcore's InsecureAllowCredentialWithHTTP). For
	// tools and clients that cannot be given a certificate authority; the
	// loopback interface is the only place it listens.
	PlainHTTP bool

	// Listener, when set, is the listener the registry serves on instead
	// of a new one on 127.0.0.1 with a port of the system's choosing, so
	// a caller can choose the address. The server closes it on Close.
	// Its certificate is valid for 127.0.0.1, ::1 and localhost only, so
	// listen on a loopback address.
	Listener net.Listener
}

// User is a username/password identity for Basic authentication on
// GET /oauth2/token, like ACR's admin user or a repository-scoped token.
type User struct {
	// Name is the username.
	Name string
	// Password is the user's password.
	Password string
	// Repositories maps repository names to the actions the user may
	// perform there ("pull", "push", "delete", "metadata_read",
	// "metadata_write", or "*"). Nil means every action on every repository
	// and the catalog, like the admin user.
	Repositories map[string][]string
}

// Server is an in-process emulation of an Azure Container Registry data
// plane: the token exchange, the /acr/v1 metadata API and the /v2 OCI
// distribution API, answering with the status codes, headers and bodies that
// ACR sends. Its methods are safe for concurrent use.
type Server struct {
	// URL is the registry endpoint, "https://127.0.0.1:port" ("http://"
	// with Options.PlainHTTP), set by Start.
	URL string
	// Host is the address the server listens on, "127.0.0.1:port", the
	// host of URL, set by Start. It is also the service (see Service)
	// unless Options.Service names another.
	Host string

	opts    Options
	ts      *httptest.Server
	storage *httptest.Server // blob redirect target; nil unless RedirectBlobs
	cred    *Credential
	key     []byte // HMAC key for the JWTs this server issues

	service string            // effective Options.Service, set by Start
	realm   string            // effective Options.Realm, set by Start
	cert    *x509.Certificate // served by both hosts, set by Start
	roots   *x509.CertPool    // what the clients trust, set by Start

	// Connections accepted by the registry and storage hosts.
	conns, storageConns atomic.Int64

	mu    sync.Mutex
	state *registry
	log   []Request

	faults faultSet
}

// Request is one entry of the server's request log.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the decoded URL path.
	Path string
	// RawQuery is the query as sent.
	RawQuery string
	// Host is the host that served it: the registry's, or the storage
	// host's for redirected blob reads.
	Host string
	// Status is the status answered, 0 when the connection was dropped.
	Status int
	// Auth says what the request carried: "" (nothing), "bearer",
	// "basic", or "invalid" for a bearer token this server did not accept.
	Auth string
	// Scope is the access the endpoint required (the challenge scope),
	// empty for endpoints that need none.
	Scope string
	// Header holds a copy of the request headers.
	Header http.Header
}

// NewServer starts a registry with the given options (nil means defaults)
// and closes it when the test ends.
func NewServer(tb testing.TB, opts *Options) *Server {
	tb.Helper()
	s := NewUnstartedServer(opts)
	s.Start()
	tb.Cleanup(s.Close)
	return s
}

// NewUnstartedServer returns a registry that is not yet listening, so a
// caller can seed content first. Call Start, and Close when done.
func NewUnstartedServer(opts *Options) *Server {
	s := &Server{key: make([]byte, 32), faults: faultSet{closing: make(chan struct{})}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.RefreshTokenLifetime == 0 {
		s.opts.RefreshTokenLifetime = 3 * time.Hour
	}
	if s.opts.AccessTokenLifetime == 0 {
		s.opts.AccessTokenLifetime = 75 * time.Minute
	}
	if s.opts.AnonymousTokenLifetime == 0 {
		s.opts.AnonymousTokenLifetime = 20 * time.Minute
	}
	if s.opts.MaxPageSize <= 0 {
		s.opts.MaxPageSize = 100
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if _, err := rand.Read(s.key); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	s.state = newRegistry(s.opts.Dir)
	s.cred = &Credential{server: s}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serveRegistry))
	if s.opts.Listener != nil {
		_ = s.ts.Listener.Close()
		s.ts.Listener = s.opts.Listener
	}
	// Clients that drop connections on purpose (fault tests, cancelled
	// contexts) make net/http log handshake noise; it is not a finding.
	quiet := log.New(io.Discard, "", 0)
	s.ts.Config.ErrorLog = quiet
	s.ts.Config.ConnState = countNew(&s.conns)
	if s.opts.RedirectBlobs {
		s.storage = httptest.NewUnstartedServer(http.HandlerFunc(s.serveStorage))
		s.storage.Config.ErrorLog = quiet
		s.storage.Config.ConnState = countNew(&s.storageConns)
	}
	return s
}

// countNew is a ConnState hook counting accepted connections. httptest
// keeps it when it installs its own.
func countNew(n *atomic.Int64) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
}

// Start starts the registry (and the storage host, with RedirectBlobs).
// Both present a certificate made for this server, valid for localhost,
// 127.0.0.1, ::1 and the host names of Options.Service and Options.Realm;
// with Options.PlainHTTP they serve plain HTTP and present none, though
// Certificate still returns the one made.
func (s *Server) Start() {
	cert, err := newCertificate(hostName(s.opts.Service), hostName(s.opts.Realm))
	if err != nil {
		panic("acrtest: creating the TLS certificate: " + err.Error())
	}
	s.cert = cert.Leaf
	s.roots = x509.NewCertPool()
	s.roots.AddCert(s.cert)
	s.roots.AddCert(httptestCertificate())
	s.ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if s.storage != nil {
		s.storage.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	// The listener exists already: settle the names before any request
	// can arrive.
	scheme := "https://"
	if s.opts.PlainHTTP {
		scheme = "http://"
	}
	s.Host = s.ts.Listener.Addr().String()
	s.URL = scheme + s.Host
	s.service = s.opts.Service
	if s.service == "" {
		s.service = s.Host
	}
	s.realm = s.opts.Realm
	if s.realm == "" {
		s.realm = scheme + s.Host + "/oauth2/token"
	}
	if s.opts.PlainHTTP {
		s.ts.Start()
	} else {
		s.ts.StartTLS()
		// Keep httptest's client, which Close cleans up after, with the
		// roots above in place of its own (the served certificate alone).
		s.ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs = s.roots
	}
	if s.URL != s.ts.URL {
		panic("acrtest: httptest serves " + s.ts.URL + ", not " + s.URL)
	}
	if s.storage != nil {
		if s.opts.PlainHTTP {
			s.storage.Start()
		} else {
			s.storage.StartTLS()
		}
	}
}

// Service returns the registry's service name: Options.Service, or Host
// when that is empty. Challenges name it, token requests must name it, and
// the tokens the server issues carry it as their audience. ACR's own
// service is its login server name, such as "myregistry.azurecr.io". The
// value is known once the server has started.
func (s *Server) Service() string {
	return s.service
}

// Realm returns the token endpoint URL that the server's challenges name:
// Options.Realm, or "https://" + Host + "/oauth2/token" (http:// with
// Options.PlainHTTP) when that is empty.
// The value is known once the server has started.
func (s *Server) Realm() string {
	return s.realm
}

// Close shuts the server down, waiting for in-flight requests.
func (s *Server) Close() {
	s.faults.close() // delayed requests end first, or Close would wait for them
	s.ts.Close()
	if s.storage != nil {
		s.storage.Close()
	}
	s.state.close()
}

// StorageURL is the base URL of the storage host that blob GETs redirect
// to, or "" without RedirectBlobs.
func (s *Server) StorageURL() string {
	if s.storage == nil {
		return ""
	}
	return s.storage.URL
}

// Client returns an *http.Client that trusts the server's certificate,
// which the storage host presents too, whether the client dials
// 127.0.0.1 or localhost. It also trusts the certificate that
// net/http/httptest's TLS servers present by default, so it reaches a
// test's other httptest servers as well. Every call returns the same
// client, so requests through it share connections, and Close closes its
// idle ones.
func (s *Server) Client() *http.Client {
	return s.ts.Client()
}

// ClientOptions returns azcore client options whose transport is Client,
// trusting the server's certificate; embed them in an azacr client's
// options.
func (s *Server) ClientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Transport: s.Client()}
}

// Certificate returns the self-signed certificate that the registry and
// storage hosts present, for clients configured some other way than with
// Client or TLSConfig. It is nil before Start.
func (s *Server) Certificate() *x509.Certificate {
	return s.cert
}

// Credential returns the fake Microsoft Entra credential whose tokens this
// server accepts on /oauth2/exchange.
func (s *Server) Credential() *Credential {
	return s.cred
}

// TLSConfig returns a new TLS client configuration that trusts what
// Client trusts: the server's certificate and httptest's default one.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.roots.Clone()}
}

// Connections returns how many TCP connections the registry host has
// accepted since the server started; the storage host's are counted apart,
// by StorageConnections. It is how a test proves that a client reuses
// connections: a client that keeps them alive sends a sequence of requests
// over one connection (or one per concurrent request), while one that
// does not opens a connection per request. Take the count before and after
// the requests of interest, and compare the difference with the number of
// requests (CountRequests).
//
// Every accepted connection counts, including one whose TLS handshake
// fails and one that a client opened and never used. A fault that resets
// a connection or cuts a response closes the connection, so the client's
// next request needs a new one.
func (s *Server) Connections() int {
	return int(s.conns.Load())
}

// StorageConnections is Connections for the storage host that blob reads
// are redirected to: how many TCP connections it has accepted since the
// server started. It is 0 without Options.RedirectBlobs.
func (s *Server) StorageConnections() int {
	return int(s.storageConns.Load())
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Request(nil), s.log...)
	for i := range out {
		out[i].Header = out[i].Header.Clone() // callers may edit their copy
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.log = nil
	s.mu.Unlock()
}

// CountRequests returns how many logged requests match method (any when
// empty) and whose path has the given prefix.
func (s *Server) CountRequests(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

// recorder captures the status for the request log.
type recorder struct {
	http.ResponseWriter
	status int
	entry  *Request
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

// Flush lets streaming handlers flush through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController access to the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) serveRegistry(w http.ResponseWriter, r *http.Request) {
	entry := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: s.Host, Header: r.Header.Clone()}
	rec := &recorder{ResponseWriter: w, entry: &entry}
	defer func() {
		entry.Status = rec.status
		s.mu.Lock()
		s.log = append(s.log, entry)
		s.mu.Unlock()
	}()
	commonHeaders(rec.Header(), r)
	fw, handled := s.faults.apply(rec, r)
	if handled {
		return
	}
	s.route(fw, r, &entry)
}

// commonHeaders sets the headers ACR puts on nearly every response.
func commonHeaders(h http.Header, r *http.Request) {
	h.Set("Docker-Distribution-Api-Version", "registry/2.0")
	h.Set("X-Ms-Correlation-Request-Id", newID())
	h.Set("Access-Control-Expose-Headers", "Docker-Content-Digest, WWW-Authenticate, Link, X-Ms-Correlation-Request-Id")
	h.Set("Server", "openresty")
	h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(r.URL.Path, "/v2/") && r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("X-Ms-Request-Id", newID())
		h.Set("X-Ms-Client-Request-Id", r.Header.Get("X-Ms-Client-Request-Id"))
	}
}

// newID returns a random UUID-shaped identifier.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// route dispatches a registry request. Repository names may contain '/', so
// paths are matched by their fixed suffixes rather than by ServeMux patterns.
func (s *Server) route(w http.ResponseWriter, r *http.Request, entry *Request) {
	p := r.URL.Path
	switch {
	case p == "/oauth2/exchange":
		s.handleExchange(w, r, entry)
	case p == "/oauth2/token":
		s.handleToken(w, r, entry)
	case p == "/v2/" || p == "/v2":
		s.handlePing(w, r, entry)
	case p == "/acr/v1/_catalog":
		s.handleCatalog(w, r, entry)
	case strings.HasPrefix(p, "/acr/v1/"):
		s.routeACR(w, r, entry, strings.TrimPrefix(p, "/acr/v1/"))
	case strings.HasPrefix(p, "/v2/"):
		s.routeV2(w, r, entry, strings.TrimPrefix(p, "/v2/"))
	default:
		notFoundPage(w)
	}
}

// routeACR handles /acr/v1/{name}[/_tags[/{tag}] | /_manifests[/{digest}]].
// A name component cannot start with '_', so the markers are unambiguous.
func (s *Server) routeACR(w http.ResponseWriter, r *http.Request, entry *Request, rest string) {
	name, sub, hasSub := strings.Cut(rest, "/_")
	if !hasSub {
		s.handleRepository(w, r, entry, name)
		return
	}
	kind, ref, hasRef := strings.Cut(sub, "/")
	switch kind {
	case "tags":
		if !hasRef {
			s.handleListTags(w, r, entry, name)
			return
		}
		s.handleTag(w, r, entry, name, ref)
	case "manifests":
		if !hasRef {
			s.handleListManifests(w, r, entry, name)
			return
		}
		// ACR's router rejects a path segment that is not a digest before
		// authentication, with a plain-text 404.
		if !isDigest(ref) {
			notFoundPage(w)
			return
		}
		s.handleManifestProperties(w, r, entry, name, ref)
	default:
		notFoundPage(w)
	}
}

// routeV2 handles the distribution API paths below /v2/. The rightmost
// marker wins, so repository components named "blobs" or "manifests" work.
func (s *Server) routeV2(w http.ResponseWriter, r *http.Request, entry *Request, rest string) {
	if rest == "_catalog" {
		s.handleV2Catalog(w, r, entry)
		return
	}
	markers := []string{"/manifests/", "/blobs/", "/tags/list", "/referrers/"}
	best, at := "", -1
	for _, m := range markers {
		if i := strings.LastIndex(rest, m); i > at {
			best, at = m, i
		}
	}
	if at <= 0 {
		notFoundPage(w)
		return
	}
	name, ref := rest[:at], rest[at+len(best):]
	switch best {
	case "/manifests/":
		s.handleManifest(w, r, entry, name, ref)
	case "/blobs/":
		if ref == "uploads/" || ref == "uploads" {
			s.handleStartUpload(w, r, entry, name)
			return
		}
		if id, ok := strings.CutPrefix(ref, "uploads/"); ok {
			s.handleUpload(w, r, entry, name, id)
			return
		}
		s.handleBlob(w, r, entry, name, ref)
	case "/tags/list":
		if ref != "" {
			notFoundPage(w)
			return
		}
		s.handleV2Tags(w, r, entry, name)
	case "/referrers/":
		s.handleReferrers(w, r, entry, name, ref)
	}
}

// notFoundPage is the router's plain-text 404.
func notFoundPage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte("404 page not found\n"))
}
