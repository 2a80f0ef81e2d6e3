package dockerrun

import (
	"context"
	"io"
	"time"
)

// API is what modelhub uses of the Docker Engine, in our own types. *Client
// implements it; tests elsewhere substitute testutil.FakeDocker.
type API interface {
	Info(ctx context.Context) (EngineInfo, error)
	ImageInspect(ctx context.Context, ref string) (Image, error)
	ImagePull(ctx context.Context, ref string, opts PullOptions) error
	ImageTag(ctx context.Context, source, target string) error
	ImageRemove(ctx context.Context, ref string) error
	Create(ctx context.Context, s Spec) (string, error)
	Start(ctx context.Context, id string) error
	Wait(ctx context.Context, id string) (int, error)
	Logs(ctx context.Context, id string, opts LogsOptions, stdout, stderr io.Writer) error
	Stop(ctx context.Context, id string, grace time.Duration) error
	Kill(ctx context.Context, id string) error
	Remove(ctx context.Context, id string) error
	Inspect(ctx context.Context, nameOrID string) (Container, error)
	List(ctx context.Context, all bool) ([]Container, error)
	Attach(ctx context.Context, id string) (*Attachment, error)
	Resize(ctx context.Context, id string, rows, cols uint) error
	// Endpoint says which engine this is and whether it is remote.
	Endpoint() Endpoint
	SyncVolume(ctx context.Context, v VolumeSync) (SyncResult, error)
	ModelVolumes(ctx context.Context, model string) ([]string, error)
	RemoveVolume(ctx context.Context, name string) error
	CopyFiles(ctx context.Context, id, dest string, files []CopyFile) error
	Exec(ctx context.Context, id string, cmd []string) (int, string, error)
}

var _ API = (*Client)(nil)
