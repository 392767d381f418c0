package acrtest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// ACRAudience is the Microsoft Entra audience of ACR's data plane, valid in
// every cloud.
const ACRAudience = "https://containerregistry.azure.net"

var armAudiences = []string{"https://management.azure.com", "https://management.core.windows.net"}

// nullGUID is the username under which an ACR refresh token is accepted
// as a Basic password.
const nullGUID = "00000000-0000-0000-0000-000000000000"

// anonymousSubject is the sub claim of anonymous access tokens.
const anonymousSubject = "acr_anon_pull"

// Credential is a fake Microsoft Entra credential. Its tokens are accepted
// by the Server that made it, for the audience they were requested for.
type Credential struct {
	server *Server

	mu     sync.Mutex
	scopes []string
	err    error
}

var _ azcore.TokenCredential = (*Credential)(nil)

// GetToken issues a fake Entra access token for opts.Scopes, valid one hour.
func (c *Credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.scopes = append(c.scopes, opts.Scopes...)
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return azcore.AccessToken{}, err
	}
	if len(opts.Scopes) != 1 {
		return azcore.AccessToken{}, fmt.Errorf("acrtest: want exactly one scope, got %q", opts.Scopes)
	}
	s := c.server
	now := s.now()
	exp := now.Add(time.Hour)
	tok := s.sign(claims{
		Kind:     "aad",
		Subject:  "aad-identity",
		Audience: strings.TrimSuffix(strings.TrimSuffix(opts.Scopes[0], "/.default"), "/"),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: exp.Unix(),
	})
	return azcore.AccessToken{Token: tok, ExpiresOn: exp}, nil
}

// Scopes returns every scope GetToken was asked for, in order; its length
// is the number of scope requests made.
func (c *Credential) Scopes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.scopes...)
}

// SetError makes later GetToken calls fail with err (nil restores them).
func (c *Credential) SetError(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// claims is the JWT payload of the tokens this server issues. ACR's own
// claims are mirrored where clients read them (exp, iat, nbf, access).
type claims struct {
	Kind        string         `json:"acrtest_kind"` // aad, refresh, access
	Subject     string         `json:"sub"`
	Issuer      string         `json:"iss,omitempty"`
	Audience    string         `json:"aud"`
	IssuedAt    int64          `json:"iat"`
	NotBefore   int64          `json:"nbf"`
	Expiry      int64          `json:"exp"`
	ID          string         `json:"jti,omitempty"`
	GrantType   string         `json:"grant_type,omitempty"`
	Access      []accessEntry  `json:"access,omitempty"`
	Permissions map[string]any `json:"permissions,omitempty"`
	// Identity names the Basic user the token descends from ("" for
	// Entra identities).
	Identity string `json:"acrtest_user,omitempty"`
}

// accessEntry is one element of the access claim. ACR capitalises the keys
// in anonymous tokens and not in others; both are read.
type accessEntry struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func (a *accessEntry) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for k, v := range m {
		var err error
		switch strings.ToLower(k) {
		case "type":
			err = json.Unmarshal(v, &a.Type)
		case "name":
			err = json.Unmarshal(v, &a.Name)
		case "actions":
			err = json.Unmarshal(v, &a.Actions)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var b64 = base64.RawURLEncoding

// sign returns an HS256 JWT for c.
func (s *Server) sign(c claims) string {
	if c.ID == "" {
		c.ID = newID()
	}
	header := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload, _ := json.Marshal(c)
	signing := header + "." + b64.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(mac.Sum(nil))
}

var (
	errBadToken     = errors.New("token is malformed or not signed by this registry")
	errExpiredToken = errors.New("token has expired")
)

// verify checks a JWT's signature, kind and lifetime.
func (s *Server) verify(token, kind string) (claims, error) {
	var c claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, errBadToken
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return c, errBadToken
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &c) != nil || c.Kind != kind {
		return c, errBadToken
	}
	now := s.now().Unix()
	if now >= c.Expiry || now < c.NotBefore {
		return c, errExpiredToken
	}
	return c, nil
}

var errWrongAudience = errors.New("token was issued for another registry")

// verifyRefresh checks an ACR refresh token, which is valid only at the
// registry named by its audience.
func (s *Server) verifyRefresh(token string) (claims, error) {
	c, err := s.verify(token, "refresh")
	if err == nil && c.Audience != s.service {
		err = errWrongAudience
	}
	return c, err
}

// checkService checks the service parameter of a token request against
// the registry's service, and answers the request when it fails.
//
// ACR checks service against its login server name. A request without one
// is malformed, so it gets 400 like the other missing or unsupported
// parameters. A request naming another registry is well formed but asks
// for credentials this registry cannot grant, since ACR binds every token
// it issues to its login server name (the aud claim); so it is refused as
// an authentication failure, 401 UNAUTHORIZED, like a token for the wrong
// audience. ACR's documentation does not say which status it sends here.
func (s *Server) checkService(w http.ResponseWriter, params url.Values) bool {
	svc := params.Get("service")
	switch {
	case svc == s.service:
		return true
	case svc == "":
		writeError(w, http.StatusBadRequest, CodeUnsupported, "missing service parameter", NoDetail)
	default:
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, fmt.Sprintf("service %q is not this registry (%s)", svc, s.service), NoDetail)
	}
	return false
}

// handleExchange serves POST /oauth2/exchange: an Entra access token for an
// ACR refresh token.
func (s *Server) handleExchange(w http.ResponseWriter, r *http.Request, entry *Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, CodeUnsupported, "The requested method is not supported.", NoDetail)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, CodeUnsupported, "malformed form body", NoDetail)
		return
	}
	grant := r.PostForm.Get("grant_type")
	// refresh_token and access_token_refresh_token are deprecated grants
	// that still carry an access_token.
	if grant != "access_token" && grant != "access_token_refresh_token" && grant != "refresh_token" {
		writeError(w, http.StatusBadRequest, CodeUnsupported, fmt.Sprintf("unsupported grant_type %q", grant), NoDetail)
		return
	}
	if !s.checkService(w, r.PostForm) {
		return
	}
	aad, err := s.verify(r.PostForm.Get("access_token"), "aad")
	if err != nil {
		entry.Auth = "invalid"
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, "invalid Microsoft Entra access token: "+err.Error(), NoDetail)
		return
	}
	audiences := s.opts.Audiences
	if audiences == nil {
		audiences = append([]string{ACRAudience}, armAudiences...)
	}
	if !slices.Contains(audiences, aad.Audience) {
		entry.Auth = "invalid"
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, fmt.Sprintf("audience %q is not accepted by this registry", aad.Audience), NoDetail)
		return
	}
	entry.Auth = "aad"
	// ACR backdates iat and nbf by about 15 minutes.
	now := s.now()
	issued := now.Add(-15 * time.Minute)
	rt := s.sign(claims{
		Kind: "refresh", Subject: aad.Subject, Issuer: "Azure Container Registry", Audience: s.service,
		IssuedAt: issued.Unix(), NotBefore: issued.Unix(), Expiry: now.Add(s.opts.RefreshTokenLifetime).Unix(),
		GrantType:   "refresh_token",
		Permissions: map[string]any{"actions": []string{"*"}},
	})
	writeJSON(w, http.StatusOK, map[string]string{"refresh_token": rt})
}

// handleToken serves /oauth2/token: POST with grant_type=refresh_token or
// password (anonymous), and GET with Basic credentials.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, entry *Request) {
	var g tokenGrant
	var ok bool
	switch r.Method {
	case http.MethodGet:
		g, ok = s.basicGrant(w, r, entry)
	case http.MethodPost:
		g, ok = s.formGrant(w, r, entry)
	default:
		writeError(w, http.StatusMethodNotAllowed, CodeUnsupported, "The requested method is not supported.", NoDetail)
	}
	if ok {
		writeJSON(w, http.StatusOK, map[string]string{"access_token": s.issueAccessToken(g)})
	}
}

// tokenGrant is who asked /oauth2/token for which scopes.
type tokenGrant struct {
	subject, identity string
	anonymous         bool
	scopes            []string
	lifetime          time.Duration
}

// basicGrant reads a GET /oauth2/token with Basic credentials: a user, or
// the null-GUID user with an ACR refresh token as its password (what
// docker login does). It answers the request itself when it refuses it.
func (s *Server) basicGrant(w http.ResponseWriter, r *http.Request, entry *Request) (tokenGrant, bool) {
	g := tokenGrant{lifetime: s.opts.AccessTokenLifetime}
	user, pass, ok := r.BasicAuth()
	if !ok {
		s.challengeBasic(w)
		return g, false
	}
	if user == nullGUID {
		rc, err := s.verifyRefresh(pass)
		if err != nil {
			entry.Auth = "invalid"
			s.challengeBasic(w)
			return g, false
		}
		g.subject, g.identity = rc.Subject, rc.Identity
	} else {
		u := s.user(user, pass)
		if u == nil {
			entry.Auth = "invalid"
			s.challengeBasic(w)
			return g, false
		}
		g.subject, g.identity = u.Name, u.Name
	}
	entry.Auth = "basic"
	if !s.checkService(w, r.URL.Query()) {
		return g, false
	}
	g.scopes = splitScopes(r.URL.Query()["scope"])
	return g, true
}

// formGrant reads a POST /oauth2/token: the refresh_token grant, or the
// anonymous password grant. It answers the request itself when it refuses
// it.
func (s *Server) formGrant(w http.ResponseWriter, r *http.Request, entry *Request) (tokenGrant, bool) {
	g := tokenGrant{lifetime: s.opts.AccessTokenLifetime}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, CodeUnsupported, "malformed form body", NoDetail)
		return g, false
	}
	if !s.checkService(w, r.PostForm) {
		return g, false
	}
	g.scopes = splitScopes(r.PostForm["scope"])
	switch grant := r.PostForm.Get("grant_type"); grant {
	case "refresh_token":
		rc, err := s.verifyRefresh(r.PostForm.Get("refresh_token"))
		if err != nil {
			entry.Auth = "invalid"
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "invalid refresh token: "+err.Error(), NoDetail)
			return g, false
		}
		entry.Auth = "refresh"
		g.subject, g.identity = rc.Subject, rc.Identity
	case "password":
		if r.PostForm.Get("refresh_token") != "" || !s.opts.AnonymousPull {
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "anonymous access is not enabled for this registry", NoDetail)
			return g, false
		}
		g.anonymous, g.subject, g.lifetime = true, anonymousSubject, s.opts.AnonymousTokenLifetime
	default:
		writeError(w, http.StatusBadRequest, CodeUnsupported, fmt.Sprintf("unsupported grant_type %q", grant), NoDetail)
		return g, false
	}
	return g, true
}

// issueAccessToken signs an access token granting what the identity may do
// of the scopes asked for (anonymous: pull, everywhere).
func (s *Server) issueAccessToken(g tokenGrant) string {
	var access []accessEntry
	if g.anonymous {
		access = []accessEntry{{Type: "repository", Name: "*", Actions: []string{"pull"}}}
	} else {
		for _, sc := range g.scopes {
			e, ok := parseScope(sc)
			if !ok {
				continue
			}
			e.Actions = s.allowed(g.identity, e)
			if len(e.Actions) > 0 {
				access = append(access, e)
			}
		}
	}
	now := s.now()
	at := s.sign(claims{
		Kind: "access", Subject: g.subject, Issuer: "Azure Container Registry", Audience: s.service,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(g.lifetime).Unix(),
		GrantType: "access_token", Access: access, Identity: g.identity,
	})
	if g.anonymous {
		// Recorded anonymous tokens spell the access keys capitalised.
		at = s.signAnonymous(at)
	}
	return at
}

// signAnonymous re-signs an anonymous token with capitalised access keys,
// as ACR's anonymous tokens have them.
func (s *Server) signAnonymous(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := b64.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload),
		`"access":[{"type":"repository","name":"*","actions":["pull"]}]`,
		`"access":[{"Type":"repository","Name":"*","Actions":["pull"]}]`, 1))
	signing := parts[0] + "." + b64.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(mac.Sum(nil))
}

// challengeBasic answers a Basic login that is missing or wrong.
func (s *Server) challengeBasic(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="%s",service="%s"`, s.realm, s.service))
	writeError(w, http.StatusUnauthorized, CodeUnauthorized, "authentication required, visit https://aka.ms/acr/authorization for more information.", NoDetail)
}

func (s *Server) user(name, pass string) *User {
	for i := range s.opts.Users {
		u := &s.opts.Users[i]
		if u.Name == name && hmac.Equal([]byte(u.Password), []byte(pass)) {
			return u
		}
	}
	return nil
}

// allowed returns the requested actions the identity may perform.
// Entra identities and users without a repository map may do everything.
func (s *Server) allowed(identity string, e accessEntry) []string {
	if identity == "" {
		return e.Actions
	}
	var u *User
	for i := range s.opts.Users {
		if s.opts.Users[i].Name == identity {
			u = &s.opts.Users[i]
		}
	}
	if u == nil {
		return nil
	}
	if u.Repositories == nil {
		return e.Actions
	}
	if e.Type != "repository" {
		return nil
	}
	granted := u.Repositories[e.Name]
	if slices.Contains(granted, "*") {
		return e.Actions
	}
	var out []string
	for _, a := range e.Actions {
		if slices.Contains(granted, a) {
			out = append(out, a)
		}
	}
	return out
}

// splitScopes flattens scope values: a value may hold several scopes
// separated by spaces, and the parameter may repeat.
func splitScopes(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// parseScope parses "type:name:action,action". The name may contain ':'
// (a registry host with a port never appears here, but be lenient).
func parseScope(s string) (accessEntry, bool) {
	first := strings.Index(s, ":")
	last := strings.LastIndex(s, ":")
	if first < 0 || last == first {
		return accessEntry{}, false
	}
	return accessEntry{Type: s[:first], Name: s[first+1 : last], Actions: strings.Split(s[last+1:], ",")}, true
}

// scope is the access one endpoint needs, in the form its challenge names it.
type scope struct {
	Type    string   // "repository" or "registry"
	Name    string   // repository name, or "catalog"
	Actions []string // in the order the challenge lists them
}

func (sc scope) String() string {
	return sc.Type + ":" + sc.Name + ":" + strings.Join(sc.Actions, ",")
}

func repoScope(name string, actions ...string) scope {
	return scope{Type: "repository", Name: name, Actions: actions}
}

var catalogScope = scope{Type: "registry", Name: "catalog", Actions: []string{"*"}}

// authorize checks the request's bearer token against the scopes the
// endpoint needs. When the token is missing, invalid or lacks a scope it
// writes ACR's 401 challenge and returns false.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, entry *Request, need ...scope) bool {
	names := make([]string, len(need))
	for i, sc := range need {
		names[i] = sc.String()
	}
	entry.Scope = strings.Join(names, " ")

	authz := r.Header.Get("Authorization")
	// The scheme is case-insensitive (RFC 9110 section 11.1).
	scheme, token, _ := strings.Cut(authz, " ")
	isBearer := strings.EqualFold(scheme, "Bearer")
	if authz == "" {
		s.challenge(w, need, "")
		return false
	}
	if !isBearer {
		entry.Auth = "invalid"
		s.challenge(w, need, "invalid_token")
		return false
	}
	c, err := s.verify(token, "access")
	if err != nil || c.Audience != s.service {
		entry.Auth = "invalid"
		s.challenge(w, need, "invalid_token")
		return false
	}
	entry.Auth = "bearer"
	for _, sc := range need {
		for _, a := range sc.Actions {
			if !granted(c, sc, a) {
				s.challenge(w, need, "insufficient_scope")
				return false
			}
		}
	}
	return true
}

// granted reports whether the token allows action under sc. Anonymous
// tokens carry repository:*:pull; with anonymous pull enabled ACR lets
// them read metadata and the catalog too.
func granted(c claims, sc scope, action string) bool {
	if c.Subject == anonymousSubject {
		return action == "pull" || action == "metadata_read" || (sc.Type == "registry" && sc.Name == "catalog")
	}
	for _, e := range c.Access {
		if e.Type != sc.Type || (e.Name != sc.Name && e.Name != "*") {
			continue
		}
		if slices.Contains(e.Actions, action) || slices.Contains(e.Actions, "*") {
			return true
		}
	}
	return false
}

// challenge writes ACR's 401 with WWW-Authenticate: no spaces
// between parameters, every value quoted, several scopes space-separated.
func (s *Server) challenge(w http.ResponseWriter, need []scope, errParam string) {
	h := fmt.Sprintf(`Bearer realm="%s",service="%s"`, s.realm, s.service)
	var detail any = NullDetail
	if len(need) > 0 {
		names := make([]string, len(need))
		type item struct{ Type, Name, Action string }
		var items []item
		for i, sc := range need {
			names[i] = sc.String()
			for _, a := range sc.Actions {
				items = append(items, item{sc.Type, sc.Name, a})
			}
		}
		h += fmt.Sprintf(`,scope="%s"`, strings.Join(names, " "))
		detail = items
	}
	if errParam != "" {
		h += fmt.Sprintf(`,error="%s"`, errParam)
	}
	w.Header().Set("WWW-Authenticate", h)
	writeError(w, http.StatusUnauthorized, CodeUnauthorized, "authentication required, visit https://aka.ms/acr/authorization for more information.", detail)
}

// handlePing serves GET /v2/: an unscoped challenge, then 200 {}.
func (s *Server) handlePing(w http.ResponseWriter, r *http.Request, entry *Request) {
	if r.Header.Get("Authorization") == "" {
		s.challenge(w, nil, "")
		return
	}
	if !s.authorize(w, r, entry, catalogScope) {
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte("{}"))
	}
}
