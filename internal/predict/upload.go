package predict

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/filetype"
	"github.com/modelhub-ai/modelhub/internal/medconv"
	"github.com/modelhub-ai/modelhub/internal/safezip"
)

// UploadOptions say how an uploaded DICOM file or zipped series becomes what
// a model input takes.
type UploadOptions struct {
	Window *medconv.Window // for PNG/JPEG inputs (nil: the image's own window)
	// Stage is an existing, empty folder for the unpacked zip and the
	// converted file; the caller removes it.
	Stage string
	Zip   safezip.Limits
}

// Converted is an upload turned into a model's input.
type Converted struct {
	Path   string // the converted file, in Stage
	Type   string // its type (image/png or application/nii-gzip)
	Origin SeriesOrigin
	// Note says in words which series became what, for people: no patient data.
	Note string
}

// ErrNotConvertible means the upload is neither a DICOM file nor a zip, or the
// model takes DICOM itself: it goes to the model as it is.
var ErrNotConvertible = errors.New("not a DICOM upload to convert")

// ConvertUpload turns the file at p, uploaded as name for an input of the
// given formats, into that input: a DICOM file or a zip of one series (a zip
// is unpacked with safezip's bounds, treated as hostile) becomes a PNG
// through its window for image inputs, a NIfTI volume for NIfTI inputs.
// Exactly one usable series must be found; the error (to follow "cannot
// convert NAME: ") says what to upload instead.
func ConvertUpload(ctx context.Context, formats []string, p, name string, opts UploadOptions) (*Converted, error) {
	to := dicomTarget(formats)
	if to == "" {
		return nil, ErrNotConvertible
	}
	isZip := safezip.IsZip(p)
	if !isZip {
		if typ, _ := filetype.Detect(p); typ != filetype.DICOM {
			return nil, ErrNotConvertible
		}
	}
	scanPath := p
	if isZip {
		dir := filepath.Join(opts.Stage, "unzipped")
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, err
		}
		if _, err := safezip.Extract(ctx, p, dir, opts.Zip); err != nil {
			if errors.Is(err, safezip.ErrRefused) {
				return nil, fmt.Errorf("%w; zip the files of one DICOM series, nothing else", err)
			}
			return nil, fmt.Errorf("unpack: %w", err)
		}
		scanPath = dir
	}
	convDir := filepath.Join(opts.Stage, "converted")
	if err := os.Mkdir(convDir, 0o700); err != nil {
		return nil, err
	}
	c := &collector{spec: &Spec{Formats: formats}, seen: map[string]bool{}, names: map[string]int{}, out: &Collection{},
		dicom: &DICOMOptions{Window: opts.Window, Stage: convDir, Ctx: ctx}}
	res, ok, err := c.scanDICOM(scanPath)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("it holds no DICOM image (%d file(s) looked at): upload a DICOM file or a zip of the files of one DICOM series", res.Files)
	}
	sel := c.selectSeries(name, res, to)
	switch len(sel) {
	case 0:
		var why []string
		for _, d := range c.out.Series {
			why = append(why, d.Label+": "+d.Reason)
		}
		return nil, fmt.Errorf("no series the model can take (%s)", strings.Join(why, "; "))
	case 1:
	default:
		var labels []string
		for _, d := range c.out.Series {
			if d.Selected {
				labels = append(labels, d.Label)
			}
		}
		what := "one DICOM image"
		if to == medconv.NIfTI {
			what = "the files of one series"
		}
		return nil, fmt.Errorf("it holds %d series the model can take (%s): upload a zip of %s", len(sel), strings.Join(labels, ", "), what)
	}
	out, origin, err := c.convertSeries(name, sel[0], to, "")
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	var label string
	for _, d := range c.out.Series {
		if d.Selected {
			label = d.Label
		}
	}
	note := label + ": " + origin.Conversion
	if skipped := len(c.out.Series) - 1; skipped > 0 {
		note += fmt.Sprintf(" (%d other series left out: the model cannot take them)", skipped)
	}
	return &Converted{Path: out, Type: convertedType(to), Origin: origin, Note: note}, nil
}
