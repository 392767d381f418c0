package azacr

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
