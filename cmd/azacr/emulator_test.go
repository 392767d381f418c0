package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The emulator prints its URL, admin user, password and CA, serves other
// azacr commands, and exits 0 when its standard input ends, removing the
// CA file.
func TestEmulatorServesUntilStdinEnds(t *testing.T) {
	for _, plain := range []bool{false, true} {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		args := []string{"emulator", "--dir", t.TempDir()}
		if plain {
			args = append(args, "--plain-http")
		}
		code := make(chan int, 1)
		go func() {
			code <- run(context.Background(), args, inR, outW, io.Discard)
			outW.Close()
		}()
		got := map[string]string{}
		sc := bufio.NewScanner(outR)
		want := 4
		if plain {
			want = 3
		}
		for len(got) < want && sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), " ")
			got[k] = v
		}
		go func() { _, _ = io.Copy(io.Discard, outR) }()
		require.Equal(t, "admin", got["USERNAME"])
		require.Len(t, got["PASSWORD"], 36)
		host, ok := strings.CutPrefix(got["URL"], "https://")
		if plain {
			host, ok = strings.CutPrefix(got["URL"], "http://")
		}
		require.True(t, ok, got["URL"])

		login := []string{"--username", got["USERNAME"], "--password-stdin"}
		if plain {
			login = append(login, "--plain-http")
		} else {
			login = append(login, "--ca-file", got["CA"])
		}
		azacr := func(args ...string) result {
			return runCommand(t, got["PASSWORD"]+"\n", append(login, args...)...)
		}
		res := azacr("repos", host)
		require.Equal(t, 0, res.code, res.stderr)
		require.Empty(t, strings.TrimSpace(res.stdout))
		// Wrong password: refused.
		res = runCommand(t, "wrong\n", append(login, "repos", host)...)
		require.Equal(t, 1, res.code)

		require.NoError(t, inW.Close())
		require.Equal(t, 0, <-code)
		if !plain {
			_, err := os.Stat(got["CA"])
			require.True(t, os.IsNotExist(err), "the CA file is removed at exit")
		}
	}
}

func TestEmulatorStopsWhenInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	inR, _ := io.Pipe()
	outR, outW := io.Pipe()
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"emulator"}, inR, outW, io.Discard); outW.Close() }()
	line, err := bufio.NewReader(outR).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "URL https://127.0.0.1:"), line)
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	cancel()
	require.Equal(t, 0, <-code)
}

func TestEmulatorListensOnLoopbackOnly(t *testing.T) {
	res := runCommand(t, "", "emulator", "--listen", "0.0.0.0:0")
	require.Equal(t, 2, res.code, res.stderr)
	res = runCommand(t, "", "emulator", "--listen", "nonsense")
	require.Equal(t, 2, res.code, res.stderr)
}
