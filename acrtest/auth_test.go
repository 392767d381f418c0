package acrtest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable Options.Now, so token lifetimes can be tested
// without waiting for them.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// tokenClaims are the JWT claims clients read.
type tokenClaims struct {
	Issuer    string          `json:"iss"`
	Audience  string          `json:"aud"`
	Subject   string          `json:"sub"`
	IssuedAt  int64           `json:"iat"`
	NotBefore int64           `json:"nbf"`
	Expiry    int64           `json:"exp"`
	GrantType string          `json:"grant_type"`
	Access    json.RawMessage `json:"access"`
}

// decodeJWT checks that token is a three-part base64url JWT and returns its
// payload as sent and decoded.
func decodeJWT(t *testing.T, token string) (string, tokenClaims) {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, token)
	for _, p := range parts {
		// base64url without padding: no '=', '+' or '/'.
		require.NotContains(t, p, "=")
		require.NotContains(t, p, "+")
		require.NotContains(t, p, "/")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c tokenClaims
	require.NoError(t, json.Unmarshal(payload, &c))
	return string(payload), c
}

// aadToken asks the server's fake credential for a token for scope.
func aadToken(t *testing.T, srv *Server, scope string) string {
	t.Helper()
	tok, err := srv.Credential().GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{scope}})
	require.NoError(t, err)
	return tok.Token
}

// postRaw posts a form body exactly as given, so field order is the test's.
func postRaw(t *testing.T, srv *Server, path, body string) (*http.Response, []byte) {
	t.Helper()
	return do(t, srv, http.MethodPost, path, "", strings.NewReader(body),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
}

// jsonKeys returns the member names of a JSON object body.
func jsonKeys(t *testing.T, body []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m), string(body))
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// refreshToken runs /oauth2/exchange with an ACR-audience Entra token.
func refreshToken(t *testing.T, srv *Server) string {
	t.Helper()
	rt := postForm(t, srv, "/oauth2/exchange", url.Values{
		"grant_type": {"access_token"}, "service": {srv.Service()}, "access_token": {aadToken(t, srv, ACRAudience+"/.default")},
	})["refresh_token"]
	require.NotEmpty(t, rt)
	return rt
}

// challengeFor is the exact WWW-Authenticate of a scoped 401.
func challengeFor(srv *Server, scope, errParam string) string {
	h := fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",scope="%s"`, srv.Host, srv.Host, scope)
	if errParam != "" {
		h += fmt.Sprintf(`,error="%s"`, errParam)
	}
	return h
}

// authorizeAs runs the scope check a repository endpoint performs, on a
// request carrying token. It pins the challenge rules for repository
// scopes on their own; the endpoints themselves are tested with their
// handlers.
func authorizeAs(t *testing.T, srv *Server, token string, need ...scope) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, srv.URL+"/v2/any/manifests/latest", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	var entry Request
	ok := srv.authorize(w, r, &entry, need...)
	if ok {
		require.Equal(t, "bearer", entry.Auth)
	}
	return w, ok
}

// requireDenied checks an authorizeAs result is ACR's 401 with the given
// challenge.
func requireDenied(t *testing.T, srv *Server, w *httptest.ResponseRecorder, ok bool, scope, errParam string) {
	t.Helper()
	require.False(t, ok)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Equal(t, challengeFor(srv, scope, errParam), w.Header().Get("WWW-Authenticate"))
	require.Equal(t, CodeUnauthorized, errorCode(t, w.Body.Bytes()))
}

func TestAuthChallengeUnauthenticatedPing(t *testing.T) {
	srv := NewServer(t, nil)
	resp, body := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	// No scope parameter on the bare ping.
	require.Equal(t,
		fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, srv.Host, srv.Host),
		resp.Header.Get("WWW-Authenticate"))
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "registry/2.0", resp.Header.Get("Docker-Distribution-Api-Version"))

	var e struct {
		Errors []map[string]json.RawMessage `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(body, &e))
	require.Len(t, e.Errors, 1)
	require.JSONEq(t, `"UNAUTHORIZED"`, string(e.Errors[0]["code"]))
	require.JSONEq(t, `"authentication required, visit https://aka.ms/acr/authorization for more information."`, string(e.Errors[0]["message"]))
	detail, present := e.Errors[0]["detail"]
	require.True(t, present, "detail must be sent, as null: %s", body)
	require.Equal(t, "null", string(detail))
}

func TestPingAuthenticated(t *testing.T) {
	srv := NewServer(t, nil)
	token := accessToken(t, srv, "registry:catalog:*")
	resp, body := do(t, srv, http.MethodGet, "/v2/", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "{}", string(body))
	require.Equal(t, "2", resp.Header.Get("Content-Length"))
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
}

func TestPingNeedsCatalogScope(t *testing.T) {
	srv := NewServer(t, nil)
	token := accessToken(t, srv, "repository:hello:pull")
	resp, body := do(t, srv, http.MethodGet, "/v2/", token, nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, challengeFor(srv, "registry:catalog:*", "insufficient_scope"), resp.Header.Get("WWW-Authenticate"))
	require.Equal(t, CodeUnauthorized, errorCode(t, body))
}

func TestAuthChallengeScopedBody(t *testing.T) {
	srv := NewServer(t, nil)
	w, ok := authorizeAs(t, srv, "", repoScope("hello-world", "pull"))
	requireDenied(t, srv, w, ok, "repository:hello-world:pull", "")
	require.JSONEq(t,
		`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information.","detail":[{"Type":"repository","Name":"hello-world","Action":"pull"}]}]}`,
		w.Body.String())

	// A mount needs two scopes; the challenge lists both, space-separated.
	w, ok = authorizeAs(t, srv, "", repoScope("dst", "pull", "push"), repoScope("src", "pull"))
	requireDenied(t, srv, w, ok, "repository:dst:pull,push repository:src:pull", "")
}

func TestExchangeFieldOrder(t *testing.T) {
	srv := NewServer(t, nil)
	aad := url.QueryEscape(aadToken(t, srv, ACRAudience+"/.default"))
	svc := url.QueryEscape(srv.Host)
	for name, body := range map[string]string{
		"go":          "access_token=" + aad + "&grant_type=access_token&service=" + svc,
		"dotnet":      "grant_type=access_token&service=" + svc + "&access_token=" + aad,
		"with tenant": "grant_type=access_token&service=" + svc + "&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&access_token=" + aad,
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/oauth2/exchange", "/oauth2/exchange?api-version=2021-07-01"} {
				resp, out := postRaw(t, srv, path, body)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
				require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
				// Only the token: no expires_in, no scope.
				require.Equal(t, []string{"refresh_token"}, jsonKeys(t, out))
			}
		})
	}
}

func TestExchangeRefreshTokenClaims(t *testing.T) {
	for _, tc := range []struct {
		lifetime time.Duration
		want     int64
	}{
		{0, 11700}, // ACR's 3 h, counted from an iat backdated 15 min
		{time.Hour, 3600 + 900},
	} {
		t.Run(fmt.Sprint(tc.want), func(t *testing.T) {
			clock := newFakeClock()
			srv := NewServer(t, &Options{Now: clock.Now, RefreshTokenLifetime: tc.lifetime})
			payload, c := decodeJWT(t, refreshToken(t, srv))
			require.Equal(t, "Azure Container Registry", c.Issuer, payload)
			require.Equal(t, srv.Host, c.Audience)
			require.Equal(t, "refresh_token", c.GrantType)
			require.Equal(t, clock.Now().Add(-15*time.Minute).Unix(), c.IssuedAt)
			require.Equal(t, c.IssuedAt, c.NotBefore)
			require.Equal(t, tc.want, c.Expiry-c.IssuedAt)
		})
	}
}

func TestTokenResponseAccessTokenOnly(t *testing.T) {
	srv := NewServer(t, nil)
	rt := refreshToken(t, srv)
	body := "grant_type=refresh_token&refresh_token=" + rt + "&scope=repository%3Ahello-world%3Apull&service=" + url.QueryEscape(srv.Host)
	resp, out := postRaw(t, srv, "/oauth2/token", body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	// No expires_in and no refresh_token.
	require.Equal(t, []string{"access_token"}, jsonKeys(t, out))
}

func TestTokenAccessTokenClaims(t *testing.T) {
	for _, tc := range []struct {
		lifetime time.Duration
		want     int64
	}{
		{0, 4500}, // ACR's 75 minutes
		{10 * time.Minute, 600},
	} {
		t.Run(fmt.Sprint(tc.want), func(t *testing.T) {
			clock := newFakeClock()
			srv := NewServer(t, &Options{Now: clock.Now, AccessTokenLifetime: tc.lifetime})
			payload, c := decodeJWT(t, accessToken(t, srv, "repository:hello-world:pull,push"))
			require.Equal(t, "Azure Container Registry", c.Issuer, payload)
			require.Equal(t, srv.Host, c.Audience)
			require.Equal(t, "access_token", c.GrantType)
			require.Equal(t, clock.Now().Unix(), c.IssuedAt)
			require.Equal(t, tc.want, c.Expiry-c.IssuedAt)
			require.JSONEq(t, `[{"type":"repository","name":"hello-world","actions":["pull","push"]}]`, string(c.Access))
		})
	}
}

func TestTokenMultiScope(t *testing.T) {
	srv := NewServer(t, nil)
	rt := refreshToken(t, srv)
	for name, scopes := range map[string][]string{
		"space-separated": {"repository:a:pull,push repository:b:pull"},
		"repeated":        {"repository:a:pull,push", "repository:b:pull"},
	} {
		t.Run(name, func(t *testing.T) {
			at := postForm(t, srv, "/oauth2/token", url.Values{
				"grant_type": {"refresh_token"}, "service": {srv.Host}, "scope": scopes, "refresh_token": {rt},
			})["access_token"]
			_, c := decodeJWT(t, at)
			require.JSONEq(t, `[{"type":"repository","name":"a","actions":["pull","push"]},{"type":"repository","name":"b","actions":["pull"]}]`, string(c.Access))

			_, ok := authorizeAs(t, srv, at, repoScope("a", "push", "pull"), repoScope("b", "pull"))
			require.True(t, ok)
			w, ok := authorizeAs(t, srv, at, repoScope("b", "push", "pull"))
			requireDenied(t, srv, w, ok, "repository:b:push,pull", "insufficient_scope")
		})
	}
}

func TestAnonymousPullDisabled(t *testing.T) {
	srv := NewServer(t, nil)
	resp, body := postRaw(t, srv, "/oauth2/token", "grant_type=password&refresh_token=&scope=registry%3Acatalog%3A%2A&service="+url.QueryEscape(srv.Host))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, CodeUnauthorized, errorCode(t, body))
}

func TestAnonymousPullToken(t *testing.T) {
	clock := newFakeClock()
	srv := NewServer(t, &Options{AnonymousPull: true, Now: clock.Now})
	svc := url.QueryEscape(srv.Host)
	for name, body := range map[string]string{
		"go":     "grant_type=password&refresh_token=&scope=registry%3Acatalog%3A%2A&service=" + svc,
		"python": "grant_type=password&service=" + svc + "&scope=repository%3Ahello-world%3Apull",
	} {
		t.Run(name, func(t *testing.T) {
			resp, out := postRaw(t, srv, "/oauth2/token", body)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
			require.Equal(t, []string{"access_token"}, jsonKeys(t, out))
			var tok map[string]string
			require.NoError(t, json.Unmarshal(out, &tok))
			at := tok["access_token"]

			payload, c := decodeJWT(t, at)
			require.Equal(t, "acr_anon_pull", c.Subject)
			// Capitalised keys, exactly as recorded.
			require.Contains(t, payload, `"access":[{"Type":"repository","Name":"*","Actions":["pull"]}]`)
			require.Equal(t, int64(1200), c.Expiry-c.IssuedAt)

			// Reads work: the catalog ping and a pull.
			resp, _ = do(t, srv, http.MethodGet, "/v2/", at, nil, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			_, ok := authorizeAs(t, srv, at, repoScope("hello-world", "pull"))
			require.True(t, ok)

			// Writes fail with insufficient_scope.
			resp, body := do(t, srv, http.MethodPost, "/v2/hello-world/blobs/uploads/", at, nil, nil)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, challengeFor(srv, "repository:hello-world:push,pull", "insufficient_scope"), resp.Header.Get("WWW-Authenticate"))
			require.Equal(t, CodeUnauthorized, errorCode(t, body))
			w, ok := authorizeAs(t, srv, at, repoScope("hello-world", "metadata_write"))
			requireDenied(t, srv, w, ok, "repository:hello-world:metadata_write", "insufficient_scope")
		})
	}
}

func TestAnonymousPullRejectsRefreshToken(t *testing.T) {
	srv := NewServer(t, &Options{AnonymousPull: true})
	resp, _ := postRaw(t, srv, "/oauth2/token", "grant_type=password&refresh_token=x&scope=registry%3Acatalog%3A%2A&service="+url.QueryEscape(srv.Host))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestAuthExpiredToken(t *testing.T) {
	clock := newFakeClock()
	srv := NewServer(t, &Options{Now: clock.Now})
	token := accessToken(t, srv, "registry:catalog:*")

	clock.Advance(75*time.Minute - time.Second)
	resp, _ := do(t, srv, http.MethodGet, "/v2/", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	clock.Advance(time.Second) // exp is exclusive
	resp, body := do(t, srv, http.MethodGet, "/v2/", token, nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, challengeFor(srv, "registry:catalog:*", "invalid_token"), resp.Header.Get("WWW-Authenticate"))
	require.Equal(t, CodeUnauthorized, errorCode(t, body))
	require.Equal(t, "invalid", srv.Requests()[len(srv.Requests())-1].Auth)
}

func TestAuthExpiredRefreshToken(t *testing.T) {
	clock := newFakeClock()
	srv := NewServer(t, &Options{Now: clock.Now})
	rt := refreshToken(t, srv)
	clock.Advance(3 * time.Hour)
	resp, body := postRaw(t, srv, "/oauth2/token", url.Values{
		"grant_type": {"refresh_token"}, "service": {srv.Host}, "scope": {"registry:catalog:*"}, "refresh_token": {rt},
	}.Encode())
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, CodeUnauthorized, errorCode(t, body))
}

func TestAuthForgedToken(t *testing.T) {
	srv := NewServer(t, nil)
	token := accessToken(t, srv, "registry:catalog:*")
	parts := strings.Split(token, ".")

	// Same claims, signature of all-zero bytes.
	badSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	// Claims widened to everything, original signature.
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	widened := strings.Replace(string(payload), `"name":"catalog"`, `"name":"*"`, 1)
	require.NotEqual(t, string(payload), widened)
	badPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(widened)) + "." + parts[2]
	// Signed by another registry.
	other := accessToken(t, NewServer(t, nil), "registry:catalog:*")
	// A refresh token is not an access token.
	rt := refreshToken(t, srv)

	for name, tok := range map[string]string{
		"bad signature": badSig, "tampered claims": badPayload, "other registry": other,
		"refresh token": rt, "garbage": "not.a.jwt", "unsigned": parts[0] + "." + parts[1] + ".",
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := do(t, srv, http.MethodGet, "/v2/", tok, nil, nil)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, challengeFor(srv, "registry:catalog:*", "invalid_token"), resp.Header.Get("WWW-Authenticate"))
			require.Equal(t, CodeUnauthorized, errorCode(t, body))
		})
	}

	// A scheme other than Bearer is not a token either.
	resp, _ := do(t, srv, http.MethodGet, "/v2/", "", nil, http.Header{"Authorization": {"Basic YTpi"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, challengeFor(srv, "registry:catalog:*", "invalid_token"), resp.Header.Get("WWW-Authenticate"))
}

func TestAuthWrongRepository(t *testing.T) {
	srv := NewServer(t, nil)
	token := accessToken(t, srv, "repository:a:pull")

	// Authorized for a: the answer is about the missing tag, not the token.
	resp, _ := do(t, srv, http.MethodGet, "/v2/a/manifests/latest", token, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, body := do(t, srv, http.MethodGet, "/v2/b/manifests/latest", token, nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, challengeFor(srv, "repository:b:pull", "insufficient_scope"), resp.Header.Get("WWW-Authenticate"))
	require.JSONEq(t,
		`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information.","detail":[{"Type":"repository","Name":"b","Action":"pull"}]}]}`,
		string(body))

	// Same repository, an action the token lacks.
	w, ok := authorizeAs(t, srv, token, repoScope("a", "delete"))
	requireDenied(t, srv, w, ok, "repository:a:delete", "insufficient_scope")
}

func TestExchangeRejects(t *testing.T) {
	clock := newFakeClock()
	srv := NewServer(t, &Options{Now: clock.Now})
	expired := aadToken(t, srv, ACRAudience+"/.default") // valid for an hour
	clock.Advance(2 * time.Hour)
	good := aadToken(t, srv, ACRAudience+"/.default")

	form := func(svc, tok string) string {
		return url.Values{"grant_type": {"access_token"}, "service": {svc}, "access_token": {tok}}.Encode()
	}
	for _, tc := range []struct {
		name   string
		body   string
		status int
	}{
		{"wrong service", form("other.azurecr.io", good), http.StatusUnauthorized},
		{"missing service", "grant_type=access_token&access_token=" + good, http.StatusBadRequest},
		{"wrong grant", "grant_type=client_credentials&service=" + url.QueryEscape(srv.Host) + "&access_token=" + good, http.StatusBadRequest},
		{"storage audience", form(srv.Host, aadToken(t, srv, "https://storage.azure.com/.default")), http.StatusUnauthorized},
		{"expired", form(srv.Host, expired), http.StatusUnauthorized},
		{"not a token", form(srv.Host, "xyz"), http.StatusUnauthorized},
		{"acr access token", form(srv.Host, accessToken(t, srv, "registry:catalog:*")), http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := postRaw(t, srv, "/oauth2/exchange", tc.body)
			require.Equal(t, tc.status, resp.StatusCode, string(body))
			require.NotEmpty(t, errorCode(t, body))
		})
	}

	resp, _ := do(t, srv, http.MethodGet, "/oauth2/exchange", "", nil, nil)
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestExchangeDefaultAudiences(t *testing.T) {
	srv := NewServer(t, nil)
	// The ACR audience and both ARM audiences seen in recordings.
	for _, scope := range []string{
		ACRAudience + "/.default",
		"https://management.azure.com/.default",
		"https://management.core.windows.net//.default",
	} {
		t.Run(scope, func(t *testing.T) {
			postForm(t, srv, "/oauth2/exchange", url.Values{
				"grant_type": {"access_token"}, "service": {srv.Host}, "access_token": {aadToken(t, srv, scope)},
			})
		})
	}
}

func TestExchangeAudiencesOption(t *testing.T) {
	// A registry with ARM-audience tokens disabled accepts only its own.
	srv := NewServer(t, &Options{Audiences: []string{ACRAudience}})
	postForm(t, srv, "/oauth2/exchange", url.Values{
		"grant_type": {"access_token"}, "service": {srv.Host}, "access_token": {aadToken(t, srv, ACRAudience+"/.default")},
	})
	resp, body := postRaw(t, srv, "/oauth2/exchange", url.Values{
		"grant_type": {"access_token"}, "service": {srv.Host}, "access_token": {aadToken(t, srv, "https://management.azure.com/.default")},
	}.Encode())
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, CodeUnauthorized, errorCode(t, body))
}

// basicToken sends GET /oauth2/token with Basic credentials;
// an empty user sends none.
func basicToken(t *testing.T, srv *Server, user, pass, service string, scopes ...string) (*http.Response, []byte) {
	t.Helper()
	q := url.Values{"service": {service}, "scope": scopes}
	h := http.Header{}
	if user != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	return do(t, srv, http.MethodGet, "/oauth2/token?"+q.Encode(), "", nil, h)
}

func basicAccessToken(t *testing.T, srv *Server, user, pass string, scopes ...string) string {
	t.Helper()
	resp, body := basicToken(t, srv, user, pass, srv.Host, scopes...)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, []string{"access_token"}, jsonKeys(t, body))
	var out map[string]string
	require.NoError(t, json.Unmarshal(body, &out))
	return out["access_token"]
}

func TestBasicToken(t *testing.T) {
	srv := NewServer(t, &Options{Users: []User{
		{Name: "admin", Password: "admin-pw"},
		{Name: "scoped", Password: "scoped-pw", Repositories: map[string][]string{"a": {"pull"}, "c": {"*"}}},
	}})

	t.Run("admin", func(t *testing.T) {
		at := basicAccessToken(t, srv, "admin", "admin-pw", "repository:a:pull,push", "registry:catalog:*")
		_, c := decodeJWT(t, at)
		require.JSONEq(t, `[{"type":"repository","name":"a","actions":["pull","push"]},{"type":"registry","name":"catalog","actions":["*"]}]`, string(c.Access))
		resp, _ := do(t, srv, http.MethodGet, "/v2/", at, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, ok := authorizeAs(t, srv, at, repoScope("a", "push", "pull"))
		require.True(t, ok)
		require.Equal(t, "basic", srv.Requests()[len(srv.Requests())-2].Auth)
	})

	t.Run("repository-scoped", func(t *testing.T) {
		at := basicAccessToken(t, srv, "scoped", "scoped-pw", "repository:a:pull,push repository:b:pull repository:c:delete", "registry:catalog:*")
		_, c := decodeJWT(t, at)
		// Only what the user holds: a:pull and c's wildcard.
		require.JSONEq(t, `[{"type":"repository","name":"a","actions":["pull"]},{"type":"repository","name":"c","actions":["delete"]}]`, string(c.Access))

		_, ok := authorizeAs(t, srv, at, repoScope("a", "pull"))
		require.True(t, ok)
		w, ok := authorizeAs(t, srv, at, repoScope("a", "push", "pull"))
		requireDenied(t, srv, w, ok, "repository:a:push,pull", "insufficient_scope")
		w, ok = authorizeAs(t, srv, at, repoScope("b", "pull"))
		requireDenied(t, srv, w, ok, "repository:b:pull", "insufficient_scope")
		resp, _ := do(t, srv, http.MethodGet, "/v2/", at, nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, challengeFor(srv, "registry:catalog:*", "insufficient_scope"), resp.Header.Get("WWW-Authenticate"))
	})

	basicChallenge := fmt.Sprintf(`Basic realm="https://%s/oauth2/token",service="%s"`, srv.Host, srv.Host)
	for name, creds := range map[string][2]string{
		"wrong password": {"admin", "nope"},
		"unknown user":   {"nobody", "admin-pw"},
		"no credentials": {"", ""},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := basicToken(t, srv, creds[0], creds[1], srv.Host, "registry:catalog:*")
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, basicChallenge, resp.Header.Get("WWW-Authenticate"))
			require.Equal(t, CodeUnauthorized, errorCode(t, body))
		})
	}

	t.Run("wrong service", func(t *testing.T) {
		resp, body := basicToken(t, srv, "admin", "admin-pw", "other.azurecr.io", "registry:catalog:*")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, CodeUnauthorized, errorCode(t, body))
	})
	t.Run("no service", func(t *testing.T) {
		resp, body := basicToken(t, srv, "admin", "admin-pw", "", "registry:catalog:*")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, CodeUnsupported, errorCode(t, body))
	})
}

func TestBasicTokenWithoutUsers(t *testing.T) {
	srv := NewServer(t, nil)
	resp, _ := basicToken(t, srv, "admin", "", srv.Host, "registry:catalog:*")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, fmt.Sprintf(`Basic realm="https://%s/oauth2/token",service="%s"`, srv.Host, srv.Host), resp.Header.Get("WWW-Authenticate"))
}

func TestAuthCredentialScopes(t *testing.T) {
	srv := NewServer(t, nil)
	cred := srv.Credential()
	ctx := t.Context()

	_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{ACRAudience + "/.default"}})
	require.NoError(t, err)
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	require.NoError(t, err)
	require.Equal(t, []string{ACRAudience + "/.default", "https://management.azure.com/.default"}, cred.Scopes())

	boom := errors.New("entra is down")
	cred.SetError(boom)
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{ACRAudience + "/.default"}})
	require.ErrorIs(t, err, boom)
	require.Len(t, cred.Scopes(), 3, "failed requests are recorded too")

	cred.SetError(nil)
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{ACRAudience + "/.default"}})
	require.NoError(t, err)
	require.NotEmpty(t, tok.Token)

	// The fake is strict about the one-scope rule Entra applies to v2 tokens.
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"a/.default", "b/.default"}})
	require.Error(t, err)
}

// TestBasicTokenWithRefreshTokenAsPassword covers docker login with an ACR
// refresh token: Basic auth as the null GUID user.
func TestBasicTokenWithRefreshTokenAsPassword(t *testing.T) {
	srv := NewServer(t, nil)
	aad, err := srv.Credential().GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{ACRAudience + "/.default"}})
	require.NoError(t, err)
	rt := postForm(t, srv, "/oauth2/exchange", url.Values{
		"grant_type": {"access_token"}, "service": {srv.Host}, "access_token": {aad.Token},
	})["refresh_token"]
	get := func(password string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet,
			srv.URL+"/oauth2/token?"+url.Values{"service": {srv.Host}, "scope": {"repository:a:pull"}}.Encode(), nil)
		require.NoError(t, err)
		req.SetBasicAuth("00000000-0000-0000-0000-000000000000", password)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, get(rt))
	require.Equal(t, http.StatusUnauthorized, get(rt+"x"))
}
