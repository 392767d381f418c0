package azacr

import "io"

// ContainerRegistryClientListRepositoriesResponse is one page of
// ContainerRegistryClient.NewListRepositoriesPager.
type ContainerRegistryClientListRepositoriesResponse struct {
	Repositories
}

// ContainerRegistryClientGetRepositoryPropertiesResponse contains the
// response from ContainerRegistryClient.GetRepositoryProperties.
type ContainerRegistryClientGetRepositoryPropertiesResponse struct {
	ContainerRepositoryProperties
}

// ContainerRegistryClientUpdateRepositoryPropertiesResponse contains the
// response from ContainerRegistryClient.UpdateRepositoryProperties.
type ContainerRegistryClientUpdateRepositoryPropertiesResponse struct {
	ContainerRepositoryProperties
}

// ContainerRegistryClientDeleteRepositoryResponse contains the response
// from ContainerRegistryClient.DeleteRepository.
type ContainerRegistryClientDeleteRepositoryResponse struct {
	DeleteRepositoryResult
}

// ContainerRegistryClientListTagsResponse is one page of
// ContainerRegistryClient.NewListTagsPager.
type ContainerRegistryClientListTagsResponse struct {
	TagList
}

// ContainerRegistryClientGetTagPropertiesResponse contains the response
// from ContainerRegistryClient.GetTagProperties.
type ContainerRegistryClientGetTagPropertiesResponse struct {
	ArtifactTagProperties
}

// ContainerRegistryClientUpdateTagPropertiesResponse contains the response
// from ContainerRegistryClient.UpdateTagProperties.
type ContainerRegistryClientUpdateTagPropertiesResponse struct {
	ArtifactTagProperties
}

// ContainerRegistryClientDeleteTagResponse contains the response from
// ContainerRegistryClient.DeleteTag.
type ContainerRegistryClientDeleteTagResponse struct {
	// placeholder for future response values
}

// ContainerRegistryClientListManifestsResponse is one page of
// ContainerRegistryClient.NewListManifestsPager.
type ContainerRegistryClientListManifestsResponse struct {
	Manifests
}

// ContainerRegistryClientGetManifestPropertiesResponse contains the
// response from ContainerRegistryClient.GetManifestProperties.
type ContainerRegistryClientGetManifestPropertiesResponse struct {
	ArtifactManifestProperties
}

// ContainerRegistryClientUpdateManifestPropertiesResponse contains the
// response from ContainerRegistryClient.UpdateManifestProperties.
type ContainerRegistryClientUpdateManifestPropertiesResponse struct {
	ArtifactManifestProperties
}

// ContainerRegistryClientDeleteManifestResponse contains the response from
// ContainerRegistryClient.DeleteManifest.
type ContainerRegistryClientDeleteManifestResponse struct {
	// placeholder for future response values
}

// ContainerRegistryClientGetManifestResponse contains the response from
// ContainerRegistryClient.GetManifest.
type ContainerRegistryClientGetManifestResponse struct {
	// ManifestData is the manifest exactly as stored, verified against
	// its digest.
	ManifestData []byte
	// ContentType is the manifest's media type.
	ContentType *string
	// DockerContentDigest is the manifest's digest.
	DockerContentDigest *string
}

// ContainerRegistryClientUploadManifestResponse contains the response from
// ContainerRegistryClient.UploadManifest.
type ContainerRegistryClientUploadManifestResponse struct {
	// DockerContentDigest is the uploaded manifest's digest, checked
	// against the digest computed from the uploaded bytes.
	DockerContentDigest *string
	// Location is the manifest's URL path on the registry.
	Location *string
}

// ContainerRegistryClientListReferrersResponse is one page of
// ContainerRegistryClient.NewListReferrersPager.
type ContainerRegistryClientListReferrersResponse struct {
	// Referrers describe the manifests whose subject is the given manifest.
	Referrers []Descriptor
	// Link is the next page's URL from the Link header; nil on the last page.
	Link *string
}

// BlobClientUploadBlobResponse contains the response from
// BlobClient.UploadBlob.
type BlobClientUploadBlobResponse struct {
	// Digest is the blob's digest, "sha256:…".
	Digest string
	// Size is the blob's length in bytes.
	Size int64
	// Skipped reports that the registry already had the blob, so nothing
	// was uploaded.
	Skipped bool
	// Mounted reports that the blob was mounted from options.MountFrom
	// instead of uploaded.
	Mounted bool
}

// BlobClientGetBlobResponse contains the response from BlobClient.GetBlob.
type BlobClientGetBlobResponse struct {
	// Body is the blob's content. It is verified while read: the Read that
	// reaches the end returns an error wrapping ErrDigestMismatch or
	// ErrSizeMismatch instead of io.EOF when the content is wrong. Close it.
	Body io.ReadCloser
	// ContentLength is the blob's size.
	ContentLength *int64
	// DockerContentDigest is the digest the content is verified against.
	DockerContentDigest *string
}

// BlobClientGetChunkResponse contains the response from BlobClient.GetChunk.
type BlobClientGetChunkResponse struct {
	// Body is the requested range, checked to be exactly its length. A
	// range cannot be verified against the blob's digest. Close it.
	Body io.ReadCloser
	// ContentLength is the length of the range.
	ContentLength *int64
	// ContentRange is the registry's Content-Range, "bytes start-end/size".
	ContentRange *string
}

// BlobClientDownloadBlobResponse contains the response from
// BlobClient.DownloadBlob.
type BlobClientDownloadBlobResponse struct {
	// Size is the number of bytes written, the blob's size.
	Size int64
}

// BlobClientStartUploadResponse contains the response from
// BlobClient.StartUpload.
type BlobClientStartUploadResponse struct {
	// Location is the upload session's URL for the next step.
	Location *string
	// DockerUploadUUID identifies the session.
	DockerUploadUUID *string
	// Range is the received range, "0-0" for a new session.
	Range *string
}

// BlobClientUploadChunkResponse contains the response from
// BlobClient.UploadChunk.
type BlobClientUploadChunkResponse struct {
	// Location is the session's URL for the next step; the previous one
	// is no longer valid.
	Location *string
	// DockerUploadUUID identifies the session.
	DockerUploadUUID *string
	// Range is the range received so far, "0-<last byte>".
	Range *string
}

// BlobClientGetUploadStatusResponse contains the response from
// BlobClient.GetUploadStatus.
type BlobClientGetUploadStatusResponse struct {
	// Location is the session's URL for the next step.
	Location *string
	// DockerUploadUUID identifies the session.
	DockerUploadUUID *string
	// Range is the range received so far, "0-<last byte>".
	Range *string
}

// BlobClientCompleteUploadResponse contains the response from
// BlobClient.CompleteUpload.
type BlobClientCompleteUploadResponse struct {
	// DockerContentDigest is the stored blob's digest.
	DockerContentDigest *string
	// Location is the blob's URL path.
	Location *string
}

// BlobClientCancelUploadResponse contains the response from
// BlobClient.CancelUpload.
type BlobClientCancelUploadResponse struct {
	// placeholder for future response values
}

// BlobClientMountBlobResponse contains the response from
// BlobClient.MountBlob.
type BlobClientMountBlobResponse struct {
	// Mounted reports that the blob was linked without an upload.
	Mounted bool
	// Location is the mounted blob's URL path, or, when not mounted, the
	// upload session the registry opened instead.
	Location *string
	// DockerUploadUUID identifies that session, when not mounted.
	DockerUploadUUID *string
	// DockerContentDigest is the mounted blob's digest, when mounted.
	DockerContentDigest *string
}

// BlobClientCheckBlobExistsResponse contains the response from
// BlobClient.CheckBlobExists.
type BlobClientCheckBlobExistsResponse struct {
	// Exists reports whether the repository has the blob.
	Exists bool
	// ContentLength is the blob's size, when it exists.
	ContentLength *int64
	// DockerContentDigest is the blob's digest, when it exists.
	DockerContentDigest *string
}

// BlobClientDeleteBlobResponse contains the response from
// BlobClient.DeleteBlob.
type BlobClientDeleteBlobResponse struct {
	// placeholder for future response values
}

// ContainerRegistryClientPullImageResponse is the result of
// ContainerRegistryClient.PullImage.
type ContainerRegistryClientPullImageResponse struct {
	// Digest is the digest of the root manifest pulled.
	Digest string
	// MediaType is the root manifest's media type.
	MediaType string
	// Manifests and Blobs count the content of the image pulled.
	Manifests, Blobs int
	// BytesTransferred is how many blob bytes were downloaded (manifests
	// aside): fewer than the image's when the layout held part of it.
	BytesTransferred int64
}

// ContainerRegistryClientPushImageResponse is the result of
// ContainerRegistryClient.PushImage.
type ContainerRegistryClientPushImageResponse struct {
	// Digest is the digest of the root manifest pushed.
	Digest string
	// MediaType is the root manifest's media type.
	MediaType string
	// Manifests and Blobs count the content of the image pushed.
	Manifests, Blobs int
	// BytesTransferred is how many blob bytes were uploaded (manifests
	// aside): blobs the repository had, or could mount, cost none.
	BytesTransferred int64
	// UpToDate is true when the repository already had the image under
	// the tag and nothing was sent.
	UpToDate bool
}

// ContainerRegistryClientCopyImageResponse is the result of
// ContainerRegistryClient.CopyImage.
type ContainerRegistryClientCopyImageResponse struct {
	// Digest is the digest of the root manifest copied.
	Digest string
	// MediaType is the root manifest's media type.
	MediaType string
	// Manifests and Blobs count the content of the image copied.
	Manifests, Blobs int
	// BytesTransferred is how many blob bytes were uploaded to the target
	// (manifests aside): none when every blob was mounted, as within a
	// registry.
	BytesTransferred int64
	// UpToDate is true when the target already had the image under the
	// tag and nothing was sent.
	UpToDate bool
}
