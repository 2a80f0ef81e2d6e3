package cli

import (
	"context"
	"errors"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/bundle"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/humanize"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// LoadOptions are the inputs of `modelhub load`.
type LoadOptions struct {
	IO     *IOStreams
	Store  func() (*store.Store, error)
	Docker func(ctx context.Context) (dockerrun.API, error)
	// InUse reports whether a container of the installed model at dir runs
	// or is starting: --force never replaces such a model.
	InUse func(ctx context.Context, name, dir string) (bool, error)

	File  string
	List  bool
	Force bool
	JSON  bool
}

// NewCmdLoad builds `modelhub load`.
func NewCmdLoad(f *Factory, runF func(context.Context, *LoadOptions) error) *cobra.Command {
	opts := &LoadOptions{IO: f.IO, Store: f.Store, Docker: f.Docker, InUse: modelRunning(f.Docker)}
	cmd := &cobra.Command{
		Use:   "load FILE",
		Short: "Install the models and Docker images of a bundle made by save",
		Long: `Install the models and load the Docker images of a bundle written by
` + "`modelhub save`" + `, with no index and no network. Every file is checked against the sizes
and sha256 sums the bundle records while it is read; the models are put in place only
once everything matched (a damaged, truncated or unsafe bundle installs nothing).
Afterwards run, test and predict work offline.

A model already installed at the same commit is kept; one at another commit is refused
unless --force replaces it (never while the model runs or starts: stop it first). --list shows what the bundle holds without installing.`,
		Example: `  modelhub load squeezenet.mhb
  modelhub load --list two.mhb
  modelhub load --force squeezenet.mhb   # replace another installed version`,
		GroupID: "use",
		Args:    exactArgs(1, "one bundle FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.List && opts.Force {
				return usageErrorf("--list installs nothing: --force has no meaning with it")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return loadRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.List, "list", "l", false, "show what the bundle holds, install nothing")
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "replace installed models of another version")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the result (with --list: the bundle manifest) as JSON")
	return cmd
}

// loadJSON is the output of `load --json`.
type loadJSON struct {
	Models []bundle.LoadedModel `json:"models"`
	Images []bundle.Image       `json:"images"`
	// ImagesLoaded is false when every image was present already.
	ImagesLoaded bool `json:"images_loaded"`
}

func loadRun(ctx context.Context, opts *LoadOptions) error {
	man, err := bundle.Read(opts.File)
	if err != nil {
		return err
	}
	if opts.List {
		return listBundle(opts, man)
	}
	s, err := opts.Store()
	if err != nil {
		return err
	}
	s.Index = nil // a bundle never needs the index
	var images bundle.Images
	if len(man.Images) > 0 {
		d, err := opts.Docker(ctx)
		if err != nil {
			return err
		}
		var ok bool
		if images, ok = d.(bundle.Images); !ok {
			return errors.New("this Docker client cannot load images")
		}
	}
	bp := newBundleProgress(opts.IO)
	defer bp.close()
	opts.IO.Notef("loading %s", opts.File)
	res, err := bundle.Load(ctx, bundle.LoadOptions{Path: opts.File, Store: s, Docker: images, Force: opts.Force, InUse: opts.InUse, Note: bp.note, Progress: bp.update})
	bp.close()
	if err != nil {
		return err
	}
	if opts.JSON {
		out := loadJSON{Models: res.Models, Images: man.Images, ImagesLoaded: res.ImagesLoaded}
		if out.Models == nil {
			out.Models = []bundle.LoadedModel{}
		}
		if out.Images == nil {
			out.Images = []bundle.Image{}
		}
		return writeJSON(opts.IO.Out, out)
	}
	for _, m := range res.Models {
		switch m.Status {
		case bundle.StatusUnchanged:
			opts.IO.Notef("%s is already installed at commit %s", m.Name, shortCommit(m.Commit))
		default:
			opts.IO.Notef("✓ %s %s (commit %s)", m.Name, m.Status, shortCommit(m.Commit))
		}
		fprintf(opts.IO.Out, "%s\n", m.Path)
	}
	if res.ImagesLoaded {
		opts.IO.Notef("✓ loaded %d image(s) into Docker", len(man.Images))
	}
	return nil
}

// listJSON is the output of `load --list --json`: the bundle manifest, and
// the file's size and compression.
type listJSON struct {
	*bundle.Manifest
	File        string `json:"file"`
	Size        int64  `json:"size"`
	Compression string `json:"compression"`
}

func listBundle(opts *LoadOptions, man *bundle.Manifest) error {
	fi, err := os.Stat(opts.File)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, listJSON{Manifest: man, File: opts.File, Size: fi.Size(), Compression: string(bundle.Sniff(opts.File))})
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fprintf(w, "MODEL\tCOMMIT\tIMAGE\tFILES\tSIZE\n")
	for _, m := range man.Models {
		fprintf(w, "%s\t%s\t%s\t%d\t%s\n", cell(m.Name), cell(shortCommit(m.Commit)), cell(m.DockerID), m.Files, humanize.Bytes(m.Size))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, im := range man.Images {
		fprintf(opts.IO.Out, "image %s %s (%s)\n", cell(im.Ref), cell(shortCommit(strings.TrimPrefix(im.ID, "sha256:"))), humanize.Bytes(im.Size))
	}
	opts.IO.Notef("bundle format %d, written %s by modelhub %s; %s", man.Version, man.Created.Format("2006-01-02 15:04 MST"), man.Modelhub, humanize.Bytes(fi.Size()))
	return nil
}
