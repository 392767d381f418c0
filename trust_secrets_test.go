package azacr

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileFront stands between the client and an emulator: it forwards
// everything, remembers every token the emulator hands out, and answers
// the requests that redirectIf picks with a redirect to another origin
// (the sink), which records whatever reaches it.
type hostileFront struct {
	*httptest.Server
	sink *httptest.Server

	mu         sync.Mutex
	secrets    map[string]bool
	received   []string // dumps of the requests the sink got
	redirectIf func(*http.Request) bool
	status     int
	// sinkAnswer, when set, is how the sink answers (after recording).
	sinkAnswer func(http.ResponseWriter)
	// intercept, when set, may answer a request in place of the registry.
	intercept func(http.ResponseWriter, *http.Request) bool
}

func newHostileFront(t *testing.T, srv *acrtest.Server) *hostileFront {
	t.Helper()
	f := &hostileFront{secrets: map[string]bool{}}
	f.sink = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dump, _ := httputil.DumpRequest(r, true)
		f.mu.Lock()
		f.received = append(f.received, string(dump))
		answer := f.sinkAnswer
		f.mu.Unlock()
		if answer != nil {
			answer(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(f.sink.Close)
	target, err := url.Parse(srv.URL)
	require.NoError(t, err)
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Host = target.Host },
		Transport: srv.Client().Transport,
		ModifyResponse: func(resp *http.Response) error {
			if strings.HasPrefix(resp.Request.URL.Path, "/oauth2/") {
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					return err
				}
				resp.Body = io.NopCloser(bytes.NewReader(b))
				var m map[string]string
				if json.Unmarshal(b, &m) == nil {
					f.remember(m["refresh_token"], m["access_token"])
				}
			}
			return nil
		},
	}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		redirect, status, intercept := f.redirectIf != nil && f.redirectIf(r), f.status, f.intercept
		f.mu.Unlock()
		if intercept != nil && intercept(w, r) {
			return
		}
		if redirect {
			w.Header().Set("Location", f.sink.URL+r.URL.RequestURI())
			w.WriteHeader(status)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Server.Close)
	return f
}

func (f *hostileFront) remember(secrets ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			f.secrets[s] = true
		}
	}
}

func (f *hostileFront) redirect(status int, match func(*http.Request) bool) {
	f.mu.Lock()
	f.redirectIf, f.status, f.received = match, status, nil
	f.mu.Unlock()
}

// leaks returns every secret found in what the sink received, and how many
// requests it received.
func (f *hostileFront) leaks() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var found []string
	for _, dump := range f.received {
		for s := range f.secrets {
			if strings.Contains(dump, s) || strings.Contains(dump, url.QueryEscape(s)) {
				found = append(found, s)
			}
		}
	}
	return found, len(f.received)
}

// recordingCredential remembers every Entra token it hands out.
type recordingCredential struct {
	next  azcore.TokenCredential
	front *hostileFront
}

func (c recordingCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.next.GetToken(ctx, o)
	c.front.remember(tok.Token)
	return tok, err
}

// frontOptions are client options whose transport trusts both the front
// and the sink (every httptest TLS server shares one certificate).
func frontOptions(f *hostileFront) azcore.ClientOptions {
	return azcore.ClientOptions{Transport: f.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}
}

func methodPath(method, prefix string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == method && strings.HasPrefix(r.URL.Path, prefix) }
}

// TestTokenRequestsNeverFollowRedirects: every kind of token request,
// answered with a redirect to another origin, is not followed at all; the
// operation fails with the redirect as a refusal.
func TestTokenRequestsNeverFollowRedirects(t *testing.T) {
	const password = "pa55word-stays-home"
	kinds := []struct {
		name  string
		match func(*http.Request) bool
		cred  func(*acrtest.Server, *hostileFront) azcore.TokenCredential
	}{
		{"exchange", methodPath(http.MethodPost, "/oauth2/exchange"),
			func(s *acrtest.Server, f *hostileFront) azcore.TokenCredential {
				return recordingCredential{s.Credential(), f}
			}},
		{"refresh grant", methodPath(http.MethodPost, "/oauth2/token"),
			func(s *acrtest.Server, f *hostileFront) azcore.TokenCredential {
				return recordingCredential{s.Credential(), f}
			}},
		{"anonymous grant", methodPath(http.MethodPost, "/oauth2/token"),
			func(*acrtest.Server, *hostileFront) azcore.TokenCredential { return nil }},
		{"basic login", methodPath(http.MethodGet, "/oauth2/token"),
			func(*acrtest.Server, *hostileFront) azcore.TokenCredential {
				return NewPasswordCredential("admin", password)
			}},
	}
	for _, kind := range kinds {
		for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
			t.Run(fmt.Sprintf("%s/%d", kind.name, status), func(t *testing.T) {
				srv := acrtest.NewServer(t, &acrtest.Options{AnonymousPull: true, Users: []acrtest.User{{Name: "admin", Password: password}}})
				seedImage(t, srv, "hello", "v1")
				f := newHostileFront(t, srv)
				f.remember(password, base64.StdEncoding.EncodeToString([]byte("admin:"+password)))
				c, err := NewContainerRegistryClient(f.URL, kind.cred(srv, f), &ContainerRegistryClientOptions{ClientOptions: frontOptions(f)})
				require.NoError(t, err)
				f.redirect(status, kind.match)
				_, err = c.GetRepositoryProperties(t.Context(), "hello", nil)
				require.Error(t, err)
				var re *azcore.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, status, re.StatusCode, "the redirect is the token endpoint's answer")
				leaked, n := f.leaks()
				assert.Zero(t, n, "a token request is never sent to the redirect's target")
				assert.Empty(t, leaked)
			})
		}
	}
}

// TestNoSecretFollowsARegistryRedirect sends every kind of registry request
// the library makes through a front that redirects exactly that kind to
// another origin, and checks that nothing the sink receives contains the
// Entra token, a refresh or access token, or the password.
func TestNoSecretFollowsARegistryRedirect(t *testing.T) {
	type clients struct {
		c *ContainerRegistryClient
		b *BlobClient
	}
	blob := bytes.Repeat([]byte("b"), 2500)
	blobDigest := ComputeDigest(blob)
	startUpload := func(ctx context.Context, cl clients) (string, error) {
		st, err := cl.b.StartUpload(ctx, "hello", nil)
		if err != nil {
			return "", err
		}
		return *st.Location, nil
	}
	ops := []struct {
		name  string
		match func(*http.Request) bool
		run   func(context.Context, clients, string) error // the string is the seeded manifest digest
	}{
		{"list repositories", methodPath(http.MethodGet, "/acr/v1/_catalog"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.c.NewListRepositoriesPager(nil).NextPage(ctx)
			return err
		}},
		{"next page", func(r *http.Request) bool { return r.URL.Path == "/acr/v1/_catalog" && r.URL.Query().Has("last") },
			func(ctx context.Context, cl clients, _ string) error {
				p := cl.c.NewListRepositoriesPager(&ContainerRegistryClientListRepositoriesOptions{N: to.Ptr[int64](1)})
				for p.More() {
					if _, err := p.NextPage(ctx); err != nil {
						return err
					}
				}
				return nil
			}},
		{"repository properties", methodPath(http.MethodGet, "/acr/v1/hello"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.c.GetRepositoryProperties(ctx, "hello", nil)
			return err
		}},
		{"update repository", methodPath(http.MethodPatch, "/acr/v1/hello"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.c.UpdateRepositoryProperties(ctx, "hello", &ContainerRegistryClientUpdateRepositoryPropertiesOptions{Value: &RepositoryWriteableProperties{CanList: to.Ptr(true)}})
			return err
		}},
		{"list tags", methodPath(http.MethodGet, "/acr/v1/hello/_tags"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.c.NewListTagsPager("hello", nil).NextPage(ctx)
			return err
		}},
		{"delete tag", methodPath(http.MethodDelete, "/acr/v1/hello/_tags/"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.c.DeleteTag(ctx, "hello", "v1", nil)
			return err
		}},
		{"manifest properties", methodPath(http.MethodGet, "/acr/v1/hello/_manifests/"), func(ctx context.Context, cl clients, d string) error {
			_, err := cl.c.GetManifestProperties(ctx, "hello", d, nil)
			return err
		}},
		{"delete repository", methodPath(http.MethodDelete, "/acr/v1/hello"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.c.DeleteRepository(ctx, "hello", nil)
			return err
		}},
		{"get manifest", methodPath(http.MethodGet, "/v2/hello/manifests/"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.c.GetManifest(ctx, "hello", "v1", nil)
			return err
		}},
		{"head manifest", methodPath(http.MethodHead, "/v2/hello/manifests/"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.c.DeleteManifest(ctx, "hello", "v1", nil)
			return err
		}},
		{"upload manifest", methodPath(http.MethodPut, "/v2/hello/manifests/"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.c.UploadManifest(ctx, "hello", "v2", ContentTypeApplicationVndOCIImageManifestV1JSON,
				streamingBody(`{"schemaVersion":2}`), nil)
			return err
		}},
		{"delete manifest", methodPath(http.MethodDelete, "/v2/hello/manifests/"), func(ctx context.Context, cl clients, d string) error {
			_, err := cl.c.DeleteManifest(ctx, "hello", d, nil)
			return err
		}},
		{"referrers", methodPath(http.MethodGet, "/v2/hello/referrers/"), func(ctx context.Context, cl clients, d string) error {
			_, err := cl.c.NewListReferrersPager("hello", d, nil).NextPage(ctx)
			return err
		}},
		{"get blob", methodPath(http.MethodGet, "/v2/hello/blobs/sha256:"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.b.DownloadBlob(ctx, "hello", blobDigest, &discardWriterAt{}, &BlobClientDownloadBlobOptions{Concurrency: 2, BlockSize: 1000, MaxRetries: -1})
			return err
		}},
		{"check blob", methodPath(http.MethodHead, "/v2/hello/blobs/"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.b.CheckBlobExists(ctx, "hello", blobDigest, nil)
			return err
		}},
		{"delete blob", methodPath(http.MethodDelete, "/v2/hello/blobs/sha256:"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.b.DeleteBlob(ctx, "hello", blobDigest, nil)
			return err
		}},
		{"start upload", methodPath(http.MethodPost, "/v2/hello/blobs/uploads/"), func(ctx context.Context, cl clients, _ string) error {
			_, err := startUpload(ctx, cl)
			return err
		}},
		{"mount", func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Query().Has("mount") },
			func(ctx context.Context, cl clients, _ string) error {
				_, err := cl.b.MountBlob(ctx, "other", "hello", blobDigest, nil)
				return err
			}},
		{"upload chunk", methodPath(http.MethodPatch, "/v2/hello/blobs/uploads/"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.b.UploadBlob(ctx, "hello", bytes.NewReader(append(blob, 'x')), &BlobClientUploadBlobOptions{ChunkSize: 1000, SkipExistenceCheck: true})
			return err
		}},
		{"complete upload", methodPath(http.MethodPut, "/v2/hello/blobs/uploads/"), func(ctx context.Context, cl clients, _ string) error {
			_, err := cl.b.UploadBlob(ctx, "hello", bytes.NewReader(append(blob, 'y')), &BlobClientUploadBlobOptions{SkipExistenceCheck: true})
			return err
		}},
		{"upload status", methodPath(http.MethodGet, "/v2/hello/blobs/uploads/"), func(ctx context.Context, cl clients, _ string) error {
			loc, err := startUpload(ctx, cl)
			if err != nil {
				return err
			}
			_, err = cl.b.GetUploadStatus(ctx, loc, nil)
			return err
		}},
		{"cancel upload", methodPath(http.MethodDelete, "/v2/hello/blobs/uploads/"), func(ctx context.Context, cl clients, _ string) error {
			loc, err := startUpload(ctx, cl)
			if err != nil {
				return err
			}
			_, err = cl.b.CancelUpload(ctx, loc, nil)
			return err
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			srv := acrtest.NewServer(t, nil)
			digest := seedImage(t, srv, "hello", "v1")
			seedImage(t, srv, "other", "v1")
			srv.PutBlob("hello", blob)
			f := newHostileFront(t, srv)
			cred := recordingCredential{srv.Credential(), f}
			c, err := NewContainerRegistryClient(f.URL, cred, &ContainerRegistryClientOptions{ClientOptions: frontOptions(f)})
			require.NoError(t, err)
			b, err := NewBlobClient(f.URL, cred, &BlobClientOptions{ClientOptions: frontOptions(f)})
			require.NoError(t, err)
			cl := clients{c, b}
			// Warm both clients' caches for the repository, so the
			// redirected request carries a cached token on its first try.
			_, err = c.GetManifest(t.Context(), "hello", "v1", nil)
			require.NoError(t, err)
			_, err = b.CheckBlobExists(t.Context(), "hello", blobDigest, nil)
			require.NoError(t, err)

			for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
				f.redirect(status, op.match)
				_ = op.run(t.Context(), cl, digest) // the sink's answers are nonsense; only leaks matter
				leaked, n := f.leaks()
				assert.NotZero(t, n, "status %d: the redirect must have been exercised", status)
				assert.Empty(t, leaked, "status %d: secrets reached another origin", status)
			}
		})
	}
}

// discardWriterAt accepts and drops writes at any offset.
type discardWriterAt struct{}

func (*discardWriterAt) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

func streamingBody(s string) io.ReadSeekCloser {
	return readSeekNopCloser{strings.NewReader(s)}
}

type readSeekNopCloser struct{ io.ReadSeeker }

func (readSeekNopCloser) Close() error { return nil }

// TestBasicRegistryRedirectKeepsThePassword: a registry with plain Basic
// authentication that redirects an authenticated request elsewhere never
// gets the password sent there.
func TestBasicRegistryRedirectKeepsThePassword(t *testing.T) {
	const password = "basic-secret-pass"
	sink := newHitCounter(t)
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, sink.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer ts.Close()
	c, err := NewContainerRegistryClient(ts.URL, NewPasswordCredential("admin", password), &ContainerRegistryClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: ts.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	require.NoError(t, err)
	_, _ = c.GetRepositoryProperties(t.Context(), "a", nil)
	assert.EqualValues(t, 1, sink.hits.Load(), "the redirect was followed")
	assert.Zero(t, sink.auths.Load(), "without the Basic credentials")
}
