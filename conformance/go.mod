module github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/conformance

go 1.26.0

replace github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr => ../

require (
	github.com/Azure/azure-sdk-for-go/sdk/azcore v1.24.0
	github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr v0.0.0-00010101000000-000000000000
	github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry v0.2.3
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/Azure/azure-sdk-for-go/sdk/internal v1.13.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)
