package cli

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// dockerAPI is what the commands use of the Docker Engine; *dockerrun.Client
// implements it and tests substitute fakes.
type dockerAPI interface {
	Info(ctx context.Context) (dockerrun.EngineInfo, error)
	ImageInspect(ctx context.Context, ref string) (dockerrun.Image, error)
	ImagePull(ctx context.Context, ref string, opts dockerrun.PullOptions) error
	ImageRemove(ctx context.Context, ref string) error
	Create(ctx context.Context, s dockerrun.Spec) (string, error)
	Start(ctx context.Context, id string) error
	Wait(ctx context.Context, id string) (int, error)
	Logs(ctx context.Context, id string, opts dockerrun.LogsOptions, stdout, stderr io.Writer) error
	Stop(ctx context.Context, id string, grace time.Duration) error
	Kill(ctx context.Context, id string) error
	Remove(ctx context.Context, id string) error
	Inspect(ctx context.Context, nameOrID string) (dockerrun.Container, error)
	List(ctx context.Context, all bool) ([]dockerrun.Container, error)
	Attach(ctx context.Context, id string) (*dockerrun.Attachment, error)
	Resize(ctx context.Context, id string, rows, cols uint) error
}

// dockerConnector returns the lazy Factory.Docker: the first call connects
// (and pings, so an unreachable daemon is one clear error); later calls reuse
// the client.
func dockerConnector(opts *GlobalOptions) func(ctx context.Context) (dockerAPI, error) {
	var (
		mu  sync.Mutex
		cli *dockerrun.Client
	)
	return func(ctx context.Context) (dockerAPI, error) {
		mu.Lock()
		defer mu.Unlock()
		if cli != nil {
			return cli, nil
		}
		ep, err := dockerrun.ResolveEndpoint(dockerrun.EndpointOptions{Context: opts.Context})
		if err != nil {
			return nil, err
		}
		c, err := dockerrun.ConnectTo(ctx, ep)
		if err != nil {
			return nil, err
		}
		cli = c
		return cli, nil
	}
}

// containerName is the name of a model's container: modelhub-MODEL, with
// characters Docker refuses in names (a local folder's name may have any)
// replaced by "-".
func containerName(model string) string {
	b := []byte("modelhub-" + model)
	changed := false
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			b[i] = '-'
			changed = true
		}
	}
	if changed {
		// "a b" and "a-b", "Ä-x" and "Ö-x" must not share a container:
		// a replaced name carries a hash of the real one
		return fmt.Sprintf("%s-%08x", b, crc32.ChecksumIEEE([]byte(model)))
	}
	return string(b)
}

// cleanupContext is for stopping and removing containers after ctx was
// cancelled by Ctrl-C: it keeps ctx's values, not its cancellation.
func cleanupContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
