package acrtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"
)

// accessToken runs the real exchange flow against srv (fake Entra token,
// /oauth2/exchange, /oauth2/token) and returns an access token for the
// space-separated scopes, e.g. "repository:hello:pull,push".
func accessToken(t *testing.T, srv *Server, scopes string) string {
	t.Helper()
	aad, err := srv.Credential().GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{ACRAudience + "/.default"}})
	require.NoError(t, err)
	rt := postForm(t, srv, "/oauth2/exchange", url.Values{
		"grant_type": {"access_token"}, "service": {srv.Service()}, "access_token": {aad.Token},
	})["refresh_token"]
	require.NotEmpty(t, rt)
	at := postForm(t, srv, "/oauth2/token", url.Values{
		"grant_type": {"refresh_token"}, "service": {srv.Service()}, "scope": {scopes}, "refresh_token": {rt},
	})["access_token"]
	require.NotEmpty(t, at)
	return at
}

func postForm(t *testing.T, srv *Server, path string, form url.Values) map[string]string {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var out map[string]string
	require.NoError(t, json.Unmarshal(body, &out))
	return out
}

// do sends one request with an optional bearer token and returns the
// response with its body read.
func do(t *testing.T, srv *Server, method, path, token string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	target := path
	if !strings.HasPrefix(path, "https://") {
		target = srv.URL + path
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}
