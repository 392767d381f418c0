package acrtest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// localhostURL is u with its 127.0.0.1 host replaced by localhost.
func localhostURL(t *testing.T, u string) string {
	t.Helper()
	require.True(t, strings.HasPrefix(u, "https://127.0.0.1:"), u)
	return strings.Replace(u, "127.0.0.1", "localhost", 1)
}

func TestCertificateCoversLocalhost(t *testing.T) {
	srv := NewServer(t, nil)
	resp, body := do(t, srv, http.MethodGet, localhostURL(t, srv.URL)+"/v2/", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
	require.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))

	// TLSConfig trusts it for every name the certificate carries.
	_, port, err := net.SplitHostPort(srv.Host)
	require.NoError(t, err)
	for _, addr := range []string{"localhost:" + port, srv.Host} {
		conn, err := tls.Dial("tcp", addr, srv.TLSConfig())
		require.NoError(t, err, addr)
		conn.Close()
	}
}

func TestCertificateCoversStorageHost(t *testing.T) {
	srv := NewServer(t, &Options{RedirectBlobs: true})
	// No SAS: the storage host refuses the request, after the handshake.
	resp, _ := do(t, srv, http.MethodGet, localhostURL(t, srv.StorageURL())+"/x", "", nil, nil)
	require.GreaterOrEqual(t, resp.StatusCode, 400)
	require.Less(t, resp.StatusCode, 500)

	conn, err := tls.Dial("tcp", strings.TrimPrefix(srv.StorageURL(), "https://"), srv.TLSConfig())
	require.NoError(t, err)
	require.True(t, conn.ConnectionState().PeerCertificates[0].Equal(srv.Certificate()), "one certificate for both hosts")
	conn.Close()
}

func TestCertificateShape(t *testing.T) {
	srv := NewServer(t, &Options{Service: "MyRegistry.azurecr.io:443", Realm: "https://login.example.net/oauth2/token"})
	c := srv.Certificate()
	require.NotNil(t, c)
	require.Equal(t, x509.ECDSA, c.PublicKeyAlgorithm)
	require.Subset(t, c.DNSNames, []string{"localhost", "example.com", "myregistry.azurecr.io", "login.example.net"})
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "myregistry.azurecr.io", "login.example.net", "registry.example.com"} {
		require.NoError(t, c.VerifyHostname(name), name)
	}

	// A client that dials the listening address but expects the service's
	// name, as one with a custom resolver would, verifies the server.
	cfg := srv.TLSConfig()
	cfg.ServerName = "myregistry.azurecr.io"
	conn, err := tls.Dial("tcp", srv.Host, cfg)
	require.NoError(t, err)
	conn.Close()

	// The certificate is this server's: the system roots do not trust it.
	_, err = c.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: x509.NewCertPool()})
	require.Error(t, err)
}

func TestCertificateIgnoresOddServiceNames(t *testing.T) {
	for _, svc := range []string{"has space", "under_score.io", "ünïcode.io", "[::1]:443", "10.1.2.3"} {
		cert, err := newCertificate(hostName(svc))
		require.NoError(t, err, svc)
		if ip := net.ParseIP(hostName(svc)); ip != nil {
			require.NoError(t, cert.Leaf.VerifyHostname(ip.String()), svc)
		} else {
			require.Equal(t, []string{"localhost", "example.com", "*.example.com"}, cert.Leaf.DNSNames, svc)
		}
	}
}

// Client and TLSConfig still trust httptest's default certificate, as they
// did when the server presented it, so tests can reach their own httptest
// servers with them.
func TestClientTrustsOtherHTTPTestServers(t *testing.T) {
	srv := NewServer(t, nil)
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	defer other.Close()

	resp, err := srv.Client().Get(other.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTeapot, resp.StatusCode)

	conn, err := tls.Dial("tcp", other.Listener.Addr().String(), srv.TLSConfig())
	require.NoError(t, err)
	conn.Close()

	// TLSConfig hands out a pool of its own: changing it changes nothing
	// for the server's other clients.
	cfg := srv.TLSConfig()
	require.NotSame(t, cfg.RootCAs, srv.TLSConfig().RootCAs)
}
