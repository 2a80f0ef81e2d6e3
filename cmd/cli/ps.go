package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// PsOptions are the inputs of `modelhub ps`.
type PsOptions struct {
	IO     *IOStreams
	Docker func(ctx context.Context) (dockerrun.API, error)
	Now    func() time.Time
	JSON   bool
}

// NewCmdPs builds `modelhub ps`.
func NewCmdPs(f *Factory, runF func(context.Context, *PsOptions) error) *cobra.Command {
	opts := &PsOptions{IO: f.IO, Docker: f.Docker, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List the running models",
		Long: `List the models running in Docker (started by modelhub run): NAME, MODE (api, expert
or bash), URLS, UP (how long it has been running) and IMAGE.`,
		Example: `  modelhub ps
  modelhub ps --json | jq -r '.[].api_url'`,
		GroupID: "use",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return psRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON array for scripts")
	return cmd
}

// psEntry is one element of `ps --json`.
type psEntry struct {
	Name        string    `json:"name"`
	Container   string    `json:"container"`
	Mode        string    `json:"mode"`
	APIURL      string    `json:"api_url"`
	NotebookURL string    `json:"notebook_url"`
	Image       string    `json:"image"`
	StartedAt   time.Time `json:"started_at"`
	UpSeconds   int64     `json:"up_seconds"`
	GPUs        string    `json:"gpus"`   // the GPU request (--gpus syntax); "" for none
	Engine      string    `json:"engine"` // the Docker engine's address
}

func psRun(ctx context.Context, opts *PsOptions) error {
	d, err := opts.Docker(ctx)
	if err != nil {
		return err
	}
	cs, err := d.List(ctx, false)
	if err != nil {
		return err
	}
	now := opts.Now()
	entries := make([]psEntry, 0, len(cs))
	for _, c := range cs {
		up := now.Sub(c.StartedAt)
		if c.StartedAt.IsZero() || up < 0 {
			up = 0
		}
		entries = append(entries, psEntry{Name: c.Model, Container: c.Name, Mode: c.Mode, APIURL: c.APIURL,
			NotebookURL: c.NotebookURL, Image: c.Image, StartedAt: c.StartedAt.UTC(), UpSeconds: int64(up / time.Second),
			GPUs: c.GPUs, Engine: d.Endpoint().Host})
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, entries)
	}
	if len(entries) == 0 {
		opts.IO.Notef("no models are running; start one with `modelhub run MODEL`")
		return nil
	}
	rows := [][]string{{"NAME", "MODE", "URLS", "UP", "GPUS", "IMAGE"}}
	for _, e := range entries {
		var urls []string
		for _, u := range []string{e.APIURL, e.NotebookURL} {
			if u != "" {
				urls = append(urls, u)
			}
		}
		if len(urls) == 0 {
			urls = []string{"-"}
		}
		gpus := e.GPUs
		if gpus == "" {
			gpus = "-"
		}
		rows = append(rows, []string{e.Name, e.Mode, strings.Join(urls, " "), humanDuration(time.Duration(e.UpSeconds) * time.Second), gpus, e.Image})
	}
	if ep := d.Endpoint(); ep.Kind() == dockerrun.EngineSSH {
		opts.IO.Notef("these models run on %s: their URLs answer here while `modelhub forward NAME` runs (`run -d` starts one; after a reboot, start it again)", ep.Describe())
	} else if ep.Remote() {
		opts.IO.Notef("these models run on %s: their ports are on that machine", ep.Describe())
	}
	width := 0
	if opts.IO.OutTTY {
		width = opts.IO.TermWidth
	}
	writeTable(opts.IO.Out, rows, 4, width)
	return nil
}
