package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/modelinfo"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/termsafe"
)

// InfoOptions are the inputs of `modelhub info`.
type InfoOptions struct {
	IO    *IOStreams
	Store func() (*store.Store, error)

	Model string
	JSON  bool
}

// NewCmdInfo builds `modelhub info`.
func NewCmdInfo(f *Factory, runF func(context.Context, *InfoOptions) error) *cobra.Command {
	opts := &InfoOptions{IO: f.IO, Store: f.Store}
	cmd := &cobra.Command{
		Use:   "info MODEL",
		Short: "Show what a model is, its inputs and outputs, GPU need, folder, commit and image",
		Long: `Show what a model is (task, description, architecture), its inputs (formats and
dimensions) and outputs (names and types), whether it needs a GPU, where it is on
disk, the commit downloaded and the Docker image it runs in.

A downloaded model is described from its own files (manifest, init/init.json,
contrib_src/model/config.json) with no network and no index; a model folder
(./my-model) from its files; a model that is not downloaded from its index entry
only (its inputs and outputs need its config.json: pull it first).`,
		Example: `  modelhub info squeezenet
  modelhub --offline info squeezenet
  modelhub info ./my-model --json | jq .inputs`,
		GroupID:           "use",
		Args:              exactArgs(1, "a MODEL name or folder"),
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return infoRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON object (its keys only grow; listed in docs/reference.md)")
	return cmd
}

func infoRun(ctx context.Context, opts *InfoOptions) error {
	_, m, err := resolveModel(ctx, opts.Store, opts.Model)
	if err != nil {
		return err
	}
	in := modelinfo.Describe(m)
	if opts.JSON {
		return writeJSON(opts.IO.Out, in)
	}
	printInfo(opts.IO, in)
	return nil
}

// printInfo prints in as "key  value" lines; every text from the model's
// files or the index is made safe for a terminal first (termsafe).
func printInfo(ios *IOStreams, in *modelinfo.Info) {
	var rows [][]string
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, []string{k, termsafe.Line(v)})
		}
	}
	title := in.Name
	if in.Task != "" {
		title += " — " + in.Task
	}
	fprintf(ios.Out, "%s\n", termsafe.Line(title))
	add("description", in.Description)
	switch in.Source {
	case "installed":
		add("installed", "yes, at "+in.Path)
	case "folder":
		add("folder", in.Path+" (used in place)")
	default:
		add("installed", "no (modelhub pull "+in.Name+")")
	}
	add("index", in.Index)
	repo := in.Repository
	if repo != "" && in.Branch != "" {
		repo += ", branch " + in.Branch
	}
	add("repository", repo)
	add("commit", in.Commit)
	add("pulled", in.PulledAt)
	if in.Notebook {
		add("image", "none: a Google Colab notebook, not a Docker model")
	} else {
		add("image", in.Image)
	}
	switch {
	case in.GPU:
		add("GPU", "needed (run requests one; --cpu tries without)")
	case in.Source != "folder":
		add("GPU", "not needed")
	}
	add("backend", strings.Join(in.Backend, ", "))
	add("architecture", in.Architecture)
	add("learning", in.LearningType)
	add("weights", in.WeightsFormat)
	add("data", strings.TrimSpace(in.ApplicationArea+" "+in.DataType))
	for _, ip := range in.Inputs {
		k := "input"
		if ip.Name != "" {
			k = "input " + ip.Name
		}
		v := strings.Join(ip.Formats, ", ")
		if d := modelinfo.DimsText(ip.Dimensions); d != "" {
			v += "; " + d
		}
		if ip.Description != "" {
			v += " — " + ip.Description
		}
		add(k, v)
	}
	if len(in.Inputs) > 1 {
		add("", "predict gives the inputs together: -i NAME=PATH for each")
	}
	for _, o := range in.Outputs {
		v := o.Type
		if o.Description != "" {
			v += " — " + o.Description
		}
		add("output "+o.Name, v)
	}
	if in.ConfigError != "" {
		add("inputs", in.ConfigError)
	}
	width := 0
	if ios.OutTTY {
		width = ios.TermWidth
	}
	writeTable(ios.Out, rows, 1, width)
}
