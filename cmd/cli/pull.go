package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/humanize"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// PullOptions are the inputs of `modelhub pull`.
type PullOptions struct {
	IO    *IOStreams
	Store func() (*store.Store, error)
	// InUse reports whether a container runs the downloaded model at dir;
	// --update refuses to swap the folder under it.
	InUse func(ctx context.Context, name, dir string) (bool, error)

	Model  string
	Update bool
	Commit string
	Jobs   int
	JSON   bool
}

// NewCmdPull builds `modelhub pull`.
func NewCmdPull(f *Factory, runF func(context.Context, *PullOptions) error) *cobra.Command {
	opts := &PullOptions{IO: f.IO, Store: f.Store, InUse: modelRunning(f.Docker)}
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
			if opts.Commit != "" {
				if opts.Update {
					return usageErrorf("--commit and --update contradict each other: --update goes to the tip of the branch; pass one")
				}
				if !isFullCommit(opts.Commit) {
					return usageErrorf("--commit needs a full 40-character commit hash, got %q", opts.Commit)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pullRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Update, "update", "u", false, "bring a downloaded model to the tip of its branch (unchanged files are kept)")
	cmd.Flags().StringVar(&opts.Commit, "commit", "", "install this commit of the model's branch (a full hash) instead of its tip")
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
	m, res, err := pullModel(ctx, opts)
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
		return writeJSON(opts.IO.Out, out)
	}
	switch {
	case m.Local:
		opts.IO.Notef("%s is a local model folder, used in place (nothing to download)", m.Name)
		for _, w := range store.MissingFiles(m.Dir) {
			opts.IO.Warnf("%s", w)
		}
	case res.UpToDate && res.Fetched == 0:
		opts.IO.Notef("%s is already downloaded: %d file(s), %s", m.Name, len(out.Files), humanize.Bytes(total))
	default:
		opts.IO.Notef("%s is ready: %d file(s), %s in total, %s downloaded now", m.Name, len(out.Files), humanize.Bytes(total), humanize.Bytes(res.Downloaded))
	}
	fprintf(opts.IO.Out, "%s\n", m.Dir)
	return nil
}

// pullModel resolves the model and makes it complete on disk, drawing progress.
func pullModel(ctx context.Context, opts *PullOptions) (*store.Model, *store.PullResult, error) {
	s, m, err := resolveModel(ctx, opts.Store, opts.Model)
	if err != nil {
		return nil, nil, err
	}
	if opts.Commit != "" && m.Local {
		return nil, nil, fmt.Errorf("%s is a local model folder: --commit applies only to models from the index", m.Dir)
	}
	moves := opts.Update || (opts.Commit != "" && (m.Manifest == nil || !strings.EqualFold(m.Manifest.Commit, opts.Commit)))
	if moves && !m.Local && opts.InUse != nil {
		// Swapping the folder under a running container would pull the
		// files out from under it.
		busy, err := opts.InUse(ctx, m.Name, m.Dir)
		if err != nil {
			return nil, nil, err
		}
		if busy {
			return nil, nil, fmt.Errorf("%s is running; stop it before updating it (modelhub stop %s)", m.Name, m.Name)
		}
	}
	pp := newPullProgress(opts.IO)
	defer pp.close()
	m, res, err := s.Ensure(ctx, m, store.EnsureOptions{Always: true, PullOptions: pp.options(store.PullOptions{Update: opts.Update, Commit: opts.Commit, Jobs: opts.Jobs})})
	if err != nil {
		return nil, nil, err
	}
	return m, res, nil
}

// isFullCommit: 40 hexadecimal digits (a git SHA-1).
func isFullCommit(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}
