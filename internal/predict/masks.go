package predict

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // inputs
	"image/png"
	"io"
	"math"
	"os"
	"path"
	"strings"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicomseg"
	"github.com/modelhub-ai/modelhub/internal/ndarray"
	"github.com/modelhub-ai/modelhub/internal/nifti"
)

// MaskOptions say what predict makes of the arrays a model returns
// (mask_image, heatmap and image outputs saved as .h5 or .npy): each array
// whose shape matches the case's input is written in the input's geometry
// (a NIfTI with the input's affine, or for a 2D image a PNG and an overlay
// PNG), with per-label statistics for masks; with SEG, a DICOM SEG for each
// mask of a DICOM series.
type MaskOptions struct {
	SEG bool
	// Labels (--labels) name the label values of every mask output; Config
	// (config.json's modelhub.segments) those of one output, by name.
	Labels []dicomseg.Segment
	Config map[string][]dicomseg.Segment
	// Model, Commit and Version name the model, its commit and modelhub's
	// version in a SEG.
	Model, Commit, Version string
	Limits                 ndarray.Limits
	Now                    func() time.Time
}

// MaskFile is an array output written in its input's geometry, or why not.
type MaskFile struct {
	Output string `json:"output"`
	// Path is the NIfTI (volume) or PNG (2D) written, Overlay the 2D mask
	// drawn over its input; both relative to the output folder.
	Path    string `json:"path,omitempty"`
	Overlay string `json:"overlay,omitempty"`
	// Order is the array's axis order as the model returned it: "zyx"
	// (SimpleITK's, the modelhub engine's) or "xyz" (transposed).
	Order   string       `json:"order,omitempty"`
	Labels  []LabelStats `json:"labels,omitempty"`
	Warning string       `json:"warning,omitempty"`
}

// LabelStats describe one label value of a mask.
type LabelStats struct {
	Value  int     `json:"value"`
	Name   string  `json:"name,omitempty"`
	Voxels int64   `json:"voxels"`
	ML     float64 `json:"ml,omitempty"`   // volumes only
	Mean   float64 `json:"mean_intensity"` // of the input over the label's voxels
}

// Post is the Runner's hook after an input's output files are saved: it
// writes the masks and SEGs of res (an error fails the case).
func (m *MaskOptions) Post(outDir string) func(ctx context.Context, it *Item, res *Result) error {
	return func(ctx context.Context, it *Item, res *Result) error {
		return m.post(ctx, outDir, it, res)
	}
}

// caseInput is one input of an item that masks can match.
type caseInput struct {
	name   string
	path   string
	series *dicom.Series
	loaded bool
	vol    *inputVolume
	err    error
}

// inputVolume is an input's voxels in NIfTI order (x fastest) with its
// geometry; Affine is nil for a 2D image without one.
type inputVolume struct {
	Dims   [3]int
	Affine *[4][4]float64
	value  func(i int) float64
	img    image.Image // a 2D image input, for overlays
}

func itemInputs(it *Item) []*caseInput {
	var out []*caseInput
	if it.Path != "" {
		out = append(out, &caseInput{path: it.Path, series: it.series})
	}
	for _, cf := range it.Case {
		if cf.Path != "" {
			out = append(out, &caseInput{name: cf.Input, path: cf.Path, series: cf.series})
		}
	}
	return out
}

func (ci *caseInput) load(lim ndarray.Limits) (*inputVolume, error) {
	if ci.loaded {
		return ci.vol, ci.err
	}
	ci.loaded = true
	f, err := os.Open(ci.path)
	if err != nil {
		ci.err = err
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 348)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	// by content, not by name: a NIfTI (.nii, or gzip: .nii.gz) or an image
	if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) || ndarray.IsNIfTI(head) {
		im, err := nifti.ReadFile(ci.path)
		if err != nil {
			ci.err = err
			return nil, err
		}
		a := im.Affine
		ci.vol = &inputVolume{Dims: im.Dims, Affine: &a, value: niftiValue(im)}
		return ci.vol, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		ci.err = err
		return nil, err
	}
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		ci.err = fmt.Errorf("not a NIfTI volume or an image modelhub reads: %v", err)
		return nil, ci.err
	}
	b := img.Bounds()
	ci.vol = &inputVolume{Dims: [3]int{b.Dx(), b.Dy(), 1}, img: img, value: func(i int) float64 {
		c := color.GrayModel.Convert(img.At(b.Min.X+i%b.Dx(), b.Min.Y+i/b.Dx())).(color.Gray)
		return float64(c.Y)
	}}
	return ci.vol, ci.err
}

// niftiValue reads voxel i of a NIfTI image as a real value (scl_slope and
// scl_inter applied; RGB as its luma).
func niftiValue(im *nifti.Image) func(int) float64 {
	slope, inter := im.Slope, im.Inter
	if slope == 0 {
		slope, inter = 1, 0
	}
	d := im.Data
	le := binary.LittleEndian
	var raw func(i int) float64
	switch im.Datatype {
	case nifti.DTUint8:
		raw = func(i int) float64 { return float64(d[i]) }
	case nifti.DTInt8:
		raw = func(i int) float64 { return float64(int8(d[i])) }
	case nifti.DTInt16:
		raw = func(i int) float64 { return float64(int16(le.Uint16(d[2*i:]))) }
	case nifti.DTUint16:
		raw = func(i int) float64 { return float64(le.Uint16(d[2*i:])) }
	case nifti.DTInt32:
		raw = func(i int) float64 { return float64(int32(le.Uint32(d[4*i:]))) }
	case nifti.DTUint32:
		raw = func(i int) float64 { return float64(le.Uint32(d[4*i:])) }
	case nifti.DTFloat32:
		raw = func(i int) float64 { return float64(math.Float32frombits(le.Uint32(d[4*i:]))) }
	case nifti.DTFloat64:
		raw = func(i int) float64 { return math.Float64frombits(le.Uint64(d[8*i:])) }
	case nifti.DTRGB24:
		return func(i int) float64 { return 0.299*float64(d[3*i]) + 0.587*float64(d[3*i+1]) + 0.114*float64(d[3*i+2]) }
	default:
		return func(int) float64 { return math.NaN() }
	}
	return func(i int) float64 { return raw(i)*slope + inter }
}

// arrayOutput is one array output of an answer.
type arrayOutput struct {
	name, typ, rel string
}

// arrayOutputs are res's saved outputs of an array type, with their types
// from the engine's answer.
func arrayOutputs(res *Result) []arrayOutput {
	var a struct {
		Output []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"output"`
	}
	_ = json.Unmarshal(res.Output, &a)
	types := map[string]string{}
	for _, o := range a.Output {
		if _, ok := types[o.Name]; !ok {
			types[o.Name] = o.Type
		}
	}
	var out []arrayOutput
	for _, s := range res.Saved {
		switch types[s.Output] {
		case "mask_image", "heatmap", "image":
		default:
			continue
		}
		switch strings.ToLower(path.Ext(s.Path)) {
		case ".h5", ".hdf5", ".npy":
			out = append(out, arrayOutput{name: s.Output, typ: types[s.Output], rel: s.Path})
		}
	}
	return out
}

// post turns every array output of a prediction into mask files (and DICOM
// SEGs when asked and the input is a DICOM series), recorded in res.
func (m *MaskOptions) post(ctx context.Context, outDir string, it *Item, res *Result) error {
	inputs := itemInputs(it)
	var dicomIn bool
	for _, ci := range inputs {
		if ci.series != nil {
			dicomIn = true
		}
	}
	segWanted := m.SEG && dicomIn
	segDone := false
	for _, ao := range arrayOutputs(res) {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := m.maskOutput(outDir, ao, inputs, segWanted, res)
		if err != nil {
			return err
		}
		segDone = segDone || done
	}
	if segWanted && !segDone {
		return errors.New("no DICOM SEG: the model returned no mask_image array (an .h5 or .npy output) to write as a SEG")
	}
	return nil
}

// maskOutput reads one array output, matches it to an input, records its
// labels, writes it as a NIfTI (inputs with an affine) or PNG and overlay, and
// appends its MaskFile to res. With segWanted, a mask_image output must also
// become a DICOM SEG (done reports it did): anything that stops that is an
// error; otherwise problems are the MaskFile's warning.
func (m *MaskOptions) maskOutput(outDir string, ao arrayOutput, inputs []*caseInput, segWanted bool, res *Result) (done bool, err error) {
	mf := MaskFile{Output: ao.name}
	a, err := ndarray.ReadFile(joinOut(outDir, ao.rel), m.Limits)
	if err == nil {
		in, vol, order, warning := matchInput(inputs, a, ao.rel, m.Limits)
		if in != nil {
			return m.maskMatched(outDir, ao, mf, a, in, vol, order, segWanted, res)
		}
		mf.Warning = warning
	} else {
		mf.Warning = fmt.Sprintf("%s cannot be read: %v", ao.rel, err)
	}
	res.Masks = append(res.Masks, mf)
	if segWanted && ao.typ == "mask_image" {
		return false, fmt.Errorf("no DICOM SEG: output %s: %s", ao.name, mf.Warning)
	}
	return false, nil
}

// matchInput returns the first input whose volume the array's shape fits, its
// volume and the axis order; with none, a warning saying what each input was
// (the array stays as rel).
func matchInput(inputs []*caseInput, a *ndarray.Array, rel string, lim ndarray.Limits) (*caseInput, *inputVolume, string, string) {
	var tried []string
	for _, ci := range inputs {
		v, err := ci.load(lim)
		if err != nil {
			tried = append(tried, fmt.Sprintf("input %s unreadable (%v)", ci.label(), err))
			continue
		}
		if o := matchOrder(a.Shape, v.Dims); o != "" {
			return ci, v, o, ""
		}
		tried = append(tried, fmt.Sprintf("input %s is %s", ci.label(), shapeWords(v.Dims)))
	}
	if len(inputs) == 0 {
		return nil, nil, "", fmt.Sprintf("shape %v: the input is not a local volume or image, so the array is kept as %s", a.Shape, rel)
	}
	return nil, nil, "", fmt.Sprintf("shape %v matches no input (%s): kept as %s, not resampled", a.Shape, strings.Join(tried, "; "), rel)
}

// maskMatched finishes an array output matched to input in (volume vol, axis
// order): labels of a mask_image, the saved mask files, and with segWanted its
// DICOM SEG.
func (m *MaskOptions) maskMatched(outDir string, ao arrayOutput, mf MaskFile, a *ndarray.Array, in *caseInput, vol *inputVolume, order string, segWanted bool, res *Result) (bool, error) {
	mf.Order = order
	segs := m.segmentsFor(ao.name)
	var lab []byte
	var labErr error
	if ao.typ == "mask_image" {
		lab, labErr = labelVolume(a, order, vol.Dims)
		if labErr == nil {
			mf.Labels = labelStats(lab, vol, segs)
		} else {
			mf.Warning = labErr.Error()
		}
	}
	base := strings.TrimSuffix(ao.rel, path.Ext(ao.rel)) // the saved file's name: two outputs of one name differ
	var err error
	if mf.Path, mf.Overlay, err = m.writeMask(outDir, base, a, lab, order, vol); err != nil {
		return false, err
	}
	res.Masks = append(res.Masks, mf)
	if !segWanted || ao.typ != "mask_image" {
		return false, nil
	}
	if in.series == nil {
		return false, fmt.Errorf("no DICOM SEG: output %s matches input %s, which is not a DICOM series", ao.name, in.label())
	}
	if labErr != nil {
		return false, fmt.Errorf("no DICOM SEG: output %s: %v", ao.name, labErr)
	}
	rel := base + ".seg.dcm"
	if err := m.writeSEG(outDir, rel, in.series, lab, segs, ao.name); err != nil {
		return false, fmt.Errorf("no DICOM SEG: output %s: %w", ao.name, err)
	}
	res.SEG = append(res.SEG, rel)
	return true, nil
}

// writeMask saves a matched array under outDir as base.nii.gz when the input
// has an affine, else as base.png and base.overlay.png, and returns the paths
// written (overlay "" for NIfTI).
func (m *MaskOptions) writeMask(outDir, base string, a *ndarray.Array, lab []byte, order string, vol *inputVolume) (string, string, error) {
	if vol.Affine != nil {
		im := maskNIfTI(a, lab, order, vol, m.Model)
		rel := base + ".nii.gz"
		if err := writeOut(outDir, rel, func(w io.Writer) error {
			zw, _ := kgzip.NewWriterLevel(w, kgzip.BestSpeed)
			if err := nifti.Encode(zw, im); err != nil {
				return err
			}
			return zw.Close()
		}); err != nil {
			return "", "", fmt.Errorf("write %s: %w", rel, err)
		}
		return rel, "", nil
	}
	p, ov := maskPNGs(a, lab, order, vol)
	rel, orel := base+".png", base+".overlay.png"
	for _, f := range []struct {
		rel string
		img image.Image
	}{{rel, p}, {orel, ov}} {
		if err := writeOut(outDir, f.rel, func(w io.Writer) error { return png.Encode(w, f.img) }); err != nil {
			return "", "", fmt.Errorf("write %s: %w", f.rel, err)
		}
	}
	return rel, orel, nil
}

func (ci *caseInput) label() string {
	if ci.name != "" {
		return ci.name
	}
	return "image"
}

func joinOut(outDir, rel string) string {
	return outDir + string(os.PathSeparator) + strings.ReplaceAll(rel, "/", string(os.PathSeparator))
}

func (m *MaskOptions) segmentsFor(output string) []dicomseg.Segment {
	if len(m.Labels) > 0 {
		return m.Labels
	}
	return m.Config[output]
}

func shapeWords(d [3]int) string {
	if d[2] == 1 {
		return fmt.Sprintf("a %dx%d image", d[0], d[1])
	}
	return fmt.Sprintf("%dx%dx%d (x, y, z)", d[0], d[1], d[2])
}

func squeeze(s []int) []int {
	var out []int
	for _, n := range s {
		if n != 1 {
			out = append(out, n)
		}
	}
	return out
}

// matchOrder says how an array of shape lies over an input of dims (x, y,
// z): "zyx" (SimpleITK's order: x varies fastest, as in NIfTI) or "xyz"
// (transposed); "" when neither. Axes of length 1 are ignored. When both
// fit (equal sizes), the engine's SimpleITK order wins.
func matchOrder(shape []int, dims [3]int) string {
	s, in := squeeze(shape), squeeze(dims[:])
	n := 1
	for _, x := range shape {
		n *= x
	}
	if n != dims[0]*dims[1]*dims[2] || len(s) != len(in) {
		return ""
	}
	rev := true
	same := true
	for i := range s {
		if s[i] != in[len(in)-1-i] {
			rev = false
		}
		if s[i] != in[i] {
			same = false
		}
	}
	switch {
	case rev:
		return "zyx"
	case same:
		return "xyz"
	}
	return ""
}

// nIndex maps element i of the array (C order) to its voxel in NIfTI order.
func nIndex(order string, dims [3]int) func(i int) int {
	if order == "zyx" {
		return func(i int) int { return i }
	}
	nx, ny, nz := dims[0], dims[1], dims[2]
	return func(i int) int { // i = (x*ny + y)*nz + z
		z := i % nz
		y := (i / nz) % ny
		x := i / (nz * ny)
		return (z*ny+y)*nx + x
	}
}

// labelVolume is a mask's label values (0-255) in NIfTI order; an error
// when it holds anything else.
func labelVolume(a *ndarray.Array, order string, dims [3]int) ([]byte, error) {
	n := a.Len()
	lab := make([]byte, n)
	if order == "zyx" && (a.Type.Kind == ndarray.Bool || (a.Type.Kind == ndarray.Uint && a.Type.Size == 1)) {
		copy(lab, a.Data)
		if a.Type.Kind == ndarray.Bool {
			for i, v := range lab {
				if v != 0 {
					lab[i] = 1
				}
			}
		}
		return lab, nil
	}
	idx := nIndex(order, dims)
	for i := 0; i < n; i++ {
		v := a.At(i)
		if v != math.Trunc(v) || v < 0 || v > 255 {
			return nil, fmt.Errorf("the mask holds %g, not a label value from 0 to 255: no label statistics or SEG (is it a probability map? its config.json type would be heatmap)", v)
		}
		lab[idx(i)] = byte(v)
	}
	return lab, nil
}

// labelStats counts each label's voxels, their volume and the input's mean
// over them.
func labelStats(lab []byte, vol *inputVolume, segs []dicomseg.Segment) []LabelStats {
	var count [256]int64
	var sum [256]float64
	for i, v := range lab {
		if v != 0 {
			count[v]++
			sum[v] += vol.value(i)
		}
	}
	voxelML := 0.0
	if a := vol.Affine; a != nil {
		det := a[0][0]*(a[1][1]*a[2][2]-a[1][2]*a[2][1]) - a[0][1]*(a[1][0]*a[2][2]-a[1][2]*a[2][0]) + a[0][2]*(a[1][0]*a[2][1]-a[1][1]*a[2][0])
		voxelML = math.Abs(det) / 1000
	}
	names := map[int]string{}
	for _, s := range segs {
		names[s.Value] = s.Label
	}
	var out []LabelStats
	for v := 1; v < 256; v++ {
		if count[v] == 0 {
			continue
		}
		ls := LabelStats{Value: v, Name: names[v], Voxels: count[v], Mean: round(sum[v]/float64(count[v]), 4)}
		if voxelML > 0 {
			ls.ML = round(float64(count[v])*voxelML, 4)
		}
		out = append(out, ls)
	}
	return out
}

func round(x float64, digits int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// maskNIfTI is the array in the input's geometry: labels as uint8, other
// arrays as float32 (float64 kept).
func maskNIfTI(a *ndarray.Array, lab []byte, order string, vol *inputVolume, model string) *nifti.Image {
	im := &nifti.Image{Dims: vol.Dims, Affine: *vol.Affine, Description: "modelhub output of " + model}
	if lab != nil {
		im.Datatype, im.Data = nifti.DTUint8, lab
		return im
	}
	n := a.Len()
	idx := nIndex(order, vol.Dims)
	if a.Type.Kind == ndarray.Float && a.Type.Size == 8 {
		im.Datatype = nifti.DTFloat64
		im.Data = make([]byte, 8*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint64(im.Data[8*idx(i):], math.Float64bits(a.At(i)))
		}
		return im
	}
	im.Datatype = nifti.DTFloat32
	im.Data = make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(im.Data[4*idx(i):], math.Float32bits(float32(a.At(i))))
	}
	return im
}

// maskPNGs draws a 2D array: the mask itself (label values as grey levels;
// other arrays scaled to 0-255) and an overlay over the input image.
func maskPNGs(a *ndarray.Array, lab []byte, order string, vol *inputVolume) (image.Image, image.Image) {
	w, h := vol.Dims[0], vol.Dims[1]
	grey := image.NewGray(image.Rect(0, 0, w, h))
	idx := nIndex(order, vol.Dims)
	if lab != nil {
		copy(grey.Pix, lab)
	} else {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := 0; i < a.Len(); i++ {
			v := a.At(i)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if hi <= lo {
			hi = lo + 1
		}
		for i := 0; i < a.Len(); i++ {
			grey.Pix[idx(i)] = uint8(math.Round(255 * (a.At(i) - lo) / (hi - lo)))
		}
	}
	ov := image.NewNRGBA(image.Rect(0, 0, w, h))
	palette := [][3]float64{{230, 25, 75}, {60, 180, 75}, {0, 130, 200}, {255, 225, 25}, {145, 30, 180}, {70, 240, 240}, {245, 130, 48}, {240, 50, 230}}
	b := vol.img.Bounds()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, _ := vol.img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			c := [3]float64{float64(r >> 8), float64(g >> 8), float64(bl >> 8)}
			v := grey.Pix[y*w+x]
			var tint [3]float64
			alpha := 0.0
			switch {
			case lab != nil && v != 0:
				tint, alpha = palette[(int(v)-1)%len(palette)], 0.5
			case lab == nil:
				t := float64(v) / 255 // dark blue to red
				tint, alpha = [3]float64{255 * t, 64 * (1 - math.Abs(2*t-1)), 255 * (1 - t)}, 0.45*t
			}
			o := ov.Pix[4*(y*w+x):]
			for k := 0; k < 3; k++ {
				o[k] = uint8(math.Round(c[k]*(1-alpha) + tint[k]*alpha))
			}
			o[3] = 255
		}
	}
	return grey, ov
}

// writeSEG writes the SEG of a label volume over its series.
func (m *MaskOptions) writeSEG(outDir, rel string, s *dicom.Series, lab []byte, segs []dicomseg.Segment, output string) error {
	src, err := dicomseg.SourceFromSeries(s)
	if err != nil {
		return err
	}
	name := m.Model
	if m.Commit != "" {
		c := m.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		name += "@" + c
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	o := dicomseg.Options{SeriesDescription: "modelhub " + name + " " + output, Algorithm: name, Version: m.Version, Now: now()}
	return writeOut(outDir, rel, func(w io.Writer) error {
		_, err := dicomseg.Write(w, src, dicomseg.Mask{Data: lab}, segs, o)
		return err
	})
}

// writeOut writes OUT/rel through an os.Root of the output folder (a link
// planted on the way is refused), via rel.part renamed when complete.
func writeOut(outDir, rel string, write func(io.Writer) error) error {
	root, err := os.OpenRoot(outDir)
	if err != nil {
		return err
	}
	defer root.Close()
	part := rel + ".part"
	if err := checkOut(root, outDir, rel, part); err != nil {
		return err
	}
	if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return err
	}
	f, err := root.Create(part)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(part, rel)
	}
	if err != nil {
		_ = root.Remove(part)
	}
	return err
}

// LabelSummary is a case's label statistics in one line for results.csv:
// "mask 1 Liver: 1234 voxels, 5.6 ml, mean 40.2; …".
func LabelSummary(masks []MaskFile) string {
	var parts []string
	for _, mf := range masks {
		for _, l := range mf.Labels {
			s := fmt.Sprintf("%s %d", mf.Output, l.Value)
			if l.Name != "" {
				s += " " + l.Name
			}
			s += fmt.Sprintf(": %d voxels", l.Voxels)
			if l.ML > 0 {
				s += fmt.Sprintf(", %.4g ml", l.ML)
			}
			s += fmt.Sprintf(", mean %.4g", l.Mean)
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}
