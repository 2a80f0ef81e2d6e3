package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
)

// StopOptions are the inputs of `modelhub stop`.
type StopOptions struct {
	IO     *IOStreams
	Docker func(ctx context.Context) (dockerrun.API, error)
	Names  []string
	All    bool
}

// NewCmdStop builds `modelhub stop`.
func NewCmdStop(f *Factory, runF func(context.Context, *StopOptions) error) *cobra.Command {
	opts := &StopOptions{IO: f.IO, Docker: f.Docker}
	cmd := &cobra.Command{
		Use:   "stop NAME...|--all",
		Short: "Stop and remove running models",
		Long: `Stop the containers of the named models (SIGTERM, then SIGKILL after 10 s) and remove
them. --all stops every model modelhub started.`,
		Example: `  modelhub stop squeezenet
  modelhub stop --all`,
		GroupID:           "use",
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if opts.All && len(args) > 0 {
				return usageErrorf("give model names or --all, not both")
			}
			if !opts.All && len(args) == 0 {
				return usageErrorf("%s needs model names (see `modelhub ps`) or --all", cmd.CommandPath())
			}
			if err := noEmptyArgs(cmd, args, "the names of running models (see `modelhub ps`)"); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return stopRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.All, "all", "a", false, "stop every running model")
	return cmd
}

func stopRun(ctx context.Context, opts *StopOptions) error {
	d, err := opts.Docker(ctx)
	if err != nil {
		return err
	}
	var targets []dockerrun.Container
	var unknown []string
	if opts.All {
		if targets, err = d.List(ctx, true); err != nil {
			return err
		}
	} else {
		seen := map[string]bool{} // `stop demo Demo` stops demo once
		for _, n := range opts.Names {
			// all of them: a `modelhub test` container may run beside the model's own
			cs, err := launch.ModelContainers(ctx, d, n, false)
			if err != nil {
				return err
			}
			if len(cs) == 0 {
				unknown = append(unknown, n)
			}
			for _, c := range cs {
				if !seen[c.Name] {
					targets = append(targets, c)
					seen[c.Name] = true
				}
			}
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("no model named %s is running (see `modelhub ps`); nothing was stopped", strings.Join(unknown, ", "))
	}
	if len(targets) == 0 {
		opts.IO.Notef("no models are running")
		return nil
	}
	var noteMu sync.Mutex // the stops run in parallel; the notes share one stream
	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	for _, c := range targets {
		g.Go(func() error {
			if c.Running {
				if err := d.Stop(gctx, c.ID, launch.StopGrace); err != nil && !errors.Is(err, dockerrun.ErrContainerNotFound) {
					return fmt.Errorf("stop %s: %w", c.Model, err)
				}
			}
			rctx, cancel := context.WithTimeout(gctx, 30*time.Second)
			defer cancel()
			if err := d.Remove(rctx, c.ID); err != nil && !errors.Is(err, dockerrun.ErrContainerNotFound) {
				return fmt.Errorf("remove %s: %w", c.Model, err)
			}
			noteMu.Lock()
			opts.IO.Notef("stopped %s", c.Model)
			noteMu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// modelRunning returns the check of `rm`, `load --force` and `pull --update`:
// whether a container that is running or about to (created, restarting,
// paused) uses the model folder dir (mounts its contrib_src). With no Docker
// daemon nothing can be running; a daemon that does not answer may be
// running it.
func modelRunning(docker func(context.Context) (dockerrun.API, error)) func(ctx context.Context, name, dir string) (bool, error) {
	return func(ctx context.Context, name, dir string) (bool, error) {
		d, err := docker(ctx)
		if errors.Is(err, dockerrun.ErrNoAnswer) {
			return false, fmt.Errorf("cannot tell whether %s is running: %w", name, err)
		}
		if errors.Is(err, dockerrun.ErrUnreachable) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		cs, err := d.List(ctx, true)
		if err != nil {
			return false, err
		}
		want := filepath.Join(dir, config.ContribSrc)
		for _, c := range cs {
			if !inUse(c) {
				continue
			}
			if c.ContribSrc != "" {
				if sameFolder(c.ContribSrc, want) {
					return true, nil
				}
			} else if strings.EqualFold(c.Model, name) {
				return true, nil
			}
		}
		return false, nil
	}
}

// inUse: the container runs, or is created and about to start (a run that
// is starting it), restarting or paused; an exited or dead one holds nothing.
func inUse(c dockerrun.Container) bool {
	switch c.State {
	case "created", "running", "restarting", "paused":
		return true
	}
	return c.Running
}

// dropModelVolumes removes a model's volumes (remote engines keep its files
// in them); an engine that does not answer is skipped.
func dropModelVolumes(docker func(context.Context) (dockerrun.API, error)) func(ctx context.Context, name string) ([]string, error) {
	return func(ctx context.Context, name string) ([]string, error) {
		d, err := docker(ctx)
		if errors.Is(err, dockerrun.ErrUnreachable) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		names, err := d.ModelVolumes(ctx, name)
		if err != nil {
			return nil, err
		}
		var removed []string
		var errs []error
		for _, n := range names {
			if err := d.RemoveVolume(ctx, n); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, n)
		}
		return removed, errors.Join(errs...)
	}
}

// sameFolder compares two host paths, resolving symbolic links when it can.
func sameFolder(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}
