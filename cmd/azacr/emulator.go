package main

// emulator: a local registry (acrtest) for tests and experiments.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/spf13/cobra"
)

func init() { commandGroups = append(commandGroups, addEmulator) }

func addEmulator(root *cobra.Command, g *globals) { root.AddCommand(emulatorCommand(g)) }

// emulatorUser is the emulator's admin user; its password is new each run.
const emulatorUser = "admin"

func emulatorCommand(g *globals) *cobra.Command {
	var (
		dir    string
		listen string
	)
	cmd := &cobra.Command{
		Use:   "emulator [--plain-http] [--dir DIR] [--listen 127.0.0.1:0]",
		Short: "Serve a local ACR emulator until interrupted or until standard input ends",
		Long: "emulator serves the acrtest emulator of the ACR data plane on a loopback address and prints, one per line, " +
			"URL <endpoint>, USERNAME <admin user>, PASSWORD <admin password, new each run> and, over TLS, " +
			"CA <PEM file of its certificate> (removed at exit). It serves until interrupted or until its standard input reaches end of file. " +
			"Content lives in memory, or with --dir its blobs in files under DIR.",
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return usageErrorf("--listen %q: %v", listen, err)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return usageErrorf("--listen %q: the emulator listens on a loopback address only, like 127.0.0.1:5000", listen)
			}
			plain := g.plainHTTP // the global flag: serve plain HTTP
			if dir != "" {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return err
				}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			password, err := randomPassword()
			if err != nil {
				ln.Close()
				return err
			}
			srv := acrtest.NewUnstartedServer(&acrtest.Options{PlainHTTP: plain, Dir: dir, Listener: ln,
				Users: []acrtest.User{{Name: emulatorUser, Password: password}}})
			srv.Start()
			defer srv.Close()

			lines := fmt.Sprintf("URL %s\nUSERNAME %s\nPASSWORD %s\n", srv.URL, emulatorUser, password)
			if !plain {
				tmp, err := os.MkdirTemp("", "azacr-emulator-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				ca := filepath.Join(tmp, "ca.pem")
				if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
					return err
				}
				lines += "CA " + ca + "\n"
			}
			if _, err := io.WriteString(g.stdout, lines); err != nil {
				return err
			}
			return waitForEnd(cmd.Context(), g.stdin)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "keep blobs in files under this directory instead of in memory")
	f.StringVar(&listen, "listen", "127.0.0.1:0", "loopback address and port to listen on (port 0: any free port)")
	return cmd
}

// waitForEnd returns when ctx is done (nil: an interrupt is how an
// emulator is stopped) or when r reaches end of file.
func waitForEnd(ctx context.Context, r io.Reader) error {
	eof := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, r)
		eof <- err
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-eof:
		return err
	}
}

func randomPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
