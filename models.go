package azacr

import "time"

// Repositories is one page of repository names.
type Repositories struct {
	// Link is the next page's URL from the Link header; nil on the last page.
	Link *string `json:"link,omitempty"`
	// Repositories are the repository names, in lexical order.
	Repositories []*string `json:"repositories,omitempty"`
}

// ContainerRepositoryProperties are the properties of a repository.
type ContainerRepositoryProperties struct {
	// ChangeableAttributes are the repository's writeable properties.
	ChangeableAttributes *RepositoryWriteableProperties `json:"changeableAttributes,omitempty"`
	// CreatedOn is when the repository was created.
	CreatedOn *time.Time `json:"createdTime,omitempty"`
	// LastUpdatedOn is when the repository last changed.
	LastUpdatedOn *time.Time `json:"lastUpdateTime,omitempty"`
	// ManifestCount is the number of manifests in the repository.
	ManifestCount *int64 `json:"manifestCount,omitempty"`
	// Name is the repository name.
	Name *string `json:"imageName,omitempty"`
	// RegistryLoginServer is the registry's login server, like
	// "myregistry.azurecr.io".
	RegistryLoginServer *string `json:"registry,omitempty"`
	// TagCount is the number of tags in the repository.
	TagCount *int64 `json:"tagCount,omitempty"`
}

// RepositoryWriteableProperties are the changeable attributes of a
// repository. In an update, only the fields that are set are changed.
type RepositoryWriteableProperties struct {
	// CanDelete allows deleting the repository.
	CanDelete *bool `json:"deleteEnabled,omitempty"`
	// CanList shows the repository in the catalog.
	CanList *bool `json:"listEnabled,omitempty"`
	// CanRead allows pulling from the repository.
	CanRead *bool `json:"readEnabled,omitempty"`
	// CanWrite allows pushing to the repository.
	CanWrite *bool `json:"writeEnabled,omitempty"`
}

// DeleteRepositoryResult lists what deleting a repository removed.
type DeleteRepositoryResult struct {
	// DeletedManifests are the digests of the deleted manifests.
	DeletedManifests []*string `json:"manifestsDeleted,omitempty"`
	// DeletedTags are the names of the deleted tags.
	DeletedTags []*string `json:"tagsDeleted,omitempty"`
}

// TagList is one page of a repository's tags.
type TagList struct {
	// RegistryLoginServer is the registry's login server.
	RegistryLoginServer *string `json:"registry,omitempty"`
	// Repository is the repository name.
	Repository *string `json:"imageName,omitempty"`
	// TagAttributeBases are the tags of this page.
	TagAttributeBases []*TagAttributesBase `json:"tags,omitempty"`
	// Link is the next page's URL from the Link header; nil on the last page.
	Link *string `json:"link,omitempty"`
}

// TagAttributesBase are the properties of a tag.
type TagAttributesBase struct {
	// ChangeableAttributes are the tag's writeable properties.
	ChangeableAttributes *TagWriteableProperties `json:"changeableAttributes,omitempty"`
	// CreatedOn is when the tag was created.
	CreatedOn *time.Time `json:"createdTime,omitempty"`
	// Digest is the digest of the manifest the tag points to.
	Digest *string `json:"digest,omitempty"`
	// LastUpdatedOn is when the tag last changed.
	LastUpdatedOn *time.Time `json:"lastUpdateTime,omitempty"`
	// Name is the tag.
	Name *string `json:"name,omitempty"`
	// Signed reports whether the tag is signed.
	Signed *bool `json:"signed,omitempty"`
}

// TagWriteableProperties are the changeable attributes of a tag. In an
// update, only the fields that are set are changed.
type TagWriteableProperties struct {
	// CanDelete allows deleting the tag.
	CanDelete *bool `json:"deleteEnabled,omitempty"`
	// CanList shows the tag in tag listings.
	CanList *bool `json:"listEnabled,omitempty"`
	// CanRead allows pulling the tag.
	CanRead *bool `json:"readEnabled,omitempty"`
	// CanWrite allows moving the tag to another manifest.
	CanWrite *bool `json:"writeEnabled,omitempty"`
}

// ArtifactTagProperties are a tag's properties with the repository they
// belong to.
type ArtifactTagProperties struct {
	// RegistryLoginServer is the registry's login server.
	RegistryLoginServer *string `json:"registry,omitempty"`
	// RepositoryName is the repository name.
	RepositoryName *string `json:"imageName,omitempty"`
	// Tag holds the tag's properties.
	Tag *TagAttributesBase `json:"tag,omitempty"`
}

// Manifests is one page of a repository's manifests.
type Manifests struct {
	// Link is the next page's URL from the Link header; nil on the last page.
	Link *string `json:"link,omitempty"`
	// Manifests are the manifests of this page.
	Manifests []*ManifestAttributesBase `json:"manifests,omitempty"`
	// RegistryLoginServer is the registry's login server.
	RegistryLoginServer *string `json:"registry,omitempty"`
	// Repository is the repository name.
	Repository *string `json:"imageName,omitempty"`
}

// ManifestAttributesBase are the properties of a manifest.
type ManifestAttributesBase struct {
	// ChangeableAttributes are the manifest's writeable properties.
	ChangeableAttributes *ManifestWriteableProperties `json:"changeableAttributes,omitempty"`
	// CreatedOn is when the manifest was pushed.
	CreatedOn *time.Time `json:"createdTime,omitempty"`
	// Digest is the manifest's digest.
	Digest *string `json:"digest,omitempty"`
	// LastUpdatedOn is when the manifest last changed.
	LastUpdatedOn *time.Time `json:"lastUpdateTime,omitempty"`
	// Architecture is the CPU architecture of a single-platform image; nil
	// for indexes and artifacts.
	Architecture *ArtifactArchitecture `json:"architecture,omitempty"`
	// OperatingSystem is the operating system of a single-platform image;
	// nil for indexes and artifacts.
	OperatingSystem *ArtifactOperatingSystem `json:"os,omitempty"`
	// MediaType is the manifest's media type.
	MediaType *string `json:"mediaType,omitempty"`
	// ConfigMediaType is the media type of the manifest's config; nil for
	// indexes.
	ConfigMediaType *string `json:"configMediaType,omitempty"`
	// ArtifactType is the OCI artifact type, when the manifest has one.
	ArtifactType *string `json:"artifactType,omitempty"`
	// RelatedArtifacts are the platform manifests an index or manifest
	// list refers to; empty for other manifests.
	RelatedArtifacts []*ArtifactManifestPlatform `json:"references,omitempty"`
	// Size is the image size ACR reports: the sum of the layer sizes.
	Size *int64 `json:"imageSize,omitempty"`
	// Tags are the tags pointing at the manifest; empty when untagged.
	Tags []*string `json:"tags,omitempty"`
}

// ManifestWriteableProperties are the changeable attributes of a
// manifest. In an update, only the fields that are set are changed.
type ManifestWriteableProperties struct {
	// CanDelete allows deleting the manifest.
	CanDelete *bool `json:"deleteEnabled,omitempty"`
	// CanList shows the manifest in manifest listings.
	CanList *bool `json:"listEnabled,omitempty"`
	// CanRead allows pulling the manifest.
	CanRead *bool `json:"readEnabled,omitempty"`
	// CanWrite allows overwriting the manifest.
	CanWrite *bool `json:"writeEnabled,omitempty"`
	// QuarantineState is "Passed" or "Failed" on registries with
	// quarantine enabled.
	QuarantineState *string `json:"quarantineState,omitempty"`
	// QuarantineDetails is a JSON-encoded string with the scan details on
	// registries with quarantine enabled.
	QuarantineDetails *string `json:"quarantineDetails,omitempty"`
}

// ArtifactManifestProperties are a manifest's properties with the
// repository they belong to.
type ArtifactManifestProperties struct {
	// Manifest holds the manifest's properties.
	Manifest *ManifestAttributesBase `json:"manifest,omitempty"`
	// RegistryLoginServer is the registry's login server.
	RegistryLoginServer *string `json:"registry,omitempty"`
	// RepositoryName is the repository name.
	RepositoryName *string `json:"imageName,omitempty"`
}

// ArtifactManifestPlatform is one platform manifest of an index.
type ArtifactManifestPlatform struct {
	// Digest is the platform manifest's digest.
	Digest *string `json:"digest,omitempty"`
	// Architecture is its CPU architecture.
	Architecture *ArtifactArchitecture `json:"architecture,omitempty"`
	// OperatingSystem is its operating system.
	OperatingSystem *ArtifactOperatingSystem `json:"os,omitempty"`
}

// ArtifactArchitecture is a CPU architecture. ACR returns any string the
// image config names; the constants are the common ones, not a limit.
type ArtifactArchitecture string

// Common CPU architectures.
const (
	ArtifactArchitecture386      ArtifactArchitecture = "386"
	ArtifactArchitectureAmd64    ArtifactArchitecture = "amd64"
	ArtifactArchitectureArm      ArtifactArchitecture = "arm"
	ArtifactArchitectureArm64    ArtifactArchitecture = "arm64"
	ArtifactArchitectureMips     ArtifactArchitecture = "mips"
	ArtifactArchitectureMips64   ArtifactArchitecture = "mips64"
	ArtifactArchitectureMips64Le ArtifactArchitecture = "mips64le"
	ArtifactArchitectureMipsLe   ArtifactArchitecture = "mipsle"
	ArtifactArchitecturePpc64    ArtifactArchitecture = "ppc64"
	ArtifactArchitecturePpc64Le  ArtifactArchitecture = "ppc64le"
	ArtifactArchitectureRiscV64  ArtifactArchitecture = "riscv64"
	ArtifactArchitectureS390X    ArtifactArchitecture = "s390x"
	ArtifactArchitectureWasm     ArtifactArchitecture = "wasm"
)

// PossibleArtifactArchitectureValues returns the common architectures.
func PossibleArtifactArchitectureValues() []ArtifactArchitecture {
	return []ArtifactArchitecture{
		ArtifactArchitecture386, ArtifactArchitectureAmd64, ArtifactArchitectureArm, ArtifactArchitectureArm64,
		ArtifactArchitectureMips, ArtifactArchitectureMips64, ArtifactArchitectureMips64Le, ArtifactArchitectureMipsLe,
		ArtifactArchitecturePpc64, ArtifactArchitecturePpc64Le, ArtifactArchitectureRiscV64, ArtifactArchitectureS390X,
		ArtifactArchitectureWasm,
	}
}

// ArtifactOperatingSystem is an operating system. ACR returns any string
// the image config names; the constants are the common ones.
type ArtifactOperatingSystem string

// Common operating systems.
const (
	ArtifactOperatingSystemAix       ArtifactOperatingSystem = "aix"
	ArtifactOperatingSystemAndroid   ArtifactOperatingSystem = "android"
	ArtifactOperatingSystemDarwin    ArtifactOperatingSystem = "darwin"
	ArtifactOperatingSystemDragonfly ArtifactOperatingSystem = "dragonfly"
	ArtifactOperatingSystemFreeBsd   ArtifactOperatingSystem = "freebsd"
	ArtifactOperatingSystemIOS       ArtifactOperatingSystem = "ios"
	ArtifactOperatingSystemIllumos   ArtifactOperatingSystem = "illumos"
	ArtifactOperatingSystemJS        ArtifactOperatingSystem = "js"
	ArtifactOperatingSystemLinux     ArtifactOperatingSystem = "linux"
	ArtifactOperatingSystemNetBsd    ArtifactOperatingSystem = "netbsd"
	ArtifactOperatingSystemOpenBsd   ArtifactOperatingSystem = "openbsd"
	ArtifactOperatingSystemPlan9     ArtifactOperatingSystem = "plan9"
	ArtifactOperatingSystemSolaris   ArtifactOperatingSystem = "solaris"
	ArtifactOperatingSystemWindows   ArtifactOperatingSystem = "windows"
)

// PossibleArtifactOperatingSystemValues returns the common operating systems.
func PossibleArtifactOperatingSystemValues() []ArtifactOperatingSystem {
	return []ArtifactOperatingSystem{
		ArtifactOperatingSystemAix, ArtifactOperatingSystemAndroid, ArtifactOperatingSystemDarwin,
		ArtifactOperatingSystemDragonfly, ArtifactOperatingSystemFreeBsd, ArtifactOperatingSystemIOS,
		ArtifactOperatingSystemIllumos, ArtifactOperatingSystemJS, ArtifactOperatingSystemLinux,
		ArtifactOperatingSystemNetBsd, ArtifactOperatingSystemOpenBsd, ArtifactOperatingSystemPlan9,
		ArtifactOperatingSystemSolaris, ArtifactOperatingSystemWindows,
	}
}

// ArtifactManifestOrderBy orders manifest listings.
type ArtifactManifestOrderBy string

// Manifest orders. Without an order ACR lists manifests by digest.
const (
	ArtifactManifestOrderByNone                    ArtifactManifestOrderBy = "none"
	ArtifactManifestOrderByLastUpdatedOnAscending  ArtifactManifestOrderBy = "timeasc"
	ArtifactManifestOrderByLastUpdatedOnDescending ArtifactManifestOrderBy = "timedesc"
)

// PossibleArtifactManifestOrderByValues returns the manifest orders.
func PossibleArtifactManifestOrderByValues() []ArtifactManifestOrderBy {
	return []ArtifactManifestOrderBy{ArtifactManifestOrderByNone, ArtifactManifestOrderByLastUpdatedOnAscending, ArtifactManifestOrderByLastUpdatedOnDescending}
}

// ArtifactTagOrderBy orders tag listings.
type ArtifactTagOrderBy string

// Tag orders. Without an order ACR lists tags by name.
const (
	ArtifactTagOrderByNone                    ArtifactTagOrderBy = "none"
	ArtifactTagOrderByLastUpdatedOnAscending  ArtifactTagOrderBy = "timeasc"
	ArtifactTagOrderByLastUpdatedOnDescending ArtifactTagOrderBy = "timedesc"
)

// PossibleArtifactTagOrderByValues returns the tag orders.
func PossibleArtifactTagOrderByValues() []ArtifactTagOrderBy {
	return []ArtifactTagOrderBy{ArtifactTagOrderByNone, ArtifactTagOrderByLastUpdatedOnAscending, ArtifactTagOrderByLastUpdatedOnDescending}
}

// ContentType is a manifest media type, the Content-Type of a manifest
// upload or download.
type ContentType string

// Manifest media types ACR stores and serves.
const (
	ContentTypeApplicationVndOCIImageManifestV1JSON               ContentType = "application/vnd.oci.image.manifest.v1+json"
	ContentTypeApplicationVndOCIImageIndexV1JSON                  ContentType = "application/vnd.oci.image.index.v1+json"
	ContentTypeApplicationVndDockerDistributionManifestV2JSON     ContentType = "application/vnd.docker.distribution.manifest.v2+json"
	ContentTypeApplicationVndDockerDistributionManifestListV2JSON ContentType = "application/vnd.docker.distribution.manifest.list.v2+json"
	ContentTypeApplicationVndCNCFORASArtifactManifestV1JSON       ContentType = "application/vnd.cncf.oras.artifact.manifest.v1+json"
	ContentTypeApplicationVndOCIArtifactManifestV1JSON            ContentType = "application/vnd.oci.artifact.manifest.v1+json"
)

// PossibleContentTypeValues returns the manifest media types, the list a
// manifest download sends in Accept.
func PossibleContentTypeValues() []ContentType {
	return []ContentType{
		ContentTypeApplicationVndOCIImageManifestV1JSON, ContentTypeApplicationVndOCIImageIndexV1JSON,
		ContentTypeApplicationVndDockerDistributionManifestV2JSON, ContentTypeApplicationVndDockerDistributionManifestListV2JSON,
		ContentTypeApplicationVndCNCFORASArtifactManifestV1JSON, ContentTypeApplicationVndOCIArtifactManifestV1JSON,
	}
}

// Descriptor describes content by media type, digest and size (OCI image
// spec, descriptor.md).
type Descriptor struct {
	// MediaType is the content's media type.
	MediaType string `json:"mediaType"`
	// Digest is the content's digest, like "sha256:…".
	Digest string `json:"digest"`
	// Size is the content's length in bytes.
	Size int64 `json:"size"`
	// URLs are locations the content may also be fetched from.
	URLs []string `json:"urls,omitempty"`
	// Annotations are arbitrary metadata.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Data is the content itself, embedded.
	Data []byte `json:"data,omitempty"`
	// Platform is the platform of an index entry.
	Platform *Platform `json:"platform,omitempty"`
	// ArtifactType is the type of an artifact this descriptor refers to.
	ArtifactType string `json:"artifactType,omitempty"`
}

// Platform is the platform an index entry runs on.
type Platform struct {
	// Architecture is the CPU architecture, like "amd64".
	Architecture string `json:"architecture"`
	// OS is the operating system, like "linux".
	OS string `json:"os"`
	// OSVersion is the operating system version.
	OSVersion string `json:"os.version,omitempty"`
	// OSFeatures are required operating system features.
	OSFeatures []string `json:"os.features,omitempty"`
	// Variant is the CPU variant, like "v8".
	Variant string `json:"variant,omitempty"`
}

// ImageManifest is an OCI image manifest (or a Docker v2 schema 2
// manifest, which has the same shape).
type ImageManifest struct {
	// SchemaVersion is 2.
	SchemaVersion int `json:"schemaVersion"`
	// MediaType is the manifest's media type.
	MediaType string `json:"mediaType,omitempty"`
	// ArtifactType is the artifact type when the manifest is an artifact.
	ArtifactType string `json:"artifactType,omitempty"`
	// Config describes the image config (or an artifact's empty config).
	Config Descriptor `json:"config"`
	// Layers describe the layers, base first.
	Layers []Descriptor `json:"layers"`
	// Subject is the manifest this one refers to (OCI 1.1 referrers).
	Subject *Descriptor `json:"subject,omitempty"`
	// Annotations are arbitrary metadata.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ImageIndex is an OCI image index (or a Docker manifest list).
type ImageIndex struct {
	// SchemaVersion is 2.
	SchemaVersion int `json:"schemaVersion"`
	// MediaType is the index's media type.
	MediaType string `json:"mediaType,omitempty"`
	// ArtifactType is the artifact type when the index is an artifact.
	ArtifactType string `json:"artifactType,omitempty"`
	// Manifests describe the manifests the index lists.
	Manifests []Descriptor `json:"manifests"`
	// Subject is the manifest this one refers to (OCI 1.1 referrers).
	Subject *Descriptor `json:"subject,omitempty"`
	// Annotations are arbitrary metadata.
	Annotations map[string]string `json:"annotations,omitempty"`
}
