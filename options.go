package azacr

import (
	"errors"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// ErrInvalidOption is wrapped by the error a method (or a pager's first
// NextPage) returns, before sending anything, for an option out of its
// documented range: a page size below 1, a negative size, or one above its
// limit (MaxChunkSize, MaxBlockSize, MaxConcurrency, MaxTransferRetries).
var ErrInvalidOption = errors.New("azacr: invalid option")

// Limits of the transfer options. Each of these numbers decides how much
// memory a transfer allocates or how many goroutines and requests it
// starts, so each is checked against its limit before it is used.
const (
	// MaxChunkSize is the largest UploadBlob ChunkSize: 256 MiB. An upload
	// from a reader holds two chunk buffers, so this bounds its memory to
	// about 512 MiB. Larger chunks would bring no speed (a PATCH of a few
	// MiB already keeps a connection busy), and registries may refuse
	// large request bodies anyway.
	MaxChunkSize = 256 << 20
	// MaxBlockSize is the largest DownloadBlob BlockSize: 256 MiB. Blocks
	// are held in memory whole, Concurrency+2 of them at once, and a range
	// of a few MiB already keeps a connection busy.
	MaxBlockSize = 256 << 20
	// MaxConcurrency is the largest DownloadBlob Concurrency: 64 ranged
	// GETs at once. Each is a connection and a goroutine holding a block
	// buffer; past a few dozen, parallel GETs to one registry no longer
	// add throughput, only memory, connections and throttling.
	MaxConcurrency = 64
	// MaxTransferRetries is the largest MaxRetries of GetBlob and
	// DownloadBlob: 100 resumptions of one range. Each costs a request
	// (and, after a throttled or failed one, a wait); a connection that
	// drops that often is broken, and a larger budget would only let a
	// registry that keeps failing hold a download almost for ever.
	MaxTransferRetries = 100
)

// DefaultAudience is the Microsoft Entra audience of ACR's data plane. It
// is valid in every cloud, and registries that turn off Azure Resource
// Manager audiences accept only it.
const DefaultAudience = "https://containerregistry.azure.net"

// ContainerRegistryClientOptions configures a ContainerRegistryClient.
type ContainerRegistryClientOptions struct {
	azcore.ClientOptions

	// Audience is the Microsoft Entra audience tokens are requested for
	// (as "<Audience>/.default"). Empty means DefaultAudience. Set it to an
	// Azure Resource Manager audience, such as
	// "https://management.azure.com", for registries that require one.
	Audience string
}

// ContainerRegistryClientListRepositoriesOptions contains the optional
// parameters for ContainerRegistryClient.NewListRepositoriesPager.
type ContainerRegistryClientListRepositoriesOptions struct {
	// Last starts the listing after this repository name.
	Last *string
	// N is the page size, at least 1; the registry may cap it.
	N *int64
}

// ContainerRegistryClientGetRepositoryPropertiesOptions contains the
// optional parameters for ContainerRegistryClient.GetRepositoryProperties.
type ContainerRegistryClientGetRepositoryPropertiesOptions struct {
	// placeholder for future optional parameters
}

// ContainerRegistryClientUpdateRepositoryPropertiesOptions contains the
// optional parameters for ContainerRegistryClient.UpdateRepositoryProperties.
type ContainerRegistryClientUpdateRepositoryPropertiesOptions struct {
	// Value holds the properties to change; unset fields keep their value.
	Value *RepositoryWriteableProperties
}

// ContainerRegistryClientDeleteRepositoryOptions contains the optional
// parameters for ContainerRegistryClient.DeleteRepository.
type ContainerRegistryClientDeleteRepositoryOptions struct {
	// placeholder for future optional parameters
}

// ContainerRegistryClientListTagsOptions contains the optional parameters
// for ContainerRegistryClient.NewListTagsPager.
type ContainerRegistryClientListTagsOptions struct {
	// Digest lists only the tags of the manifest with this digest.
	Digest *string
	// Last starts the listing after this tag.
	Last *string
	// N is the page size, at least 1.
	N *int64
	// OrderBy orders the tags by last update time; by name when nil.
	OrderBy *ArtifactTagOrderBy
}

// ContainerRegistryClientGetTagPropertiesOptions contains the optional
// parameters for ContainerRegistryClient.GetTagProperties.
type ContainerRegistryClientGetTagPropertiesOptions struct {
	// placeholder for future optional parameters
}

// ContainerRegistryClientUpdateTagPropertiesOptions contains the optional
// parameters for ContainerRegistryClient.UpdateTagProperties.
type ContainerRegistryClientUpdateTagPropertiesOptions struct {
	// Value holds the properties to change; unset fields keep their value.
	Value *TagWriteableProperties
}

// ContainerRegistryClientDeleteTagOptions contains the optional parameters
// for ContainerRegistryClient.DeleteTag.
type ContainerRegistryClientDeleteTagOptions struct {
	// placeholder for future optional parameters
}

// ContainerRegistryClientListManifestsOptions contains the optional
// parameters for ContainerRegistryClient.NewListManifestsPager.
type ContainerRegistryClientListManifestsOptions struct {
	// Last starts the listing after this manifest digest.
	Last *string
	// N is the page size, at least 1.
	N *int64
	// OrderBy orders the manifests by last update time; by digest when nil.
	OrderBy *ArtifactManifestOrderBy
}

// ContainerRegistryClientGetManifestPropertiesOptions contains the optional
// parameters for ContainerRegistryClient.GetManifestProperties.
type ContainerRegistryClientGetManifestPropertiesOptions struct {
	// placeholder for future optional parameters
}

// ContainerRegistryClientUpdateManifestPropertiesOptions contains the
// optional parameters for ContainerRegistryClient.UpdateManifestProperties.
type ContainerRegistryClientUpdateManifestPropertiesOptions struct {
	// Value holds the properties to change; unset fields keep their value.
	Value *ManifestWriteableProperties
}

// ContainerRegistryClientDeleteManifestOptions contains the optional
// parameters for ContainerRegistryClient.DeleteManifest.
type ContainerRegistryClientDeleteManifestOptions struct {
	// placeholder for future optional parameters
}

// ContainerRegistryClientGetManifestOptions contains the optional
// parameters for ContainerRegistryClient.GetManifest.
type ContainerRegistryClientGetManifestOptions struct {
	// placeholder for future optional parameters
}

// ContainerRegistryClientUploadManifestOptions contains the optional
// parameters for ContainerRegistryClient.UploadManifest.
type ContainerRegistryClientUploadManifestOptions struct {
	// placeholder for future optional parameters
}

// ContainerRegistryClientListReferrersOptions contains the optional
// parameters for ContainerRegistryClient.NewListReferrersPager.
type ContainerRegistryClientListReferrersOptions struct {
	// ArtifactType lists only referrers of this artifact type.
	ArtifactType *string
}

// BlobClientOptions configures a BlobClient.
type BlobClientOptions struct {
	azcore.ClientOptions

	// Audience is the Microsoft Entra audience tokens are requested for.
	// Empty means DefaultAudience.
	Audience string
}

// DefaultChunkSize is the chunk size of UploadBlob: 4 MiB, the size the
// other Azure SDKs use, because ACR refuses large single request bodies.
const DefaultChunkSize = 4 << 20

// BlobClientUploadBlobOptions contains the optional parameters for
// BlobClient.UploadBlob.
type BlobClientUploadBlobOptions struct {
	// ChunkSize is the size of each PATCH; zero means DefaultChunkSize,
	// and it may not exceed MaxChunkSize. Memory use is about twice the
	// chunk size, whatever the blob size (none for a regular file of more
	// than one chunk, sent from the file).
	ChunkSize int64
	// Digest, when known in advance, lets UploadBlob skip a blob the
	// registry already has, and is checked against the uploaded content.
	Digest string
	// SkipExistenceCheck uploads even when the registry may already have
	// the blob. Without it, UploadBlob asks first whenever it knows the
	// digest before sending: when Digest is set, or when the body can seek
	// (an io.ReadSeeker, but no pipe or device) and is larger than one
	// chunk (it then hashes the body once before uploading). A regular
	// file is hashed while it is sent instead,
	// and UploadBlob asks as soon as the hash is done, sending no further
	// chunk if the registry has the blob. A blob of one chunk or less is
	// simply sent: asking would cost as many requests as sending it.
	SkipExistenceCheck bool
	// MountFrom names a repository of the same registry that may hold the
	// blob. When the digest is known (Digest, or a seekable body),
	// UploadBlob first asks the registry to mount the blob from there; if
	// it cannot, the upload goes into the session the registry opened
	// instead, so a copy between repositories costs no extra request.
	MountFrom string
	// Progress, when set, is called after each chunk the registry accepted
	// with the bytes sent so far and the total (-1 when unknown). A skipped
	// upload reports the whole size at once.
	Progress func(sent, total int64)
}

// BlobClientGetBlobOptions contains the optional parameters for
// BlobClient.GetBlob.
type BlobClientGetBlobOptions struct {
	// MaxRetries is how many times a dropped connection is resumed with a
	// Range request from the last byte received. Zero means 3; negative
	// means never; at most MaxTransferRetries.
	MaxRetries int
}

// BlobClientGetChunkOptions contains the optional parameters for
// BlobClient.GetChunk.
type BlobClientGetChunkOptions struct {
	// placeholder for future optional parameters
}

// BlobClientDownloadBlobOptions contains the optional parameters for
// BlobClient.DownloadBlob.
type BlobClientDownloadBlobOptions struct {
	// Concurrency is how many ranged GETs run at once, at most
	// MaxConcurrency; zero or one means a single streaming GET. Memory use
	// is at most (Concurrency+2) x BlockSize.
	Concurrency int
	// BlockSize is the size of each ranged GET when Concurrency > 1; zero
	// means 4 MiB, and it may not exceed MaxBlockSize.
	BlockSize int64
	// MaxRetries is how many times each dropped connection is resumed
	// from the last byte received. Zero means 3; negative means never; at
	// most MaxTransferRetries.
	MaxRetries int
	// Progress, when set, is called with the bytes written so far and the
	// blob's size.
	Progress func(written, total int64)
}

// BlobClientStartUploadOptions contains the optional parameters for
// BlobClient.StartUpload.
type BlobClientStartUploadOptions struct {
	// placeholder for future optional parameters
}

// BlobClientUploadChunkOptions contains the optional parameters for
// BlobClient.UploadChunk.
type BlobClientUploadChunkOptions struct {
	// RangeStart is the offset of the chunk's first byte in the blob.
	RangeStart *int64
	// RangeEnd is the offset of the chunk's last byte (inclusive).
	RangeEnd *int64
}

// BlobClientGetUploadStatusOptions contains the optional parameters for
// BlobClient.GetUploadStatus.
type BlobClientGetUploadStatusOptions struct {
	// placeholder for future optional parameters
}

// BlobClientCompleteUploadOptions contains the optional parameters for
// BlobClient.CompleteUpload.
type BlobClientCompleteUploadOptions struct {
	// Value holds final bytes to send with the completion, if any.
	Value io.ReadSeekCloser
}

// BlobClientCancelUploadOptions contains the optional parameters for
// BlobClient.CancelUpload.
type BlobClientCancelUploadOptions struct {
	// placeholder for future optional parameters
}

// BlobClientMountBlobOptions contains the optional parameters for
// BlobClient.MountBlob.
type BlobClientMountBlobOptions struct {
	// placeholder for future optional parameters
}

// BlobClientCheckBlobExistsOptions contains the optional parameters for
// BlobClient.CheckBlobExists.
type BlobClientCheckBlobExistsOptions struct {
	// placeholder for future optional parameters
}

// BlobClientDeleteBlobOptions contains the optional parameters for
// BlobClient.DeleteBlob.
type BlobClientDeleteBlobOptions struct {
	// placeholder for future optional parameters
}

// ImageProgress reports the progress of PullImage, PushImage or
// CopyImage. Calls come one at a time, from the transfer's goroutines;
// keep them short.
type ImageProgress struct {
	// Descriptor is the blob or manifest this report is about.
	Descriptor Descriptor
	// Transferred is how many of its bytes are done: Descriptor.Size once
	// it is stored, or found on the target already.
	Transferred int64
	// TotalTransferred is how many bytes of the whole transfer are done.
	TotalTransferred int64
	// Total is the size of the whole transfer: every blob and manifest
	// still to store, known once the manifests are read.
	Total int64
}

// ContainerRegistryClientPullImageOptions contains the optional parameters
// for ContainerRegistryClient.PullImage.
type ContainerRegistryClientPullImageOptions struct {
	// Concurrency is how many blobs and manifests move at once, for all
	// platforms together; zero means DefaultImageConcurrency, at most
	// MaxConcurrency.
	Concurrency int
	// Platforms chooses platforms of an index, as "os/arch" (any variant)
	// or "os/arch/variant"; empty means every entry. One platform chosen
	// is pulled as its own image manifest (digest unchanged); several,
	// as a new index of just those. A platform the image lacks is an error
	// wrapping ErrPlatformNotFound that lists the platforms it has.
	Platforms []string
	// Referrers also pulls the artifacts (signatures, SBOMs) that refer to
	// the image and to each manifest under it, recursively; index.json
	// lists them, unnamed.
	Referrers bool
	// ReferrerArtifactTypes, when not empty, keeps only referrers of these
	// artifact types.
	ReferrerArtifactTypes []string
	// Repair hashes every blob the layout already holds instead of
	// trusting its name and size, and fetches again any that fails.
	Repair bool
	// Progress, when set, is called as bytes arrive.
	Progress func(ImageProgress)
}

// ContainerRegistryClientPushImageOptions contains the optional parameters
// for ContainerRegistryClient.PushImage.
type ContainerRegistryClientPushImageOptions struct {
	// Concurrency is as for PullImage.
	Concurrency int
	// Reference picks the image in the layout's index.json: the value of
	// an entry's org.opencontainers.image.ref.name annotation, or a
	// digest. Empty means the entry named like the tag, else the only
	// entry.
	Reference string
	// ChunkSize is the size of each upload request; zero means
	// DefaultImageChunkSize, and it may not exceed MaxChunkSize. Bytes
	// stream from the layout's files, so it costs no memory.
	ChunkSize int64
	// Referrers also pushes the artifacts (signatures, SBOMs) that
	// index.json lists whose subject is the image or a manifest under it,
	// recursively: what PullImage with Referrers wrote.
	Referrers bool
	// ReferrerArtifactTypes, when not empty, keeps only referrers of these
	// artifact types.
	ReferrerArtifactTypes []string
	// Repair pushes every blob and manifest even when the repository
	// already has the image under the tag, mending what it lacks.
	Repair bool
	// Progress, when set, is called as bytes are sent.
	Progress func(ImageProgress)
}

// ContainerRegistryClientCopyImageOptions contains the optional parameters
// for ContainerRegistryClient.CopyImage.
type ContainerRegistryClientCopyImageOptions struct {
	// Concurrency is as for PullImage.
	Concurrency int
	// Platforms is as for PullImage.
	Platforms []string
	// Referrers also copies the artifacts that refer to the image and to
	// each manifest under it, recursively.
	Referrers bool
	// ReferrerArtifactTypes, when not empty, keeps only referrers of these
	// artifact types.
	ReferrerArtifactTypes []string
	// ChunkSize is the size of each upload request; zero means
	// DefaultImageChunkSize, and it may not exceed MaxChunkSize. Bytes
	// stream from the source's responses into the target's requests, so
	// it costs no memory.
	ChunkSize int64
	// Repair copies every blob and manifest even when the target already
	// has the image under the tag, mending what it lacks.
	Repair bool
	// Progress, when set, is called as bytes move.
	Progress func(ImageProgress)
}
