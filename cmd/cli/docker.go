package cli

import (
	"context"
	"sync"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// dockerConnector returns the lazy Factory.Docker: the first call connects
// (and pings, so an unreachable daemon is one clear error); later calls reuse
// the client.
func dockerConnector(opts *GlobalOptions, t *Timeouts) func(ctx context.Context) (dockerrun.API, error) {
	var (
		mu  sync.Mutex
		cli *dockerrun.Client
	)
	return func(ctx context.Context) (dockerrun.API, error) {
		mu.Lock()
		defer mu.Unlock()
		if cli != nil {
			return cli, nil
		}
		ep, err := dockerrun.ResolveEndpoint(dockerrun.EndpointOptions{Context: opts.Context})
		if err != nil {
			return nil, err
		}
		c, err := dockerrun.ConnectTo(ctx, ep, dockerrun.ConnectOptions{PingTimeout: t.DockerPing})
		if err != nil {
			return nil, err
		}
		cli = c
		return cli, nil
	}
}

// cleanupContext is for stopping and removing containers after ctx was
// cancelled by Ctrl-C: it keeps ctx's values, not its cancellation.
func cleanupContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
