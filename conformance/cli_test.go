package conformance

// The azacr command (cmd/azacr, a module of its own) against the real
// distribution registry: pull, push and copy of a go-containerregistry
// image, judged by go-containerregistry.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/require"
)

var (
	azacrOnce sync.Once
	azacrBin  string
	azacrErr  error
)

// azacrCommand builds the command once per test run.
func azacrCommand(t *testing.T) string {
	t.Helper()
	azacrOnce.Do(func() {
		dir, err := os.MkdirTemp("", "azacr-cli")
		if err != nil {
			azacrErr = err
			return
		}
		azacrBin = filepath.Join(dir, "azacr")
		build := exec.Command("go", "build", "-o", azacrBin, ".")
		build.Dir = filepath.Join("..", "cmd", "azacr")
		if out, err := build.CombinedOutput(); err != nil {
			azacrErr = err
			azacrBin = string(out)
		}
	})
	require.NoError(t, azacrErr, azacrBin)
	return azacrBin
}

// azacrRun runs the command and returns its stdout; it fails the test on
// a non-zero exit.
func azacrRun(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(azacrCommand(t), append([]string{"--plain-http", "--anonymous", "--quiet"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), "azacr %v: %s", args, errOut.String())
	require.Empty(t, errOut.String(), "--quiet: nothing on stderr")
	return out.String()
}

func TestCommandPullPushCopyAgainstDistribution(t *testing.T) {
	a, b := StartOpenRegistry(t, false), StartOpenRegistry(t, false)
	idx, err := random.Index(2048, 2, 2, randomSource(1401))
	require.NoError(t, err)
	ref, opts := ggcrRef(t, a, "cli/source:v1")
	require.NoError(t, remote.WriteIndex(ref, idx, opts...))
	want, err := idx.Digest()
	require.NoError(t, err)

	dir := t.TempDir()
	got := azacrRun(t, "pull", a.Host+"/cli/source:v1", dir)
	require.Equal(t, want.String()+"\n", got, "pull prints the digest alone")

	got = azacrRun(t, "push", dir, a.Host+"/cli/pushed:v1")
	require.Equal(t, want.String()+"\n", got)
	got = azacrRun(t, "copy", a.Host+"/cli/source:v1", b.Host+"/cli/copied:v2")
	require.Equal(t, want.String()+"\n", got)

	for _, c := range []struct {
		r    *TestRegistry
		name string
	}{{a, "cli/pushed:v1"}, {b, "cli/copied:v2"}} {
		ref, opts := ggcrRef(t, c.r, c.name)
		remoteIdx, err := remote.Index(ref, opts...)
		require.NoError(t, err, c.name)
		d, err := remoteIdx.Digest()
		require.NoError(t, err)
		require.Equal(t, want, d, c.name)
		require.NoError(t, validate.Index(remoteIdx), c.name)
	}
}
