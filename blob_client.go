package azacr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// ErrInvalidLocation is returned for an upload URL that is malformed or
// leaves the registry's origin. The registry hands out upload URLs; one
// pointing elsewhere would send the blob, and a token, to another host.
var ErrInvalidLocation = errors.New("azacr: invalid upload location")

// BlobClient uploads and downloads blobs (layers, configs, artifact files)
// through the /v2 distribution API: one-call UploadBlob and DownloadBlob,
// a digest-verified GetBlob, and the public low-level steps of an upload
// for callers who drive it themselves. It is safe for concurrent use.
type BlobClient struct {
	internal *azcore.Client
	endpoint *url.URL
	auth     *authenticationPolicy
	// retry is the caller's ClientOptions.Retry, for the requests the
	// library retries itself (blob bytes up, blob ranges down).
	retry retryRules
}

// ContainerRegistryBlobClient is BlobClient under the name that the Azure
// SDK for Go's earlier azacr preview and its README use.
type ContainerRegistryBlobClient = BlobClient

// ContainerRegistryBlobClientOptions is BlobClientOptions under the name
// that the Azure SDK for Go's earlier azacr preview and its README use.
type ContainerRegistryBlobClientOptions = BlobClientOptions

// NewBlobClient creates a blob client for the registry at endpoint, like
// "https://myregistry.azurecr.io". The credential works as for
// NewContainerRegistryClient: Microsoft Entra, *PasswordCredential, or nil
// for anonymous pulls. options may be nil.
func NewBlobClient(endpoint string, cred azcore.TokenCredential, options *BlobClientOptions) (*BlobClient, error) {
	if options == nil {
		options = &BlobClientOptions{}
	}
	c, ep, auth, err := newPipelineClient(endpoint, cred, options.ClientOptions, options.Audience, "azacr.BlobClient")
	if err != nil {
		return nil, err
	}
	return &BlobClient{internal: c, endpoint: ep, auth: auth, retry: newRetryRules(options.ClientOptions.Retry)}, nil
}

// NewContainerRegistryBlobClient is NewBlobClient under the name that the
// Azure SDK for Go's earlier azacr preview and its README use.
func NewContainerRegistryBlobClient(endpoint string, cred azcore.TokenCredential, options *BlobClientOptions) (*BlobClient, error) {
	return NewBlobClient(endpoint, cred, options)
}

func (c *BlobClient) send(req *policy.Request, statuses ...int) (*http.Response, error) {
	return sendExpecting(c.internal.Pipeline(), req, statuses...)
}

func blobPath(name, digest string) string {
	return "/v2/" + escapePath(name) + "/blobs/" + url.PathEscape(digest)
}

func validateNameDigest(name, digest string) error {
	if err := ValidateRepository(name); err != nil {
		return err
	}
	return ValidateDigest(digest)
}

// uploadLocation resolves an upload URL from a Location header against the
// registry (ACR sends it relative, PROTOCOL.md §6.1), refuses one on another
// origin, and returns it with the repository it belongs to.
func (c *BlobClient) uploadLocation(location string) (*url.URL, string, error) {
	u, err := c.endpoint.Parse(location)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q: %v", ErrInvalidLocation, location, err)
	}
	if !sameOrigin(u, c.endpoint) {
		return nil, "", fmt.Errorf("%w: %q is not on the registry %s", ErrInvalidLocation, location, c.endpoint.Host)
	}
	rest, ok := strings.CutPrefix(u.Path, "/v2/")
	i := strings.LastIndex(rest, "/blobs/uploads/")
	if !ok || i <= 0 {
		return nil, "", fmt.Errorf("%w: %q is not an upload URL", ErrInvalidLocation, location)
	}
	name := rest[:i]
	if err := ValidateRepository(name); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrInvalidLocation, err)
	}
	return u, name, nil
}

// ownedBody returns the body of a request that carries blob bytes as a
// chunkBody, whose sendings end before the call returns: net/http's writer
// may otherwise still read a caller's body after the response has come
// back (a registry may answer before reading it all), while the caller
// already refills it. The caller ends it when the request is over.
// UploadBlob's own chunks come as chunkBodies already; ending them twice
// is harmless.
func ownedBody(b io.ReadSeekCloser) (*chunkBody, error) {
	if cb, ok := b.(*chunkBody); ok {
		return cb, nil
	}
	return callerChunk(b)
}

// uploadState reads the headers every upload step answers with.
func uploadState(resp *http.Response) (location, uuid, rng *string) {
	get := func(k string) *string {
		if v := resp.Header.Get(k); v != "" {
			return &v
		}
		return nil
	}
	return get("Location"), get("Docker-Upload-Uuid"), get("Range")
}

// StartUpload opens an upload session in repository name. Send chunks to
// the returned Location with UploadChunk, then CompleteUpload.
func (c *BlobClient) StartUpload(ctx context.Context, name string, options *BlobClientStartUploadOptions) (resp BlobClientStartUploadResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.StartUpload", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = ValidateRepository(name); err != nil {
		return resp, err
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodPost, "/v2/"+escapePath(name)+"/blobs/uploads/", repositoryScope(name, "pull", "push"))
	if err != nil {
		return resp, err
	}
	httpResp, err := c.send(req, http.StatusAccepted)
	if err != nil {
		return resp, err
	}
	runtime.Drain(httpResp)
	resp.Location, resp.DockerUploadUUID, resp.Range = uploadState(httpResp)
	if resp.Location == nil {
		return resp, fmt.Errorf("%w: the registry started an upload without a Location", ErrInvalidLocation)
	}
	return resp, nil
}

// UploadChunk sends chunkData to the upload session at location (the
// Location of the previous step; each step returns a new one, and only the
// newest is valid). Set options.RangeStart and RangeEnd (inclusive) to send
// ACR's Content-Range; the registry then refuses a chunk that does not
// start where the session stands. chunkData is sent with an explicit
// Content-Length, as ACR requires: from its current offset to its end.
//
// chunkData is read only while the call runs: UploadChunk returns once no
// Read of it is under way, so the caller may reuse it at once. The other
// side of that promise: a chunkData whose Read blocks holds the call past
// ctx until the Read returns. (UploadBlob, which owns its buffers, returns
// when ctx ends whatever its body does.)
func (c *BlobClient) UploadChunk(ctx context.Context, location string, chunkData io.ReadSeekCloser, options *BlobClientUploadChunkOptions) (resp BlobClientUploadChunkResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.UploadChunk", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	u, name, err := c.uploadLocation(location)
	if err != nil {
		return resp, err
	}
	if chunkData == nil {
		return resp, errors.New("azacr: UploadChunk needs chunkData")
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodPatch, "", repositoryScope(name, "pull", "push"))
	if err != nil {
		return resp, err
	}
	req.Raw().URL = u
	body, err := ownedBody(chunkData)
	if err != nil {
		return resp, err
	}
	defer body.end()
	if err = req.SetBody(body, "application/octet-stream"); err != nil {
		return resp, err
	}
	if options != nil && (options.RangeStart != nil || options.RangeEnd != nil) {
		if options.RangeStart == nil || options.RangeEnd == nil || *options.RangeStart < 0 || *options.RangeEnd < *options.RangeStart-1 {
			return resp, errors.New("azacr: UploadChunk needs both RangeStart and RangeEnd, with 0 <= RangeStart <= RangeEnd+1")
		}
		// ACR's own form: "start-end", inclusive, no unit and no total
		// (PROTOCOL.md §6.2); "bytes start-end/total" is refused.
		req.Raw().Header.Set("Content-Range", strconv.FormatInt(*options.RangeStart, 10)+"-"+strconv.FormatInt(*options.RangeEnd, 10))
	}
	httpResp, err := c.send(req, http.StatusAccepted)
	if err != nil {
		return resp, err
	}
	runtime.Drain(httpResp)
	resp.Location, resp.DockerUploadUUID, resp.Range = uploadState(httpResp)
	return resp, nil
}

// GetUploadStatus asks an upload session how many bytes it holds; Range
// is "0-<last byte>". ACR answers "0-0" both for an empty session and for
// one holding one byte, so track the offset yourself when you can.
func (c *BlobClient) GetUploadStatus(ctx context.Context, location string, options *BlobClientGetUploadStatusOptions) (resp BlobClientGetUploadStatusResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.GetUploadStatus", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	u, name, err := c.uploadLocation(location)
	if err != nil {
		return resp, err
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodGet, "", repositoryScope(name, "pull", "push"))
	if err != nil {
		return resp, err
	}
	req.Raw().URL = u
	httpResp, err := c.send(req, http.StatusNoContent)
	if err != nil {
		return resp, err
	}
	runtime.Drain(httpResp)
	resp.Location, resp.DockerUploadUUID, resp.Range = uploadState(httpResp)
	return resp, nil
}

// CompleteUpload finishes an upload session: the registry checks that
// what it received has the given digest and stores the blob (a wrong
// digest is a 400 DIGEST_INVALID). options.Value may carry the last bytes.
func (c *BlobClient) CompleteUpload(ctx context.Context, location string, digest string, options *BlobClientCompleteUploadOptions) (resp BlobClientCompleteUploadResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.CompleteUpload", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	u, name, err := c.uploadLocation(location)
	if err != nil {
		return resp, err
	}
	if err = ValidateDigest(digest); err != nil {
		return resp, err
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodPut, "", repositoryScope(name, "pull", "push"))
	if err != nil {
		return resp, err
	}
	// The session URL is opaque: keep its query byte for byte and append
	// the digest (PROTOCOL.md §6.4).
	withDigest := *u
	sep := "&"
	if withDigest.RawQuery == "" {
		sep = ""
	}
	withDigest.RawQuery += sep + "digest=" + url.QueryEscape(digest)
	req.Raw().URL = &withDigest
	if options != nil && options.Value != nil {
		body, err := ownedBody(options.Value)
		if err != nil {
			return resp, err
		}
		defer body.end()
		if err = req.SetBody(body, "application/octet-stream"); err != nil {
			return resp, err
		}
	}
	httpResp, err := c.send(req, http.StatusCreated)
	if err != nil {
		return resp, err
	}
	runtime.Drain(httpResp)
	if err = checkDigestHeader(httpResp, digest); err != nil {
		return resp, err
	}
	resp.DockerContentDigest = &digest
	resp.Location, _, _ = uploadState(httpResp)
	return resp, nil
}

// CancelUpload abandons an upload session and frees what it holds.
func (c *BlobClient) CancelUpload(ctx context.Context, location string, options *BlobClientCancelUploadOptions) (resp BlobClientCancelUploadResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.CancelUpload", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	u, name, err := c.uploadLocation(location)
	if err != nil {
		return resp, err
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodDelete, "", repositoryScope(name, "delete"))
	if err != nil {
		return resp, err
	}
	req.Raw().URL = u
	httpResp, err := c.send(req, http.StatusNoContent, http.StatusAccepted, http.StatusNotFound)
	if err != nil {
		return resp, err
	}
	runtime.Drain(httpResp)
	return resp, nil
}

// MountBlob asks the registry to link blob digest from repository from
// into repository name without uploading it. When the registry mounts it
// (201), Mounted is true. When it cannot (202, as ACR often answers), the
// registry opens an ordinary upload session instead: Location is that
// session, to upload the blob into or cancel.
func (c *BlobClient) MountBlob(ctx context.Context, name string, from string, digest string, options *BlobClientMountBlobOptions) (resp BlobClientMountBlobResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.MountBlob", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = validateNameDigest(name, digest); err != nil {
		return resp, err
	}
	if err = ValidateRepository(from); err != nil {
		return resp, err
	}
	q := url.Values{"from": {from}, "mount": {digest}}
	scope := repositoryScope(name, "pull", "push")
	if from != name {
		scope += " " + repositoryScope(from, "pull")
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodPost, "/v2/"+escapePath(name)+"/blobs/uploads/?"+q.Encode(), scope)
	if err != nil {
		return resp, err
	}
	httpResp, err := c.send(req, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return resp, err
	}
	runtime.Drain(httpResp)
	resp.Mounted = httpResp.StatusCode == http.StatusCreated
	resp.Location, resp.DockerUploadUUID, _ = uploadState(httpResp)
	if resp.Mounted {
		resp.DockerContentDigest = &digest
	}
	return resp, nil
}

// CheckBlobExists reports whether repository name has the blob, and its
// size. A missing blob is Exists false, not an error.
func (c *BlobClient) CheckBlobExists(ctx context.Context, name string, digest string, options *BlobClientCheckBlobExistsOptions) (resp BlobClientCheckBlobExistsResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.CheckBlobExists", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = validateNameDigest(name, digest); err != nil {
		return resp, err
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodHead, blobPath(name, digest), repositoryScope(name, "pull"))
	if err != nil {
		return resp, err
	}
	httpResp, err := c.send(req, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return resp, err
	}
	runtime.Drain(httpResp)
	if httpResp.StatusCode == http.StatusOK {
		resp.Exists = true
		if httpResp.ContentLength >= 0 {
			n := httpResp.ContentLength
			resp.ContentLength = &n
		}
		resp.DockerContentDigest = &digest
	}
	return resp, nil
}

// DeleteBlob deletes a blob from repository name. Deleting a blob that is
// not there succeeds.
func (c *BlobClient) DeleteBlob(ctx context.Context, name string, digest string, options *BlobClientDeleteBlobOptions) (resp BlobClientDeleteBlobResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "BlobClient.DeleteBlob", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = validateNameDigest(name, digest); err != nil {
		return resp, err
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodDelete, blobPath(name, digest), repositoryScope(name, "delete"))
	if err != nil {
		return resp, err
	}
	httpResp, err := c.send(req, http.StatusAccepted, http.StatusNotFound)
	if err != nil {
		return resp, err
	}
	runtime.Drain(httpResp)
	return resp, nil
}
