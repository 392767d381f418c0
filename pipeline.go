package azacr

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

const (
	moduleName    = "github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	moduleVersion = "v0.1.0"
	// apiVersion is the /acr/v1 and /oauth2 API version (PROTOCOL.md §1).
	apiVersion = "2021-07-01"
)

// ErrInvalidEndpoint is returned by the client constructors for an
// endpoint that is not an absolute http(s) URL of a registry host.
var ErrInvalidEndpoint = errors.New("azacr: invalid endpoint")

// parseEndpoint accepts "https://host[:port]" with an optional trailing
// slash, and nothing else: a path, query, fragment or user info would be
// silently dropped or, worse, sent somewhere unexpected.
func parseEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidEndpoint, endpoint, err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("%w: %q: the scheme must be https (or http)", ErrInvalidEndpoint, endpoint)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: %q: no host", ErrInvalidEndpoint, endpoint)
	case u.User != nil:
		return nil, fmt.Errorf("%w: %q: user info is not allowed; pass a credential", ErrInvalidEndpoint, endpoint)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.Opaque != "":
		return nil, fmt.Errorf("%w: %q: only scheme and host are allowed", ErrInvalidEndpoint, endpoint)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// loggedHeaders are response and request headers safe to log with values:
// none carries a secret.
var loggedHeaders = []string{
	"Docker-Content-Digest", "Docker-Upload-Uuid", "Docker-Distribution-Api-Version", "Range", "Content-Range",
	"Link", "Location", "WWW-Authenticate", "X-Ms-Correlation-Request-Id", "X-Ms-Request-Id", "OCI-Subject",
	"OCI-Filters-Applied", "Accept-Ranges", "Retry-After",
}

// loggedQueryParameters are query parameters safe to log with values. The
// upload session's _state is left redacted: it is opaque and signed.
var loggedQueryParameters = []string{"api-version", "n", "last", "orderby", "digest", "from", "mount", "artifactType", "_nouploadcache"}

// newPipelineClient builds the azcore client both registry clients use,
// with the ACR authentication policy on every try.
func newPipelineClient(endpoint string, cred azcore.TokenCredential, clientOptions azcore.ClientOptions, audience, clientName string) (*azcore.Client, *url.URL, *authenticationPolicy, error) {
	ep, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, nil, nil, err
	}
	if audience == "" {
		audience = DefaultAudience
	}
	opts := clientOptions // a copy: never write into the caller's options
	transport := withSafeRedirects(opts.Transport)
	opts.Transport = bodyLimitTransport{next: transport, limit: metadataBodyLimit}

	tokenOpts := opts
	tokenOpts.Logging.IncludeBody = false // token bodies are secrets
	// Token requests carry the Entra token, refresh tokens or a password:
	// they never follow a redirect, to any origin.
	tokenOpts.Transport = bodyLimitTransport{next: withoutRedirects(transport), limit: tokenResponseLimit}
	tokenPipeline := runtime.NewPipeline(moduleName, moduleVersion, runtime.PipelineOptions{
		AllowedHeaders: loggedHeaders, AllowedQueryParameters: loggedQueryParameters,
	}, &tokenOpts)

	auth := newAuthenticationPolicy(ep, cred, audience, tokenPipeline, opts.InsecureAllowCredentialWithHTTP)
	client, err := azcore.NewClient(moduleName, moduleVersion, runtime.PipelineOptions{
		AllowedHeaders:         loggedHeaders,
		AllowedQueryParameters: loggedQueryParameters,
		PerRetry:               []policy.Policy{throttlePolicy{}, auth, sendPolicy{}},
		Tracing:                runtime.TracingOptions{Namespace: "Microsoft.ContainerRegistry"},
	}, &opts)
	if err != nil {
		return nil, nil, nil, err
	}
	return client.WithClientName(clientName), ep, auth, nil
}

// withSafeRedirects makes redirects drop the Authorization header whenever
// they leave the registry's origin (scheme, host and port). ACR answers
// blob GETs with 307 to Azure Storage (PROTOCOL.md §5.1); forwarding the token
// there would leak it, and Storage refuses such requests anyway. net/http
// by itself keeps the header across a port change on the same host name.
// A custom Transporter that is not an *http.Client is used as given: it
// decides about redirects itself.
func withSafeRedirects(t policy.Transporter) policy.Transporter {
	c, ok := copyHTTPClient(t)
	if !ok {
		return t
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && !sameOrigin(req.URL, via[0].URL) {
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("azacr: stopped after 10 redirects")
		}
		return nil
	}
	return c
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// copyHTTPClient returns a copy of t when it is an *http.Client (a client on
// the process's shared transport when t is nil), whose redirect handling
// may then be changed without touching the caller's; false for any other
// Transporter.
func copyHTTPClient(t policy.Transporter) (*http.Client, bool) {
	switch tt := t.(type) {
	case nil:
		return &http.Client{Transport: sharedTransport()}, true
	case *http.Client:
		c := *tt
		return &c, true
	}
	return nil, false
}

// sharedTransport is the transport of every client given no Transporter,
// so that two clients of one registry (a ContainerRegistryClient and a
// BlobClient, say) share its connections and TLS sessions.
var sharedTransport = sync.OnceValue(defaultTransport)

// defaultTransport mirrors azcore's default: TLS 1.2 or later, HTTP/2,
// proxy from the environment, and enough idle connections per host for
// parallel downloads to reuse theirs (net/http keeps only 2 by default, so
// DownloadBlob with Concurrency 4 would keep dialling).
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	t.MaxIdleConns = 100
	t.MaxIdleConnsPerHost = 16
	// ACR's response headers fit in a few KiB; net/http's default allows
	// 10 MiB per response, which a hostile registry could fill each time.
	t.MaxResponseHeaderBytes = 1 << 20
	return t
}

// newRequest builds a request to path (already escaped) on the registry,
// carrying the scope the authentication policy needs for it.
func newRequest(ctx context.Context, ep *url.URL, method, pathAndQuery string, scope authScope) (*policy.Request, error) {
	req, err := runtime.NewRequest(ctx, method, ep.String()+pathAndQuery)
	if err != nil {
		return nil, err
	}
	req.SetOperationValue(scope)
	return req, nil
}

// escapePath escapes each '/'-separated component of a repository name
// (or any path piece). Validated names need no escaping; this keeps a URL
// well-formed whatever reaches it.
func escapePath(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// sendExpecting runs req through pl and turns any status but the expected
// ones into an *azcore.ResponseError carrying ACR's error code.
func sendExpecting(pl runtime.Pipeline, req *policy.Request, statuses ...int) (*http.Response, error) {
	resp, err := pl.Do(req)
	if err != nil {
		return nil, err
	}
	if !runtime.HasStatusCode(resp, statuses...) {
		return nil, newResponseError(resp)
	}
	return resp, nil
}

// checkDigestHeader compares the registry's Docker-Content-Digest after an
// upload with the digest computed from what was sent. A registry that
// stored something else must not be believed to hold our content.
func checkDigestHeader(resp *http.Response, digest string) error {
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != digest {
		return &DigestMismatchError{Expected: digest, Actual: got}
	}
	return nil
}
