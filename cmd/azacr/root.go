package main

import (
	"context"
	"fmt"
	"io"

	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/spf13/cobra"
)

// run runs the command line args and returns the exit code: 0 success,
// 1 failure, 2 usage. Errors are one line on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	azlog.SetListener(nil) // --debug's listener ends with the run
	if err != nil && cmd == root {
		// No command ran: an unknown command, or none.
		err = usageErrorf("%v (azacr --help lists the commands)", err)
	}
	if err != nil {
		fmt.Fprintln(stderr, "azacr:", describe(err))
	}
	return exitCode(err)
}

// newRootCommand builds the command tree.
func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "azacr",
		Short:         "A registry tool for Azure Container Registry",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkFlags(); err != nil {
				return err
			}
			if g.debug {
				startDebugLog(g.stderr)
			}
			return nil
		},
	}
	// No command at all is a usage error: the help goes to stderr.
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(g.stderr)
		cmd.Help()
		return usageErrorf("no command given")
	}
	// Cobra's own argument and flag errors are usage errors.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	f := root.PersistentFlags()
	f.BoolVar(&g.plainHTTP, "plain-http", false, "talk to the registry over plain HTTP (local registries and tests only)")
	f.StringVar(&g.caFile, "ca-file", "", "PEM file of a certificate authority to trust besides the system's")
	f.BoolVar(&g.anonymous, "anonymous", false, "send no credential (registries with anonymous pull)")
	f.StringVarP(&g.username, "username", "u", "", "username (admin user or repository-scoped token); password from --password-stdin or "+envPassword)
	f.BoolVar(&g.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	f.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	f.BoolVarP(&g.quiet, "quiet", "q", false, "print no progress")
	f.BoolVar(&g.debug, "debug", false, "log every request and response to stderr (secrets redacted)")
	for _, add := range commandGroups {
		add(root, g)
	}
	return root
}

// commandGroups add the commands, one file each.
var commandGroups []func(root *cobra.Command, g *globals)

// withClient is the RunE of a command whose one argument is a reference:
// parse reads it, and run gets it with a client of its registry.
func (g *globals) withClient(parse func(string) (reference, error), run func(cmd *cobra.Command, c *azacr.ContainerRegistryClient, ref reference) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, a []string) error {
		ref, err := parse(a[0])
		if err != nil {
			return err
		}
		c, err := g.client(ref.Registry)
		if err != nil {
			return err
		}
		return run(cmd, c, ref)
	}
}

// args checks a command's argument count as a usage error.
func args(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) != n {
			return usageErrorf("%s takes %d argument(s), got %d: usage: %s", cmd.Name(), n, len(a), cmd.UseLine())
		}
		return nil
	}
}

// startDebugLog sends azcore's log to w. azcore redacts Authorization and
// every query parameter and header it does not know to be harmless;
// azacr never logs token requests' bodies.
func startDebugLog(w io.Writer) {
	azlog.SetEvents(azlog.EventRequest, azlog.EventResponse, azlog.EventRetryPolicy)
	azlog.SetListener(func(e azlog.Event, msg string) { fmt.Fprintf(w, "[%s] %s\n", e, msg) })
}
