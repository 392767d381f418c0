package azacr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEndpointService(t *testing.T) {
	for in, want := range map[string]string{
		"https://myreg.azurecr.io":          "myreg.azurecr.io",
		"https://MyReg.AzureCR.io":          "myreg.azurecr.io",
		"https://myreg.azurecr.io:443":      "myreg.azurecr.io",
		"https://MYREG.azurecr.io:443/":     "myreg.azurecr.io",
		"http://registry.local:80":          "registry.local",
		"https://registry.local:5000":       "registry.local:5000",
		"http://registry.local:443":         "registry.local:443",
		"https://127.0.0.1:8443":            "127.0.0.1:8443",
		"https://[::1]:443":                 "[::1]",
		"https://[::1]:8443":                "[::1]:8443",
		"https://[2001:DB8::1]":             "[2001:db8::1]",
		"https://connected.example.com:443": "connected.example.com",
	} {
		ep, err := parseEndpoint(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, endpointService(ep), in)
	}
}

// TestAuthLearnsServiceWhenTheGuessIsRefused: the endpoint names another
// host than the registry's service (a proxy in front of it, an alias, a
// connected registry). The registry refuses the guessed service; the
// client learns the service from the challenge once and keeps using it.
func TestAuthLearnsServiceWhenTheGuessIsRefused(t *testing.T) {
	for _, kind := range []string{"entra", "password", "anonymous"} {
		t.Run(kind, func(t *testing.T) {
			srv := acrtest.NewServer(t, &acrtest.Options{AnonymousPull: true, Users: []acrtest.User{{Name: "admin", Password: "pw"}}})
			seedImage(t, srv, "hello", "v1")
			seedImage(t, srv, "world", "v1")
			f := newHostileFront(t, srv) // forwards only: its host is not the registry's service
			var cred azcore.TokenCredential
			switch kind {
			case "entra":
				cred = srv.Credential()
			case "password":
				cred = NewPasswordCredential("admin", "pw")
			}
			c, err := NewContainerRegistryClient(f.URL, cred, &ContainerRegistryClientOptions{ClientOptions: frontOptions(f)})
			require.NoError(t, err)
			_, err = c.GetManifest(t.Context(), "hello", "v1", nil)
			require.NoError(t, err)

			srv.ResetRequests()
			_, err = c.GetManifest(t.Context(), "hello", "v1", nil)
			require.NoError(t, err)
			assert.Equal(t, requestCounts{Total: 1, Other: 1}, countRequests(srv), "warm: the learned service's token is reused")

			srv.ResetRequests()
			_, err = c.GetManifest(t.Context(), "world", "v1", nil)
			require.NoError(t, err)
			assert.Equal(t, requestCounts{Total: 2, Token: 1, Other: 1}, countRequests(srv), "a new scope: one token request for the learned service, no 401")
			for _, r := range srv.Requests() {
				if r.Path == "/oauth2/token" {
					svc := r.RawQuery
					if r.Method == http.MethodPost {
						svc = "" // the form is not logged; the status says the service was right
					}
					assert.Equal(t, http.StatusOK, r.Status, svc)
				}
			}
		})
	}
}

// TestAuthFollowsAChallengeNamingAnotherService: the token endpoint issues
// tokens for any service, but the registry accepts only its own and says
// so in its challenge. The client must not stop at "a fresh token was
// refused": the challenge named another service.
func TestAuthFollowsAChallengeNamingAnotherService(t *testing.T) {
	var services []string
	var mu sync.Mutex
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth2/exchange":
			_ = r.ParseForm()
			fmt.Fprintf(w, `{"refresh_token":"rt-%s"}`, r.PostForm.Get("service"))
		case "/oauth2/token":
			_ = r.ParseForm()
			mu.Lock()
			services = append(services, r.PostForm.Get("service"))
			mu.Unlock()
			fmt.Fprintf(w, `{"access_token":"at-%s"}`, r.PostForm.Get("service"))
		default:
			if r.Header.Get("Authorization") != "Bearer at-real.example" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="https://real.example/oauth2/token",service="real.example",scope="repository:a:metadata_read"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"imageName":"a"}`)
		}
	}))
	defer ts.Close()
	c, err := NewContainerRegistryClient(ts.URL, staticCredential{}, &ContainerRegistryClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: ts.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	require.NoError(t, err)
	for range 3 {
		_, err = c.GetRepositoryProperties(t.Context(), "a", nil)
		require.NoError(t, err)
	}
	host := strings.TrimPrefix(ts.URL, "https://")
	assert.Equal(t, []string{host, "real.example"}, services, "one guess, then the registry's service for good")
}

// staticCredential is an Entra credential that always succeeds.
type staticCredential struct{}

func (staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "entra", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestAuthRefusalOfTheRightServiceIsReturned: when the registry confirms
// the service it refused (a credential with the wrong audience, say), the
// refusal is the answer; it is not asked for again.
func TestAuthRefusalOfTheRightServiceIsReturned(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{Audiences: []string{acrtest.ACRAudience}})
	seedImage(t, srv, "a", "v1")
	c, err := NewContainerRegistryClient(srv.URL, srv.Credential(), &ContainerRegistryClientOptions{
		ClientOptions: testClientOptions(srv), Audience: "https://management.azure.com",
	})
	require.NoError(t, err)
	srv.ResetRequests()
	_, err = c.GetRepositoryProperties(t.Context(), "a", nil)
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "/oauth2/exchange", re.RawResponse.Request.URL.Path)
	assert.Equal(t, 1, srv.CountRequests(http.MethodPost, "/oauth2/exchange"), "one exchange, not one per guess")
	assert.Contains(t, err.Error(), "GET /acr/v1/a", "the error says what the client was doing")
}

// countingFailingCredential fails every GetToken, slowly, and counts calls.
type countingFailingCredential struct {
	calls   atomic.Int32
	release chan struct{}
	err     error
}

func (c *countingFailingCredential) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	select {
	case <-c.release:
	case <-ctx.Done():
		return azcore.AccessToken{}, ctx.Err()
	}
	return azcore.AccessToken{}, c.err
}

// TestAuthConcurrentCallersShareAFailure: 32 callers waiting on one token
// share its failure as they would share its success: the credential is
// asked once, and every caller sees its error, wrapped with what the
// client was doing.
func TestAuthConcurrentCallersShareAFailure(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	boom := errors.New("entra is down")
	cred := &countingFailingCredential{release: make(chan struct{}), err: boom}
	c := newTestClient(t, srv, cred)
	const callers = 32
	var started, done sync.WaitGroup
	errs := make([]error, callers)
	for i := range callers {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			_, errs[i] = c.GetRepositoryProperties(t.Context(), "a", nil)
		}()
	}
	started.Wait()
	time.Sleep(100 * time.Millisecond) // let every caller reach the flight
	close(cred.release)
	done.Wait()
	assert.EqualValues(t, 1, cred.calls.Load(), "one attempt, shared")
	for _, err := range errs {
		require.ErrorIs(t, err, boom)
		assert.Contains(t, err.Error(), "Microsoft Entra token")
		assert.Contains(t, err.Error(), "/acr/v1/a")
	}
	assert.Zero(t, srv.CountRequests("", "/"), "nothing reaches the registry without a token")
}

func TestTokenSlotSharesOutcomes(t *testing.T) {
	now := time.Now
	t.Run("failure", func(t *testing.T) {
		var s tokenSlot
		var calls atomic.Int32
		release := make(chan struct{})
		boom := errors.New("boom")
		var started, done sync.WaitGroup
		for range 16 {
			started.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				started.Done()
				_, _, err := s.get(t.Context(), now, func(context.Context) (string, error) {
					calls.Add(1)
					<-release
					return "", boom
				})
				assert.ErrorIs(t, err, boom)
			}()
		}
		started.Wait()
		time.Sleep(50 * time.Millisecond)
		close(release)
		done.Wait()
		assert.EqualValues(t, 1, calls.Load())
		// Failures are not cached: the next caller tries again.
		tok, fresh, err := s.get(t.Context(), now, func(context.Context) (string, error) { return "t", nil })
		require.NoError(t, err)
		assert.Equal(t, "t", tok)
		assert.True(t, fresh)
	})
	t.Run("leader cancelled", func(t *testing.T) {
		// The fetching caller's context ends; a waiter whose context is
		// live fetches for itself rather than inherit the cancellation.
		var s tokenSlot
		leaderCtx, cancel := context.WithCancel(t.Context())
		inFetch := make(chan struct{})
		go func() {
			_, _, err := s.get(leaderCtx, now, func(ctx context.Context) (string, error) {
				close(inFetch)
				<-ctx.Done()
				return "", ctx.Err()
			})
			assert.ErrorIs(t, err, context.Canceled)
		}()
		<-inFetch
		result := make(chan error, 1)
		go func() {
			tok, _, err := s.get(t.Context(), now, func(context.Context) (string, error) { return "mine", nil })
			if err == nil && tok != "mine" {
				err = fmt.Errorf("got %q", tok)
			}
			result <- err
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		require.NoError(t, <-result)
	})
	t.Run("waiter cancelled", func(t *testing.T) {
		var s tokenSlot
		release := make(chan struct{})
		inFetch := make(chan struct{})
		go func() {
			_, _, _ = s.get(t.Context(), now, func(context.Context) (string, error) {
				close(inFetch)
				<-release
				return "t", nil
			})
		}()
		<-inFetch
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		_, _, err := s.get(ctx, now, func(context.Context) (string, error) { return "never", nil })
		assert.ErrorIs(t, err, context.DeadlineExceeded, "a waiter's own context bounds its wait")
		close(release)
	})
}

func TestTokenCacheIsBounded(t *testing.T) {
	c := newTokenCache(512)
	now := time.Now()
	var hot *tokenSlot
	for i := range 100_000 {
		s := c.slot(tokenKey{service: "r", scope: authScope(fmt.Sprintf("repository:r%d:pull", i))}, now)
		s.token, s.renewAt = "tok", now.Add(time.Hour)
		if i == 0 {
			hot = s
		}
		// One scope stays in use throughout: it must survive eviction.
		assert.Same(t, hot, c.slot(tokenKey{service: "r", scope: "repository:r0:pull"}, now))
		require.LessOrEqual(t, c.len(), 512)
	}
	// Stale tokens go first, before fresh ones.
	c = newTokenCache(8)
	for i := range 8 {
		s := c.slot(tokenKey{scope: authScope(fmt.Sprint(i))}, now)
		s.token, s.renewAt = "tok", now.Add(time.Duration(i%2)*time.Hour) // even: stale
	}
	c.slot(tokenKey{scope: "new"}, now)
	for i := range 8 {
		c.mu.Lock()
		_, kept := c.slots[tokenKey{scope: authScope(fmt.Sprint(i))}]
		c.mu.Unlock()
		assert.Equal(t, i%2 == 1, kept, "slot %d", i)
	}
}

// TestAuthTokenCacheStaysFlatOverACatalogWalk walks more repositories than
// the cache holds through a real client.
func TestAuthTokenCacheStaysFlatOverACatalogWalk(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestClient(t, srv, srv.Credential())
	const repos = maxCachedTokens + 88
	for i := range repos {
		// The repositories need not exist: each lookup costs a token for
		// its scope either way.
		_, err := c.GetRepositoryProperties(t.Context(), fmt.Sprintf("r%d", i), nil)
		var re *azcore.ResponseError
		require.ErrorAs(t, err, &re)
		require.Equal(t, http.StatusNotFound, re.StatusCode)
		require.LessOrEqual(t, c.auth.cache.len(), maxCachedTokens)
	}
}

// TestAuthAnonymousRefusalSaysThereIsNoCredential: an anonymous client's
// write is refused with an error that says why, and the registry's
// ResponseError stays reachable.
func TestAuthAnonymousRefusalSaysThereIsNoCredential(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{AnonymousPull: true})
	seedImage(t, srv, "a", "v1")
	c := newTestClient(t, srv, nil)
	for _, warm := range []bool{false, true} {
		if warm {
			_, err := c.GetTagProperties(t.Context(), "a", "v1", nil)
			require.NoError(t, err)
		}
		_, err := c.UpdateTagProperties(t.Context(), "a", "v1", &ContainerRegistryClientUpdateTagPropertiesOptions{
			Value: &TagWriteableProperties{CanWrite: to.Ptr(false)},
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no credential", "warm=%v", warm)
		var re *azcore.ResponseError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
	}
	b, err := NewBlobClient(srv.URL, nil, &BlobClientOptions{ClientOptions: testClientOptions(srv)})
	require.NoError(t, err)
	_, err = b.UploadBlob(t.Context(), "a", strings.NewReader("data"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no credential")
}

// TestAuthHugeChallengeIsNotBelieved: a challenge far larger than any ACR
// sends is not turned into a token request of its size.
func TestAuthHugeChallengeIsNotBelieved(t *testing.T) {
	var tokenCalls atomic.Int32
	scope := strings.Repeat("repository:x:pull ", 20_000)
	c := fakeRegistry(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/token" {
			tokenCalls.Add(1)
			fmt.Fprint(w, `{"access_token":"tok"}`)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="r",service="s",scope="`+scope+`"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	_, err := c.GetRepositoryProperties(t.Context(), "a", nil)
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
	assert.Zero(t, tokenCalls.Load())
}

// TestAuthChallengeAndBlobReadsReuseOneConnection: a blob GET that is
// challenged, authenticated, retried and read, five times over, needs one
// connection: every response on the way (the 401, the token answers, each
// body) is read to its end. (azcore buffers error bodies itself; blob
// bodies are left to their reader and closed by it.)
func TestAuthChallengeAndBlobReadsReuseOneConnection(t *testing.T) {
	var conns atomic.Int32
	content := []byte("blob content")
	digest := ComputeDigest(content)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/oauth2/token":
			fmt.Fprint(w, `{"access_token":"tok"}`)
		case r.Header.Get("Authorization") != "Bearer tok":
			w.Header().Set("WWW-Authenticate", `Bearer realm="r",service="s",scope="repository:a:pull"`)
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		default:
			w.Write(content)
		}
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.StartTLS()
	defer ts.Close()
	c, err := NewBlobClient(ts.URL, nil, &BlobClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: ts.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	require.NoError(t, err)
	for range 5 {
		resp, err := c.GetBlob(t.Context(), "a", digest, nil)
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, content, got)
	}
	assert.EqualValues(t, 1, conns.Load(), "every response was read to its end and its connection reused")
}

// TestAuthAgainstARegistryNamedOtherThanItsAddress: the registry's service
// is its login server name, not the address the client dials (a private
// endpoint, a proxy, "localhost" for 127.0.0.1). Every kind of client gets
// its service from the challenge and then runs at steady-state cost.
func TestAuthAgainstARegistryNamedOtherThanItsAddress(t *testing.T) {
	for _, kind := range []string{"entra", "password", "anonymous"} {
		t.Run(kind, func(t *testing.T) {
			srv := acrtest.NewServer(t, &acrtest.Options{
				Service: "myregistry.azurecr.io", AnonymousPull: true,
				Users: []acrtest.User{{Name: "admin", Password: "pw"}},
			})
			seedImage(t, srv, "hello", "v1")
			var cred azcore.TokenCredential
			switch kind {
			case "entra":
				cred = srv.Credential()
			case "password":
				cred = NewPasswordCredential("admin", "pw")
			}
			for _, endpoint := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "LocalHost", 1)} {
				c, err := NewContainerRegistryClient(endpoint, cred, &ContainerRegistryClientOptions{ClientOptions: testClientOptions(srv)})
				require.NoError(t, err)
				_, err = c.GetManifest(t.Context(), "hello", "v1", nil)
				require.NoError(t, err, endpoint)
				srv.ResetRequests()
				_, err = c.GetManifest(t.Context(), "hello", "v1", nil)
				require.NoError(t, err)
				_, err = c.GetTagProperties(t.Context(), "hello", "v1", nil)
				require.NoError(t, err)
				assert.Equal(t, requestCounts{Total: 3, Token: 1, Other: 2}, countRequests(srv), "%s: warm, and a new scope without a 401", endpoint)
			}
		})
	}
}

// TestConnectionsAreReused: a cold client that authenticates, uploads a
// multi-chunk blob, downloads it (following ACR's redirect to storage),
// reads metadata and a manifest needs one connection to each host: every
// response on the way is read to its end.
func TestConnectionsAreReused(t *testing.T) {
	srv := acrtest.NewServer(t, &acrtest.Options{RedirectBlobs: true})
	seedImage(t, srv, "hello", "v1")
	opts := testClientOptions(srv)
	c, err := NewContainerRegistryClient(srv.URL, srv.Credential(), &ContainerRegistryClientOptions{ClientOptions: opts})
	require.NoError(t, err)
	b, err := NewBlobClient(srv.URL, srv.Credential(), &BlobClientOptions{ClientOptions: opts})
	require.NoError(t, err)
	data := bytes.Repeat([]byte("0123456789"), 5000)
	for range 3 {
		up, err := b.UploadBlob(t.Context(), "hello", bytes.NewReader(data), &BlobClientUploadBlobOptions{ChunkSize: 16 << 10, SkipExistenceCheck: true})
		require.NoError(t, err)
		got, err := b.GetBlob(t.Context(), "hello", up.Digest, nil)
		require.NoError(t, err)
		body, err := io.ReadAll(got.Body)
		require.NoError(t, err)
		require.NoError(t, got.Body.Close())
		require.Equal(t, data, body)
		_, err = b.CheckBlobExists(t.Context(), "hello", up.Digest, nil)
		require.NoError(t, err)
		_, err = c.GetManifest(t.Context(), "hello", "v1", nil)
		require.NoError(t, err)
		_, err = c.GetRepositoryProperties(t.Context(), "hello", nil)
		require.NoError(t, err)
		_, err = c.GetTagProperties(t.Context(), "nope", "v1", nil) // a 404 on the way
		require.Error(t, err)
	}
	assert.Equal(t, 1, srv.Connections(), "registry connections")
	assert.Equal(t, 1, srv.StorageConnections(), "storage connections")
}

func TestATokenAnswerCutShortIsAskedAgain(t *testing.T) {
	for _, path := range []string{"/oauth2/exchange", "/oauth2/token"} {
		srv := acrtest.NewServer(t, nil)
		seedImage(t, srv, "app", "v1")
		srv.InjectFault(acrtest.Fault{Path: path, TruncateBody: 10, Times: 1})
		c := newTestClient(t, srv, srv.Credential())
		_, err := c.GetManifest(context.Background(), "app", "v1", nil)
		require.NoError(t, err, path)
		require.Equal(t, 1, srv.FaultsFired(), path)
	}
}
