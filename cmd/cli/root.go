// Package cli holds the modelhub commands. Each command is an XOptions struct, a
// NewCmdX(f, runF) constructor that only parses flags into the options, and an xRun
// function with the behaviour; the internal packages do the work.
package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/netconf"
)

// Version is set with -ldflags "-X github.com/modelhub-ai/modelhub/cmd/cli.Version=...".
var Version = "dev"

func version() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Version
}

// NewCmdRoot builds the command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	var listAlias bool
	root := &cobra.Command{
		Use:   "modelhub",
		Short: "Run pretrained models from the modelhub index on your machine",
		Long: `modelhub finds a model in the modelhub index, downloads it (its git repository and
weight files), makes sure its Docker image is present and starts it, printing the
URLs of its REST API and web UI, or of its Jupyter notebook with --expert.`,
		Example: `  modelhub list                 # all models in the index
  modelhub run squeezenet       # download and start a model
  modelhub run -e squeezenet    # the same, with a Jupyter notebook
  modelhub validate ./my-model  # check a model before publishing it`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if listAlias {
				return listRun(cmd.Context(), &ListOptions{IO: f.IO, Index: f.Index, Paths: f.Paths, Offline: f.Opts.Offline})
			}
			return cmd.Help()
		},
	}
	root.SetVersionTemplate("modelhub {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	pf := root.PersistentFlags()
	pf.StringVar(&f.Opts.Index, "index", "", "index URL or path of a models.json (env MODELHUB_INDEX; default the public modelhub index)")
	pf.StringVar(&f.Opts.Home, "home", "", "folder for downloaded models (env MODELHUB_HOME; default "+config.DefaultHomeHelp(runtime.GOOS)+")")
	pf.BoolVarP(&f.Opts.Quiet, "quiet", "q", false, "print no progress or notes, only results and errors")
	pf.BoolVar(&f.Opts.Offline, "offline", false, "never use the network for the index: use the cached copy")
	pf.BoolVar(&f.Opts.Refresh, "refresh", false, "revalidate the cached index with the server even if it is fresh")
	pf.StringVar(&f.Opts.Context, "context", "", "Docker context to use (env DOCKER_CONTEXT; default DOCKER_HOST, else the Docker CLI's current context)")
	pf.StringArrayVar(&f.Opts.CACerts, "cacert", nil, "also trust the CAs in this PEM `FILE` (repeatable; env "+netconf.EnvCACert+", and SSL_CERT_FILE): a proxy's that inspects TLS")
	root.Flags().BoolVarP(&listAlias, "list", "l", false, "list the models, like the list command (for start.py users)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		f.IO.Quiet = f.Opts.Quiet
		if f.Opts.Offline && f.Opts.Refresh {
			return usageErrorf("--offline and --refresh contradict each other: --refresh asks the server, --offline never does; pass one")
		}
		// before any request: every outgoing client clones the default transport
		return netconf.Configure(f.Opts.CACerts)
	}

	root.AddGroup(&cobra.Group{ID: "use", Title: "Using models:"}, &cobra.Group{ID: "contrib", Title: "Contributing models:"})
	for _, c := range commands(f) {
		root.AddCommand(c)
	}
	root.SetHelpCommandGroupID("")
	// cobra's completion command only prints its help, exit 0, for an unknown
	// shell; made runnable, its NoArgs check turns `completion foo` into a usage error.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		}
	}
	return root
}

// commands lists the subcommands; each file adds its constructor here.
func commands(f *Factory) []*cobra.Command {
	return []*cobra.Command{
		NewCmdList(f, nil),
		NewCmdInfo(f, nil),
		NewCmdPull(f, nil),
		NewCmdRun(f, nil),
		NewCmdForward(f, nil),
		NewCmdPredict(f, nil),
		NewCmdPacs(f, nil),
		NewCmdConvert(f, nil),
		NewCmdPs(f, nil),
		NewCmdStop(f, nil),
		NewCmdLogs(f, nil),
		NewCmdUI(f, nil),
		NewCmdRm(f, nil),
		NewCmdSave(f, nil),
		NewCmdLoad(f, nil),
		NewCmdDeploy(f, nil),
		NewCmdValidate(f, nil),
		NewCmdNew(f, nil),
		NewCmdTest(f, nil),
	}
}

// Main runs modelhub with os.Args and returns the exit code.
func Main() int { return mainWith(Timeouts{}) }

// mainWith is Main with the network bounds t (the tests' binary shrinks them).
func mainWith(t Timeouts) (code int) {
	ios := SystemIO()
	defer func() {
		if r := recover(); r != nil {
			fprintf(ios.ErrOut, "modelhub: internal error: %v (please report this at https://github.com/modelhub-ai/modelhub/issues)\n", r)
			if os.Getenv("MODELHUB_DEBUG") != "" {
				fprintf(ios.ErrOut, "%s\n", debug.Stack())
			}
			code = ExitFailure
		}
	}()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	interrupted, forced := make(chan struct{}), make(chan struct{})
	sigs := make(chan os.Signal, 2)
	// The handler stays installed until the process exits (no signal.Stop): a
	// Ctrl-C that lands after the command has finished, while Main returns, must
	// not kill the process with the signal's default action, which would report
	// "killed" for a `run -d` that in fact succeeded.
	signal.Notify(sigs, stopSignals...)
	go func() {
		n := 0
		for range sigs {
			n++
			switch n {
			case 1:
				close(interrupted)
				cancel(ErrInterrupted)
			case 2:
				close(forced)
			default:
				os.Exit(ExitInterrupted)
			}
		}
	}()
	f := NewFactory(ios, interrupted, forced)
	f.Timeouts = t
	root := NewCmdRoot(f)
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	return execute(ctx, root, ios)
}

// execute runs the command tree and maps its error to an exit code, printing it once.
func execute(ctx context.Context, root *cobra.Command, ios *IOStreams) int {
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var exitErr *ExitError
	var usageErr *UsageError
	switch {
	case errors.Is(context.Cause(ctx), ErrInterrupted) && (errors.Is(err, context.Canceled) || errors.Is(err, ErrInterrupted)):
		fprintf(ios.ErrOut, "modelhub: interrupted\n")
		return ExitInterrupted
	case errors.As(err, &exitErr):
		if !exitErr.Silent && exitErr.Err != nil {
			fprintf(ios.ErrOut, "modelhub: %s\n", oneLinePerError(exitErr.Err))
		}
		return exitErr.Code
	case errors.As(err, &usageErr) || isCobraUsageError(err):
		path := "modelhub"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fprintf(ios.ErrOut, "modelhub: %v\nRun '%s --help' for usage.\n", err, path)
		return ExitUsage
	}
	fprintf(ios.ErrOut, "modelhub: %s\n", oneLinePerError(err))
	return ExitFailure
}

// oneLinePerError gives each line of a joined error (`rm a b`: one per model)
// its own "modelhub: " prefix, so every line says where it comes from.
func oneLinePerError(err error) string {
	return strings.ReplaceAll(strings.TrimRight(err.Error(), "\n"), "\n", "\nmodelhub: ")
}

// isCobraUsageError recognises the errors cobra makes itself for bad command lines.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "invalid argument", "flag needs an argument", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
