package cli

import (
	"context"
	"encoding/json"
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
whether a model is already downloaded.`,
		Example: `  modelhub list
  modelhub list segmentation lung
  modelhub list --backend pytorch --gpu
  modelhub list --json | jq -r '.[].name'`,
		GroupID:           "use",
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Words = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Backend, "backend", "", "only models with this backend (e.g. pytorch, onnx)")
	cmd.Flags().BoolVar(&opts.GPU, "gpu", false, "only models that need a GPU")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON array for scripts")
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
	ix, err := opts.Index(ctx)
	if err != nil {
		return err
	}
	paths, err := opts.Paths()
	if err != nil {
		return err
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
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	if len(entries) == 0 {
		if len(opts.Words) > 0 || opts.Backend != "" || opts.GPU {
			opts.IO.Notef("no models match; run `modelhub list` without filters to see all %d", len(ix.Models))
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
