package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// --debug logs every request and response, and never a secret: not the
// password, not a token (ACR's tokens are JWTs, "eyJ…"), not a Basic
// credential.
func TestDebugLogsRequestsButNoSecret(t *testing.T) {
	r := newTestRegistry(t)
	seedTestImage(t, r, "hello", "v1", "one")
	res := r.azacr(t, "", "--debug", "tags", r.ref("hello"))
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stderr, "/acr/v1/hello/_tags", "the requests are logged")
	require.Contains(t, res.stderr, "/oauth2/token", "the token requests too")
	for _, secret := range []string{testPassword, "eyJ", "Basic ", "Bearer ey"} {
		require.NotContains(t, res.stderr, secret)
	}
	require.Equal(t, 1, strings.Count(res.stdout, "v1"))
}
