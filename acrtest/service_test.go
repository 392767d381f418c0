package acrtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testService = "myregistry.azurecr.io"

// tokenForm is the form of POST /oauth2/token with a refresh token.
func tokenForm(service, scope, rt string) string {
	return url.Values{"grant_type": {"refresh_token"}, "service": {service}, "scope": {scope}, "refresh_token": {rt}}.Encode()
}

func exchangeForm(service, aad string) string {
	return url.Values{"grant_type": {"access_token"}, "service": {service}, "access_token": {aad}}.Encode()
}

func TestServiceDefaultsToHost(t *testing.T) {
	srv := NewServer(t, nil)
	require.True(t, strings.HasPrefix(srv.Host, "127.0.0.1:"), srv.Host)
	require.Equal(t, "https://"+srv.Host, srv.URL)
	require.Equal(t, srv.Host, srv.Service())
	require.Equal(t, "https://"+srv.Host+"/oauth2/token", srv.Realm())

	resp, _ := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, srv.Host, srv.Host), resp.Header.Get("WWW-Authenticate"))

	tok := accessToken(t, srv, "registry:catalog:*")
	_, c := decodeJWT(t, tok)
	require.Equal(t, srv.Host, c.Audience)
	resp, _ = do(t, srv, http.MethodGet, "/v2/", tok, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestServiceInChallenges(t *testing.T) {
	srv := NewServer(t, &Options{Service: testService, Users: []User{{Name: "admin", Password: "pw"}}})
	require.Equal(t, testService, srv.Service())
	require.True(t, strings.HasPrefix(srv.Host, "127.0.0.1:"), "Host stays the listening address: %s", srv.Host)
	require.Equal(t, "https://"+srv.Host+"/oauth2/token", srv.Realm(), "the realm still reaches this server")

	resp, _ := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, srv.Host, testService), resp.Header.Get("WWW-Authenticate"))

	resp, _ = do(t, srv, http.MethodGet, "/v2/hello/manifests/latest", "", nil, nil)
	require.Equal(t, fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",scope="repository:hello:pull"`, srv.Host, testService), resp.Header.Get("WWW-Authenticate"))

	resp, _ = basicToken(t, srv, "admin", "wrong", testService, "registry:catalog:*")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, fmt.Sprintf(`Basic realm="https://%s/oauth2/token",service="%s"`, srv.Host, testService), resp.Header.Get("WWW-Authenticate"))
}

func TestServiceRequiredByExchange(t *testing.T) {
	srv := NewServer(t, &Options{Service: testService})
	aad := aadToken(t, srv, ACRAudience+"/.default")

	resp, body := postRaw(t, srv, "/oauth2/exchange", exchangeForm(srv.Host, aad))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the listening host is not the service: %s", body)
	require.Equal(t, CodeUnauthorized, errorCode(t, body))
	require.Contains(t, resp.Header.Get("Content-Type"), "application/json")

	resp, body = postRaw(t, srv, "/oauth2/exchange", exchangeForm(testService, aad))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	_, c := decodeJWT(t, postFormBody(t, body)["refresh_token"])
	require.Equal(t, testService, c.Audience)
}

func TestServiceRequiredByToken(t *testing.T) {
	srv := NewServer(t, &Options{Service: testService})
	rt := refreshToken(t, srv)

	resp, body := postRaw(t, srv, "/oauth2/token", tokenForm(srv.Host, "registry:catalog:*", rt))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
	require.Equal(t, CodeUnauthorized, errorCode(t, body))

	resp, body = postRaw(t, srv, "/oauth2/token", tokenForm(testService, "registry:catalog:*", rt))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	tok := postFormBody(t, body)["access_token"]
	_, c := decodeJWT(t, tok)
	require.Equal(t, testService, c.Audience)

	resp, _ = do(t, srv, http.MethodGet, "/v2/", tok, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "a token for the configured service is accepted")
}

func TestServiceRequiredByAnonymousToken(t *testing.T) {
	srv := NewServer(t, &Options{Service: testService, AnonymousPull: true})
	form := func(svc string) string {
		return "grant_type=password&refresh_token=&scope=registry%3Acatalog%3A%2A&service=" + url.QueryEscape(svc)
	}
	resp, body := postRaw(t, srv, "/oauth2/token", form(srv.Host))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
	require.Equal(t, CodeUnauthorized, errorCode(t, body))

	resp, body = postRaw(t, srv, "/oauth2/token", form(testService))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	_, c := decodeJWT(t, postFormBody(t, body)["access_token"])
	require.Equal(t, testService, c.Audience)
}

func TestServiceRequiredByBasicToken(t *testing.T) {
	srv := NewServer(t, &Options{Service: testService, Users: []User{{Name: "admin", Password: "pw"}}})

	resp, body := basicToken(t, srv, "admin", "pw", srv.Host, "registry:catalog:*")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
	require.Equal(t, CodeUnauthorized, errorCode(t, body))

	resp, body = basicToken(t, srv, "admin", "pw", testService, "registry:catalog:*")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	_, c := decodeJWT(t, postFormBody(t, body)["access_token"])
	require.Equal(t, testService, c.Audience)

	// docker login with a refresh token as the password.
	resp, body = basicToken(t, srv, nullGUID, refreshToken(t, srv), testService, "registry:catalog:*")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
}

// A token signed by the server but for another audience, here the
// listening host, which was the audience before Service was configured,
// is refused like any invalid token.
func TestServiceTokenAudienceChecked(t *testing.T) {
	srv := NewServer(t, &Options{Service: testService})
	now := time.Now()
	foreign := srv.sign(claims{
		Kind: "access", Subject: "someone", Audience: srv.Host,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(time.Hour).Unix(),
		Access: []accessEntry{{Type: "registry", Name: "catalog", Actions: []string{"*"}}},
	})
	resp, body := do(t, srv, http.MethodGet, "/v2/", foreign, nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
	require.Equal(t, fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s",scope="registry:catalog:*",error="invalid_token"`, srv.Host, testService),
		resp.Header.Get("WWW-Authenticate"))
	require.Equal(t, CodeUnauthorized, errorCode(t, body))
	log := srv.Requests()
	require.Equal(t, "invalid", log[len(log)-1].Auth)

	// The same goes for a refresh token: it is good only at its registry.
	foreignRT := srv.sign(claims{
		Kind: "refresh", Subject: "someone", Audience: "other.azurecr.io",
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(time.Hour).Unix(),
	})
	resp, body = postRaw(t, srv, "/oauth2/token", tokenForm(testService, "registry:catalog:*", foreignRT))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
}

func TestServiceInMetadata(t *testing.T) {
	srv, _ := newMetaServer(t, &Options{Service: testService})
	seedHelloWorld(t, srv)
	resp, body := metaJSON(t, srv, http.MethodGet, "/acr/v1/hello-world/_tags/latest", metaToken(t, srv, "hello-world"), "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, testService, body["registry"], "ACR names its login server")
}

func TestRealmOption(t *testing.T) {
	const realm = "https://login.example.net/oauth2/token"
	srv := NewServer(t, &Options{Service: testService, Realm: realm, Users: []User{{Name: "admin", Password: "pw"}}})
	require.Equal(t, realm, srv.Realm())

	resp, _ := do(t, srv, http.MethodGet, "/v2/_catalog", "", nil, nil)
	require.Equal(t, fmt.Sprintf(`Bearer realm="%s",service="%s",scope="registry:catalog:*"`, realm, testService), resp.Header.Get("WWW-Authenticate"))
	resp, _ = basicToken(t, srv, "", "", testService, "registry:catalog:*")
	require.Equal(t, fmt.Sprintf(`Basic realm="%s",service="%s"`, realm, testService), resp.Header.Get("WWW-Authenticate"))
}

// postFormBody decodes a token endpoint's JSON answer.
func postFormBody(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var out map[string]string
	require.NoError(t, json.Unmarshal(body, &out), string(body))
	return out
}
