package cli

import (
	"context"
	"errors"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

func init() { modelInUse = runningInDocker }

// runningInDocker reports whether the model's container (as `run` names it)
// is running. With no Docker daemon reachable nothing can be running, so rm
// and pull --update go ahead.
func runningInDocker(ctx context.Context, f *Factory, name, dir string) (bool, error) {
	d, err := f.Docker(ctx)
	if err != nil {
		var ue *dockerrun.UnreachableError
		if errors.As(err, &ue) {
			return false, nil
		}
		return false, err
	}
	c, err := d.Inspect(ctx, containerName(name))
	if errors.Is(err, dockerrun.ErrContainerNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return c.Running, nil
}
