package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/spf13/cobra"
)

// RmOptions are the inputs of `modelhub rm`.
type RmOptions struct {
	IO    *IOStreams
	Store func() (*store.Store, error)
	// InUse reports whether a container runs the downloaded model at dir;
	// rm refuses to remove it then.
	InUse func(ctx context.Context, name, dir string) (bool, error)
	// DropVolumes removes the volumes holding copies of the model's files on
	// a remote engine and returns their names (nil: not checked).
	DropVolumes func(ctx context.Context, name string) ([]string, error)

	Models []string
	All    bool
	Yes    bool
}

// NewCmdRm builds `modelhub rm`.
func NewCmdRm(f *Factory, runF func(context.Context, *RmOptions) error) *cobra.Command {
	opts := &RmOptions{IO: f.IO, Store: f.Store, InUse: modelRunning(f.Docker), DropVolumes: dropModelVolumes(f.Docker)}
	cmd := &cobra.Command{
		Use:     "rm MODEL... | rm --all",
		Aliases: []string{"remove"},
		Short:   "Remove downloaded models",
		Long: `Remove downloaded models from HOME/models, with anything an interrupted pull left.
Only downloaded models are removed: a path or a local model folder is refused.
--all removes every downloaded model after asking (pass --yes to skip the question;
without a terminal --yes is required).`,
		Example: `  modelhub rm squeezenet
  modelhub rm --all --yes`,
		GroupID:           "use",
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Models = args
			switch {
			case opts.All && len(args) > 0:
				return usageErrorf("give model names or --all, not both")
			case !opts.All && len(args) == 0:
				return usageErrorf("%s needs at least one MODEL (or --all)", cmd.CommandPath())
			}
			if err := noEmptyArgs(cmd, args, "the names of downloaded models"); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rmRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "remove every downloaded model")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func rmRun(ctx context.Context, opts *RmOptions) error {
	s, err := opts.Store()
	if err != nil {
		return err
	}
	var dirs []string
	var errs []error
	if opts.All {
		names := s.Downloaded()
		if len(names) == 0 {
			opts.IO.Notef("no models are downloaded in %s", s.ModelsDir())
			return nil
		}
		if !opts.Yes {
			what := fmt.Sprintf("%d downloaded model(s) (%s) from %s", len(names), strings.Join(names, ", "), s.ModelsDir())
			ok, err := confirm(opts.IO, "Remove "+what+"?", "refusing to remove "+what+" unasked: there is no terminal to ask on; pass --yes to confirm")
			if err != nil {
				return err
			}
			if !ok {
				return &ExitError{Code: ExitFailure, Err: errors.New("nothing removed")}
			}
		}
		for _, n := range names {
			dirs = append(dirs, filepath.Join(s.ModelsDir(), n))
		}
	} else {
		for _, ref := range opts.Models {
			dir, err := s.Find(ref)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			dirs = append(dirs, dir)
		}
	}
	for _, dir := range dirs {
		// Ctrl-C aborts: what is not removed yet stays.
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := filepath.Base(dir)
		ro := store.RemoveOptions{Wait: func(msg string) { opts.IO.Notef("%s", msg) }}
		if opts.InUse != nil {
			// checked under the model's lock, which a starting model holds
			// until its container runs
			ro.InUse = func(ctx context.Context) error {
				busy, err := opts.InUse(ctx, name, dir)
				if err != nil {
					return fmt.Errorf("rm %s: %w", name, err)
				}
				if busy {
					return fmt.Errorf("%s is running or starting; stop it first (modelhub stop %s)", name, name)
				}
				return nil
			}
		}
		if err := s.Remove(ctx, dir, ro); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, err)
			continue
		}
		opts.IO.Notef("removed %s (%s)", name, dir)
		if opts.DropVolumes != nil {
			vols, err := opts.DropVolumes(ctx, name)
			for _, v := range vols {
				opts.IO.Notef("removed volume %s (its files on the Docker engine)", v)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("rm %s: the model folder is gone, but its volume on the Docker engine was not removed: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// confirm asks a yes/no question on the terminal; without one it fails with
// refusal, one line that names what was not done and tells to pass --yes.
func confirm(ios *IOStreams, question, refusal string) (bool, error) {
	if !ios.InTTY {
		return false, errors.New(refusal)
	}
	fprintf(ios.ErrOut, "%s [y/N] ", question)
	line, err := bufio.NewReader(ios.In).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}
