package azacr

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientsWithoutATransportShareOne: every client built without a
// Transporter, and its token requests, use one transport per process, so
// two clients of one registry share connections.
func TestClientsWithoutATransportShareOne(t *testing.T) {
	a, ok := withSafeRedirects(nil).(*http.Client)
	require.True(t, ok)
	b, ok := withSafeRedirects(nil).(*http.Client)
	require.True(t, ok)
	tokens, ok := withoutRedirects(a).(*http.Client)
	require.True(t, ok)
	assert.Same(t, a.Transport, b.Transport)
	assert.Same(t, a.Transport, tokens.Transport)
	assert.NotSame(t, a, b, "each client has its own redirect rules")

	// A caller's client is copied, never changed.
	mine := &http.Client{}
	safe := withSafeRedirects(mine).(*http.Client)
	assert.Nil(t, mine.CheckRedirect)
	assert.NotNil(t, safe.CheckRedirect)
}
