package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
)

// LogsOptions are the inputs of `modelhub logs`.
type LogsOptions struct {
	IO     *IOStreams
	Docker func(ctx context.Context) (dockerrun.API, error)
	Name   string
	Follow bool
	Tail   string
}

// NewCmdLogs builds `modelhub logs`.
func NewCmdLogs(f *Factory, runF func(context.Context, *LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IO, Docker: f.Docker}
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print the log of a running model",
		Long: `Print the log of a model's container: its standard output on stdout and its
standard error on stderr. -f keeps following it until the model stops or Ctrl-C.`,
		Example: `  modelhub logs squeezenet
  modelhub logs -f squeezenet`,
		GroupID:           "use",
		Args:              exactArgs(1, "a model NAME"),
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := checkTail(opts.Tail); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return logsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().StringVarP(&opts.Tail, "tail", "n", "all", "number of lines from the end to show")
	return cmd
}

func logsRun(ctx context.Context, opts *LogsOptions) error {
	d, err := opts.Docker(ctx)
	if err != nil {
		return err
	}
	cs, err := launch.ModelContainers(ctx, d, opts.Name, false)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("no model named %s is running (see `modelhub ps`)", opts.Name)
	}
	out, flushOut := termStream(opts.IO.Out, opts.IO.OutTTY)
	errOut, flushErr := termStream(opts.IO.ErrOut, opts.IO.ErrTTY)
	err = d.Logs(ctx, cs[0].ID, dockerrun.LogsOptions{Follow: opts.Follow, Tail: opts.Tail}, out, errOut)
	flushOut()
	flushErr()
	if err != nil {
		return err
	}
	return ctx.Err()
}

// checkTail accepts what -n/--tail means: "all" or a number of lines (0 or more).
func checkTail(tail string) error {
	if tail == "all" {
		return nil
	}
	if n, err := strconv.Atoi(tail); err != nil || n < 0 {
		return usageErrorf("--tail %q: want a number of lines (0 or more) or \"all\"", tail)
	}
	return nil
}
