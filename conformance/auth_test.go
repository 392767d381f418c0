package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawGet sends GET path to the registry with an optional Bearer token and
// returns the status and the challenge.
func rawGet(t *testing.T, r *TestRegistry, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, r.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := r.Server.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// rawPostForm posts a form to the token service and returns the status
// and the decoded JSON answer.
func rawPostForm(t *testing.T, r *TestRegistry, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := r.Server.Client().PostForm(r.URL+path, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

// TestTokenRegistryJudgesTokens checks the judge before trusting it: the
// registry, not our token service, verifies every token. It challenges
// like ACR (no scope on /v2/, the needed scope elsewhere), accepts only
// tokens signed by the issuer's key for its service and still valid, and
// refuses a token lacking the scope with error="insufficient_scope". The
// token service's exchange and token endpoints work by hand as described
// in PROTOCOL.md §2.2 and §2.3.
func TestTokenRegistryJudgesTokens(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, true)
	realm := r.URL + "/oauth2/token"
	blob := "/v2/judge/a/blobs/" + azacr.ComputeDigest([]byte("absent"))
	grant := func(name, actions string) []*ResourceActions {
		return []*ResourceActions{{Type: "repository", Name: name, Actions: strings.Split(actions, ",")}}
	}

	status, ch := rawGet(t, r, "/v2/", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, fmt.Sprintf(`Bearer realm=%q,service=%q`, realm, r.Host), ch, "no scope on /v2/")

	status, ch = rawGet(t, r, blob, "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, fmt.Sprintf(`Bearer realm=%q,service=%q,scope="repository:judge/a:pull"`, realm, r.Host), ch)

	good, err := r.Issuer.Sign("tester", "access_token", grant("judge/a", "pull"), time.Minute)
	require.NoError(t, err)
	status, _ = rawGet(t, r, blob, good)
	assert.Equal(t, http.StatusNotFound, status, "a token with the scope passes; the blob is absent")
	status, _ = rawGet(t, r, "/v2/", good)
	assert.Equal(t, http.StatusOK, status)

	otherRepo, err := r.Issuer.Sign("tester", "access_token", grant("judge/b", "pull"), time.Minute)
	require.NoError(t, err)
	status, ch = rawGet(t, r, blob, otherRepo)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, ch, `scope="repository:judge/a:pull"`)
	assert.Contains(t, ch, `error="insufficient_scope"`)

	pushOnly, err := r.Issuer.Sign("tester", "access_token", grant("judge/a", "push"), time.Minute)
	require.NoError(t, err)
	status, ch = rawGet(t, r, blob, pushOnly)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, ch, `error="insufficient_scope"`)

	stranger, err := NewTokenIssuer(r.Host)
	require.NoError(t, err)
	expired, err := r.Issuer.Sign("tester", "access_token", grant("judge/a", "pull"), -2*time.Minute)
	require.NoError(t, err)
	foreign, err := stranger.Sign("tester", "access_token", grant("judge/a", "pull"), time.Minute)
	require.NoError(t, err)
	now := time.Now().Unix()
	elsewhere, err := r.Issuer.SignClaims(TokenClaims{Issuer: TokenIssuerName, Audience: []string{"elsewhere.example"}, Expiry: now + 60, NotBefore: now, IssuedAt: now, Access: grant("judge/a", "pull")})
	require.NoError(t, err)
	impostor, err := r.Issuer.SignClaims(TokenClaims{Issuer: "impostor", Audience: []string{r.Host}, Expiry: now + 60, NotBefore: now, IssuedAt: now, Access: grant("judge/a", "pull")})
	require.NoError(t, err)
	for name, tok := range map[string]string{"expired": expired, "foreign key": foreign, "other audience": elsewhere, "other issuer": impostor, "garbage": "not.a.jwt"} {
		status, ch = rawGet(t, r, blob, tok)
		assert.Equal(t, http.StatusUnauthorized, status, name)
		assert.Contains(t, ch, `error="invalid_token"`, name)
	}

	// The token service by hand.
	status, m := rawPostForm(t, r, "/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {r.Host}, "access_token": {"a stolen token"}})
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.NotContains(t, m, "refresh_token", "a refused exchange issues nothing")
	status, m = rawPostForm(t, r, "/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {r.Host}, "access_token": {FakeEntraToken}})
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, m, 1, "ACR answers the refresh token alone")
	refresh, _ := m["refresh_token"].(string)
	require.NotEmpty(t, refresh)
	status, ch = rawGet(t, r, blob, refresh)
	assert.Equal(t, http.StatusUnauthorized, status, "a refresh token grants nothing by itself")
	assert.Contains(t, ch, `error="insufficient_scope"`)

	status, m = rawPostForm(t, r, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {r.Host}, "scope": {"repository:judge/a:pull"}, "refresh_token": {refresh}})
	require.Equal(t, http.StatusOK, status)
	access, _ := m["access_token"].(string)
	status, _ = rawGet(t, r, blob, access)
	assert.Equal(t, http.StatusNotFound, status)

	status, _ = rawPostForm(t, r, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {r.Host}, "scope": {"repository:judge/a:pull"}, "refresh_token": {good}})
	assert.Equal(t, http.StatusUnauthorized, status, "an access token is no refresh token")
	status, _ = rawPostForm(t, r, "/oauth2/token", url.Values{"grant_type": {"password"}, "service": {r.Host}, "scope": {"repository:judge/a:pull"}})
	assert.Equal(t, http.StatusUnauthorized, status, "anonymous pull is off")
}

// TestEntraTokenPerScope runs blob operations on two repositories with
// an Entra credential, three rounds, over TLS and plain HTTP. The client
// asks Entra once, exchanges once, fetches one access token per distinct
// scope, and since it knows each operation's scope before sending, the
// registry never has to challenge it.
func TestEntraTokenPerScope(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{true, false} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			t.Parallel()
			r := StartTokenRegistry(t, tls)
			c := r.BlobClient(t)
			ctx := t.Context()
			for round := range 3 {
				for _, repo := range []string{"scopes/a", "scopes/b"} {
					data := []byte(fmt.Sprintf("%s round %d", repo, round))
					up, err := c.UploadBlob(ctx, repo, bytes.NewReader(data), nil)
					require.NoError(t, err)
					got, err := c.GetBlob(ctx, repo, up.Digest, nil)
					require.NoError(t, err)
					b, err := io.ReadAll(got.Body)
					require.NoError(t, got.Body.Close())
					require.NoError(t, err)
					require.Equal(t, data, b)
					ex, err := c.CheckBlobExists(ctx, repo, up.Digest, nil)
					require.NoError(t, err)
					require.True(t, ex.Exists)
				}
			}
			assert.Equal(t, 1, r.Entra.Calls())
			assert.Equal(t, [][]string{{azacr.DefaultAudience + "/.default"}}, r.Entra.Scopes())
			assert.Equal(t, 1, r.Log.Path("/oauth2/exchange"))
			reqs := r.Issuer.Requests()
			for _, scope := range []string{"repository:scopes/a:pull,push", "repository:scopes/a:pull", "repository:scopes/b:pull,push", "repository:scopes/b:pull"} {
				assert.Equal(t, 1, ScopeRequests(reqs, scope), scope)
			}
			assert.Equal(t, 4, r.Log.Path("/oauth2/token"))
			assert.Zero(t, r.Log.Unauthorized(), "\n%s", r.Log)
			for _, rec := range r.Log.Records() {
				if strings.HasPrefix(rec.Path, "/v2/") {
					assert.Equal(t, "Bearer", rec.AuthScheme)
				}
			}
		})
	}
}

// TestWrongScopeTokenEndsInError makes the token service hand out tokens
// for the wrong repository. A freshly issued token that the registry
// refuses means the identity lacks the permission: the call fails with
// the registry's 401 at once. A cached token that is refused is replaced
// once, and only once: a second refusal is an error too, never a loop.
// When the replacement is good, the call succeeds.
func TestWrongScopeTokenEndsInError(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, true)
	c := r.BlobClient(t)
	ctx := t.Context()
	data := []byte("scoped content")
	up, err := c.UploadBlob(ctx, "scoped/repo", bytes.NewReader(data), nil)
	require.NoError(t, err)
	r.Log.Reset()
	r.Issuer.ResetRequests()
	r.Issuer.MisissueNext(2)
	gets := func() int {
		return r.Log.Count(func(rec RequestRecord) bool {
			return rec.Method == http.MethodGet && strings.HasPrefix(rec.Path, "/v2/")
		})
	}

	_, err = c.GetBlob(ctx, "scoped/repo", up.Digest, nil)
	re := requireStatus(t, err, http.StatusUnauthorized)
	assert.Equal(t, "UNAUTHORIZED", re.ErrorCode)
	ch := re.RawResponse.Header.Get("WWW-Authenticate")
	assert.Contains(t, ch, `scope="repository:scoped/repo:pull"`)
	assert.Contains(t, ch, `error="insufficient_scope"`)
	assert.Equal(t, 1, gets(), "a fresh token refused is final\n%s", r.Log)
	assert.Len(t, r.Issuer.Requests(), 1)

	_, err = c.GetBlob(ctx, "scoped/repo", up.Digest, nil)
	requireStatus(t, err, http.StatusUnauthorized)
	assert.Equal(t, 3, gets(), "the cached token refused, one new token, refused too\n%s", r.Log)
	assert.Len(t, r.Issuer.Requests(), 2)

	got, err := c.GetBlob(ctx, "scoped/repo", up.Digest, nil)
	require.NoError(t, err)
	b, err := io.ReadAll(got.Body)
	require.NoError(t, got.Body.Close())
	require.NoError(t, err)
	assert.Equal(t, data, b)
	assert.Equal(t, 5, gets(), "the cached token refused, one new good token\n%s", r.Log)
	assert.Len(t, r.Issuer.Requests(), 3)
	assert.Equal(t, 0, r.Log.Path("/oauth2/exchange"), "the refresh token stays valid throughout")

	before := r.Log.Unauthorized()
	for range 3 {
		_, err = c.CheckBlobExists(ctx, "scoped/repo", up.Digest, nil)
		require.NoError(t, err)
	}
	assert.Equal(t, before, r.Log.Unauthorized(), "recovered: no more 401s")
	assert.Len(t, r.Issuer.Requests(), 3)
}

// TestAnonymousPull: with anonymous pull on, a client without credential
// learns from the first challenge to fetch grant_type=password tokens,
// pays that one 401, then fetches tokens before sending. Pushing needs
// rights an anonymous token lacks: one refused try, then the 401 error.
func TestAnonymousPull(t *testing.T) {
	t.Parallel()
	r := StartRegistry(t, RegistryOptions{Auth: AuthToken, TLS: true, Anonymous: true})
	ctx := t.Context()
	owner := r.BlobClient(t)
	var digests []string
	for _, repo := range []string{"public/a", "public/b"} {
		up, err := owner.UploadBlob(ctx, repo, strings.NewReader("public "+repo), nil)
		require.NoError(t, err)
		digests = append(digests, up.Digest)
	}
	r.Log.Reset()
	r.Issuer.ResetRequests()
	entra := r.Entra.Calls()

	anon := r.BlobClientWith(t, nil)
	for i, repo := range []string{"public/a", "public/a", "public/b"} {
		d := digests[0]
		if repo == "public/b" {
			d = digests[1]
		}
		got, err := anon.GetBlob(ctx, repo, d, nil)
		require.NoError(t, err, "read %d", i)
		b, err := io.ReadAll(got.Body)
		require.NoError(t, got.Body.Close())
		require.NoError(t, err)
		assert.Equal(t, "public "+repo, string(b))
	}
	assert.Equal(t, 1, r.Log.Unauthorized(), "only the first request is challenged\n%s", r.Log)
	reqs := r.Issuer.Requests()
	require.Len(t, reqs, 2)
	for _, q := range reqs {
		assert.Equal(t, "password", q.GrantType)
		assert.Equal(t, http.StatusOK, q.Status)
	}
	assert.Zero(t, r.Log.Path("/oauth2/exchange"))
	assert.Equal(t, entra, r.Entra.Calls(), "no Entra token for an anonymous client")

	r.Log.Reset()
	_, err := anon.UploadBlob(ctx, "public/a", strings.NewReader("vandalism"), nil)
	re := requireStatus(t, err, http.StatusUnauthorized)
	assert.Contains(t, re.RawResponse.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`)
	assert.Equal(t, 1, r.Log.Unauthorized(), "one refused try, no loop\n%s", r.Log)
}

// TestAnonymousRefused: without anonymous pull the token service refuses
// grant_type=password, and the client reports that 401.
func TestAnonymousRefused(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, true)
	_, err := r.BlobClientWith(t, nil).GetBlob(t.Context(), "private/repo", azacr.ComputeDigest([]byte("x")), nil)
	requireStatus(t, err, http.StatusUnauthorized)
	assert.Equal(t, 1, r.Log.Unauthorized())
	assert.Equal(t, 1, r.Log.Path("/oauth2/token"))
}

// TestPasswordCredentialOnTokenRegistry: a PasswordCredential learns from
// the first challenge that the registry wants Bearer tokens, fetches them
// with Basic authentication at GET /oauth2/token (PROTOCOL.md §2.5), and after
// that one 401 fetches each scope's token before sending.
func TestPasswordCredentialOnTokenRegistry(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, true)
	ctx := t.Context()
	c := r.BlobClientWith(t, azacr.NewPasswordCredential(TestUsername, TestPassword))
	for i := range 3 {
		data := []byte(fmt.Sprintf("password upload %d", i))
		up, err := c.UploadBlob(ctx, "pw/repo", bytes.NewReader(data), nil)
		require.NoError(t, err)
		got, err := c.GetBlob(ctx, "pw/repo", up.Digest, nil)
		require.NoError(t, err)
		b, err := io.ReadAll(got.Body)
		require.NoError(t, got.Body.Close())
		require.NoError(t, err)
		assert.Equal(t, data, b)
	}
	assert.Equal(t, 1, r.Log.Unauthorized(), "warm-up only\n%s", r.Log)
	reqs := r.Issuer.Requests()
	require.Len(t, reqs, 2, "one token per scope")
	for _, q := range reqs {
		assert.Equal(t, http.MethodGet, q.Method)
		assert.Equal(t, http.StatusOK, q.Status)
	}
	assert.Zero(t, r.Log.Path("/oauth2/exchange"))

	bad := r.BlobClientWith(t, azacr.NewPasswordCredential(TestUsername, "wrong"))
	_, err := bad.GetBlob(ctx, "pw/repo", azacr.ComputeDigest([]byte("x")), nil)
	requireStatus(t, err, http.StatusUnauthorized)
}

// TestHtpasswdChallengesOnce: against Basic authentication the password
// client pays one 401 to learn the scheme, then sends the password with
// every request. A wrong password ends in the 401 after one retry.
func TestHtpasswdChallengesOnce(t *testing.T) {
	t.Parallel()
	r := StartHtpasswdRegistry(t, true)
	ctx := t.Context()
	c := r.BlobClient(t)
	cc := r.Client(t)
	up, err := c.UploadBlob(ctx, "basic/repo", strings.NewReader("basic"), nil)
	require.NoError(t, err)
	for range 3 {
		ex, err := c.CheckBlobExists(ctx, "basic/repo", up.Digest, nil)
		require.NoError(t, err)
		assert.True(t, ex.Exists)
	}
	assert.Equal(t, 1, r.Log.Unauthorized(), "\n%s", r.Log)
	for i, rec := range r.Log.Records() {
		if i > 0 {
			assert.Equal(t, "Basic", rec.AuthScheme, "%s %s", rec.Method, rec.Path)
		}
	}
	// Each client learns the scheme once for itself, here on a request
	// with a body: the body is sent again, whole, with the password.
	manifest := mustJSON(t, azacr.ImageManifest{
		SchemaVersion: 2, MediaType: string(azacr.ContentTypeApplicationVndOCIImageManifestV1JSON),
		Config: azacr.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: up.Digest, Size: up.Size},
		Layers: []azacr.Descriptor{},
	})
	r.Log.Reset()
	_, err = cc.UploadManifest(ctx, "basic/repo", "v1", azacr.ContentTypeApplicationVndOCIImageManifestV1JSON, streaming.NopCloser(bytes.NewReader(manifest)), nil)
	require.NoError(t, err)
	recs := r.Log.Records()
	require.Len(t, recs, 2, "\n%s", r.Log)
	assert.Equal(t, http.StatusUnauthorized, recs[0].Status)
	assert.Equal(t, http.StatusCreated, recs[1].Status)
	assert.Equal(t, int64(len(manifest)), recs[1].BodyBytes)
	got, err := cc.GetManifest(ctx, "basic/repo", "v1", nil)
	require.NoError(t, err)
	assert.Equal(t, manifest, got.ManifestData)

	r.Log.Reset()
	bad := r.BlobClientWith(t, azacr.NewPasswordCredential(TestUsername, "wrong"))
	_, err = bad.CheckBlobExists(ctx, "basic/repo", up.Digest, nil)
	requireStatus(t, err, http.StatusUnauthorized)
	assert.Len(t, r.Log.Records(), 2, "one try without, one with the password\n%s", r.Log)
}

// TestPlainHTTPCredentialsNeedOptIn: over plain HTTP the client refuses
// to send any credential unless InsecureAllowCredentialWithHTTP is set.
// With an Entra credential nothing leaves the client, not even the Entra
// request; with a password, only the first, credential-free request.
func TestPlainHTTPCredentialsNeedOptIn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	t.Run("token", func(t *testing.T) {
		r := StartTokenRegistry(t, false)
		opts := r.ClientOptions()
		opts.InsecureAllowCredentialWithHTTP = false
		c, err := azacr.NewBlobClient(r.URL, r.Credential, &azacr.BlobClientOptions{ClientOptions: opts})
		require.NoError(t, err)
		_, err = c.UploadBlob(ctx, "plain/repo", strings.NewReader("secret"), nil)
		require.ErrorContains(t, err, "InsecureAllowCredentialWithHTTP")
		assert.Zero(t, r.Entra.Calls())
		assert.Empty(t, r.Log.Records())
	})
	t.Run("htpasswd", func(t *testing.T) {
		r := StartHtpasswdRegistry(t, false)
		opts := r.ClientOptions()
		opts.InsecureAllowCredentialWithHTTP = false
		c, err := azacr.NewBlobClient(r.URL, r.Credential, &azacr.BlobClientOptions{ClientOptions: opts})
		require.NoError(t, err)
		_, err = c.CheckBlobExists(ctx, "plain/repo", azacr.ComputeDigest([]byte("x")), nil)
		require.ErrorContains(t, err, "InsecureAllowCredentialWithHTTP")
		recs := r.Log.Records()
		require.Len(t, recs, 1)
		assert.Empty(t, recs[0].AuthScheme)

		// Opted in, the same registry works.
		up, err := r.BlobClient(t).UploadBlob(ctx, "plain/repo", strings.NewReader("allowed"), nil)
		require.NoError(t, err)
		assert.Equal(t, azacr.ComputeDigest([]byte("allowed")), up.Digest)
	})
}

// TestConcurrentOperationsShareTokens runs eight uploads and downloads at
// once on one client. Concurrent callers needing the same token share one
// fetch: one Entra call, one exchange, one token per scope, and no 401.
func TestConcurrentOperationsShareTokens(t *testing.T) {
	t.Parallel()
	r := StartTokenRegistry(t, true)
	c := r.BlobClient(t)
	ctx := t.Context()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			data := confBytes(64<<10+i, uint64(100+i))
			up, err := c.UploadBlob(ctx, "shared/repo", bytes.NewReader(data), &azacr.BlobClientUploadBlobOptions{ChunkSize: 16 << 10})
			if err != nil {
				errs <- err
				return
			}
			f, err := c.GetBlob(ctx, "shared/repo", up.Digest, nil)
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(f.Body)
			f.Body.Close()
			if err == nil && !bytes.Equal(b, data) {
				err = fmt.Errorf("blob %d came back different", i)
			}
			errs <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
	assert.Equal(t, 1, r.Entra.Calls())
	assert.Equal(t, 1, r.Log.Path("/oauth2/exchange"))
	reqs := r.Issuer.Requests()
	assert.Equal(t, 1, ScopeRequests(reqs, "repository:shared/repo:pull,push"))
	assert.Equal(t, 1, ScopeRequests(reqs, "repository:shared/repo:pull"))
	assert.Len(t, reqs, 3, "the exchange and two tokens")
	assert.Zero(t, r.Log.Unauthorized())
}
