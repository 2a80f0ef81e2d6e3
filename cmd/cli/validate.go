package cli

import (
	"context"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/modeltest"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// ValidateOptions are the inputs of `modelhub validate`.
type ValidateOptions struct {
	IO         *IOStreams
	Store      func() (*store.Store, error)
	HTTPClient func() *http.Client // for a --schema URL

	Model  string
	Schema string
	JSON   bool
}

// NewCmdValidate builds `modelhub validate`.
func NewCmdValidate(f *Factory, runF func(context.Context, *ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: f.IO, Store: f.Store, HTTPClient: f.HTTPClient}
	cmd := &cobra.Command{
		Use:   "validate MODEL",
		Short: "Check a model folder before publishing it (no Docker needed)",
		Long: `Check a model folder without running it: init/init.json (docker_id and external
files), contrib_src/model/config.json against a JSON schema (every violation with its
JSON pointer), meta.name against the model's name (a WARN for a
folder given by its path, whose name may be anything), output types, run.py and
inference.py, licenses, sample data and thumbnail. Each check prints one line,
PASS, WARN or FAIL, with the reason and the file; the exit status is 1 when a check
FAILs.

MODEL is a model folder, or the name of a downloaded model.

By default config.json is checked against the schema built into modelhub. --schema
checks it against another draft-04 JSON schema (a file or an http(s) URL) instead,
such as the upstream config_schema.json.`,
		Example: `  modelhub validate ./my-model
  modelhub validate ./my-model --json
  modelhub validate ./my-model --schema config_schema.json`,
		GroupID:           "contrib",
		Args:              exactArgs(1, "a MODEL (a model folder)"),
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return validateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Schema, "schema", "", "check config.json against this draft-04 JSON schema (file or http(s) URL) instead of the built-in one")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the checks as JSON")
	return cmd
}

func validateRun(ctx context.Context, opts *ValidateOptions) error {
	dir, name, err := modelFolder(ctx, opts.Store, opts.Model)
	if err != nil {
		return err
	}
	schema := config.DefaultSchema()
	if opts.Schema != "" {
		schema, err = config.LoadSchema(ctx, opts.HTTPClient(), opts.Schema)
		if err != nil {
			return err
		}
	}
	rep := &modeltest.Report{Model: name, Path: dir}
	if !opts.JSON {
		rep.OnCheck = checkPrinter(opts.IO)
	}
	_, statErr := os.Stat(opts.Model) // a folder given by its path, not a downloaded model's name
	modeltest.Validate(dir, modeltest.ValidateOptions{Name: name, FolderName: statErr == nil, Schema: schema}, rep)
	return finishReport(opts.IO, rep, opts.JSON, "fix them and run `modelhub validate "+opts.Model+"` again")
}
