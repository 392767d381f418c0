package azacr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// authScope is the access an operation needs, in challenge form
// ("repository:hello:pull"). Operations attach it to their request with
// SetOperationValue so the policy can send a cached token on the first try
// instead of learning the scope from a 401.
type authScope string

// authenticationPolicy authorizes registry requests with ACR access tokens.
// It exchanges a Microsoft Entra token for a refresh token
// (POST /oauth2/exchange), the refresh token for access tokens
// (POST /oauth2/token), and caches both until shortly before their JWT exp:
// refresh tokens per service, access tokens per service and normalised
// scope. It only authorizes; retrying is the retry policy's job.
type authenticationPolicy struct {
	endpoint  *url.URL // scheme and host of the registry
	cred      azcore.TokenCredential
	password  *PasswordCredential
	allowHTTP bool
	tokens    *tokenClient
	cache     *tokenCache
	now       func() time.Time

	// guessed is the service the endpoint names (its host, normalised),
	// used until a challenge names the registry's own.
	guessed string
	// service is the service of the registry's latest challenge; nil
	// before the first challenge that names one.
	service atomic.Pointer[string]
	// challenged records that the registry answered with a Bearer
	// challenge, so an anonymous client fetches tokens before sending.
	challenged atomic.Bool
	// basic records a Basic challenge: a password client then
	// authenticates every request directly.
	basic atomic.Bool
}

func newAuthenticationPolicy(endpoint *url.URL, cred azcore.TokenCredential, audience string, pl runtime.Pipeline, allowHTTP bool) *authenticationPolicy {
	p := &authenticationPolicy{
		endpoint:  &url.URL{Scheme: endpoint.Scheme, Host: endpoint.Host},
		allowHTTP: allowHTTP,
		cache:     newTokenCache(maxCachedTokens),
		now:       time.Now,
		guessed:   endpointService(endpoint),
	}
	tc := &tokenClient{
		endpoint:  p.endpoint,
		aadScopes: []string{strings.TrimSuffix(audience, "/") + "/.default"},
		pipeline:  pl,
		checkTLS:  p.checkTLS,
	}
	switch c := cred.(type) {
	case nil:
	case *PasswordCredential:
		p.password, tc.password = c, c
	default:
		p.cred, tc.cred = c, c
	}
	p.tokens = tc
	return p
}

// sentToken records what the first sending of a request carried.
type sentToken struct {
	token   string // "" when it carried none
	service string // the service the token (or the refusal) was for
	fresh   bool   // the token was fetched for this request, not cached
	// refused is the token endpoint's refusal for a guessed service; the
	// request then went out without a token to learn the registry's own.
	refused error
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
	sent, err := p.authorizeAhead(req, scope)
	if err != nil {
		return nil, err
	}
	resp, err := req.Next()
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if resp.Request != nil && !p.sameOrigin(resp.Request.URL) {
		// The 401 comes from where a redirect led (Azure Storage, for blob
		// reads): that host has no say in how we authenticate to the
		// registry, neither its service, nor its scope, nor its scheme.
		return p.final(resp)
	}
	return p.answerChallenge(req, resp, scope, sent)
}

// authorizeAhead puts a token on the request before its first sending
// when the scope is known and the registry is known to want tokens, so the
// steady state costs no 401.
func (p *authenticationPolicy) authorizeAhead(req *policy.Request, scope authScope) (sentToken, error) {
	if scope == "" || !p.proactive() {
		return sentToken{}, nil
	}
	raw := req.Raw()
	// Refuse before any token is fetched, so not even the Entra token is
	// requested for a request that could not carry it.
	if err := p.checkTLS(raw.URL); err != nil {
		return sentToken{}, err
	}
	learned := p.service.Load()
	service := p.guessed
	if learned != nil {
		service = *learned
	}
	tok, fresh, err := p.accessToken(raw.Context(), service, scope)
	if err != nil {
		if _, ok := refusedByRegistry(err); ok {
			// The service may be wrong: guessed from the endpoint (a
			// registry may name itself otherwise: a connected registry, a
			// proxy, an alias), or learned from a challenge the token
			// endpoint now refuses. Forget a learned one, and send without
			// a token: the challenge names the service the registry
			// accepts. One refusal of the challenge's own service ends it.
			if learned != nil {
				p.service.CompareAndSwap(learned, nil)
			}
			return sentToken{service: service, refused: err}, nil
		}
		return sentToken{}, p.failed(req, scope, err)
	}
	raw.Header.Set("Authorization", "Bearer "+tok)
	return sentToken{token: tok, service: service, fresh: fresh}, nil
}

// answerChallenge handles a 401: it authenticates as the challenge asks,
// for the service and scope it names, and resends once. A second 401 goes
// back to the caller.
func (p *authenticationPolicy) answerChallenge(req *policy.Request, resp *http.Response, scope authScope, sent sentToken) (*http.Response, error) {
	values := resp.Header.Values("WWW-Authenticate")
	ch, ok := bearerChallenge(values)
	if !ok {
		if p.password != nil && sent.token == "" && basicChallenge(values) {
			// A registry with plain Basic authentication (no token
			// service): send the password with every request from now on.
			p.basic.Store(true)
			runtime.Drain(resp)
			if err := req.RewindBody(); err != nil {
				return nil, err
			}
			return p.sendBasic(req)
		}
		return p.final(resp)
	}
	service, want := p.learn(ch, scope)
	switch {
	case sent.refused != nil && service == sent.service:
		// The registry names the very service it refused a token for: the
		// refusal was about the credential, not the name.
		runtime.Drain(resp)
		return nil, p.failed(req, scope, sent.refused)
	case sent.token != "" && want == scope && service == sent.service:
		if sent.fresh {
			// The token was issued for this very request and still refused:
			// the identity lacks the permission. Another try cannot help.
			return p.final(resp)
		}
		// A cached token was refused (revoked, or expired early): drop it
		// and fetch once more.
		p.cache.slot(tokenKey{service: service, scope: scope}, p.now()).invalidate(sent.token)
	}
	// The 401 is read to its end before the token requests, so its
	// connection can carry them.
	runtime.Drain(resp)
	if err := p.checkTLS(req.Raw().URL); err != nil {
		return nil, err
	}
	tok, _, err := p.accessToken(req.Raw().Context(), service, want)
	if err != nil {
		return nil, p.failed(req, want, err)
	}
	if err := req.RewindBody(); err != nil {
		return nil, err
	}
	req.Raw().Header.Set("Authorization", "Bearer "+tok)
	resp, err = req.Next()
	if err != nil {
		return nil, err
	}
	// One retry only: a second 401 goes back to the caller as an error.
	return p.final(resp)
}

// learn takes what a Bearer challenge says: that the registry wants
// tokens, the service to ask them for (the registry's word wins over our
// guess, now and for every later request), and the scope to ask, which is
// the request's own when the challenge names none.
func (p *authenticationPolicy) learn(ch bearerParams, scope authScope) (string, authScope) {
	p.challenged.Store(true)
	service, _ := p.currentService()
	if ch.service != "" {
		svc := ch.service
		p.service.Store(&svc)
		service = svc
	}
	want := normalizeScope(ch.scope)
	if want == "" {
		// GET /v2/ challenges without a scope (PROTOCOL.md §2.1); the catalog
		// scope is what ACR grants for it after authentication.
		want = scope
		if want == "" {
			want = "registry:catalog:*"
		}
	}
	return service, want
}

// final hands back the answer to a request the policy is done with. An
// anonymous client's 401 becomes an error that says why: the registry
// wants a credential the client does not have. The *azcore.ResponseError
// stays reachable with errors.As.
func (p *authenticationPolicy) final(resp *http.Response) (*http.Response, error) {
	if resp.StatusCode != http.StatusUnauthorized || p.cred != nil || p.password != nil {
		return resp, nil
	}
	re := newResponseError(resp)
	return nil, nonRetriable(&multiError{
		msg:  "azacr: the registry refused a request from a client with no credential (anonymous access reads at most; pass a credential to the constructor): " + re.Error(),
		errs: []error{re},
	})
}

// failed wraps a failure to authenticate req with what the client was
// doing. It is final: the retry policy would only repeat it.
func (p *authenticationPolicy) failed(req *policy.Request, scope authScope, err error) error {
	how := ""
	if p.cred == nil && p.password == nil {
		how = " anonymously (the client has no credential)"
	}
	return nonRetriable(fmt.Errorf("azacr: authenticating %s %s for %s%s: %w", req.Raw().Method, req.Raw().URL.Path, scope, how, err))
}

// proactive reports whether to fetch a token before the first send. With an
// Entra credential the registry is ACR and always challenges. Anonymous and
// password clients wait for a first challenge: a registry without
// authentication never sends one, and one with plain Basic authentication
// has no token endpoint.
func (p *authenticationPolicy) proactive() bool {
	return p.cred != nil || p.challenged.Load()
}

// currentService returns the service to ask tokens for, and whether it
// was learned from a challenge rather than guessed from the endpoint.
func (p *authenticationPolicy) currentService() (string, bool) {
	if s := p.service.Load(); s != nil {
		return *s, true
	}
	return p.guessed, false
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

// accessToken returns a valid access token for service and scope from the
// cache, fetching one when there is none; fresh reports that it was
// fetched rather than cached.
func (p *authenticationPolicy) accessToken(ctx context.Context, service string, scope authScope) (string, bool, error) {
	return p.cache.slot(tokenKey{service: service, scope: scope}, p.now()).get(ctx, p.now, func(ctx context.Context) (string, error) {
		return p.fetchAccessToken(ctx, service, scope)
	})
}

// fetchAccessToken asks the token endpoint for an access token. For an
// Entra credential a cached refresh token that the registry no longer
// accepts (revoked, or its clock disagrees) is exchanged again, once.
func (p *authenticationPolicy) fetchAccessToken(ctx context.Context, service string, scope authScope) (string, error) {
	var used string
	var usedFresh bool
	refresh := func(ctx context.Context) (string, error) {
		rt, fresh, err := p.cache.slot(tokenKey{service: service, refresh: true}, p.now()).get(ctx, p.now, func(ctx context.Context) (string, error) {
			return p.tokens.refreshToken(ctx, service)
		})
		used, usedFresh = rt, fresh
		return rt, err
	}
	tok, err := p.tokens.accessToken(ctx, service, scope, refresh)
	var re *azcore.ResponseError
	if used != "" && !usedFresh && errors.As(err, &re) && re.StatusCode == http.StatusUnauthorized {
		p.cache.slot(tokenKey{service: service, refresh: true}, p.now()).invalidate(used)
		tok, err = p.tokens.accessToken(ctx, service, scope, refresh)
	}
	return tok, err
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
