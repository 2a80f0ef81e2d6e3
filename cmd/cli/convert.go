package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/humanize"
	"github.com/modelhub-ai/modelhub/internal/medconv"
	"github.com/modelhub-ai/modelhub/internal/termsafe"
)

// ConvertOptions are the inputs of `modelhub convert`.
type ConvertOptions struct {
	IO *IOStreams

	Paths  []string
	Out    string
	To     string
	Window string
	Series []string
	JSON   bool
}

// NewCmdConvert builds `modelhub convert`.
func NewCmdConvert(f *Factory, runF func(context.Context, *ConvertOptions) error) *cobra.Command {
	opts := &ConvertOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "convert PATH... -o DIR",
		Short: "Convert DICOM series to NIfTI or PNG, as a model would receive them",
		Long: `Convert DICOM files and folders (searched recursively; any file names; DICOMDIR and
non-DICOM files are ignored) into one NIfTI-1 volume (.nii.gz) or PNG image per series,
exactly as predict would send them to a model. Images are grouped by study, series and
orientation and ordered by their position along the slice normal; a series with missing
or inconsistent orientation, uneven spacing, duplicate positions, mixed sizes or
multi-frame images is skipped with the reason, never guessed. Outputs are named by the
series description and a short hash of its UIDs, never by patient data.

--series selects series by rules (all must hold; repeat the flag or separate rules
with commas; quote a value with '...'): ` + dicom.RuleHelp + `.
--window sets the PNG window: ` + medconv.WindowHelp + `.
See docs/dicom.md.`,
		Example: `  modelhub convert ~/export -o nifti
  modelhub convert ~/export -o nifti --series "modality=CT,description~'(?i)lung',largest"
  modelhub convert chest.dcm -o png --to png --window lung
  modelhub convert ~/export -o out --json | jq -r '.[] | select(.error == "") | .output'`,
		GroupID: "use",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s needs PATH... (DICOM files or folders)", cmd.CommandPath())
			}
			return noEmptyArgs(cmd, args, "PATH...")
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if opts.Out == "" {
				return usageErrorf("convert needs -o DIR: the folder to write the outputs to")
			}
			switch opts.To {
			case string(medconv.NIfTI), string(medconv.PNG):
			default:
				return usageErrorf("--to %s: use nifti or png", opts.To)
			}
			if _, err := dicom.ParseRules(opts.Series); err != nil {
				return &UsageError{Err: err}
			}
			if _, err := medconv.ParseWindow(opts.Window); err != nil {
				return &UsageError{Err: err}
			}
			if opts.Window != "" && opts.To != string(medconv.PNG) {
				return usageErrorf("--window applies to --to png only (NIfTI keeps the real values)")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return convertRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "output", "o", "", "folder to write the outputs to (created if missing)")
	cmd.Flags().StringVar(&opts.To, "to", "nifti", "output format: nifti (.nii.gz volumes) or png (single 2D images)")
	cmd.Flags().StringVar(&opts.Window, "window", "", "PNG window: "+medconv.WindowHelp)
	cmd.Flags().StringArrayVar(&opts.Series, "series", nil, "select series by rules: "+dicom.RuleHelp)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON array, one object per series, for scripts")
	return cmd
}

// convertEntry is one element of `convert --json`.
type convertEntry struct {
	medconv.Result
	Selected bool   `json:"selected"`
	Skipped  string `json:"skipped,omitempty"`
}

func convertRun(ctx context.Context, opts *ConvertOptions) error {
	rules, _ := dicom.ParseRules(opts.Series)
	win, _ := medconv.ParseWindow(opts.Window)
	to := medconv.Target(opts.To)
	res, err := dicom.Scan(ctx, opts.Paths)
	if err != nil {
		return err
	}
	noteScan(opts.IO, res)
	decisions := dicom.Select(res.Series, rules, usableFor(to))
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return fmt.Errorf("create -o %s: %w", opts.Out, err)
	}
	entries := make([]convertEntry, 0, len(decisions))
	ok, failed := 0, 0
	for _, d := range decisions {
		e := convertEntry{Result: medconv.NewResult(d.Series), Selected: d.Selected}
		if !d.Selected {
			if d.Series.Err != nil {
				e.Error = d.Series.Err.Error()
			} else {
				e.Skipped = d.Reason
			}
			opts.IO.Notef("skipped %s: %s", d.Series.Label(), safeLine(d.Reason))
			entries = append(entries, e)
			continue
		}
		r, err := medconv.Convert(ctx, d.Series, to, win, opts.Out)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("write %s: %w", d.Series.Label(), err)
		}
		e.Result = r
		if r.Error != "" {
			failed++
			opts.IO.Warnf("%s: %s", d.Series.Label(), safeLine(r.Error))
		} else {
			ok++
			if !opts.JSON {
				fprintf(opts.IO.Out, "%s\n", r.Output)
			}
			opts.IO.Notef("%s -> %s (%s)", d.Series.Label(), r.Output, r.Conversion)
		}
		entries = append(entries, e)
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, entries); err != nil {
			return err
		}
	}
	switch {
	case failed > 0:
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d of %d selected series failed to convert (see above)", failed, failed+ok)}
	case ok == 0 && len(res.Series) == 0:
		return fmt.Errorf("no DICOM images found in %s (%d files looked at); give folders of DICOM files", strings.Join(opts.Paths, ", "), res.Files)
	case ok == 0:
		return fmt.Errorf("%w: none of the %d series passes (reasons above); change --series or --to", dicom.ErrNoSeries, len(res.Series))
	}
	return nil
}

// usableFor says which series a target can take at all.
func usableFor(to medconv.Target) func(*dicom.Series) string {
	return func(s *dicom.Series) string {
		if to == medconv.PNG && s.Slices() != 1 {
			return fmt.Sprintf("%d slices; PNG takes a single 2D image (use --to nifti for volumes)", s.Slices())
		}
		if to == medconv.NIfTI && (!s.Files[0].Header.HasOrientation || !s.Files[0].Header.HasPosition) {
			return "no ImagePositionPatient/ImageOrientationPatient: a 2D image, not a volume (use --to png)"
		}
		return ""
	}
}

// noteScan says what a folder scan found (stderr).
func noteScan(io *IOStreams, res *dicom.ScanResult) {
	io.Notef("%d DICOM image(s) in %d series, %d other file(s) ignored; grouping read %s of headers",
		res.DICOM, len(res.Series), res.Ignored, humanize.Bytes(res.BytesRead))
	for _, u := range res.Unreadable {
		io.Warnf("unreadable DICOM file %s", safeLine(u))
	}
}

// safeLine makes text from outside (DICOM headers, file names) safe for a
// terminal.
func safeLine(s string) string { return termsafe.Line(s) }
