package azacr

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock for the policy or the emulator.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestAuthWarmRepeatCostsOneRequest(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedImage(t, srv, "hello", "v1")
	c := newTestClient(t, srv, srv.Credential())
	srv.ResetRequests()

	_, err := c.GetRepositoryProperties(t.Context(), "hello", nil)
	require.NoError(t, err)
	// Cold: the scope is known before sending, so no 401 is needed.
	assert.Equal(t, requestCounts{Total: 3, Exchange: 1, Token: 1, Other: 1}, countRequests(srv))

	srv.ResetRequests()
	for range 5 {
		_, err := c.GetRepositoryProperties(t.Context(), "hello", nil)
		require.NoError(t, err)
	}
	assert.Equal(t, requestCounts{Total: 5, Other: 5}, countRequests(srv))
}

func TestAuthAlternatingScopesFetchEachOnce(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedImage(t, srv, "a", "v1")
	seedImage(t, srv, "b", "v1")
	c := newTestClient(t, srv, srv.Credential())
	srv.ResetRequests()

	ops := 0
	pass := func() {
		_, err := c.NewListRepositoriesPager(nil).NextPage(t.Context())
		require.NoError(t, err)
		ops++
		for _, repo := range []string{"a", "b"} {
			_, err := c.GetRepositoryProperties(t.Context(), repo, nil)
			require.NoError(t, err)
			_, err = c.UpdateRepositoryProperties(t.Context(), repo, &ContainerRegistryClientUpdateRepositoryPropertiesOptions{
				Value: &RepositoryWriteableProperties{CanList: to.Ptr(true)},
			})
			require.NoError(t, err)
			ops += 2
		}
	}
	pass()
	// Five distinct scopes: catalog, and metadata_read/metadata_write on
	// each repository; one exchange for all of them.
	first := countRequests(srv)
	assert.Equal(t, requestCounts{Total: ops + 6, Exchange: 1, Token: 5, Other: ops}, first)

	srv.ResetRequests()
	ops = 0
	pass()
	assert.Equal(t, requestCounts{Total: ops, Other: ops}, countRequests(srv), "the second pass must need no token call")
}

func TestAuthColdConcurrentRequestsShareOneExchange(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedImage(t, srv, "hello", "v1")
	c := newTestClient(t, srv, srv.Credential())
	srv.ResetRequests()

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			_, err := c.GetRepositoryProperties(t.Context(), "hello", nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, requestCounts{Total: 66, Exchange: 1, Token: 1, Other: 64}, countRequests(srv))
	assert.Len(t, srv.Credential().Scopes(), 1, "one Entra token for all of them")
}

func TestAuthRefreshTokenRenewedBeforeExpiry(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedImage(t, srv, "a", "v1")
	seedImage(t, srv, "b", "v1")
	c := newTestClient(t, srv, srv.Credential())
	clock := newFakeClock()
	c.auth.now = clock.Now

	_, err := c.GetRepositoryProperties(t.Context(), "a", nil)
	require.NoError(t, err)
	// ACR refresh tokens live 3 hours; four minutes before the end the
	// client must already have renewed rather than risk a failure mid-push.
	clock.Advance(3*time.Hour - 4*time.Minute)
	srv.ResetRequests()
	_, err = c.GetRepositoryProperties(t.Context(), "b", nil)
	require.NoError(t, err)
	assert.Equal(t, requestCounts{Total: 3, Exchange: 1, Token: 1, Other: 1}, countRequests(srv))
}

func TestAuthExpiredAccessTokenIsNotSent(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedImage(t, srv, "hello", "v1")
	c := newTestClient(t, srv, srv.Credential())
	clock := newFakeClock()
	c.auth.now = clock.Now

	_, err := c.GetRepositoryProperties(t.Context(), "hello", nil)
	require.NoError(t, err)
	old := bearerOf(srv.Requests()[len(srv.Requests())-1])

	clock.Advance(75 * time.Minute) // the access token's whole lifetime
	srv.ResetRequests()
	_, err = c.GetRepositoryProperties(t.Context(), "hello", nil)
	require.NoError(t, err)
	log := srv.Requests()
	assert.Equal(t, requestCounts{Total: 2, Token: 1, Other: 1}, countRequests(srv))
	assert.NotEqual(t, old, bearerOf(log[len(log)-1]))
}

func TestAuthRejectedCachedTokenIsRefreshedOnce(t *testing.T) {
	serverClock := newFakeClock()
	srv := acrtest.NewServer(t, &acrtest.Options{Now: serverClock.Now})
	seedImage(t, srv, "hello", "v1")
	c := newTestClient(t, srv, srv.Credential())
	_, err := c.GetRepositoryProperties(t.Context(), "hello", nil)
	require.NoError(t, err)

	// The registry's clock runs ahead: it now finds the cached access token
	// expired (invalid_token) while the refresh token is still good.
	serverClock.Advance(2 * time.Hour)
	srv.ResetRequests()
	_, err = c.GetRepositoryProperties(t.Context(), "hello", nil)
	require.NoError(t, err)
	assert.Equal(t, requestCounts{Total: 3, Unauthorized: 1, Token: 1, Other: 1}, countRequests(srv))
	assert.Equal(t, http.StatusUnauthorized, srv.Requests()[0].Status)
}

func TestAuthSecond401IsResponseErrorNotLoop(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{Users: []acrtest.User{
		{Name: "reader", Password: "s3cret", Repositories: map[string][]string{"hello": {"metadata_read"}}},
	}})
	seedImage(t, srv, "hello", "v1")
	c := newTestClient(t, srv, NewPasswordCredential("reader", "s3cret"))
	srv.ResetRequests()

	_, err := c.UpdateRepositoryProperties(t.Context(), "hello", &ContainerRegistryClientUpdateRepositoryPropertiesOptions{
		Value: &RepositoryWriteableProperties{CanWrite: to.Ptr(false)},
	})
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
	assert.Equal(t, "UNAUTHORIZED", re.ErrorCode)
	// The first, bare request learns the scheme (401); then one token
	// call, one refused retry, and no more: the token was issued for this
	// request, so another would be refused too.
	assert.Equal(t, requestCounts{Total: 3, Unauthorized: 2, Token: 1}, countRequests(srv))

	// Reads within the user's rights work with the same credential.
	_, err = c.GetRepositoryProperties(t.Context(), "hello", nil)
	require.NoError(t, err)
}

func TestAuthPasswordCredentialUsesBasicLogin(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{Users: []acrtest.User{{Name: "admin", Password: "pw"}}})
	seedImage(t, srv, "hello", "v1")
	c := newTestClient(t, srv, NewPasswordCredential("admin", "pw"))
	srv.ResetRequests()
	_, err := c.GetRepositoryProperties(t.Context(), "hello", nil)
	require.NoError(t, err)
	// A password client learns from the first challenge whether the
	// registry has a token service (ACR) or wants Basic on every request.
	log := srv.Requests()
	require.Len(t, log, 3)
	assert.Equal(t, http.StatusUnauthorized, log[0].Status)
	assert.Equal(t, http.MethodGet, log[1].Method)
	assert.Equal(t, "/oauth2/token", log[1].Path)
	assert.Equal(t, "basic", log[1].Auth)
	srv.ResetRequests()
	_, err = c.GetRepositoryProperties(t.Context(), "hello", nil)
	require.NoError(t, err)
	assert.Len(t, srv.Requests(), 1, "warm: the cached token goes on the first try")

	bad := newTestClient(t, srv, NewPasswordCredential("admin", "wrong"))
	_, err = bad.GetRepositoryProperties(t.Context(), "hello", nil)
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusUnauthorized, re.StatusCode)

	_, err = NewPasswordCredential("a", "b").GetToken(t.Context(), policy.TokenRequestOptions{})
	assert.ErrorIs(t, err, errPasswordCredential)
}

func TestAuthPasswordCredentialWithBasicRegistry(t *testing.T) {
	var mu sync.Mutex
	var auths []string
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"repositories":["a"]}`))
	}))
	defer ts.Close()
	c, err := NewContainerRegistryClient(ts.URL, NewPasswordCredential("user", "pw"), &ContainerRegistryClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: ts.Client()},
	})
	require.NoError(t, err)
	for range 2 {
		_, err = c.NewListRepositoriesPager(nil).NextPage(t.Context())
		require.NoError(t, err)
	}
	require.Len(t, auths, 3, "one challenge, then Basic on every request")
	assert.Empty(t, auths[0])
	assert.True(t, strings.HasPrefix(auths[1], "Basic "))
	assert.Equal(t, auths[1], auths[2])
}

func TestAuthAnonymous(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{AnonymousPull: true})
	seedImage(t, srv, "a", "v1")
	seedImage(t, srv, "b", "v1")
	c := newTestClient(t, srv, nil)
	srv.ResetRequests()

	_, err := c.NewListTagsPager("a", nil).NextPage(t.Context())
	require.NoError(t, err)
	// Anonymous clients learn from the first challenge that tokens are
	// needed: request, 401, password-grant token, retry.
	log := srv.Requests()
	require.Len(t, log, 3)
	assert.Equal(t, http.StatusUnauthorized, log[0].Status)
	assert.Equal(t, "/oauth2/token", log[1].Path)
	assert.Empty(t, log[1].Auth, "anonymous grant carries no credential")
	assert.Equal(t, http.StatusOK, log[2].Status)
	assert.Zero(t, countRequests(srv).Exchange)

	srv.ResetRequests()
	_, err = c.NewListTagsPager("a", nil).NextPage(t.Context())
	require.NoError(t, err)
	_, err = c.NewListTagsPager("b", nil).NextPage(t.Context())
	require.NoError(t, err)
	// Same scope: cached. New scope: fetched before sending, no 401.
	assert.Equal(t, requestCounts{Total: 3, Token: 1, Other: 2}, countRequests(srv))

	_, err = c.UpdateTagProperties(t.Context(), "a", "v1", &ContainerRegistryClientUpdateTagPropertiesOptions{
		Value: &TagWriteableProperties{CanWrite: to.Ptr(false)},
	})
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re, "anonymous writes must fail")
	assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
}

func TestAuthAnonymousDisabledIsClearError(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedImage(t, srv, "a", "v1")
	c := newTestClient(t, srv, nil)
	_, err := c.GetRepositoryProperties(t.Context(), "a", nil)
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
	assert.Contains(t, re.Error(), "oauth2/token")
}

func TestAuthAudience(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedImage(t, srv, "a", "v1")
	c := newTestClient(t, srv, srv.Credential())
	_, err := c.GetRepositoryProperties(t.Context(), "a", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"https://containerregistry.azure.net/.default"}, srv.Credential().Scopes())

	arm, err := NewContainerRegistryClient(srv.URL, srv.Credential(), &ContainerRegistryClientOptions{
		ClientOptions: testClientOptions(srv), Audience: "https://management.azure.com/",
	})
	require.NoError(t, err)
	_, err = arm.GetRepositoryProperties(t.Context(), "a", nil)
	require.NoError(t, err)
	assert.Equal(t, "https://management.azure.com/.default", srv.Credential().Scopes()[1])

	// A registry that accepts only the ACR audience refuses ARM tokens.
	strict := acrtest.NewServer(t, &acrtest.Options{Audiences: []string{acrtest.ACRAudience}})
	seedImage(t, strict, "a", "v1")
	armStrict, err := NewContainerRegistryClient(strict.URL, strict.Credential(), &ContainerRegistryClientOptions{
		ClientOptions: testClientOptions(strict), Audience: "https://management.azure.com",
	})
	require.NoError(t, err)
	_, err = armStrict.GetRepositoryProperties(t.Context(), "a", nil)
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "/oauth2/exchange", re.RawResponse.Request.URL.Path)
}

func TestAuthRefusesCredentialsOverPlainHTTP(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c, err := NewContainerRegistryClient("http://"+srv.Host, srv.Credential(), &ContainerRegistryClientOptions{ClientOptions: testClientOptions(srv)})
	require.NoError(t, err)
	srv.ResetRequests()
	_, err = c.GetRepositoryProperties(t.Context(), "hello", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plain HTTP")
	assert.Empty(t, srv.Requests(), "nothing may be sent")
	assert.Empty(t, srv.Credential().Scopes(), "no Entra token is even requested")

	opts := testClientOptions(srv)
	opts.InsecureAllowCredentialWithHTTP = true
	c, err = NewContainerRegistryClient("http://"+srv.Host, srv.Credential(), &ContainerRegistryClientOptions{ClientOptions: opts})
	require.NoError(t, err)
	_, err = c.GetRepositoryProperties(t.Context(), "hello", nil)
	require.Error(t, err) // the TLS server cannot answer plain HTTP, but the client tried
	assert.NotContains(t, err.Error(), "plain HTTP")
}

func TestAuthNoTokenToOtherHosts(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seedImage(t, srv, "hello", "v1")
	c := newTestClient(t, srv, srv.Credential())
	var got []string
	var mu sync.Mutex
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer other.Close()
	// A request through the client's own pipeline, with a scope, aimed at
	// another host: it must leave without a token.
	req, err := runtime.NewRequest(t.Context(), http.MethodGet, other.URL+"/v2/")
	require.NoError(t, err)
	req.SetOperationValue(repositoryScope("hello", "pull"))
	resp, err := c.internal.Pipeline().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, got, 1)
	assert.Empty(t, got[0])
}

func TestNormalizeScope(t *testing.T) {
	for in, want := range map[string]authScope{
		"repository:a:push,pull":                   "repository:a:pull,push",
		"repository:a:pull,push":                   "repository:a:pull,push",
		"repository:a:pull,pull,,push":             "repository:a:pull,push",
		"repository:b:pull repository:a:push,pull": "repository:a:pull,push repository:b:pull",
		" repository:a:pull  repository:a:pull ":   "repository:a:pull",
		"registry:catalog:*":                       "registry:catalog:*",
		"repository:team/app:delete":               "repository:team/app:delete",
		"":                                         "",
		"garbage":                                  "garbage",
		"repository:hello-world:pull,push repository:hello-world-test:pull": "repository:hello-world-test:pull repository:hello-world:pull,push",
	} {
		assert.Equal(t, want, normalizeScope(in), in)
	}
}

func TestJWTExpiry(t *testing.T) {
	// {"exp":1700000000}
	payload := "eyJleHAiOjE3MDAwMDAwMDB9"
	for _, tok := range []string{"h." + payload + ".s", "h." + payload + "=.s", "h." + payload + "==.s"} {
		exp, err := jwtExpiry(tok)
		require.NoError(t, err, tok)
		assert.Equal(t, int64(1700000000), exp.Unix())
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a.e30.c" /* {} */, "a.eyJleHAiOiJ4In0.c" /* {"exp":"x"} */} {
		_, err := jwtExpiry(bad)
		assert.Error(t, err, bad)
	}
}

func TestNonRetriableWrapping(t *testing.T) {
	base := errors.New("boom")
	err := nonRetriable(base)
	assert.ErrorIs(t, err, base)
	var nr interface{ NonRetriable() }
	assert.ErrorAs(t, err, &nr)
	assert.Equal(t, err, nonRetriable(err), "wrapping is idempotent")
	assert.NoError(t, nonRetriable(nil))
}
