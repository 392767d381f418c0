package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/stretchr/testify/require"
)

// Credentials of the admin user of every test registry.
const (
	testUser     = "admin"
	testPassword = "admin-password-s3cret"
)

// testRegistry is an emulated registry with an admin user and anonymous
// pull, and the --ca-file that trusts it.
type testRegistry struct {
	*acrtest.Server
	caFile string
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	srv := acrtest.NewServer(t, &acrtest.Options{AnonymousPull: true, Users: []acrtest.User{{Name: testUser, Password: testPassword}}})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644))
	return &testRegistry{Server: srv, caFile: ca}
}

// ref is a reference into the registry, like "repo:tag".
func (r *testRegistry) ref(s string) string {
	if s == "" {
		return r.Host
	}
	return r.Host + "/" + s
}

// result is what one run of the command printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// azacr runs the command against r, signed in as the admin user, with
// stdin as standard input (after the password line).
func (r *testRegistry) azacr(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	all := append([]string{"--ca-file", r.caFile, "--username", testUser, "--password-stdin"}, args...)
	return runCommand(t, testPassword+"\n"+stdin, all...)
}

// runCommand runs the command line in process.
func runCommand(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}
