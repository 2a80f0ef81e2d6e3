// Package medconv turns DICOM series into what a model takes: NIfTI-1 volumes
// (.nii.gz, RAS affine) or windowed PNG images. It names outputs by series
// description and a short UID hash, never by patient data, and never prints.
package medconv

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/nifti"
	"github.com/modelhub-ai/modelhub/internal/safepath"
)

// Target is an output format.
type Target string

// Targets.
const (
	NIfTI Target = "nifti"
	PNG   Target = "png"
)

// Window is a VOI window (real, rescaled values).
type Window struct {
	Name          string
	Center, Width float64
}

func (w Window) String() string {
	s := fmt.Sprintf("center %g width %g", w.Center, w.Width)
	if w.Name != "" {
		s = w.Name + " (" + s + ")"
	}
	return s
}

// Presets are the usual CT windows (Hounsfield units).
var Presets = map[string]Window{
	"lung":        {"lung", -600, 1500},
	"soft-tissue": {"soft-tissue", 40, 400},
	"mediastinum": {"mediastinum", 50, 350},
	"bone":        {"bone", 400, 1800},
	"brain":       {"brain", 40, 80},
}

// WindowHelp lists the --window values.
const WindowHelp = "lung, soft-tissue, mediastinum, bone, brain or CENTER,WIDTH (default: the image's own window, else its full range)"

// ParseWindow parses a preset name or "CENTER,WIDTH".
func ParseWindow(s string) (*Window, error) {
	if s == "" {
		return nil, nil
	}
	key := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), " ", "-")
	if key == "soft" || key == "softtissue" || key == "soft_tissue" {
		key = "soft-tissue"
	}
	if w, ok := Presets[key]; ok {
		return &w, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) == 2 {
		c, e1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
		w, e2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
		if e1 == nil && e2 == nil && w >= 1 && !math.IsInf(c, 0) && !math.IsInf(w, 0) {
			return &Window{Center: c, Width: w}, nil
		}
	}
	return nil, fmt.Errorf("unknown window %q: use %s", s, WindowHelp)
}

// NIfTIImage turns a volume into a NIfTI image: stored values with the series'
// rescale as scl_slope/scl_inter (or float32 real values when the rescale varies
// between slices), affine LPS->RAS.
func NIfTIImage(v *dicom.Volume) (*nifti.Image, error) {
	if !v.HasGeometry {
		return nil, errors.New("the images have no ImagePositionPatient/ImageOrientationPatient: a 2D image without geometry cannot be a NIfTI volume (use --to png)")
	}
	im := &nifti.Image{Dims: v.Dims, Data: v.Data, Affine: v.AffineRAS(), Slope: v.Slope, Inter: v.Intercept, Description: "modelhub from DICOM"}
	switch v.Type {
	case dicom.Uint8:
		im.Datatype = nifti.DTUint8
	case dicom.Int16:
		im.Datatype = nifti.DTInt16
	case dicom.Uint16:
		im.Datatype = nifti.DTUint16
	case dicom.Float32:
		im.Datatype = nifti.DTFloat32
	case dicom.RGB24:
		im.Datatype = nifti.DTRGB24
	}
	return im, nil
}

// Describe says in words what a conversion does (for provenance).
func Describe(v *dicom.Volume, to Target, w *Window) string {
	switch to {
	case PNG:
		if v.Type == dicom.RGB24 {
			return "DICOM to PNG, colour as stored"
		}
		return "DICOM to PNG, window " + w.String()
	}
	dt := map[dicom.DataType]string{dicom.Uint8: "uint8", dicom.Int16: "int16", dicom.Uint16: "uint16", dicom.Float32: "float32", dicom.RGB24: "rgb24"}[v.Type]
	return fmt.Sprintf("DICOM to NIfTI-1 (%dx%dx%d %s, voxel %.4gx%.4gx%.4g mm, scl_slope %g scl_inter %g, LPS to RAS affine in sform and qform)",
		v.Dims[0], v.Dims[1], v.Dims[2], dt, v.Spacing[0], v.Spacing[1], v.Spacing[2], v.Slope, v.Intercept)
}

// ImageWindow picks the window of a grey image: w if set, else the image's own,
// else its full range.
func ImageWindow(v *dicom.Volume, w *Window) Window {
	if w != nil {
		return *w
	}
	if v.HasWindow {
		return Window{Name: "from the image", Center: v.WindowCenter, Width: v.WindowWidth}
	}
	n := v.Dims[0] * v.Dims[1] * v.Dims[2]
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i < n; i++ {
		x := v.Value(i)
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	if n == 0 || hi <= lo {
		hi = lo + 1
	}
	return Window{Name: "full range", Center: (lo + hi + 1) / 2, Width: hi - lo + 1}
}

// RenderPNG renders a single-slice volume as an 8-bit image: grey through the
// window (DICOM's linear VOI function; MONOCHROME1 inverted), colour as stored.
func RenderPNG(v *dicom.Volume, w Window) (image.Image, error) {
	if v.Dims[2] != 1 {
		return nil, fmt.Errorf("the series has %d slices; PNG takes a single 2D image (use --to nifti for volumes)", v.Dims[2])
	}
	nx, ny := v.Dims[0], v.Dims[1]
	if v.Type == dicom.RGB24 {
		im := image.NewRGBA(image.Rect(0, 0, nx, ny))
		for i := 0; i < nx*ny; i++ {
			im.Pix[4*i], im.Pix[4*i+1], im.Pix[4*i+2], im.Pix[4*i+3] = v.Data[3*i], v.Data[3*i+1], v.Data[3*i+2], 255
		}
		return im, nil
	}
	im := image.NewGray(image.Rect(0, 0, nx, ny))
	c, wd := w.Center, w.Width
	if wd < 1 {
		wd = 1
	}
	for i := 0; i < nx*ny; i++ {
		x := v.Value(i)
		var y float64
		switch {
		case x <= c-0.5-(wd-1)/2:
			y = 0
		case x > c-0.5+(wd-1)/2:
			y = 255
		default:
			y = ((x-(c-0.5))/(wd-1) + 0.5) * 255
		}
		g := uint8(math.Round(math.Max(0, math.Min(255, y))))
		if v.Monochrome1 {
			g = 255 - g
		}
		im.Pix[i] = g
	}
	return im, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// OutputName is a file name for a series: its description made safe for file
// names on every system (letters, digits, . _ - only; at most 48 characters)
// and its short ID, then ext. It contains no patient data.
func OutputName(s *dicom.Series, ext string) string {
	d := unsafeName.ReplaceAllString(s.Description, "_")
	d = strings.Trim(d, "._-")
	if len(d) > 48 {
		d = strings.TrimRight(d[:48], "._-")
	}
	if d == "" {
		d = "series"
		if s.Modality != "" {
			d = unsafeName.ReplaceAllString(s.Modality, "_") + "_series"
		}
	}
	return d + "_" + s.ID() + ext
}

// Result is what converting one series produced.
type Result struct {
	StudyInstanceUID  string `json:"study_instance_uid"`
	SeriesInstanceUID string `json:"series_instance_uid"`
	SeriesID          string `json:"series_id"`
	Modality          string `json:"modality"`
	Description       string `json:"series_description"`
	Orientation       string `json:"orientation"`
	Slices            int    `json:"slices"`
	Output            string `json:"output"`
	Conversion        string `json:"conversion,omitempty"`
	Error             string `json:"error"`
}

// NewResult fills a Result's series fields.
func NewResult(s *dicom.Series) Result {
	return Result{StudyInstanceUID: s.StudyInstanceUID, SeriesInstanceUID: s.SeriesInstanceUID, SeriesID: s.ID(),
		Modality: s.Modality, Description: s.Description, Orientation: s.Orientation, Slices: s.Slices()}
}

// Ext is the file extension of a target.
func Ext(to Target) string {
	if to == PNG {
		return ".png"
	}
	return ".nii.gz"
}

// Convert converts one series into dir (which must exist) and returns its Result;
// a failure is in Result.Error (the series' own problem) or err (the output could
// not be written).
func Convert(ctx context.Context, s *dicom.Series, to Target, w *Window, dir string) (Result, error) {
	r := NewResult(s)
	if s.Err != nil {
		r.Error = s.Err.Error()
		return r, nil
	}
	if to == PNG && s.Slices() != 1 {
		r.Error = fmt.Sprintf("the series has %d slices; PNG takes a single 2D image (use --to nifti for volumes)", s.Slices())
		return r, nil
	}
	v, err := s.Load(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		r.Error = err.Error()
		return r, nil
	}
	out := filepath.Join(dir, OutputName(s, Ext(to)))
	switch to {
	case PNG:
		win := ImageWindow(v, w)
		im, err := RenderPNG(v, win)
		if err != nil {
			r.Error = err.Error()
			return r, nil
		}
		if err := writePNG(out, im); err != nil {
			return r, err
		}
		r.Conversion = Describe(v, PNG, &win)
	default:
		im, err := NIfTIImage(v)
		if err != nil {
			r.Error = err.Error()
			return r, nil
		}
		if err := nifti.WriteFile(out, im); err != nil {
			return r, err
		}
		r.Conversion = Describe(v, NIfTI, nil)
	}
	r.Output = out
	return r, nil
}

func writePNG(path string, im image.Image) (err error) {
	part := path + ".part"
	f, err := safepath.CreateNew(part, 0o644)
	if err != nil {
		return err
	}
	if err = png.Encode(f, im); err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		os.Remove(part)
		return err
	}
	return os.Rename(part, path)
}
