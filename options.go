package azacr

import "github.com/Azure/azure-sdk-for-go/sdk/azcore"

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
	// N is the page size; the registry caps it (ACR at 100 by default).
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
	// N is the page size.
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
	// N is the page size.
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
