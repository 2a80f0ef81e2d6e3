package cli

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/scaffold"
)

// EnvTemplate overrides the default template repository of `modelhub new`.
const EnvTemplate = "MODELHUB_TEMPLATE"

// NewOptions are the inputs of `modelhub new`.
type NewOptions struct {
	IO *IOStreams

	Name     string
	Template string
	Offline  bool
	JSON     bool
}

// NewCmdNew builds `modelhub new`.
func NewCmdNew(f *Factory, runF func(context.Context, *NewOptions) error) *cobra.Command {
	opts := &NewOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Create a new model folder from the model template",
		Long: `Create ./NAME from the modelhub model template, with meta.name set to NAME and
a fresh UUID as id in contrib_src/model/config.json. The template is cloned from
--template (default: $MODELHUB_TEMPLATE, else the public model-template
repository) without its git history; with --offline, or when the clone fails, the
minimal template built into modelhub is used. An existing ./NAME is never touched.

Then fill in the placeholders that ` + "`modelhub validate NAME`" + ` reports.`,
		Example: `  modelhub new my-model
  modelhub new my-model --offline
  modelhub new my-model --template https://github.com/me/my-template.git`,
		GroupID: "contrib",
		Args:    exactArgs(1, "a NAME for the new model"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			opts.Offline = f.Opts.Offline
			if err := scaffold.ValidName(opts.Name); err != nil {
				return &UsageError{Err: err}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return newRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Template, "template", "", "git URL of the template repository (env MODELHUB_TEMPLATE)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what was created as JSON")
	return cmd
}

func newRun(ctx context.Context, opts *NewOptions) error {
	tmpl := opts.Template
	if tmpl == "" {
		tmpl = os.Getenv(EnvTemplate)
	}
	if opts.Offline && opts.Template != "" {
		opts.IO.Warnf("--offline: not cloning --template %s, using the template built into modelhub", opts.Template)
	}
	res, err := scaffold.New(ctx, scaffold.Options{Name: opts.Name, TemplateURL: tmpl, Offline: opts.Offline,
		OnClone: func(url string) { opts.IO.Notef("cloning the model template %s", url) }})
	if err != nil {
		return err
	}
	if res.CloneError != "" {
		opts.IO.Warnf("could not clone the template (%s): used the template built into modelhub", res.CloneError)
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, res)
	}
	fprintf(opts.IO.Out, "%s\n", res.Path)
	opts.IO.Notef("created %s (id %s) from the %s template", res.Path, res.ID, sourceName(res.Source))
	opts.IO.Notef("next: fill in init/init.json and contrib_src/model/config.json, then run `modelhub validate %s`", res.Path)
	return nil
}

func sourceName(src string) string {
	if src == scaffold.EmbeddedSource {
		return "built-in"
	}
	return src
}
