package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/notebook"
	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// ListOptions are the inputs of `modelhub list`.
type ListOptions struct {
	IO    *IOStreams
	Index func(ctx context.Context) (*registry.Index, error)
	Paths func() (config.Paths, error)

	Words   []string
	Backend string
	GPU     bool
	JSON    bool
	// Local lists the downloaded models from their manifests, with no index.
	Local bool
	// Offline is --offline: with no cached index, the downloaded models are
	// listed instead (with a note).
	Offline bool
}

// NewCmdList builds `modelhub list`.
func NewCmdList(f *Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IO, Index: f.Index, Paths: f.Paths}
	cmd := &cobra.Command{
		Use:     "list [WORDS...]",
		Aliases: []string{"ls"},
		Short:   "List the models in the index",
		Long: `List the models in the index, sorted by name. WORDS keep only the models whose
name or task has a word starting with every WORD (case-insensitive: CT finds "CT"
and "CTA", not "Detection" or "Contrast"). NOTEBOOK marks the entries that
are Google Colab notebooks (backend colab) rather than Docker models; LOCAL says
whether a model is already downloaded.

--local lists the downloaded models only, from their own manifests: no index and
no network. With --offline and no cached copy of the index (never fetched), list
shows the downloaded models the same way, with a note saying so.`,
		Example: `  modelhub list
  modelhub list segmentation lung
  modelhub list --backend pytorch --gpu
  modelhub list --local
  modelhub list --json | jq -r '.[].name'`,
		GroupID:           "use",
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Words = args
			opts.Offline = f.Opts.Offline
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Backend, "backend", "", "only models with this backend (e.g. pytorch, onnx)")
	cmd.Flags().BoolVar(&opts.GPU, "gpu", false, "only models that need a GPU")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON array for scripts")
	cmd.Flags().BoolVar(&opts.Local, "local", false, "only the downloaded models, from their manifests (no index, no network)")
	return cmd
}

// listEntry is one element of `list --json`.
type listEntry struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	TaskExtended string   `json:"task_extended"`
	GitHub       string   `json:"github"`
	GitHubBranch string   `json:"github_branch"`
	Backend      []string `json:"backend"`
	GPU          bool     `json:"gpu"`
	Local        bool     `json:"local"`
	// Notebook: a Google Colab notebook (backend "colab"), not a Docker model.
	Notebook bool `json:"notebook"`
}

func listRun(ctx context.Context, opts *ListOptions) error {
	paths, err := opts.Paths()
	if err != nil {
		return err
	}
	var ix *registry.Index
	if opts.Local {
		ix = installedIndex(paths.Home)
	} else if ix, err = opts.Index(ctx); err != nil {
		if !opts.Offline || !errors.Is(err, registry.ErrNoCache) {
			return err
		}
		ix = installedIndex(paths.Home)
		opts.IO.Notef("no cached copy of the index (run once without --offline to fetch it): listing the %d downloaded model%s", len(ix.Models), pluralS(len(ix.Models)))
	}
	models := ix.Filter(opts.Words, opts.Backend, opts.GPU)
	entries := make([]listEntry, len(models))
	for i, m := range models {
		backend := m.Backend
		if backend == nil {
			backend = []string{}
		}
		entries[i] = listEntry{ID: m.ID, Name: m.Name, TaskExtended: m.TaskExtended, GitHub: m.GitHub,
			GitHubBranch: m.GitHubBranch, Backend: backend, GPU: m.GPU,
			Local: store.IsComplete(store.Dir(paths.Home, m.Name)), Notebook: notebook.IsEntry(&m)}
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, entries)
	}
	if len(entries) == 0 {
		if len(opts.Words) > 0 || opts.Backend != "" || opts.GPU {
			opts.IO.Notef("no models match; run `modelhub list` without filters to see all %d", len(ix.Models))
		} else if ix.Source == installedSource {
			opts.IO.Notef("no models are downloaded in %s (modelhub pull MODEL, or modelhub load FILE)", paths.Home)
		} else {
			opts.IO.Notef("the index %s has no models", ix.Source)
		}
		return nil
	}
	rows := [][]string{{"NAME", "TASK", "BACKEND", "GPU", "NOTEBOOK", "LOCAL"}}
	for _, e := range entries {
		rows = append(rows, []string{e.Name, e.TaskExtended, strings.Join(e.Backend, ","), yes(e.GPU), yes(e.Notebook), yes(e.Local)})
	}
	width := 0
	if opts.IO.OutTTY {
		width = opts.IO.TermWidth
	}
	writeTable(opts.IO.Out, rows, 1, width)
	return nil
}

// installedSource is the Source of installedIndex's index.
const installedSource = "(downloaded models)"

// installedIndex is an index of the complete downloaded models, their
// entries read from their manifests.
func installedIndex(home string) *registry.Index {
	ix := &registry.Index{Source: installedSource}
	for _, n := range store.Installed(home) {
		if man, err := store.ReadManifest(store.Dir(home, n)); err == nil {
			e := man.Entry
			if e.Name == "" {
				e.Name = n
			}
			ix.Models = append(ix.Models, e)
		}
	}
	return ix
}

// completeModels completes MODEL arguments from the cached index and downloaded models,
// never touching the network.
func completeModels(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		names := map[string]bool{}
		if src, err := f.indexSource(); err == nil {
			src.Offline = registry.IsRemote(src.Location)
			if r, err := src.Load(cmd.Context()); err == nil {
				for _, n := range r.Index.Names() {
					names[n] = true
				}
			}
		}
		if p, err := f.Paths(); err == nil {
			for _, n := range store.Installed(p.Home) {
				names[n] = true
			}
		}
		var out []string
		for n := range names {
			if strings.HasPrefix(strings.ToLower(n), strings.ToLower(toComplete)) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
