package report

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // inputs
	_ "image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/modelhub-ai/modelhub/internal/ndarray"
)

// MaxSide bounds a preview's longest side in pixels: larger images and
// slices are scaled down (nearest neighbour) to it.
const MaxSide = 512

// maxImageFile bounds an image file decoded for a preview, maxImagePixels
// its pixels (decoding holds them all: 32 Mpx is 128 MiB as RGBA).
const (
	maxImageFile   = 256 << 20
	maxImagePixels = 1 << 25
)

// Kinds of layer drawn over an input.
const (
	KindMask = "mask" // labels in colour, background transparent
	KindHeat = "heat" // values as a colour map
	KindGray = "gray" // an image, grey levels
)

// Plane is one 2-D view of an array: a 2-D image, or a volume's middle
// slice along one axis.
type Plane struct {
	Name string // "image", or "axial", "coronal", "sagittal" for a volume
	W, H int
	v    []float64
	rgba *image.NRGBA // a colour image, drawn as it is
	// display: v holds 8-bit grey levels meant for a screen (a PNG or JPEG
	// of 8 bits), drawn as they are; an array or a 16-bit image is windowed
	display bool
}

// Volume is what a file holds, ready to be cut into planes: a 2-D image
// (one plane) or a 3-D volume in [z, y, x] order (three).
type Volume struct {
	Planes []Plane
	Shape  []int
}

// Load reads a file for a preview: a PNG, JPEG or GIF image, or an array
// (.h5 as h5py writes it, .npy) of 2 or 3 dimensions once dimensions of size
// 1 are dropped (an H×W×3 or ×4 array is a colour image). A volume's array is
// in the engine's [z, y, x] order.
func Load(path string, lim ndarray.Limits) (*Volume, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	if ndarray.Format(head[:n]) != "" {
		a, err := ndarray.Read(f, st.Size(), lim)
		if err != nil {
			return nil, err
		}
		return FromArray(a)
	}
	if bytes.HasPrefix(head[:n], []byte{0x1f, 0x8b}) || ndarray.IsNIfTI(head[:n]) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		a, err := ndarray.ReadNIfTI(f, lim)
		if err != nil {
			return nil, err
		}
		return FromArray(a)
	}
	if st.Size() > maxImageFile {
		return nil, fmt.Errorf("%d MiB is too large for a preview", st.Size()>>20)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("not an image or array modelhub can draw: %w", err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, fmt.Errorf("an image of %d×%d pixels is too large for a preview", cfg.Width, cfg.Height)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, err
	}
	return FromImage(img), nil
}

// FromImage is a 2-D image: grey levels when it has no colour, else drawn as
// it is. An 8-bit grey image is drawn with its own levels (a dark image
// stays dark); a 16-bit one (a medical PNG) is windowed like an array.
func FromImage(img image.Image) *Volume {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	sw, sh, step := scaled(w, h)
	p := Plane{Name: "image", W: sw, H: sh, v: make([]float64, sw*sh), display: !deep(img)}
	grey := true
	rgba := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+int(float64(x)*step), b.Min.Y+int(float64(y)*step))).(color.NRGBA)
			rgba.SetNRGBA(x, y, c)
			if c.R != c.G || c.G != c.B {
				grey = false
			}
			p.v[y*sw+x] = float64(c.R)*0.299 + float64(c.G)*0.587 + float64(c.B)*0.114
		}
	}
	if !grey {
		p.rgba = rgba
	}
	return &Volume{Planes: []Plane{p}, Shape: []int{h, w}}
}

// deep reports an image of more than 8 bits per sample.
func deep(img image.Image) bool {
	switch img.(type) {
	case *image.Gray16, *image.RGBA64, *image.NRGBA64:
		return true
	}
	return false
}

// FromArray cuts an array into planes.
func FromArray(a *ndarray.Array) (*Volume, error) {
	var shape []int
	for _, d := range a.Shape {
		if d != 1 {
			shape = append(shape, d)
		}
	}
	for _, d := range shape {
		if d == 0 {
			return nil, fmt.Errorf("the array is empty (shape %v)", a.Shape)
		}
	}
	switch {
	case len(shape) == 2:
		return &Volume{Planes: []Plane{slice2(a, "image", shape[0], shape[1], func(y, x int) int { return y*shape[1] + x })}, Shape: shape}, nil
	case len(shape) == 3 && (shape[2] == 3 || shape[2] == 4):
		return colourArray(a, shape), nil
	case len(shape) == 3:
		z, y, x := shape[0], shape[1], shape[2]
		mz, my, mx := z/2, y/2, x/2
		// coronal and sagittal: z upward (the engine's arrays start at the
		// lowest slice), so row r is z-1-r
		return &Volume{Shape: shape, Planes: []Plane{
			slice2(a, "axial", y, x, func(r, c int) int { return (mz*y+r)*x + c }),
			slice2(a, "coronal", z, x, func(r, c int) int { return ((z-1-r)*y+my)*x + c }),
			slice2(a, "sagittal", z, y, func(r, c int) int { return ((z-1-r)*y+c)*x + mx }),
		}}, nil
	}
	return nil, fmt.Errorf("cannot draw an array of shape %v (2 or 3 dimensions are drawn)", a.Shape)
}

// scaled fits w×h into MaxSide: the new size and the source step per pixel.
func scaled(w, h int) (int, int, float64) {
	m := max(w, h)
	if m <= MaxSide {
		return w, h, 1
	}
	step := float64(m) / MaxSide
	return max(1, int(float64(w)/step)), max(1, int(float64(h)/step)), step
}

func slice2(a *ndarray.Array, name string, h, w int, idx func(r, c int) int) Plane {
	sw, sh, step := scaled(w, h)
	p := Plane{Name: name, W: sw, H: sh, v: make([]float64, sw*sh)}
	for r := 0; r < sh; r++ {
		for c := 0; c < sw; c++ {
			p.v[r*sw+c] = a.At(idx(int(float64(r)*step), int(float64(c)*step)))
		}
	}
	return p
}

func colourArray(a *ndarray.Array, shape []int) *Volume {
	h, w, ch := shape[0], shape[1], shape[2]
	sw, sh, step := scaled(w, h)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range a.Len() {
		v := a.At(i)
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	scale := 1.0
	if hi <= 1 && a.Type.Kind == ndarray.Float {
		scale = 255
	}
	img := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	p := Plane{Name: "image", W: sw, H: sh, v: make([]float64, sw*sh), rgba: img}
	for r := 0; r < sh; r++ {
		for c := 0; c < sw; c++ {
			base := (int(float64(r)*step)*w + int(float64(c)*step)) * ch
			px := color.NRGBA{A: 255}
			px.R, px.G, px.B = clamp8(a.At(base)*scale), clamp8(a.At(base+1)*scale), clamp8(a.At(base+2)*scale)
			if ch == 4 {
				px.A = clamp8(a.At(base+3) * scale)
			}
			img.SetNRGBA(c, r, px)
			p.v[r*sw+c] = float64(px.R)*0.299 + float64(px.G)*0.587 + float64(px.B)*0.114
		}
	}
	return &Volume{Planes: []Plane{p}, Shape: shape}
}

func clamp8(v float64) uint8 {
	switch {
	case math.IsNaN(v) || v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}

// Gray draws a plane in grey levels, windowed to its 1st–99th percentile (a
// colour image, or an 8-bit grey one, as it is).
func (p *Plane) Gray() image.Image {
	if p.rgba != nil {
		return p.rgba
	}
	if p.display {
		img := image.NewGray(image.Rect(0, 0, p.W, p.H))
		for i, v := range p.v {
			img.Pix[i] = clamp8(math.Round(v)) // 0.299+0.587+0.114 of a grey may be a hair under it
		}
		return img
	}
	lo, hi := percentiles(p.v, 0.01, 0.99)
	img := image.NewGray(image.Rect(0, 0, p.W, p.H))
	span := hi - lo
	for i, v := range p.v {
		g := 0.0
		if span > 0 {
			g = (v - lo) / span * 255
		} else { // a flat image: its own grey level (an 8-bit value as it is)
			g = v
		}
		img.Pix[i] = clamp8(g)
	}
	return img
}

// Palette colours mask labels: label values in increasing order take them
// in turn.
var Palette = []color.NRGBA{
	{230, 25, 75, 255}, {60, 180, 75, 255}, {255, 225, 25, 255}, {0, 130, 200, 255},
	{245, 130, 48, 255}, {145, 30, 180, 255}, {70, 240, 240, 255}, {240, 50, 230, 255},
}

// Mask draws a plane as a label mask: 0 transparent, every other value in
// a colour of Palette (the smallest label the first colour). blank reports
// a plane with no label at all.
func (p *Plane) Mask() (img *image.NRGBA, blank bool) {
	labels := map[float64]int{}
	var vals []float64
	for _, v := range p.v {
		if v != 0 && !math.IsNaN(v) {
			if _, ok := labels[v]; !ok && len(vals) < 1024 {
				labels[v] = 0
				vals = append(vals, v)
			}
		}
	}
	sort.Float64s(vals)
	for i, v := range vals {
		labels[v] = i
	}
	img = image.NewNRGBA(image.Rect(0, 0, p.W, p.H))
	blank = true
	for i, v := range p.v {
		if v == 0 || math.IsNaN(v) {
			continue
		}
		blank = false
		k, ok := labels[v]
		if !ok {
			k = int(math.Abs(v))
		}
		c := Palette[k%len(Palette)]
		img.Pix[i*4], img.Pix[i*4+1], img.Pix[i*4+2], img.Pix[i*4+3] = c.R, c.G, c.B, c.A
	}
	return img, blank
}

// Heat draws a plane as a colour map from its minimum (blue) to its maximum
// (red), and returns the range.
func (p *Plane) Heat() (img *image.NRGBA, lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range p.v {
		if !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	img = image.NewNRGBA(image.Rect(0, 0, p.W, p.H))
	span := hi - lo
	for i, v := range p.v {
		t := 0.0
		if span > 0 {
			t = (v - lo) / span
		}
		r, g, b := heat(t)
		img.Pix[i*4], img.Pix[i*4+1], img.Pix[i*4+2], img.Pix[i*4+3] = r, g, b, 255
	}
	return img, lo, hi
}

// heat is a jet-like colour map of t in [0, 1].
func heat(t float64) (uint8, uint8, uint8) {
	f := func(c float64) uint8 { return clamp8(math.Min(1, math.Max(0, 1.5-math.Abs(4*t-c))) * 255) }
	return f(3), f(2), f(1)
}

func percentiles(v []float64, a, b float64) (float64, float64) {
	step := max(1, len(v)/65536)
	var s []float64
	for i := 0; i < len(v); i += step {
		if !math.IsNaN(v[i]) {
			s = append(s, v[i])
		}
	}
	if len(s) == 0 {
		return 0, 0
	}
	sort.Float64s(s)
	lo, hi := s[int(a*float64(len(s)-1))], s[int(b*float64(len(s)-1))]
	if hi <= lo { // a few bright pixels on a flat background
		lo, hi = s[0], s[len(s)-1]
	}
	return lo, hi
}

// pngBuffers lets one PNG encoding after another reuse a compressor: a new
// one allocates about 1 MB, so a 10,000-case report made ~10 GB of garbage
// and its process's memory peaked at 80 MiB; reused, it stays near what the
// records hold.
var pngBuffers = &pngPool{}

type pngPool struct{ p sync.Pool }

func (p *pngPool) Get() *png.EncoderBuffer {
	b, _ := p.p.Get().(*png.EncoderBuffer)
	return b
}

func (p *pngPool) Put(b *png.EncoderBuffer) { p.p.Put(b) }

// EncodePNG encodes img as PNG.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: pngBuffers}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ErrNotDrawable is returned by OutputPNG for an output it cannot draw.
var ErrNotDrawable = errors.New("not drawable")

// OutputPNG draws a file an engine returned (a mask, heatmap or image as
// .png, .h5 or .npy) as PNGs, one per plane: kind KindMask, KindHeat or
// KindGray. blank reports a mask with no label in any plane.
func OutputPNG(path, kind string, lim ndarray.Limits) (pngs [][]byte, names []string, blank bool, err error) {
	v, err := Load(path, lim)
	if err != nil {
		return nil, nil, false, err
	}
	blank = true
	for i := range v.Planes {
		p := &v.Planes[i]
		var img image.Image
		switch kind {
		case KindMask:
			m, b := p.Mask()
			img, blank = m, blank && b
		case KindHeat:
			img, _, _ = p.Heat()
		default:
			img = p.Gray()
		}
		data, err := EncodePNG(img)
		if err != nil {
			return nil, nil, false, err
		}
		pngs = append(pngs, data)
		names = append(names, p.Name)
	}
	return pngs, names, blank && kind == KindMask, nil
}

// KindOf is how an output of the engine's type is drawn ("" = not drawn).
func KindOf(outputType string) string {
	switch strings.ToLower(outputType) {
	case "mask_image", "mask", "segmentation":
		return KindMask
	case "heatmap":
		return KindHeat
	case "image":
		return KindGray
	}
	return ""
}
