package acrtest

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConnectionsKeepAlive(t *testing.T) {
	srv := NewServer(t, nil)
	require.Zero(t, srv.Connections())

	// One client, requests one after another: one connection.
	for range 2 {
		resp, _ := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	require.Equal(t, 1, srv.Connections())
	require.Equal(t, 2, srv.CountRequests(http.MethodGet, "/v2/"))
}

func TestConnectionsWithoutKeepAlive(t *testing.T) {
	srv := NewServer(t, nil)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	client := &http.Client{Transport: tr}
	t.Cleanup(client.CloseIdleConnections)

	for range 2 {
		resp, err := client.Get(srv.URL + "/v2/")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	require.Equal(t, 2, srv.Connections())
}

func TestConnectionsCountedPerHost(t *testing.T) {
	srv := NewServer(t, &Options{RedirectBlobs: true})
	require.Zero(t, srv.StorageConnections())
	d := srv.PutBlob("hello", []byte("layer content"))
	tok := accessToken(t, srv, "repository:hello:pull")

	// Two blob reads: each is a 307 from the registry, then a GET on the
	// storage host without the token. The client, which shares its
	// transport with srv.Client(), keeps one connection to each host.
	client := blobNoRedirect(srv)
	for range 2 {
		resp, _ := blobSend(t, client, http.MethodGet, srv.URL+"/v2/hello/blobs/"+d, http.Header{"Authorization": {"Bearer " + tok}})
		require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
		resp, body := blobSend(t, client, http.MethodGet, resp.Header.Get("Location"), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "layer content", string(body))
	}
	require.Equal(t, 2, srv.CountRequests(http.MethodGet, "/v2/hello/blobs/"))
	require.Equal(t, 1, srv.Connections(), "the token requests and both redirects")
	require.Equal(t, 1, srv.StorageConnections())

	// A Reset closes the connection, so the next request opens another.
	srv.InjectFault(Fault{Path: "/v2/", Reset: true, Times: 1})
	_, err := srv.Client().Post(srv.URL+"/v2/", "text/plain", http.NoBody)
	require.Error(t, err)
	resp, _ := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, 2, srv.Connections())
	require.Equal(t, 1, srv.StorageConnections())
}

func TestConnectionsWithoutStorageHost(t *testing.T) {
	srv := NewServer(t, nil)
	resp, _ := do(t, srv, http.MethodGet, "/v2/", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Zero(t, srv.StorageConnections())
}
