package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/bundle"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/humanize"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// SaveOptions are the inputs of `modelhub save`.
type SaveOptions struct {
	IO     *IOStreams
	Store  func() (*store.Store, error)
	Docker func(ctx context.Context) (dockerrun.API, error)
	Now    func() time.Time

	Models      []string
	Output      string
	Compression bundle.Compression
	Force       bool
	JSON        bool
}

// NewCmdSave builds `modelhub save`.
func NewCmdSave(f *Factory, runF func(context.Context, *SaveOptions) error) *cobra.Command {
	opts := &SaveOptions{IO: f.IO, Store: f.Store, Docker: f.Docker, Now: f.Now}
	var compress string
	cmd := &cobra.Command{
		Use:   "save MODEL... [-o FILE]",
		Short: "Write models and their Docker images into one file for an offline machine",
		Long: `Write one bundle file holding the models (their folders exactly as pull leaves
them) and the Docker images they need, for ` + "`modelhub load`" + ` on a machine without
network. Models that are not downloaded yet are pulled first, and missing images are
pulled too. Images shared by several models, and layers shared by several images, are
stored once. Every file's size and sha256 are recorded so that load verifies them.

The bundle is written to FILE.part and renamed when complete. It is not compressed
unless --compress or the name of FILE (.zst, .gz) asks for it: weights and image layers
are mostly incompressible and compression makes saving several times slower; a
compressed bundle needs room for an uncompressed copy while it is written.
Default FILE: MODEL.mhb in the current folder (one model only).`,
		Example: `  modelhub save squeezenet                       # writes squeezenet.mhb
  modelhub save squeezenet deepscan-brats -o two.mhb
  modelhub save squeezenet -o squeezenet.mhb.zst  # zstd-compressed`,
		GroupID:           "use",
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s needs at least one MODEL", cmd.CommandPath())
			}
			if err := noEmptyArgs(cmd, args, "model names"); err != nil {
				return err
			}
			opts.Models = args
			if opts.Output == "" {
				if len(args) > 1 {
					return usageErrorf("saving several models needs -o FILE")
				}
				if strings.ContainsAny(args[0], `/\`) {
					return usageErrorf("give -o FILE to save %s", args[0])
				}
				opts.Output = args[0] + ".mhb"
			}
			opts.Compression = bundle.CompressionFor(opts.Output)
			if compress != "" {
				c, err := bundle.ParseCompression(compress)
				if err != nil {
					return usageErrorf("--compress: %v", err)
				}
				opts.Compression = c
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return saveRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "the bundle file to write (default MODEL.mhb)")
	cmd.Flags().StringVar(&compress, "compress", "", "none, zstd or gzip (default: from the name of FILE, else none)")
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "overwrite FILE if it exists")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print {path, size, compression, models, images} as JSON")
	return cmd
}

// saveJSON is the output of `save --json`.
type saveJSON struct {
	Path        string         `json:"path"`
	Size        int64          `json:"size"`
	Compression string         `json:"compression"`
	Models      []bundle.Model `json:"models"`
	Images      []bundle.Image `json:"images"`
}

func saveRun(ctx context.Context, opts *SaveOptions) error {
	out, err := filepath.Abs(opts.Output)
	if err != nil {
		return err
	}
	if _, err := os.Stat(out); err == nil && !opts.Force {
		return fmt.Errorf("%s already exists (use --force to overwrite it)", opts.Output)
	}
	// The models first: pull what is missing (a downloaded model needs no network).
	var names []string
	for _, ref := range opts.Models {
		m, _, err := pullModel(ctx, &PullOptions{IO: opts.IO, Store: opts.Store, Model: ref, Jobs: 4})
		if err != nil {
			return err
		}
		if m.Local {
			return fmt.Errorf("%s is a local model folder; save carries downloaded models only (give a name from `modelhub list`)", ref)
		}
		names = append(names, m.Name)
	}
	d, err := opts.Docker(ctx)
	if err != nil {
		return err
	}
	images, ok := d.(bundle.Images)
	if !ok {
		return errors.New("this Docker client cannot export images")
	}
	s, err := opts.Store()
	if err != nil {
		return err
	}
	// Then their images: pull what is missing.
	seen := map[string]bool{}
	for _, n := range names {
		m, err := s.Resolve(ctx, n)
		if err != nil {
			return err
		}
		ref, err := m.Image()
		if err != nil || seen[ref] {
			continue
		}
		seen[ref] = true
		if _, err := d.ImageInspect(ctx, ref); errors.Is(err, dockerrun.ErrImageNotFound) {
			opts.IO.Notef("pulling image %s", ref)
			if err := d.ImagePull(ctx, ref, dockerrun.PullOptions{}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}

	bp := newBundleProgress(opts.IO)
	defer bp.close()
	opts.IO.Notef("writing %s", opts.Output)
	man, err := bundle.Save(ctx, bundle.SaveOptions{
		Store: s, Models: names, Output: out, Compression: opts.Compression, Force: opts.Force,
		Docker: images, Modelhub: version(), Now: opts.Now,
		Note: bp.note, Progress: bp.update,
	})
	bp.close()
	if err != nil {
		return err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, saveJSON{Path: out, Size: fi.Size(), Compression: string(opts.Compression), Models: man.Models, Images: man.Images})
	}
	opts.IO.Notef("saved %d model(s) and %d image(s) in %s (%s)", len(man.Models), len(man.Images), opts.Output, humanize.Bytes(fi.Size()))
	fprintf(opts.IO.Out, "%s\n", out)
	return nil
}
