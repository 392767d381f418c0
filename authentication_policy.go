package azacr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
)

// PasswordCredential authenticates with a username and password: the
// registry's admin user, or a repository-scoped token (a token name and one
// of its passwords). Pass it wherever a constructor takes a credential; the
// clients exchange it for access tokens at GET /oauth2/token with Basic
// authentication. Prefer Microsoft Entra credentials where you can: admin
// users and tokens are long-lived secrets.
type PasswordCredential struct {
	username string
	password string
}

// NewPasswordCredential returns a credential for an ACR admin user or
// repository-scoped token.
func NewPasswordCredential(username, password string) *PasswordCredential {
	return &PasswordCredential{username: username, password: password}
}

// errPasswordCredential explains why GetToken on a PasswordCredential fails.
var errPasswordCredential = errors.New("azacr: a PasswordCredential authenticates only azacr clients; it cannot issue Microsoft Entra tokens")

// GetToken always fails: a PasswordCredential is not a Microsoft Entra
// credential. It exists so the credential satisfies azcore.TokenCredential
// and can be passed to NewContainerRegistryClient and NewBlobClient.
func (c *PasswordCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errPasswordCredential
}

// authScope is the access an operation needs, in challenge form
// ("repository:hello:pull"). Operations attach it to their request with
// SetOperationValue so the policy can send a cached token on the first try
// instead of learning the scope from a 401.
type authScope string

// tokenResponseLimit bounds token endpoint responses; real ones are about
// 2 KiB, and a hostile server must not make us buffer without limit.
const tokenResponseLimit = 64 << 10

// authenticationPolicy authorizes registry requests with ACR access tokens.
// It exchanges a Microsoft Entra token for a refresh token
// (POST /oauth2/exchange), the refresh token for access tokens
// (POST /oauth2/token), and caches both until shortly before their JWT exp:
// the refresh token per registry, access tokens per normalised scope.
type authenticationPolicy struct {
	endpoint  *url.URL // scheme and host of the registry
	cred      azcore.TokenCredential
	password  *PasswordCredential
	aadScopes []string
	allowHTTP bool
	// tokenPipeline sends the /oauth2 requests: retries and logging, but
	// not this policy, and never body logging (the bodies are secrets).
	tokenPipeline runtime.Pipeline
	now           func() time.Time

	// service is the challenge's service value, the registry host until a
	// challenge says otherwise.
	service atomic.Pointer[string]
	// challenged records that the registry answered with a Bearer
	// challenge, so an anonymous client fetches tokens before sending.
	challenged atomic.Bool
	// basic records a Basic challenge: a password client then
	// authenticates every request directly.
	basic atomic.Bool

	refresh tokenSlot
	mu      sync.Mutex
	access  map[authScope]*tokenSlot
}

func newAuthenticationPolicy(endpoint *url.URL, cred azcore.TokenCredential, audience string, pl runtime.Pipeline, allowHTTP bool) *authenticationPolicy {
	p := &authenticationPolicy{
		endpoint:      &url.URL{Scheme: endpoint.Scheme, Host: endpoint.Host},
		aadScopes:     []string{strings.TrimSuffix(audience, "/") + "/.default"},
		allowHTTP:     allowHTTP,
		tokenPipeline: pl,
		now:           time.Now,
		access:        map[authScope]*tokenSlot{},
	}
	switch c := cred.(type) {
	case nil:
	case *PasswordCredential:
		p.password = c
	default:
		p.cred = c
	}
	host := endpoint.Host
	p.service.Store(&host)
	return p
}

// Do implements policy.Policy.
func (p *authenticationPolicy) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	// A caller-set Authorization is theirs to manage; a request to any host
	// but the registry's never gets our tokens.
	if raw.Header.Get("Authorization") != "" || !p.sameOrigin(raw.URL) {
		return req.Next()
	}
	var scope authScope
	req.OperationValue(&scope)
	scope = normalizeScope(string(scope))

	if p.password != nil && p.basic.Load() {
		return p.sendBasic(req)
	}
	sent, fresh := "", false
	if scope != "" && p.proactive() {
		// Refuse before any token is fetched, so not even the Entra token
		// is requested for a request that could not carry it.
		if err := p.checkTLS(raw.URL); err != nil {
			return nil, err
		}
		tok, fetched, err := p.accessToken(raw.Context(), scope)
		if err != nil {
			return nil, err
		}
		if err := p.authorize(req, tok); err != nil {
			return nil, err
		}
		sent, fresh = tok, fetched
	}

	resp, err := req.Next()
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	ch, ok := bearerChallenge(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		if p.password != nil && sent == "" && basicChallenge(resp.Header.Values("WWW-Authenticate")) {
			// A registry with plain Basic authentication (no token
			// service): send the password with every request from now on.
			p.basic.Store(true)
			runtime.Drain(resp)
			if err := req.RewindBody(); err != nil {
				return nil, err
			}
			return p.sendBasic(req)
		}
		return resp, nil
	}
	p.challenged.Store(true)
	if ch.service != "" {
		svc := ch.service
		p.service.Store(&svc)
	}
	want := normalizeScope(ch.scope)
	if want == "" {
		// GET /v2/ challenges without a scope (WIRE.md a.1); the catalog
		// scope is what ACR grants for it after authentication.
		want = scope
		if want == "" {
			want = "registry:catalog:*"
		}
	}
	if sent != "" && want == scope {
		if fresh {
			// The token was issued for this very request and still refused:
			// the identity lacks the permission. Another try cannot help.
			return resp, nil
		}
		// A cached token was refused (revoked, or expired early): drop it
		// and fetch once more.
		p.slot(scope).invalidate(sent)
	}
	if err := p.checkTLS(raw.URL); err != nil {
		return nil, err
	}
	tok, _, err := p.accessToken(raw.Context(), want)
	if err != nil {
		return nil, err
	}
	runtime.Drain(resp)
	if err := req.RewindBody(); err != nil {
		return nil, err
	}
	if err := p.authorize(req, tok); err != nil {
		return nil, err
	}
	// One retry only: a second 401 goes back to the caller as an error.
	return req.Next()
}

// proactive reports whether to fetch a token before the first send. With an
// Entra credential the registry is ACR and always challenges. Anonymous and
// password clients wait for a first challenge: a registry without
// authentication never sends one, and one with plain Basic authentication
// has no token endpoint.
func (p *authenticationPolicy) proactive() bool {
	return p.cred != nil || p.challenged.Load()
}

// sendBasic sends req with the password credential as Basic
// authentication, for registries that challenge with Basic.
func (p *authenticationPolicy) sendBasic(req *policy.Request) (*http.Response, error) {
	if err := p.checkTLS(req.Raw().URL); err != nil {
		return nil, err
	}
	req.Raw().SetBasicAuth(p.password.username, p.password.password)
	return req.Next()
}

func (p *authenticationPolicy) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, p.endpoint.Scheme) && strings.EqualFold(u.Host, p.endpoint.Host)
}

// checkTLS refuses to put a credential on a plain-HTTP request unless the
// caller opted in with InsecureAllowCredentialWithHTTP.
func (p *authenticationPolicy) checkTLS(u *url.URL) error {
	if u.Scheme == "https" || p.allowHTTP {
		return nil
	}
	return nonRetriable(fmt.Errorf("azacr: refusing to send credentials over plain HTTP to %s; set ClientOptions.InsecureAllowCredentialWithHTTP to allow it", u.Host))
}

func (p *authenticationPolicy) authorize(req *policy.Request, token string) error {
	if err := p.checkTLS(req.Raw().URL); err != nil {
		return err
	}
	req.Raw().Header.Set("Authorization", "Bearer "+token)
	return nil
}

func (p *authenticationPolicy) slot(scope authScope) *tokenSlot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.access[scope]
	if s == nil {
		s = &tokenSlot{}
		p.access[scope] = s
	}
	return s
}

// accessToken returns a valid access token for scope, fetching one when the
// cache has none; fetched reports whether this call fetched it.
func (p *authenticationPolicy) accessToken(ctx context.Context, scope authScope) (string, bool, error) {
	return p.slot(scope).get(ctx, p.now, func(ctx context.Context) (string, error) {
		return p.fetchAccessToken(ctx, scope)
	})
}

// fetchAccessToken asks /oauth2/token for a token for scope, with the
// grant that matches the credential (WIRE.md a.3 to a.5).
func (p *authenticationPolicy) fetchAccessToken(ctx context.Context, scope authScope) (string, error) {
	service := *p.service.Load()
	switch {
	case p.password != nil:
		q := url.Values{"service": {service}, "scope": {string(scope)}}
		req, err := runtime.NewRequest(ctx, http.MethodGet, p.endpoint.String()+"/oauth2/token?"+q.Encode())
		if err != nil {
			return "", err
		}
		req.Raw().SetBasicAuth(p.password.username, p.password.password)
		return p.postToken(req, "access_token")
	case p.cred == nil:
		return p.postForm(ctx, "/oauth2/token", url.Values{
			"grant_type": {"password"}, "service": {service}, "scope": {string(scope)},
		}, "access_token")
	}
	for attempt := 0; ; attempt++ {
		rt, _, err := p.refresh.get(ctx, p.now, p.fetchRefreshToken)
		if err != nil {
			return "", err
		}
		tok, err := p.postForm(ctx, "/oauth2/token", url.Values{
			"grant_type": {"refresh_token"}, "service": {service}, "scope": {string(scope)}, "refresh_token": {rt},
		}, "access_token")
		var re *azcore.ResponseError
		if attempt == 0 && errors.As(err, &re) && re.StatusCode == http.StatusUnauthorized {
			// The registry no longer accepts the cached refresh token
			// (revoked, or its clock disagrees): exchange once more.
			p.refresh.invalidate(rt)
			continue
		}
		return tok, err
	}
}

// fetchRefreshToken exchanges a Microsoft Entra token for an ACR refresh
// token (WIRE.md a.2).
func (p *authenticationPolicy) fetchRefreshToken(ctx context.Context) (string, error) {
	aad, err := p.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: p.aadScopes})
	if err != nil {
		return "", nonRetriable(err)
	}
	return p.postForm(ctx, "/oauth2/exchange", url.Values{
		"grant_type": {"access_token"}, "service": {*p.service.Load()}, "access_token": {aad.Token},
	}, "refresh_token")
}

func (p *authenticationPolicy) postForm(ctx context.Context, path string, form url.Values, field string) (string, error) {
	req, err := runtime.NewRequest(ctx, http.MethodPost, p.endpoint.String()+path+"?api-version="+apiVersion)
	if err != nil {
		return "", err
	}
	body := streaming.NopCloser(strings.NewReader(form.Encode()))
	if err := req.SetBody(body, "application/x-www-form-urlencoded"); err != nil {
		return "", err
	}
	return p.postToken(req, field)
}

// postToken sends a token request and returns the named field of its JSON
// answer. Failures are final for the operation that needed the token:
// retrying the operation would only repeat them.
func (p *authenticationPolicy) postToken(req *policy.Request, field string) (string, error) {
	if err := p.checkTLS(req.Raw().URL); err != nil {
		return "", err
	}
	resp, err := p.tokenPipeline.Do(req)
	if err != nil {
		return "", nonRetriable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nonRetriable(newResponseError(resp))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, tokenResponseLimit+1))
	if err != nil {
		return "", nonRetriable(err)
	}
	if len(b) > tokenResponseLimit {
		return "", nonRetriable(fmt.Errorf("azacr: %s response is larger than %d bytes", req.Raw().URL.Path, tokenResponseLimit))
	}
	var m map[string]json.RawMessage
	var tok string
	if json.Unmarshal(b, &m) != nil || json.Unmarshal(m[field], &tok) != nil || tok == "" {
		return "", nonRetriable(fmt.Errorf("azacr: %s response has no %s", req.Raw().URL.Path, field))
	}
	return tok, nil
}

// tokenSlot caches one token. Concurrent callers that find it empty or
// stale share a single fetch: the first takes the semaphore and fetches,
// the rest wait for it and reuse its result.
type tokenSlot struct {
	sem     chan struct{}
	once    sync.Once
	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// get returns the cached token while it is fresh, otherwise fetches one.
// Failures are not cached.
func (s *tokenSlot) get(ctx context.Context, now func() time.Time, fetch func(context.Context) (string, error)) (string, bool, error) {
	if tok := s.cached(now()); tok != "" {
		return tok, false, nil
	}
	s.once.Do(func() { s.sem = make(chan struct{}, 1) })
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", false, ctx.Err()
	}
	defer func() { <-s.sem }()
	if tok := s.cached(now()); tok != "" {
		return tok, false, nil // another caller fetched while we waited
	}
	issued := now()
	tok, err := fetch(ctx)
	if err != nil {
		return "", false, err
	}
	s.mu.Lock()
	s.token, s.renewAt = tok, renewTime(tok, issued)
	s.mu.Unlock()
	return tok, true, nil
}

func (s *tokenSlot) cached(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && now.Before(s.renewAt) {
		return s.token
	}
	return ""
}

// invalidate drops token if it is still the cached one.
func (s *tokenSlot) invalidate(token string) {
	s.mu.Lock()
	if s.token == token {
		s.token = ""
	}
	s.mu.Unlock()
}

// renewTime is when to stop using a token issued at issued: five minutes
// before its exp, or halfway through a lifetime shorter than ten minutes.
// A token whose exp cannot be read is used for one minute.
func renewTime(token string, issued time.Time) time.Time {
	exp, err := jwtExpiry(token)
	if err != nil {
		return issued.Add(time.Minute)
	}
	life := exp.Sub(issued)
	margin := 5 * time.Minute
	if life < 2*margin {
		margin = life / 2
	}
	return exp.Add(-margin)
}

// jwtExpiry reads the exp claim of a JWT without verifying it (the registry
// verifies; we only need to know when to renew). The payload is base64url
// without padding, but padded and standard-alphabet forms are accepted too
// (WIRE.md a.6).
func jwtExpiry(token string) (time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("azacr: token is not a JWT")
	}
	seg := strings.TrimRight(parts[1], "=")
	seg = strings.NewReplacer("+", "-", "/", "_").Replace(seg)
	payload, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return time.Time{}, fmt.Errorf("azacr: token payload is not base64url: %w", err)
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return time.Time{}, fmt.Errorf("azacr: token payload is not JSON: %w", err)
	}
	secs, err := c.Exp.Float64()
	// Below one second the claim would truncate to the epoch itself.
	if err != nil || secs < 1 || secs > 1e11 {
		return time.Time{}, errors.New("azacr: token has no usable exp claim")
	}
	return time.Unix(int64(secs), 0), nil
}

// normalizeScope puts a scope set into canonical form for caching: actions
// sorted and deduplicated within each scope, scopes sorted, one space
// between. ACR lists actions in varying order ("push,pull" then
// "pull,push", WIRE.md a.1); without this every chunk of an upload would
// pay a 401 and a token call.
func normalizeScope(s string) authScope {
	fields := strings.Fields(s)
	for i, f := range fields {
		cut := strings.LastIndexByte(f, ':')
		if cut < 0 {
			continue
		}
		actions := strings.Split(f[cut+1:], ",")
		actions = slices.DeleteFunc(actions, func(a string) bool { return a == "" })
		slices.Sort(actions)
		fields[i] = f[:cut+1] + strings.Join(slices.Compact(actions), ",")
	}
	slices.Sort(fields)
	return authScope(strings.Join(slices.Compact(fields), " "))
}

// repositoryScope builds the scope string for actions on a repository.
func repositoryScope(name string, actions ...string) authScope {
	return authScope("repository:" + name + ":" + strings.Join(actions, ","))
}

// nonRetriableError marks an authentication failure as final so azcore's
// retry policy does not repeat it.
type nonRetriableError struct{ error }

func (e nonRetriableError) NonRetriable() {}
func (e nonRetriableError) Unwrap() error { return e.error }

func nonRetriable(err error) error {
	if err == nil {
		return nil
	}
	var nr interface{ NonRetriable() }
	if errors.As(err, &nr) {
		return err
	}
	return nonRetriableError{err}
}
