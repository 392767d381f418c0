package azacr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
)

// tokenResponseLimit bounds token endpoint responses; real ones are about
// 2 KiB, and a hostile server must not make us buffer without limit.
const tokenResponseLimit = 64 << 10

// tokenRequestError is a token endpoint's refusal (any status but 200). It
// wraps the *azcore.ResponseError, and tells the policy that the registry,
// not the credential, said no: with a guessed service, the registry's own
// challenge may still name one it accepts.
type tokenRequestError struct {
	path    string
	service string
	err     error // an *azcore.ResponseError
}

func (e *tokenRequestError) Error() string {
	return fmt.Sprintf("azacr: %s refused a token for service %q: %v", e.path, e.service, e.err)
}

func (e *tokenRequestError) Unwrap() error { return e.err }

// tokenClient sends the /oauth2 requests: the Entra token exchange and the
// access token requests of every grant. Its pipeline retries and logs, but
// never logs bodies (they are secrets) and never follows a redirect: a
// token request answered with a redirect would carry an Entra token, a
// refresh token or a password to wherever the registry points.
type tokenClient struct {
	endpoint  *url.URL
	cred      azcore.TokenCredential
	password  *PasswordCredential
	aadScopes []string
	pipeline  runtime.Pipeline
	checkTLS  func(*url.URL) error
}

// withoutRedirects returns t made to hand back any redirect as the
// response instead of following it. A custom Transporter that is not an
// *http.Client is used as given: such a transport sends each request once
// (an http.Client is what follows redirects), so the token request cannot
// leave for another origin through it unless it was built to.
func withoutRedirects(t policy.Transporter) policy.Transporter {
	c, ok := copyHTTPClient(t)
	if !ok {
		return t
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// accessToken asks /oauth2/token for a token for scope, with the grant that
// matches the credential (PROTOCOL.md §2.3, §2.4, §2.5). refresh supplies the ACR
// refresh token of an Entra credential, from the policy's cache.
func (tc *tokenClient) accessToken(ctx context.Context, service string, scope authScope, refresh func(context.Context) (string, error)) (string, error) {
	switch {
	case tc.password != nil:
		q := url.Values{"service": {service}, "scope": {string(scope)}}
		return tc.send(func() (*policy.Request, error) {
			req, err := runtime.NewRequest(ctx, http.MethodGet, tc.endpoint.String()+"/oauth2/token?"+q.Encode())
			if err == nil {
				req.Raw().SetBasicAuth(tc.password.username, tc.password.password)
			}
			return req, err
		}, service, "access_token")
	case tc.cred == nil:
		return tc.postForm(ctx, "/oauth2/token", service, url.Values{
			"grant_type": {"password"}, "service": {service}, "scope": {string(scope)},
		}, "access_token")
	}
	rt, err := refresh(ctx)
	if err != nil {
		return "", err
	}
	return tc.postForm(ctx, "/oauth2/token", service, url.Values{
		"grant_type": {"refresh_token"}, "service": {service}, "scope": {string(scope)}, "refresh_token": {rt},
	}, "access_token")
}

// refreshToken exchanges a Microsoft Entra token for an ACR refresh token
// for service (PROTOCOL.md §2.2).
func (tc *tokenClient) refreshToken(ctx context.Context, service string) (string, error) {
	aad, err := tc.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: tc.aadScopes})
	if err != nil {
		return "", nonRetriable(fmt.Errorf("azacr: getting a Microsoft Entra token for %s, to exchange for an ACR refresh token: %w",
			strings.Join(tc.aadScopes, " "), err))
	}
	return tc.postForm(ctx, "/oauth2/exchange", service, url.Values{
		"grant_type": {"access_token"}, "service": {service}, "access_token": {aad.Token},
	}, "refresh_token")
}

func (tc *tokenClient) postForm(ctx context.Context, path, service string, form url.Values, field string) (string, error) {
	encoded := form.Encode()
	return tc.send(func() (*policy.Request, error) {
		req, err := runtime.NewRequest(ctx, http.MethodPost, tc.endpoint.String()+path+"?api-version="+apiVersion)
		if err != nil {
			return nil, err
		}
		return req, req.SetBody(streaming.NopCloser(strings.NewReader(encoded)), "application/x-www-form-urlencoded")
	}, service, field)
}

// send sends a token request and returns the named field of its JSON
// answer. Failures are final for the operation that needed the token:
// retrying the operation would only repeat them.
func (tc *tokenClient) send(newReq func() (*policy.Request, error), service, field string) (string, error) {
	req, err := newReq()
	if err != nil {
		return "", err
	}
	if err := tc.checkTLS(req.Raw().URL); err != nil {
		return "", err
	}
	path := req.Raw().URL.Path
	resp, err := tc.pipeline.Do(req)
	// azcore reads the body after its retry policy has returned: an answer
	// cut short is asked again here, a few times, at once, each time with
	// a request of its own (net/http may still be reading the last one's
	// body).
	for tries := 1; err != nil && errors.Is(err, io.ErrUnexpectedEOF) && tries < tokenTries && req.Raw().Context().Err() == nil; tries++ {
		if req, err = newReq(); err != nil {
			return "", err
		}
		resp, err = tc.pipeline.Do(req)
	}
	if err != nil {
		return "", nonRetriable(fmt.Errorf("azacr: requesting %s: %w", path, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Redirects land here too: they are never followed.
		return "", nonRetriable(&tokenRequestError{path: path, service: service, err: newResponseError(resp)})
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, tokenResponseLimit+1))
	if err != nil {
		return "", nonRetriable(fmt.Errorf("azacr: reading the %s response: %w", path, err))
	}
	if len(b) > tokenResponseLimit {
		return "", nonRetriable(fmt.Errorf("azacr: %s response is larger than %d bytes", path, tokenResponseLimit))
	}
	var m map[string]json.RawMessage
	var tok string
	if json.Unmarshal(b, &m) != nil || json.Unmarshal(m[field], &tok) != nil || tok == "" {
		return "", nonRetriable(fmt.Errorf("azacr: %s response has no %s", path, field))
	}
	return tok, nil
}

// tokenTries is how many times a token request whose answer was cut
// short is sent.
const tokenTries = 3

// refusedByRegistry reports whether err is a token endpoint's refusal
// with a status that a different service name might change (400, 401,
// 403, 404), as opposed to a broken connection, a throttled or failing
// registry, or the credential's own failure.
func refusedByRegistry(err error) (*tokenRequestError, bool) {
	var te *tokenRequestError
	if !errors.As(err, &te) {
		return nil, false
	}
	var re *azcore.ResponseError
	if !errors.As(te.err, &re) {
		return nil, false
	}
	switch re.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return te, true
	}
	return nil, false
}
