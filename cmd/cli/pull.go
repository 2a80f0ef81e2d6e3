package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// PullOptions are the inputs of `modelhub pull`.
type PullOptions struct {
	IO      *IOStreams
	Factory *Factory

	Model  string
	Update bool
	Jobs   int
	JSON   bool
}

// NewCmdPull builds `modelhub pull`.
func NewCmdPull(f *Factory, runF func(context.Context, *PullOptions) error) *cobra.Command {
	opts := &PullOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "pull MODEL",
		Short: "Download a model: its git repository and its weight files",
		Long: `Download MODEL into HOME/models/NAME: a shallow clone of its repository and the
external files listed in its init/init.json, downloaded in parallel, resumed after an
interruption, and verified when init.json gives a sha256. The model folder appears only
once everything is complete; a second pull downloads nothing.

MODEL is a name from the index (any case), or a path to / a folder in the current
directory with init/init.json, which is used in place and never downloaded.`,
		Example: `  modelhub pull squeezenet
  modelhub pull --update squeezenet   # bring it to the tip of its branch
  modelhub pull --json squeezenet | jq -r .path`,
		GroupID:           "use",
		Args:              exactArgs(1, "one MODEL"),
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			if opts.Jobs < 1 {
				return usageErrorf("--jobs must be at least 1, got %d", opts.Jobs)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pullRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Update, "update", "u", false, "bring a downloaded model to the tip of its branch (unchanged files are kept)")
	cmd.Flags().IntVarP(&opts.Jobs, "jobs", "j", 4, "how many files to download at once")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print {name, path, docker_id, files} as JSON")
	return cmd
}

// pullJSON is the output of `pull --json`.
type pullJSON struct {
	Name     string         `json:"name"`
	Path     string         `json:"path"`
	DockerID string         `json:"docker_id"`
	Files    []pullJSONFile `json:"files"`
	// Notebook is set for a notebook model (nothing is downloaded but its repository).
	Notebook *notebookJSON `json:"notebook,omitempty"`
}

type pullJSONFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func pullRun(ctx context.Context, opts *PullOptions) error {
	f := opts.Factory
	m, res, err := pullModel(ctx, f, opts.Model, opts.Update, opts.Jobs)
	if err != nil {
		return err
	}
	out := pullJSON{Name: m.Name, Path: m.Dir, Files: []pullJSONFile{}}
	var total int64
	if m.Manifest != nil {
		out.DockerID = m.Manifest.DockerID
		for _, mf := range m.Manifest.Files {
			out.Files = append(out.Files, pullJSONFile{Path: mf.Path, Size: mf.Size, SHA256: mf.SHA256})
			total += mf.Size
		}
	} else if in, err := config.LoadInit(m.Dir); err == nil { // a local model
		out.DockerID = in.DockerID
		for _, ef := range in.Files {
			p, err := config.SafeDest(m.Dir, ef.Dest)
			if err != nil {
				continue
			}
			rel, _ := filepath.Rel(m.Dir, p)
			jf := pullJSONFile{Path: filepath.ToSlash(rel), Size: -1, SHA256: ef.SHA256}
			if fi, err := os.Stat(p); err == nil {
				jf.Size = fi.Size()
				total += fi.Size()
			}
			out.Files = append(out.Files, jf)
		}
	}
	if m.IsNotebook() {
		return pullNotebook(opts, m, out)
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	switch {
	case m.Local:
		opts.IO.Notef("%s is a local model folder, used in place (nothing to download)", m.Name)
		warnMissingLocalFiles(opts.IO, m.Dir)
	case res.UpToDate && res.Fetched == 0:
		opts.IO.Notef("%s is already downloaded: %d file(s), %s", m.Name, len(out.Files), humanBytes(total))
	default:
		opts.IO.Notef("%s is ready: %d file(s), %s in total, %s downloaded now", m.Name, len(out.Files), humanBytes(total), humanBytes(res.Downloaded))
	}
	fprintf(opts.IO.Out, "%s\n", m.Dir)
	return nil
}

// newStore returns the model store under the --home folder; the index is
// loaded only if a name is not downloaded yet.
func newStore(f *Factory) (*store.Store, error) {
	p, err := f.Paths()
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(p.Home); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("home %s is a file, not a folder: pass a folder with --home or MODELHUB_HOME", p.Home)
	}
	return &store.Store{Home: p.Home, Index: f.Index}, nil
}

// pullModel resolves ref and makes the model complete on disk, drawing progress.
func pullModel(ctx context.Context, f *Factory, ref string, update bool, jobs int) (*store.Model, *store.PullResult, error) {
	s, err := newStore(f)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.Resolve(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if update && !m.Local && modelInUse != nil {
		// Swapping the folder under a running container would pull the
		// files out from under it.
		busy, err := modelInUse(ctx, f, m.Name, m.Dir)
		if err != nil {
			return nil, nil, err
		}
		if busy {
			return nil, nil, fmt.Errorf("%s is running; stop it before updating it (modelhub stop %s)", m.Name, m.Name)
		}
	}
	pp := newPullProgress(f.IO)
	defer pp.close()
	res, err := s.Pull(ctx, m, pp.options(store.PullOptions{Update: update, Jobs: jobs}))
	if err != nil {
		return nil, nil, err
	}
	return res.Model, res, nil
}

// ensureModel is what `run` (and `test`) call to get a ready model folder:
// it resolves ref (a local folder is used in place; a downloaded model needs
// no index or network; otherwise the index entry), takes the model's lock,
// clones and downloads what is missing with progress on stderr (bars on a
// terminal, plain lines otherwise, nothing with --quiet), and returns the
// model with its manifest (nil Manifest for a local folder). update brings a
// downloaded model to its branch tip; jobs <= 0 means 4 parallel downloads.
// A Ctrl-C cancels ctx: the error is then context.Canceled and the .part files
// stay for the next attempt. The lock is released when ensureModel returns.
func ensureModel(ctx context.Context, f *Factory, ref string, update bool, jobs int) (*store.Model, error) {
	m, _, err := pullModel(ctx, f, ref, update, jobs)
	return m, err
}

// warnMissingLocalFiles warns about each external file that init.json lists but a
// local model folder lacks: modelhub never downloads into a folder it does not own,
// and the model would otherwise fail inside its container without saying why.
func warnMissingLocalFiles(ios *IOStreams, dir string) {
	in, err := config.LoadInit(dir)
	if err != nil {
		return
	}
	for _, ef := range in.Files {
		p, err := config.SafeDest(dir, ef.Dest)
		if err != nil {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			rel, _ := filepath.Rel(dir, p)
			ios.Warnf("%s is missing: init/init.json lists it; download it from %s into the folder, or the model may fail", filepath.ToSlash(rel), ef.SrcURL)
		}
	}
}
