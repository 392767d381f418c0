package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/auth/token"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/bcrypt"
)

// AuthMode selects how the in-process registry authenticates.
type AuthMode string

const (
	// AuthNone is a registry without authentication: it never sends a 401.
	AuthNone AuthMode = "none"
	// AuthToken is distribution's token authentication, ACR's scheme: a
	// Bearer challenge, and JWT access tokens from a token service that the
	// registry verifies itself (signature, issuer, audience, expiry and the
	// scopes each request needs).
	AuthToken AuthMode = "token"
	// AuthHtpasswd is distribution's htpasswd authentication: a Basic
	// challenge and the password on every request.
	AuthHtpasswd AuthMode = "htpasswd"
)

// Fixed identities of the test registries. They are constants so a
// failing test's request log reads the same on every run.
const (
	// TokenIssuerName is the iss claim of every token the issuer signs, and
	// the issuer the registry trusts.
	TokenIssuerName = "azacr-conformance-token-issuer"
	// FakeEntraToken is the Microsoft Entra access token the fake
	// credential hands out, and the only one /oauth2/exchange accepts.
	FakeEntraToken = "fake-entra-access-token"
	// TestUsername is the htpasswd user, also accepted with Basic
	// authentication at GET /oauth2/token (PROTOCOL.md §2.5).
	TestUsername = "azacr"
	// TestPassword is TestUsername's password.
	TestPassword = "conformance-password"
)

// RegistryOptions configures StartRegistry.
type RegistryOptions struct {
	// Auth is the authentication scheme; empty means AuthNone.
	Auth AuthMode
	// TLS serves over HTTPS with a certificate the clients trust.
	TLS bool
	// Anonymous lets the token service hand out pull-only tokens to
	// grant_type=password requests without credentials (ACR's anonymous
	// pull, PROTOCOL.md §2.4). Only meaningful with AuthToken.
	Anonymous bool
	// WrapRegistry, when set, wraps the registry's handler (not the token
	// service's), inside the request log: a test adds an API distribution
	// lacks, or watches what reaches the registry.
	WrapRegistry func(http.Handler) http.Handler
}

// TestRegistry is a CNCF distribution registry served in-process on one
// httptest server, together with its token service (AuthToken) and a log
// of every request it answered.
type TestRegistry struct {
	// URL is the registry endpoint, "https://127.0.0.1:port" or http.
	URL string
	// Host is the endpoint's host:port, the token service name.
	Host string
	// Server is the HTTP server; its Client trusts the TLS certificate.
	Server *httptest.Server
	// Options are the options the registry was started with.
	Options RegistryOptions
	// Log records every request the server answered.
	Log *RequestLog
	// Issuer is the token service; nil unless Auth is AuthToken.
	Issuer *TokenIssuer
	// Entra is the fake Microsoft Entra credential whose token the token
	// service accepts; nil unless Auth is AuthToken.
	Entra *FakeEntraCredential
	// Credential is what a client of this registry authenticates with:
	// Entra for AuthToken, a PasswordCredential for AuthHtpasswd, nil for
	// AuthNone.
	Credential azcore.TokenCredential
}

// StartRegistry starts a registry as configured and stops it when the
// test ends.
func StartRegistry(tb testing.TB, opts RegistryOptions) *TestRegistry {
	tb.Helper()
	if opts.Auth == "" {
		opts.Auth = AuthNone
	}
	srv := httptest.NewUnstartedServer(nil)
	scheme := "http"
	if opts.TLS {
		scheme = "https"
	}
	// The listener exists before the server starts, so the token realm
	// and service can name it in the registry's configuration.
	host := srv.Listener.Addr().String()
	started := false
	tb.Cleanup(func() {
		if !started { // a Fatal before Start would leak the listener
			srv.Listener.Close()
		}
	})
	r := &TestRegistry{URL: scheme + "://" + host, Host: host, Server: srv, Options: opts, Log: &RequestLog{}}

	var authCfg configuration.Auth
	var issuer http.Handler = http.NotFoundHandler()
	switch opts.Auth {
	case AuthNone:
	case AuthToken:
		iss, err := NewTokenIssuer(host)
		if err != nil {
			tb.Fatal(err)
		}
		iss.Anonymous = opts.Anonymous
		bundle := filepath.Join(tb.TempDir(), "token-root.pem")
		if err := os.WriteFile(bundle, iss.RootCertPEM(), 0o600); err != nil {
			tb.Fatal(err)
		}
		authCfg = configuration.Auth{"token": configuration.Parameters{
			"realm":          r.URL + "/oauth2/token",
			"service":        host,
			"issuer":         TokenIssuerName,
			"rootcertbundle": bundle,
		}}
		r.Issuer, issuer = iss, iss
		r.Entra = NewFakeEntraCredential(FakeEntraToken)
		r.Credential = r.Entra
	case AuthHtpasswd:
		// MinCost: distribution checks the password on every request, and
		// the default cost spends about 90 ms each time.
		hash, err := bcrypt.GenerateFromPassword([]byte(TestPassword), bcrypt.MinCost)
		if err != nil {
			tb.Fatal(err)
		}
		file := filepath.Join(tb.TempDir(), "htpasswd")
		if err := os.WriteFile(file, []byte(TestUsername+":"+string(hash)+"\n"), 0o600); err != nil {
			tb.Fatal(err)
		}
		authCfg = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "azacr-conformance", "path": file}}
		r.Credential = azacr.NewPasswordCredential(TestUsername, TestPassword)
	default:
		tb.Fatalf("conformance: unknown auth mode %q", opts.Auth)
	}

	app, shutdown, err := NewRegistryApp(tb.Context(), RegistryConfig{Dir: tb.TempDir(), Auth: authCfg})
	if err != nil {
		tb.Fatal(err)
	}
	var registry http.Handler = app
	if opts.WrapRegistry != nil {
		registry = opts.WrapRegistry(app)
	}
	mux := http.NewServeMux()
	mux.Handle("/oauth2/", issuer)
	mux.Handle("/", registry)
	srv.Config.Handler = r.Log.Middleware(mux)
	if opts.TLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	started = true
	// Cleanups run last-in first-out: stop serving, then stop the app.
	tb.Cleanup(shutdown)
	tb.Cleanup(srv.Close)
	return r
}

// StartTokenRegistry starts a registry with token authentication, over
// TLS or plain HTTP.
func StartTokenRegistry(tb testing.TB, tls bool) *TestRegistry {
	tb.Helper()
	return StartRegistry(tb, RegistryOptions{Auth: AuthToken, TLS: tls})
}

// StartHtpasswdRegistry starts a registry with htpasswd (Basic)
// authentication.
func StartHtpasswdRegistry(tb testing.TB, tls bool) *TestRegistry {
	tb.Helper()
	return StartRegistry(tb, RegistryOptions{Auth: AuthHtpasswd, TLS: tls})
}

// StartOpenRegistry starts a registry without authentication.
func StartOpenRegistry(tb testing.TB, tls bool) *TestRegistry {
	tb.Helper()
	return StartRegistry(tb, RegistryOptions{Auth: AuthNone, TLS: tls})
}

// ClientOptions are azcore options for a client of this registry: a
// transport that trusts its certificate, credentials allowed over plain
// HTTP when the registry has no TLS (the client refuses that otherwise),
// and short retry delays so a failing test fails fast.
func (r *TestRegistry) ClientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Transport:                       r.Server.Client(),
		InsecureAllowCredentialWithHTTP: !r.Options.TLS && r.Options.Auth != AuthNone,
		Retry:                           policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: 10 * time.Millisecond},
	}
}

// BlobClient returns a blob client authenticating with r.Credential.
func (r *TestRegistry) BlobClient(tb testing.TB) *azacr.BlobClient {
	tb.Helper()
	return r.BlobClientWith(tb, r.Credential)
}

// BlobClientWith returns a blob client authenticating with cred.
func (r *TestRegistry) BlobClientWith(tb testing.TB, cred azcore.TokenCredential) *azacr.BlobClient {
	tb.Helper()
	c, err := azacr.NewBlobClient(r.URL, cred, &azacr.BlobClientOptions{ClientOptions: r.ClientOptions()})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Client returns a registry client authenticating with r.Credential.
func (r *TestRegistry) Client(tb testing.TB) *azacr.ContainerRegistryClient {
	tb.Helper()
	return r.ClientWith(tb, r.Credential)
}

// ClientWith returns a registry client authenticating with cred.
func (r *TestRegistry) ClientWith(tb testing.TB, cred azcore.TokenCredential) *azacr.ContainerRegistryClient {
	tb.Helper()
	c, err := azacr.NewContainerRegistryClient(r.URL, cred, &azacr.ContainerRegistryClientOptions{ClientOptions: r.ClientOptions()})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// FakeEntraCredential is an azcore.TokenCredential that hands out a fixed
// Microsoft Entra token and counts how often it was asked.
type FakeEntraCredential struct {
	token  string
	calls  atomic.Int64
	mu     sync.Mutex
	scopes [][]string
}

// NewFakeEntraCredential returns a credential handing out token.
func NewFakeEntraCredential(token string) *FakeEntraCredential {
	return &FakeEntraCredential{token: token}
}

// GetToken implements azcore.TokenCredential. The token is valid for an
// hour, as Entra's are.
func (c *FakeEntraCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	c.mu.Lock()
	c.scopes = append(c.scopes, slices.Clone(opts.Scopes))
	c.mu.Unlock()
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Calls is how many times GetToken was called.
func (c *FakeEntraCredential) Calls() int { return int(c.calls.Load()) }

// Scopes are the scopes of each GetToken call, in order.
func (c *FakeEntraCredential) Scopes() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.scopes)
}

// RequestRecord is one request the registry server answered.
type RequestRecord struct {
	// Method is the request's HTTP method.
	Method string
	// Path is the request's URL path.
	Path string
	// Query is the request's raw query.
	Query string
	// Status is the answer's HTTP status.
	Status int
	// ContentLength is the request's declared length (-1 when unknown).
	ContentLength int64
	// BodyBytes is how many body bytes the handler actually read.
	BodyBytes int64
	// AuthScheme is the scheme of the Authorization header ("Bearer",
	// "Basic"), empty when there was none.
	AuthScheme string
	// Challenge is the response's WWW-Authenticate header.
	Challenge string
}

// RequestLog records the requests of a server, safe for concurrent use.
type RequestLog struct {
	mu      sync.Mutex
	records []RequestRecord
}

// Middleware wraps next so every request it answers is recorded once the
// answer is complete.
func (l *RequestLog) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body := &countingReader{r: req.Body}
		req.Body = body
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, req)
		scheme, _, _ := strings.Cut(req.Header.Get("Authorization"), " ")
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		rec := RequestRecord{
			Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Status: status,
			ContentLength: req.ContentLength, BodyBytes: body.n.Load(), AuthScheme: scheme,
			Challenge: sw.Header().Get("WWW-Authenticate"),
		}
		l.mu.Lock()
		l.records = append(l.records, rec)
		l.mu.Unlock()
	})
}

// Records returns a copy of the log.
func (l *RequestLog) Records() []RequestRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}

// Reset empties the log.
func (l *RequestLog) Reset() {
	l.mu.Lock()
	l.records = nil
	l.mu.Unlock()
}

// Count returns how many records match.
func (l *RequestLog) Count(match func(RequestRecord) bool) int {
	n := 0
	for _, r := range l.Records() {
		if match(r) {
			n++
		}
	}
	return n
}

// ByMethod counts the registry API requests (not token requests) by
// method.
func (l *RequestLog) ByMethod() map[string]int {
	m := map[string]int{}
	for _, r := range l.Records() {
		if !strings.HasPrefix(r.Path, "/oauth2/") {
			m[r.Method]++
		}
	}
	return m
}

// Unauthorized counts the 401 answers of the registry API (not of the
// token service).
func (l *RequestLog) Unauthorized() int {
	return l.Count(func(r RequestRecord) bool {
		return r.Status == http.StatusUnauthorized && !strings.HasPrefix(r.Path, "/oauth2/")
	})
}

// Path counts the requests to one path.
func (l *RequestLog) Path(path string) int {
	return l.Count(func(r RequestRecord) bool { return r.Path == path })
}

// String renders the log, one request a line, for failure messages.
func (l *RequestLog) String() string {
	var b strings.Builder
	for _, r := range l.Records() {
		fmt.Fprintf(&b, "%s %s?%s -> %d (len %d, read %d, auth %q)\n", r.Method, r.Path, r.Query, r.Status, r.ContentLength, r.BodyBytes, r.AuthScheme)
	}
	return b.String()
}

type countingReader struct {
	r io.ReadCloser
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// statusWriter remembers the status code a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Flush lets streaming handlers flush through the wrapper.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// TokenRequest is one request the token service answered.
type TokenRequest struct {
	// Path is /oauth2/exchange or /oauth2/token.
	Path string
	// Method is POST, or GET for Basic authentication.
	Method string
	// GrantType is the form's grant_type ("" for GET).
	GrantType string
	// Scope is the requested scope as sent (space-separated scopes).
	Scope string
	// Status is the answer's HTTP status.
	Status int
}

// ResourceActions is one entry of a token's access claim, the form
// distribution's token verifier reads.
type ResourceActions struct {
	Type    string   `json:"type"`    // "repository" or "registry"
	Name    string   `json:"name"`    // the repository name, or "catalog"
	Actions []string `json:"actions"` // "pull", "push", "delete", "*"
}

// TokenClaims are the claims of the tokens the issuer signs, the ones
// distribution's verifier reads plus ACR's grant_type. Refresh tokens
// carry grant_type "refresh_token" and no access; access tokens carry the
// access granted.
type TokenClaims struct {
	Issuer    string             `json:"iss"`                  // must be TokenIssuerName
	Subject   string             `json:"sub"`                  // who the token is for
	Audience  []string           `json:"aud"`                  // must hold the registry's service
	Expiry    int64              `json:"exp"`                  // Unix seconds
	NotBefore int64              `json:"nbf"`                  // Unix seconds
	IssuedAt  int64              `json:"iat"`                  // Unix seconds
	ID        string             `json:"jti"`                  // unique per token
	GrantType string             `json:"grant_type,omitempty"` // "refresh_token" or "access_token"
	Access    []*ResourceActions `json:"access,omitempty"`     // what an access token grants
}

// TokenIssuer is the token service of a registry with AuthToken: ACR's
// /oauth2/exchange and /oauth2/token (PROTOCOL.md §2.2 to §2.5) in front of
// distribution's token authentication. It signs ES256 JWTs whose kid is
// the key's JWK thumbprint, which distribution derives for every key of
// its root certificate bundle, so the registry itself verifies every
// token and the scopes in it.
type TokenIssuer struct {
	// Service is the token audience and the service name the registry
	// announces: the registry's host:port.
	Service string
	// EntraToken is the Microsoft Entra token /oauth2/exchange accepts.
	EntraToken string
	// Anonymous makes grant_type=password without credentials return a
	// token with the pull actions of the requested scopes.
	Anonymous bool
	// AccessTTL and RefreshTTL are the token lifetimes.
	AccessTTL, RefreshTTL time.Duration

	key    *ecdsa.PrivateKey
	cert   *x509.Certificate
	signer jose.Signer

	mu       sync.Mutex
	misissue int
	requests []TokenRequest
}

// NewTokenIssuer creates an issuer for service with a fresh P-256 key and
// a self-signed CA certificate for it.
func NewTokenIssuer(service string) (*TokenIssuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: TokenIssuerName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	// distribution looks a kid up among the thumbprints of its root
	// certificates' keys; using its own function keeps both sides equal
	// byte for byte (it does not pad coordinates as RFC 7638 would).
	kid := token.GetJWKThumbprint(&key.PublicKey)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		return nil, err
	}
	return &TokenIssuer{
		Service: service, EntraToken: FakeEntraToken,
		AccessTTL: 10 * time.Minute, RefreshTTL: 3 * time.Hour,
		key: key, cert: cert, signer: signer,
	}, nil
}

// RootCertPEM is the issuer's certificate as a PEM root bundle, the
// registry's rootcertbundle.
func (i *TokenIssuer) RootCertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.cert.Raw})
}

// MisissueNext makes the next n access tokens grant the requested actions
// on a different repository ("<name>-wrong"), so the registry refuses
// them: a token service bug, or a permission revoked in between.
func (i *TokenIssuer) MisissueNext(n int) {
	i.mu.Lock()
	i.misissue = n
	i.mu.Unlock()
}

// Requests returns the token requests answered so far.
func (i *TokenIssuer) Requests() []TokenRequest {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.requests)
}

// ResetRequests forgets the token requests answered so far.
func (i *TokenIssuer) ResetRequests() {
	i.mu.Lock()
	i.requests = nil
	i.mu.Unlock()
}

// Sign signs a token for the issuer's service, valid from now for ttl
// (a negative ttl makes an expired one), granting access.
func (i *TokenIssuer) Sign(subject, grantType string, access []*ResourceActions, ttl time.Duration) (string, error) {
	now := time.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	return i.SignClaims(TokenClaims{
		Issuer: TokenIssuerName, Subject: subject, Audience: []string{i.Service},
		Expiry: now.Add(ttl).Unix(), NotBefore: now.Unix(), IssuedAt: now.Unix(),
		ID: hex.EncodeToString(jti), GrantType: grantType, Access: access,
	})
}

// SignClaims signs arbitrary claims with the issuer's key, for tests of
// what the registry refuses (another audience, another issuer).
func (i *TokenIssuer) SignClaims(c TokenClaims) (string, error) {
	return jwt.Signed(i.signer).Claims(c).Serialize()
}

// verifyRefreshToken checks a refresh token this issuer signed and returns
// its subject.
func (i *TokenIssuer) verifyRefreshToken(raw string) (string, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return "", err
	}
	var c TokenClaims
	if err := tok.Claims(&i.key.PublicKey, &c); err != nil {
		return "", err
	}
	now := time.Now().Unix()
	switch {
	case c.Issuer != TokenIssuerName, !slices.Contains(c.Audience, i.Service):
		return "", errors.New("refresh token from another issuer or for another service")
	case c.GrantType != "refresh_token":
		return "", errors.New("not a refresh token")
	case now >= c.Expiry:
		return "", errors.New("refresh token expired")
	}
	return c.Subject, nil
}

// ServeHTTP serves /oauth2/exchange and /oauth2/token.
func (i *TokenIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := TokenRequest{Path: r.URL.Path, Method: r.Method}
	status, body := i.serve(r, &rec)
	rec.Status = status
	i.mu.Lock()
	i.requests = append(i.requests, rec)
	i.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// serve answers one token request with a status and a JSON body.
func (i *TokenIssuer) serve(r *http.Request, rec *TokenRequest) (int, any) {
	fail := func(status int, code, msg string) (int, any) {
		return status, map[string]any{"errors": []map[string]any{{"code": code, "message": msg}}}
	}
	if r.Method == http.MethodGet && r.URL.Path == "/oauth2/token" {
		// Basic authentication (PROTOCOL.md §2.5): the scope is in the query.
		q := r.URL.Query()
		rec.Scope = strings.Join(q["scope"], " ")
		user, pass, ok := r.BasicAuth()
		if !ok || user != TestUsername || pass != TestPassword {
			return fail(http.StatusUnauthorized, "UNAUTHORIZED", "bad username or password")
		}
		if q.Get("service") != i.Service {
			return fail(http.StatusBadRequest, "UNSUPPORTED", "unknown service")
		}
		return i.accessToken(user, q["scope"], false)
	}
	if r.Method != http.MethodPost {
		return fail(http.StatusMethodNotAllowed, "UNSUPPORTED", "method not allowed")
	}
	if err := r.ParseForm(); err != nil {
		return fail(http.StatusBadRequest, "UNSUPPORTED", err.Error())
	}
	f := r.PostForm
	rec.GrantType = f.Get("grant_type")
	rec.Scope = strings.Join(f["scope"], " ")
	if f.Get("service") != i.Service {
		return fail(http.StatusBadRequest, "UNSUPPORTED", "unknown service "+f.Get("service"))
	}
	switch r.URL.Path {
	case "/oauth2/exchange":
		if rec.GrantType != "access_token" {
			return fail(http.StatusBadRequest, "UNSUPPORTED", "unsupported grant_type")
		}
		if f.Get("access_token") != i.EntraToken {
			return fail(http.StatusUnauthorized, "UNAUTHORIZED", "the Microsoft Entra token was refused")
		}
		rt, err := i.Sign("entra-user", "refresh_token", nil, i.RefreshTTL)
		if err != nil {
			return fail(http.StatusInternalServerError, "UNKNOWN", err.Error())
		}
		// ACR answers with the refresh token only (PROTOCOL.md §2.2).
		return http.StatusOK, map[string]string{"refresh_token": rt}
	case "/oauth2/token":
		switch rec.GrantType {
		case "refresh_token":
			sub, err := i.verifyRefreshToken(f.Get("refresh_token"))
			if err != nil {
				return fail(http.StatusUnauthorized, "UNAUTHORIZED", err.Error())
			}
			return i.accessToken(sub, f["scope"], false)
		case "password":
			if f.Get("refresh_token") != "" || !i.Anonymous {
				return fail(http.StatusUnauthorized, "UNAUTHORIZED", "anonymous pull is disabled")
			}
			return i.accessToken("acr_anon_pull", f["scope"], true)
		}
		return fail(http.StatusBadRequest, "UNSUPPORTED", "unsupported grant_type")
	}
	return fail(http.StatusNotFound, "NOT_FOUND", "no such token endpoint")
}

// accessToken signs a token granting exactly the requested scopes (only
// their pull action when pullOnly), or a misissued one when asked to.
func (i *TokenIssuer) accessToken(subject string, scopes []string, pullOnly bool) (int, any) {
	access, err := ParseScopes(strings.Join(scopes, " "))
	if err != nil {
		return http.StatusBadRequest, map[string]any{"errors": []map[string]any{{"code": "UNSUPPORTED", "message": err.Error()}}}
	}
	if pullOnly {
		for _, a := range access {
			a.Actions = slices.DeleteFunc(a.Actions, func(s string) bool { return s != "pull" })
		}
	}
	i.mu.Lock()
	wrong := i.misissue > 0
	if wrong {
		i.misissue--
	}
	i.mu.Unlock()
	if wrong {
		for _, a := range access {
			a.Name += "-wrong"
		}
	}
	tok, err := i.Sign(subject, "access_token", access, i.AccessTTL)
	if err != nil {
		return http.StatusInternalServerError, map[string]any{"errors": []map[string]any{{"code": "UNKNOWN", "message": err.Error()}}}
	}
	return http.StatusOK, map[string]string{"access_token": tok}
}

// ParseScopes parses space-separated scopes of the form
// "type:name:action,action". The name is everything between the first
// and the last colon, so a registry host with a port in it survives.
func ParseScopes(s string) ([]*ResourceActions, error) {
	var out []*ResourceActions
	for _, f := range strings.Fields(s) {
		first, last := strings.IndexByte(f, ':'), strings.LastIndexByte(f, ':')
		if first < 0 || first == last {
			return nil, fmt.Errorf("malformed scope %q", f)
		}
		actions := slices.DeleteFunc(strings.Split(f[last+1:], ","), func(a string) bool { return a == "" })
		out = append(out, &ResourceActions{Type: f[:first], Name: f[first+1 : last], Actions: actions})
	}
	return out, nil
}

// ScopeRequests counts token requests whose scope, in any action order,
// equals scope; a test's helper for "one token call per distinct scope".
func ScopeRequests(reqs []TokenRequest, scope string) int {
	want := canonicalScope(scope)
	n := 0
	for _, r := range reqs {
		if r.Path == "/oauth2/token" && canonicalScope(r.Scope) == want {
			n++
		}
	}
	return n
}

// canonicalScope sorts scopes and their actions so two spellings of the
// same access compare equal.
func canonicalScope(s string) string {
	fields := strings.Fields(s)
	for i, f := range fields {
		if cut := strings.LastIndexByte(f, ':'); cut >= 0 {
			actions := strings.Split(f[cut+1:], ",")
			slices.Sort(actions)
			fields[i] = f[:cut+1] + strings.Join(actions, ",")
		}
	}
	slices.Sort(fields)
	return strings.Join(fields, " ")
}
