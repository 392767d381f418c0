package azacr

import (
	"context"
	"errors"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// PasswordCredential authenticates with a username and password: the
// registry's admin user, or a repository-scoped token (a token name and one
// of its passwords). Pass it wherever a constructor takes a credential; the
// clients exchange it for access tokens at GET /oauth2/token with Basic
// authentication. Prefer Microsoft Entra credentials where you can: admin
// users and tokens are long-lived secrets.
type PasswordCredential struct {
	username string
	password string
}

// NewPasswordCredential returns a credential for an ACR admin user or
// repository-scoped token.
func NewPasswordCredential(username, password string) *PasswordCredential {
	return &PasswordCredential{username: username, password: password}
}

// errPasswordCredential explains why GetToken on a PasswordCredential fails.
var errPasswordCredential = errors.New("azacr: a PasswordCredential authenticates only azacr clients; it cannot issue Microsoft Entra tokens")

// GetToken always fails: a PasswordCredential is not a Microsoft Entra
// credential. It exists so the credential satisfies azcore.TokenCredential
// and can be passed to NewContainerRegistryClient and NewBlobClient.
func (c *PasswordCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errPasswordCredential
}
