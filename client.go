package azacr

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
)

// MaxManifestSize is the largest manifest the clients read or write: 4 MiB,
// ACR's limit (and containerd's).
const MaxManifestSize = 4 << 20

// ErrManifestTooLarge is returned for a manifest over MaxManifestSize,
// whether the registry sent it or the caller tried to upload it.
var ErrManifestTooLarge = errors.New("azacr: manifest is larger than 4 MiB")

// ContainerRegistryClient reads and manages a registry's repositories, tags
// and manifests: the /acr/v1 metadata API and the manifests of the /v2
// distribution API. It is safe for concurrent use; create one per registry
// and reuse it, so its token cache is shared by every call.
type ContainerRegistryClient struct {
	internal *azcore.Client
	endpoint *url.URL
	auth     *authenticationPolicy
	retry    retryRules
}

// NewContainerRegistryClient creates a client for the registry at endpoint,
// like "https://myregistry.azurecr.io".
//   - cred: a Microsoft Entra credential (for example from azidentity), a
//     *PasswordCredential for an admin user or repository-scoped token, or
//     nil for anonymous access (reads on registries with anonymous pull).
//   - options: nil means the defaults.
//
// It returns an error wrapping ErrInvalidEndpoint when endpoint is not a
// bare http(s) URL of a host.
func NewContainerRegistryClient(endpoint string, cred azcore.TokenCredential, options *ContainerRegistryClientOptions) (*ContainerRegistryClient, error) {
	if options == nil {
		options = &ContainerRegistryClientOptions{}
	}
	c, ep, auth, err := newPipelineClient(endpoint, cred, options.ClientOptions, options.Audience, "azacr.ContainerRegistryClient")
	if err != nil {
		return nil, err
	}
	return &ContainerRegistryClient{internal: c, endpoint: ep, auth: auth, retry: newRetryRules(options.ClientOptions.Retry)}, nil
}

// blobClient is a BlobClient on c's pipeline and token cache, for the
// whole-image calls.
func (c *ContainerRegistryClient) blobClient() *BlobClient {
	return &BlobClient{internal: c.internal, endpoint: c.endpoint, auth: c.auth, retry: c.retry}
}

func (c *ContainerRegistryClient) send(req *policy.Request, statuses ...int) (*http.Response, error) {
	return sendExpecting(c.internal.Pipeline(), req, statuses...)
}

// metadata sends a JSON request to the /acr/v1 API and decodes the answer
// into v (when v is not nil).
func (c *ContainerRegistryClient) metadata(ctx context.Context, method, path string, scope authScope, body any, v any, statuses ...int) error {
	req, err := newRequest(ctx, c.endpoint, method, path+"?api-version="+apiVersion, scope)
	if err != nil {
		return err
	}
	req.Raw().Header.Set("Accept", "application/json")
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return err
		}
	}
	resp, err := c.send(req, statuses...)
	if err != nil {
		return err
	}
	if v == nil {
		runtime.Drain(resp)
		return nil
	}
	return decodeResponseJSON(resp, v)
}

// GetRepositoryProperties returns the properties of a repository.
// It returns an error wrapping ErrInvalidRepository for a malformed name,
// and an *azcore.ResponseError with ErrorCode NAME_UNKNOWN when the
// repository does not exist.
func (c *ContainerRegistryClient) GetRepositoryProperties(ctx context.Context, name string, options *ContainerRegistryClientGetRepositoryPropertiesOptions) (resp ContainerRegistryClientGetRepositoryPropertiesResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.GetRepositoryProperties", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = ValidateRepository(name); err != nil {
		return resp, err
	}
	err = c.metadata(ctx, http.MethodGet, "/acr/v1/"+escapePath(name), repositoryScope(name, "metadata_read"), nil, &resp.ContainerRepositoryProperties, http.StatusOK)
	return resp, err
}

// UpdateRepositoryProperties changes the writeable properties of a
// repository that are set in options.Value, and returns the result.
func (c *ContainerRegistryClient) UpdateRepositoryProperties(ctx context.Context, name string, options *ContainerRegistryClientUpdateRepositoryPropertiesOptions) (resp ContainerRegistryClientUpdateRepositoryPropertiesResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.UpdateRepositoryProperties", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = ValidateRepository(name); err != nil {
		return resp, err
	}
	value := &RepositoryWriteableProperties{}
	if options != nil && options.Value != nil {
		value = options.Value
	}
	err = c.metadata(ctx, http.MethodPatch, "/acr/v1/"+escapePath(name), repositoryScope(name, "metadata_write"), value, &resp.ContainerRepositoryProperties, http.StatusOK)
	return resp, err
}

// DeleteRepository deletes a repository with all its manifests and tags,
// and lists what it deleted. Deleting a repository that does not exist
// succeeds with empty lists. ACR refuses (403 DENIED) when the repository
// or one of its images is locked with CanDelete false.
func (c *ContainerRegistryClient) DeleteRepository(ctx context.Context, name string, options *ContainerRegistryClientDeleteRepositoryOptions) (resp ContainerRegistryClientDeleteRepositoryResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.DeleteRepository", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = ValidateRepository(name); err != nil {
		return resp, err
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodDelete, "/acr/v1/"+escapePath(name)+"?api-version="+apiVersion, repositoryScope(name, "delete"))
	if err != nil {
		return resp, err
	}
	httpResp, err := c.send(req, http.StatusAccepted, http.StatusNotFound)
	if err != nil {
		return resp, err
	}
	if httpResp.StatusCode == http.StatusNotFound {
		runtime.Drain(httpResp)
		return resp, nil
	}
	err = decodeResponseJSON(httpResp, &resp.DeleteRepositoryResult)
	return resp, err
}

// GetTagProperties returns the properties of a tag. A missing tag is an
// *azcore.ResponseError with ErrorCode TAG_UNKNOWN.
func (c *ContainerRegistryClient) GetTagProperties(ctx context.Context, name string, tag string, options *ContainerRegistryClientGetTagPropertiesOptions) (resp ContainerRegistryClientGetTagPropertiesResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.GetTagProperties", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = validateRepositoryTag(name, tag); err != nil {
		return resp, err
	}
	err = c.metadata(ctx, http.MethodGet, tagPath(name, tag), repositoryScope(name, "metadata_read"), nil, &resp.ArtifactTagProperties, http.StatusOK)
	return resp, err
}

// UpdateTagProperties changes the writeable properties of a tag that are
// set in options.Value, and returns the result. Locking a tag
// (CanWrite and CanDelete false) keeps it from being moved or deleted.
func (c *ContainerRegistryClient) UpdateTagProperties(ctx context.Context, name string, tag string, options *ContainerRegistryClientUpdateTagPropertiesOptions) (resp ContainerRegistryClientUpdateTagPropertiesResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.UpdateTagProperties", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = validateRepositoryTag(name, tag); err != nil {
		return resp, err
	}
	value := &TagWriteableProperties{}
	if options != nil && options.Value != nil {
		value = options.Value
	}
	err = c.metadata(ctx, http.MethodPatch, tagPath(name, tag), repositoryScope(name, "metadata_write"), value, &resp.ArtifactTagProperties, http.StatusOK)
	return resp, err
}

// DeleteTag deletes a tag; the manifest it pointed to stays. Deleting a tag
// that does not exist succeeds. A locked tag (CanDelete false) is refused
// with 403 DENIED.
func (c *ContainerRegistryClient) DeleteTag(ctx context.Context, name string, tag string, options *ContainerRegistryClientDeleteTagOptions) (resp ContainerRegistryClientDeleteTagResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.DeleteTag", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = validateRepositoryTag(name, tag); err != nil {
		return resp, err
	}
	err = c.metadata(ctx, http.MethodDelete, tagPath(name, tag), repositoryScope(name, "delete"), nil, nil, http.StatusAccepted, http.StatusNotFound)
	return resp, err
}

// GetManifestProperties returns the properties of a manifest, given its
// digest or a tag pointing to it. A tag costs one more request, to resolve
// it: ACR's metadata API addresses manifests by digest only.
func (c *ContainerRegistryClient) GetManifestProperties(ctx context.Context, name string, reference string, options *ContainerRegistryClientGetManifestPropertiesOptions) (resp ContainerRegistryClientGetManifestPropertiesResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.GetManifestProperties", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	digest, err := c.resolveDigest(ctx, name, reference)
	if err != nil {
		return resp, err
	}
	err = c.metadata(ctx, http.MethodGet, manifestPropertiesPath(name, digest), repositoryScope(name, "metadata_read"), nil, &resp.ArtifactManifestProperties, http.StatusOK)
	return resp, err
}

// UpdateManifestProperties changes the writeable properties of a manifest
// (by digest or tag) that are set in options.Value, and returns the result.
func (c *ContainerRegistryClient) UpdateManifestProperties(ctx context.Context, name string, reference string, options *ContainerRegistryClientUpdateManifestPropertiesOptions) (resp ContainerRegistryClientUpdateManifestPropertiesResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.UpdateManifestProperties", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	digest, err := c.resolveDigest(ctx, name, reference)
	if err != nil {
		return resp, err
	}
	value := &ManifestWriteableProperties{}
	if options != nil && options.Value != nil {
		value = options.Value
	}
	err = c.metadata(ctx, http.MethodPatch, manifestPropertiesPath(name, digest), repositoryScope(name, "metadata_write"), value, &resp.ArtifactManifestProperties, http.StatusOK)
	return resp, err
}

// DeleteManifest deletes a manifest, given its digest or a tag pointing to
// it, together with every tag pointing to it. ACR deletes manifests by
// digest only (a tag gets 405 UNSUPPORTED), so a tag is first resolved to
// its digest with a HEAD of the manifest, which any registry answers.
// Deleting a manifest that does not exist succeeds.
func (c *ContainerRegistryClient) DeleteManifest(ctx context.Context, name string, reference string, options *ContainerRegistryClientDeleteManifestOptions) (resp ContainerRegistryClientDeleteManifestResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.DeleteManifest", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = ValidateRepository(name); err != nil {
		return resp, err
	}
	if err = ValidateReference(reference); err != nil {
		return resp, err
	}
	digest := reference
	if !isDigest(reference) {
		var found bool
		if digest, found, err = c.headManifest(ctx, name, reference); err != nil || !found {
			return resp, err // a missing tag names nothing left to delete
		}
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodDelete, manifestPath(name, digest), repositoryScope(name, "delete"))
	if err != nil {
		return resp, err
	}
	httpResp, err := c.send(req, http.StatusAccepted, http.StatusNotFound)
	if err == nil {
		runtime.Drain(httpResp)
	}
	return resp, err
}

// headManifest returns the digest of the manifest reference names, from
// the Docker-Content-Digest of a HEAD; found is false on a 404.
func (c *ContainerRegistryClient) headManifest(ctx context.Context, name, reference string) (string, bool, error) {
	req, err := newRequest(ctx, c.endpoint, http.MethodHead, manifestPath(name, reference), repositoryScope(name, "pull"))
	if err != nil {
		return "", false, err
	}
	req.Raw().Header.Set("Accept", manifestAccept)
	resp, err := c.send(req, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return "", false, err
	}
	runtime.Drain(resp)
	if resp.StatusCode == http.StatusNotFound {
		return "", false, nil
	}
	d := resp.Header.Get("Docker-Content-Digest")
	if ValidateDigest(d) != nil {
		return "", false, fmt.Errorf("azacr: the registry's answer for %q has no valid Docker-Content-Digest", reference)
	}
	return d, true, nil
}

// resolveDigest validates name and reference and returns the digest the
// reference names: itself when it is a digest, else the tag's digest.
func (c *ContainerRegistryClient) resolveDigest(ctx context.Context, name, reference string) (string, error) {
	if err := ValidateRepository(name); err != nil {
		return "", err
	}
	if err := ValidateReference(reference); err != nil {
		return "", err
	}
	if isDigest(reference) {
		return reference, nil
	}
	var tag ArtifactTagProperties
	if err := c.metadata(ctx, http.MethodGet, tagPath(name, reference), repositoryScope(name, "metadata_read"), nil, &tag, http.StatusOK); err != nil {
		return "", err
	}
	if tag.Tag == nil || tag.Tag.Digest == nil || ValidateDigest(*tag.Tag.Digest) != nil {
		return "", fmt.Errorf("azacr: the registry's answer for tag %q has no valid digest", reference)
	}
	return *tag.Tag.Digest, nil
}

// manifestAccept is the Accept header of manifest downloads: every manifest
// type ACR stores, because ACR answers MANIFEST_UNKNOWN when the stored
// type is not acceptable (PROTOCOL.md §4.2).
var manifestAccept = func() string {
	types := PossibleContentTypeValues()
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}()

// GetManifest downloads a manifest by tag or digest and returns its exact
// bytes, media type and digest. The bytes are verified: against the digest
// asked for, or for a tag against the registry's Docker-Content-Digest.
// It returns an error wrapping ErrDigestMismatch when they disagree,
// ErrManifestTooLarge for a manifest over 4 MiB, and an
// *azcore.ResponseError with ErrorCode MANIFEST_UNKNOWN when there is no
// such manifest.
func (c *ContainerRegistryClient) GetManifest(ctx context.Context, name string, reference string, options *ContainerRegistryClientGetManifestOptions) (resp ContainerRegistryClientGetManifestResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.GetManifest", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = ValidateRepository(name); err != nil {
		return resp, err
	}
	if err = ValidateReference(reference); err != nil {
		return resp, err
	}
	req, err := newRequest(streamed(ctx), c.endpoint, http.MethodGet, manifestPath(name, reference), repositoryScope(name, "pull"))
	if err != nil {
		return resp, err
	}
	req.Raw().Header.Set("Accept", manifestAccept)
	runtime.SkipBodyDownload(req) // read below, with a cap
	httpResp, err := c.send(req, http.StatusOK)
	if err != nil {
		return resp, err
	}
	defer httpResp.Body.Close()
	data, err := readManifest(httpResp)
	if err != nil {
		return resp, err
	}
	want := reference
	header := httpResp.Header.Get("Docker-Content-Digest")
	if !isDigest(reference) {
		want = header
	}
	digest, err := verifyManifest(data, want)
	if err != nil {
		return resp, err
	}
	if header != "" && header != digest {
		// Fetched by digest and verified, yet the registry names another
		// digest: it is confused or lying; trust neither.
		return resp, &DigestMismatchError{Expected: header, Actual: digest}
	}
	resp.ManifestData = data
	resp.DockerContentDigest = &digest
	if ct := httpResp.Header.Get("Content-Type"); ct != "" {
		resp.ContentType = &ct
	}
	return resp, nil
}

// readManifest reads a manifest body of at most MaxManifestSize bytes.
func readManifest(resp *http.Response) ([]byte, error) {
	if resp.ContentLength > MaxManifestSize {
		return nil, fmt.Errorf("%w: the registry announced %d bytes", ErrManifestTooLarge, resp.ContentLength)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxManifestSize {
		return nil, ErrManifestTooLarge
	}
	if resp.ContentLength >= 0 && int64(len(data)) != resp.ContentLength {
		return nil, fmt.Errorf("%w: got %d bytes of a %d-byte manifest", ErrSizeMismatch, len(data), resp.ContentLength)
	}
	return data, nil
}

// verifyManifest checks data against want and returns the digest. With no
// digest to check against, it returns the sha256 digest of data.
func verifyManifest(data []byte, want string) (string, error) {
	if want == "" {
		return ComputeDigest(data), nil
	}
	d, err := newDigester(want)
	if err != nil {
		return "", fmt.Errorf("azacr: the registry sent an invalid Docker-Content-Digest: %w", err)
	}
	d.Write(data)
	if !d.Matches(want) {
		return "", &DigestMismatchError{Expected: want, Actual: d.Digest()}
	}
	return want, nil
}

// UploadManifest uploads a manifest and tags it with reference (a tag), or
// stores it under reference when that is its digest. manifestData, any
// reader, is read whole (at most 4 MiB) and sent with contentType, which must be the
// manifest's media type. The registry's digest is checked against the
// digest of the bytes sent, and a digest reference against both.
// Upload the blobs a manifest names first: ACR refuses a manifest whose
// blobs it lacks (MANIFEST_BLOB_UNKNOWN).
func (c *ContainerRegistryClient) UploadManifest(ctx context.Context, name string, reference string, contentType ContentType, manifestData io.Reader, options *ContainerRegistryClientUploadManifestOptions) (resp ContainerRegistryClientUploadManifestResponse, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "ContainerRegistryClient.UploadManifest", c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()
	if err = ValidateRepository(name); err != nil {
		return resp, err
	}
	if err = ValidateReference(reference); err != nil {
		return resp, err
	}
	if contentType == "" {
		return resp, errors.New("azacr: UploadManifest needs the manifest's media type as contentType")
	}
	if manifestData == nil {
		return resp, errors.New("azacr: UploadManifest needs manifestData")
	}
	data, err := readManifestBody(ctx, manifestData)
	if err != nil {
		return resp, err
	}
	if len(data) > MaxManifestSize {
		return resp, ErrManifestTooLarge
	}
	digest := ComputeDigest(data)
	if isDigest(reference) {
		if _, err = verifyManifest(data, reference); err != nil {
			return resp, err
		}
		digest = reference
	}
	req, err := newRequest(ctx, c.endpoint, http.MethodPut, manifestPath(name, reference), repositoryScope(name, "pull", "push"))
	if err != nil {
		return resp, err
	}
	if err = req.SetBody(streaming.NopCloser(bytes.NewReader(data)), string(contentType)); err != nil {
		return resp, err
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
	if loc := httpResp.Header.Get("Location"); loc != "" {
		resp.Location = &loc
	}
	return resp, nil
}

// ErrUnexpectedManifest is wrapped by the errors of DecodeImageManifest
// and DecodeImageIndex for a manifest of another kind than the one asked
// for: an image index decoded as an image manifest or the reverse, an
// artifact manifest, or a document that has neither an image manifest's
// config nor an index's manifests. Decoding one as the other would
// otherwise succeed with an empty struct.
var ErrUnexpectedManifest = errors.New("azacr: unexpected kind of manifest")

// readManifestBody reads a caller's manifest, at most MaxManifestSize+1
// bytes, on another goroutine, so that the call returns when ctx ends even
// if the reader blocks (a pipe): the abandoned read's bytes are dropped.
func readManifestBody(ctx context.Context, r io.Reader) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(contextReader{ctx, r}, MaxManifestSize+1))
		done <- result{data, err}
	}()
	select {
	case res := <-done:
		return res.data, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("azacr: reading the manifest: %w", ctx.Err())
	}
}

// DecodeImageManifest decodes ManifestData as an OCI image manifest (or a
// Docker v2 manifest, which has the same shape). A manifest of another
// kind, as its media type (ContentType, or the document's mediaType) or
// else its fields show, is an error wrapping ErrUnexpectedManifest.
func (r ContainerRegistryClientGetManifestResponse) DecodeImageManifest() (*ImageManifest, error) {
	if err := r.checkKind(kindImageManifest); err != nil {
		return nil, err
	}
	var m ImageManifest
	if err := decodeJSON(r.ManifestData, &m); err != nil {
		return nil, fmt.Errorf("azacr: manifest is not an image manifest: %w", err)
	}
	return &m, nil
}

// DecodeImageIndex decodes ManifestData as an OCI image index (or a Docker
// manifest list). A manifest of another kind, as its media type
// (ContentType, or the document's mediaType) or else its fields show, is
// an error wrapping ErrUnexpectedManifest.
func (r ContainerRegistryClientGetManifestResponse) DecodeImageIndex() (*ImageIndex, error) {
	if err := r.checkKind(kindImageIndex); err != nil {
		return nil, err
	}
	var m ImageIndex
	if err := decodeJSON(r.ManifestData, &m); err != nil {
		return nil, fmt.Errorf("azacr: manifest is not an image index: %w", err)
	}
	return &m, nil
}

// manifestKind is what a manifest document is, as far as decoding goes.
type manifestKind int

const (
	kindUnknown       manifestKind = iota
	kindImageManifest              // OCI image manifest, Docker v2 schema 2 manifest
	kindImageIndex                 // OCI image index, Docker manifest list
	kindOther                      // a known type of neither shape: an artifact manifest
)

func (k manifestKind) String() string {
	switch k {
	case kindImageManifest:
		return "an image manifest"
	case kindImageIndex:
		return "an image index"
	case kindOther:
		return "an artifact manifest"
	}
	return "of no known kind"
}

// kindOfMediaType classifies a manifest media type; parameters and case
// do not count, and a type this package does not know is kindUnknown.
func kindOfMediaType(mediaType string) manifestKind {
	mediaType, _, _ = strings.Cut(mediaType, ";")
	switch ContentType(strings.ToLower(strings.TrimSpace(mediaType))) {
	case ContentTypeApplicationVndOCIImageManifestV1JSON, ContentTypeApplicationVndDockerDistributionManifestV2JSON:
		return kindImageManifest
	case ContentTypeApplicationVndOCIImageIndexV1JSON, ContentTypeApplicationVndDockerDistributionManifestListV2JSON:
		return kindImageIndex
	case ContentTypeApplicationVndCNCFORASArtifactManifestV1JSON, ContentTypeApplicationVndOCIArtifactManifestV1JSON:
		return kindOther
	}
	return kindUnknown
}

// checkKind returns an error wrapping ErrUnexpectedManifest unless the
// manifest is of kind want. The media type decides: the response's
// Content-Type, else the document's mediaType (both, when known, must
// agree). Failing both, the fields do: an image manifest has a config
// and no manifests, an index manifests and neither config nor layers.
// Whatever the media type says, the fields must match it, so that the
// decoded struct is never an empty shell.
func (r ContainerRegistryClientGetManifestResponse) checkKind(want manifestKind) error {
	var doc struct {
		MediaType string          `json:"mediaType"`
		Config    json.RawMessage `json:"config"`
		Layers    json.RawMessage `json:"layers"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(r.ManifestData, &doc); err != nil {
		return fmt.Errorf("azacr: manifest is not %s: %w", want, err)
	}
	present := func(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }
	shape := kindUnknown
	switch {
	case present(doc.Config) && !present(doc.Manifests):
		shape = kindImageManifest
	case present(doc.Manifests) && !present(doc.Config) && !present(doc.Layers):
		shape = kindImageIndex
	}

	var header string
	if r.ContentType != nil {
		header = *r.ContentType
	}
	byHeader, byField := kindOfMediaType(header), kindOfMediaType(doc.MediaType)
	if byHeader != kindUnknown && byField != kindUnknown && byHeader != byField {
		return fmt.Errorf("%w: served as %s, %s, but its mediaType %s makes it %s",
			ErrUnexpectedManifest, quoteValue(header), byHeader, quoteValue(doc.MediaType), byField)
	}
	kind, why := byHeader, "its content type "+quoteValue(header)
	if kind == kindUnknown {
		kind, why = byField, "its mediaType "+quoteValue(doc.MediaType)
	}
	if kind == kindUnknown {
		kind, why = shape, "its fields"
	}
	needs := "a config and no manifests"
	if want == kindImageIndex {
		needs = "manifests and neither config nor layers"
	}
	switch {
	case kind == kindUnknown:
		return fmt.Errorf("%w: the manifest has no known media type, nor the fields of %s (%s)", ErrUnexpectedManifest, want, needs)
	case kind != want:
		return fmt.Errorf("%w: %s makes it %s, not %s", ErrUnexpectedManifest, why, kind, want)
	case shape != want:
		return fmt.Errorf("%w: %s makes it %s, but it lacks the fields of one (%s)", ErrUnexpectedManifest, why, want, needs)
	}
	return nil
}

func validateRepositoryTag(name, tag string) error {
	if err := ValidateRepository(name); err != nil {
		return err
	}
	return ValidateTag(tag)
}

func tagPath(name, tag string) string {
	return "/acr/v1/" + escapePath(name) + "/_tags/" + url.PathEscape(tag)
}

func manifestPropertiesPath(name, digest string) string {
	return "/acr/v1/" + escapePath(name) + "/_manifests/" + url.PathEscape(digest)
}

func manifestPath(name, reference string) string {
	return "/v2/" + escapePath(name) + "/manifests/" + url.PathEscape(reference)
}

// pageQuery builds the first-page query of an /acr/v1 listing.
func pageQuery(n *int64, last *string, extra url.Values) string {
	q := url.Values{"api-version": {apiVersion}}
	if n != nil {
		q.Set("n", strconv.FormatInt(*n, 10))
	}
	if last != nil {
		q.Set("last", *last)
	}
	for k, v := range extra {
		q[k] = v
	}
	return q.Encode()
}
