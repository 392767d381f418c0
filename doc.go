/*
Package azacr is the client module for Azure Container Registry (ACR): it
lists and manages a registry's repositories, tags and manifests, and pushes,
pulls and copies images and OCI artifacts, whole or blob by blob.

# Clients

[ContainerRegistryClient] reads and manages metadata (the /acr/v1 API) and
moves manifests (the /v2 distribution API). [BlobClient] uploads and
downloads blobs: layers, configs and artifact files. Both take the
registry's endpoint, such as "https://myregistry.azurecr.io", a credential
and options, and run on the azcore pipeline: retries, logging, and tracing
spans named "<Type>.<Method>". Create one of each per registry and share
them: they are immutable and safe for concurrent use, and their token
caches serve every call. ContainerRegistryBlobClient and
NewContainerRegistryBlobClient are other names for BlobClient and
NewBlobClient.

# Authentication

The credential decides how the clients authenticate:

  - A Microsoft Entra credential, such as one from azidentity
    (DefaultAzureCredential, a managed identity, a service principal).
    Its token is exchanged for an ACR refresh token (POST /oauth2/exchange),
    and that for access tokens (POST /oauth2/token), one per scope an
    operation needs. Tokens are requested for "<Audience>/.default";
    Audience in the client options defaults to [DefaultAudience], which
    every cloud accepts. Set it to an Azure Resource Manager audience for
    registries that require one; in a national cloud, configure the
    credential for that cloud's authority (azcore.ClientOptions.Cloud).
  - nil: anonymous access, for reads from a registry with anonymous pull
    enabled. Anonymous access tokens are fetched the same way, without a
    refresh token.
  - [NewPasswordCredential]: the registry's admin user, or a
    repository-scoped token and one of its passwords. A PasswordCredential
    cannot issue Entra tokens; it only works with the clients of this
    package.

ACR issues refresh tokens good for about 3 hours and access tokens for
about an hour. Each token is cached until 5 minutes before the expiry
written in it (halfway, for a lifetime under 10 minutes), then renewed, so
a push lasting hours does not fail at the end, and a warm client sends no
request but the operation itself. Concurrent callers needing the same token
share one fetch, and its failure as well as its success. A 401 leads to one
renewal and one retry, never a loop. The cache holds at most 512 tokens.

Tokens are issued for the registry's service, its login server name. The
client first assumes the endpoint's host (lowercased, without a default
port); when the registry refuses that name, or a challenge names another,
it takes the challenge's service and keeps it, so an endpoint written with
":443", in another case, or through a proxy still authenticates.

Tokens go only to the registry's own origin (scheme, host and port), over
HTTPS unless azcore.ClientOptions.InsecureAllowCredentialWithHTTP is set.
Redirects that leave the origin, such as ACR's redirects of blob downloads
to Azure Storage, are followed without the Authorization header.

# Concepts

A registry holds repositories, named like "library/hello-world". A
repository holds manifests: JSON documents describing an image, an index
of images for several platforms, or another artifact, each made of blobs
(a config and layers). Manifests and blobs are identified by their digest,
"sha256:" and 64 lowercase hex digits, the hash of their exact bytes. A tag,
like "latest" or "1.0.0", names one manifest of a repository and can be
moved to another. Repositories, tags and manifests carry writeable
properties (CanDelete, CanWrite, CanRead, CanList), with which content is
locked or hidden.

# Which method for which task

Metadata, on ContainerRegistryClient:

  - list: [ContainerRegistryClient.NewListRepositoriesPager],
    [ContainerRegistryClient.NewListTagsPager],
    [ContainerRegistryClient.NewListManifestsPager] (each ordered by time on
    request), and [ContainerRegistryClient.NewListReferrersPager] for the
    signatures, SBOMs and other artifacts that refer to a manifest;
  - read and change properties: Get/Update RepositoryProperties,
    TagProperties and ManifestProperties;
  - delete: [ContainerRegistryClient.DeleteRepository],
    [ContainerRegistryClient.DeleteTag] (the manifest stays),
    [ContainerRegistryClient.DeleteManifest] (its tags go with it).

Manifests, on ContainerRegistryClient: [ContainerRegistryClient.GetManifest]
returns the exact bytes, verified against their digest, which
[ContainerRegistryClientGetManifestResponse.DecodeImageManifest] and
[ContainerRegistryClientGetManifestResponse.DecodeImageIndex] turn into an
[ImageManifest] or an [ImageIndex]; [ContainerRegistryClient.UploadManifest] stores one under a
tag or its digest. Upload the blobs a manifest names before the manifest.

Whole images, on ContainerRegistryClient:

  - [ContainerRegistryClient.PullImage] downloads an image (an index with
    every platform, or the platforms chosen) into an OCI image layout
    directory, with its referrers when asked;
  - [ContainerRegistryClient.PushImage] uploads an image from an OCI image
    layout;
  - [ContainerRegistryClient.CopyImage] copies an image to another
    repository or registry, mounting blobs within a registry.

They preserve digests, check everything they read against its digest,
store children before parents (the tag last), share one concurrency
budget between every platform's blobs, and send nothing when the target
already has the image. A layout they write always reopens, whatever
interrupts them, and a pull run again continues where it stopped.

Blobs, on BlobClient:

  - [BlobClient.UploadBlob] uploads from any io.Reader in one call,
    chunked, with the digest computed on the way;
  - [BlobClient.GetBlob] streams a blob, verified while read;
    [BlobClient.DownloadBlob] writes one to an io.WriterAt (a file),
    optionally with parallel ranged requests; [BlobClient.GetChunk] reads
    one range;
  - [BlobClient.MountBlob] links a blob from another repository of the
    registry without moving its bytes;
  - [BlobClient.CheckBlobExists] and [BlobClient.DeleteBlob];
  - the steps of an upload, for callers who drive it themselves:
    [BlobClient.StartUpload], [BlobClient.UploadChunk],
    [BlobClient.GetUploadStatus], [BlobClient.CompleteUpload],
    [BlobClient.CancelUpload].

Where ACR accepts a tag or a digest, so do the clients. The metadata API
addresses manifests by digest only, so GetManifestProperties,
UpdateManifestProperties and DeleteManifest given a tag spend one request
resolving it. Deleting something that does not exist succeeds.

Pagers do no I/O until NextPage, and follow the registry's Link header from
page to page.

# Errors

A request the registry refuses returns an *azcore.ResponseError whose
ErrorCode is ACR's error code: NAME_UNKNOWN, TAG_UNKNOWN, MANIFEST_UNKNOWN,
MANIFEST_BLOB_UNKNOWN, DENIED (for instance, deleting locked content),
UNAUTHORIZED, and so on. Other failures wrap sentinel errors, for
errors.Is:

  - [ErrInvalidRepository], [ErrInvalidTag], [ErrInvalidReference],
    [ErrInvalidDigest] and [ErrInvalidEndpoint]: malformed input, refused
    before any request is sent ([ValidateRepository], [ValidateTag],
    [ValidateReference] and [ValidateDigest] run the same checks);
  - [ErrDigestMismatch] (as a [*DigestMismatchError] naming both digests)
    and [ErrSizeMismatch]: content that is not what its digest or length
    promised. A blob download reports them at the Read that reaches the
    end, so reading to io.EOF means the bytes are right;
  - [ErrManifestTooLarge]: a manifest over 4 MiB, in either direction;
  - [ErrInvalidLocation] and [ErrInvalidLink]: an upload URL or a paging
    link from the registry that is malformed or points to another host;
  - [ErrPlatformNotFound]: a platform asked of a whole-image transfer that
    the image lacks; [ErrInvalidLayout]: a directory that is not an OCI
    image layout, or one whose content does not match its digests.

# Limits

The clients keep to what ACR accepts:

  - manifests of at most [MaxManifestSize], 4 MiB;
  - uploads in chunks of [DefaultChunkSize], 4 MiB, unless
    BlobClientUploadBlobOptions.ChunkSize says otherwise, each sent with
    an explicit Content-Length and ACR's Content-Range form "start-end"
    (inclusive offsets, no unit, no total). A blob no larger than one chunk
    takes two requests: start, and complete with the bytes.

# Concurrency and memory

Clients may be shared by any number of goroutines. One UploadBlob sends its
chunks in order, reading and hashing the next chunk while the current one
is on the wire, so it holds about two chunks in memory whatever the blob's
size; a failed chunk is resumed from the offset the registry reports. One
GetBlob is one streaming request, resumed with a Range request when the
connection drops. DownloadBlob is sequential too unless
BlobClientDownloadBlobOptions.Concurrency asks for parallel ranged
requests; its memory then grows with Concurrency times BlockSize.

# Testing

Package acrtest is an in-process ACR emulator for tests: TLS, the token
exchange, ACR's status codes, headers, error bodies and paging, scope
enforcement, locks, blob redirects to a second host, fault injection and a
request log. acrtest.NewServer(t, nil) starts one for a test; its URL,
Credential and ClientOptions configure the clients. The examples of this
package run against it.
*/
package azacr
