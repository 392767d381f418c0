package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
)

// Environment variables that carry a username and password for
// registries without Microsoft Entra sign-in (the admin user, a
// repository-scoped token), for scripts that cannot pipe a password.
const (
	envUsername = "AZACR_USERNAME"
	envPassword = "AZACR_PASSWORD"
)

// globals are the flags every command takes, and what the command runs
// with.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	plainHTTP     bool
	caFile        string
	anonymous     bool
	username      string
	passwordStdin bool
	output        string
	quiet         bool
	debug         bool

	credOnce sync.Once
	cred     azcore.TokenCredential
	credErr  error
}

// out is the printer of results, in the format --output asks for.
func (g *globals) out() printer { return printer{w: g.stdout, json: g.output == "json"} }

// checkFlags validates the global flags before a command runs.
func (g *globals) checkFlags() error {
	switch g.output {
	case "table", "json":
	default:
		return usageErrorf("--output %q: want table or json", g.output)
	}
	if g.anonymous && (g.username != "" || g.passwordStdin) {
		return usageErrorf("--anonymous and --username exclude each other")
	}
	if g.passwordStdin && g.username == "" && os.Getenv(envUsername) == "" {
		return usageErrorf("--password-stdin needs --username (or %s)", envUsername)
	}
	return nil
}

// credential is the credential of every client of this run: nil with
// --anonymous, a password credential with --username (password from
// standard input or the environment), else Microsoft Entra through
// DefaultAzureCredential. Nothing is written anywhere.
func (g *globals) credential() (azcore.TokenCredential, error) {
	g.credOnce.Do(func() { g.cred, g.credErr = g.newCredential() })
	return g.cred, g.credErr
}

func (g *globals) newCredential() (azcore.TokenCredential, error) {
	if g.anonymous {
		return nil, nil
	}
	user := g.username
	if user == "" {
		user = os.Getenv(envUsername)
	}
	if user != "" {
		password := os.Getenv(envPassword)
		if g.passwordStdin {
			line, err := readLine(g.stdin)
			if err != nil {
				return nil, fmt.Errorf("reading the password from standard input: %w", err)
			}
			password = strings.TrimRight(line, "\r\n")
		}
		if password == "" {
			return nil, usageErrorf("no password for %s: pipe it to --password-stdin or set %s", user, envPassword)
		}
		return azacr.NewPasswordCredential(user, password), nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("signing in with Microsoft Entra (DefaultAzureCredential): %w; or use --username, or --anonymous", err)
	}
	return cred, nil
}

// endpoint is the registry's URL.
func (g *globals) endpoint(registry string) string {
	if g.plainHTTP {
		return "http://" + registry
	}
	return "https://" + registry
}

// clientOptions are the azcore options of every client: the CA of
// --ca-file trusted besides the system's, credentials allowed over plain
// HTTP with --plain-http.
func (g *globals) clientOptions() (azcore.ClientOptions, error) {
	var o azcore.ClientOptions
	o.InsecureAllowCredentialWithHTTP = g.plainHTTP
	o.Logging = policy.LogOptions{IncludeBody: false}
	if g.caFile == "" {
		return o, nil
	}
	pem, err := readCAFile(g.caFile)
	if err != nil {
		return o, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return o, usageErrorf("--ca-file %s holds no PEM certificate", g.caFile)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	o.Transport = &http.Client{Transport: transport}
	return o, nil
}

// connection is the credential and the client options of every client.
func (g *globals) connection() (azcore.TokenCredential, azcore.ClientOptions, error) {
	cred, err := g.credential()
	if err != nil {
		return nil, azcore.ClientOptions{}, err
	}
	o, err := g.clientOptions()
	return cred, o, err
}

// client returns a ContainerRegistryClient for registry.
func (g *globals) client(registry string) (*azacr.ContainerRegistryClient, error) {
	cred, o, err := g.connection()
	if err != nil {
		return nil, err
	}
	return azacr.NewContainerRegistryClient(g.endpoint(registry), cred, &azacr.ContainerRegistryClientOptions{ClientOptions: o})
}

// readLine reads one line from r a byte at a time, so that what follows
// it (a blob piped to "blob push -" after the password) stays unread.
func readLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := r.Read(b)
		if n == 1 {
			line = append(line, b[0])
			if b[0] == '\n' {
				return string(line), nil
			}
		}
		if err == io.EOF {
			return string(line), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// blobClient returns a BlobClient for registry, with the credential and
// options of client.
func (g *globals) blobClient(registry string) (*azacr.BlobClient, error) {
	cred, o, err := g.connection()
	if err != nil {
		return nil, err
	}
	return azacr.NewBlobClient(g.endpoint(registry), cred, &azacr.BlobClientOptions{ClientOptions: o})
}

// maxCAFile bounds --ca-file: a bundle of every public CA is about 200 KB.
const maxCAFile = 4 << 20

// readCAFile reads the PEM file of --ca-file, which must be a regular
// file of at most maxCAFile bytes (not /dev/zero, not a pipe).
func readCAFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil, usageErrorf("--ca-file %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	if len(data) > maxCAFile {
		return nil, usageErrorf("--ca-file %s is larger than %d bytes", path, maxCAFile)
	}
	return data, nil
}
