package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/spf13/cobra"
)

// Argument helpers shared by the commands.

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unknownCommandError(cmd, args[0])
	}
	return nil
}

// exactArgs is cobra.ExactArgs with a usage error that names what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return usageErrorf("%s needs %s", cmd.CommandPath(), what)
		case len(args) > n:
			return usageErrorf("%s takes %s, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return noEmptyArgs(cmd, args, what)
	}
}

// noEmptyArgs refuses an empty argument (`modelhub pull ""`, an unset shell
// variable) before it reaches a lookup that would report it as a nameless model.
func noEmptyArgs(cmd *cobra.Command, args []string, what string) error {
	for _, a := range args {
		if strings.TrimSpace(a) == "" {
			return usageErrorf("%s got an empty argument: give %s", cmd.CommandPath(), what)
		}
	}
	return nil
}

// absDir makes a folder given with flag (e.g. --mount-data) absolute and
// checks it exists; "" stays "".
func absDir(dir, flag string) (string, error) {
	if dir == "" {
		return "", nil
	}
	abs, err := dockerrun.HostPath(dir)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%s %s: no such folder; give an existing folder", flag, dir)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s %s: not a folder; give a folder to mount", flag, dir)
	}
	return abs, nil
}

// resolveModel opens the store and resolves MODEL once (a name or a model
// folder); the commands pass the model on instead of resolving it again.
func resolveModel(ctx context.Context, newStore func() (*store.Store, error), model string) (*store.Store, *store.Model, error) {
	s, err := newStore()
	if err != nil {
		return nil, nil, err
	}
	m, err := s.Resolve(ctx, model)
	if err != nil {
		return nil, nil, err
	}
	return s, m, nil
}
