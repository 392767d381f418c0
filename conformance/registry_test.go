package conformance

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegistryAppAnswersPing(t *testing.T) {
	h, shutdown, err := NewRegistryApp(t.Context(), RegistryConfig{Dir: t.TempDir()})
	require.NoError(t, err)
	defer shutdown()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v2/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
