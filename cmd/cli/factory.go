package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/fetch"
	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// GlobalOptions are the flags every command accepts.
type GlobalOptions struct {
	Index   string
	Home    string
	Quiet   bool
	Offline bool
	Refresh bool
	Context string // --context: a Docker CLI context
	// CACerts are --cacert files: extra CAs to trust (a proxy's that inspects TLS).
	CACerts []string
}

// Factory carries the dependencies of commands, built lazily: a command that never
// calls Index never reads the index, one that never calls Docker never connects.
type Factory struct {
	IO   *IOStreams
	Opts *GlobalOptions
	Now  func() time.Time
	// HTTPClient is the client for the index and a --schema URL (downloads
	// use fetch's own, with its stall watchdog).
	HTTPClient func() *http.Client
	// Paths returns the data and cache folders, honouring --home.
	Paths func() (config.Paths, error)
	// Index loads the model index once (printing its warnings on stderr).
	Index func(ctx context.Context) (*registry.Index, error)
	// Store is the model store under the home folder (an error when the
	// home is a file); it loads the index only for a name not downloaded.
	Store func() (*store.Store, error)
	// Docker connects to the Docker Engine on first use (list never calls it).
	Docker func(ctx context.Context) (dockerrun.API, error)
	// Settings are the user's defaults (config.SettingsPath), read once.
	Settings func() (*config.Settings, error)
	// OpenURL opens a URL in the user's browser; nil means the system's opener.
	OpenURL func(url string) error
	// Interrupted is closed on the first Ctrl-C/SIGTERM, Forced on the second.
	Interrupted <-chan struct{}
	Forced      <-chan struct{}
	// Timeouts bound the network waits (zero: each package's defaults);
	// read when Docker or Store is first used.
	Timeouts Timeouts
}

// Timeouts are the network bounds the commands pass down. Only the tests'
// modelhub binary shrinks them (MODELHUB_TEST_TIMEOUT).
type Timeouts struct {
	// DockerPing bounds connecting to the Docker daemon (0: dockerrun's default).
	DockerPing time.Duration
	// Net bounds clones, listings and downloads (zero fields: fetch's defaults).
	Net fetch.Timeouts
}

// NewFactory wires the real dependencies.
func NewFactory(ios *IOStreams, interrupted, forced <-chan struct{}) *Factory {
	f := &Factory{IO: ios, Opts: &GlobalOptions{}, Now: time.Now, Interrupted: interrupted, Forced: forced}
	f.HTTPClient = sync.OnceValue(registry.DefaultHTTPClient)
	f.Docker = dockerConnector(f.Opts, &f.Timeouts)
	f.Settings = sync.OnceValues(func() (*config.Settings, error) {
		p, err := config.SettingsPath()
		if err != nil {
			return nil, err
		}
		return config.LoadSettings(p)
	})
	f.Paths = func() (config.Paths, error) {
		var p config.Paths
		var err error
		if f.Opts.Home != "" {
			p.Home, err = filepath.Abs(f.Opts.Home)
		} else {
			p.Home, err = config.DefaultHome()
		}
		if err != nil {
			return p, err
		}
		p.Cache, err = config.DefaultCache()
		return p, err
	}
	f.Store = func() (*store.Store, error) {
		p, err := f.Paths()
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(p.Home); err == nil && !fi.IsDir() {
			return nil, fmt.Errorf("home %s is a file, not a folder: pass a folder with --home or MODELHUB_HOME", p.Home)
		}
		return &store.Store{Home: p.Home, Index: f.Index, Reclaim: f.reclaim, Net: f.Timeouts.Net}, nil
	}
	var (
		once   sync.Once
		index  *registry.Index
		idxErr error
	)
	f.Index = func(ctx context.Context) (*registry.Index, error) {
		once.Do(func() { index, idxErr = f.loadIndex(ctx) })
		return index, idxErr
	}
	return f
}

// IndexLocation is --index, else $MODELHUB_INDEX, else the public index.
func (f *Factory) IndexLocation() string {
	if f.Opts.Index != "" {
		return f.Opts.Index
	}
	if v := os.Getenv(config.EnvIndex); v != "" {
		return v
	}
	return config.DefaultIndexURL
}

func (f *Factory) indexSource() (*registry.Source, error) {
	p, err := f.Paths()
	if err != nil {
		return nil, err
	}
	return &registry.Source{
		Location: f.IndexLocation(),
		CacheDir: p.Cache,
		HTTP:     f.HTTPClient(),
		Offline:  f.Opts.Offline,
		Refresh:  f.Opts.Refresh,
		Now:      f.Now,
	}, nil
}

func (f *Factory) loadIndex(ctx context.Context) (*registry.Index, error) {
	src, err := f.indexSource()
	if err != nil {
		return nil, err
	}
	r, err := src.Load(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range r.Warnings {
		f.IO.Warnf("%s", w)
	}
	return r.Index, nil
}
