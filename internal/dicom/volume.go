package dicom

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// DataType is the voxel type of a Volume's Data.
type DataType int

// Voxel types (little endian in Data).
const (
	Uint8 DataType = iota
	Int16
	Uint16
	Float32
	RGB24 // 3 x uint8 per voxel
)

// Bytes is the size of one voxel.
func (t DataType) Bytes() int {
	switch t {
	case Uint8:
		return 1
	case Int16, Uint16:
		return 2
	case RGB24:
		return 3
	}
	return 4
}

// Volume is a series' voxels with their geometry. Axis order is fixed: i (fastest,
// along a row, i.e. the column index), j (the row index), k (the slice index,
// increasing along the slice normal). AffineLPS maps (i, j, k, 1) to DICOM patient
// coordinates (LPS, mm); use AffineRAS for NIfTI.
type Volume struct {
	Dims      [3]int
	Type      DataType
	Data      []byte
	AffineLPS [4][4]float64
	// Real values are Data*Slope + Intercept (Slope 1, Intercept 0 when Data
	// already holds real values).
	Slope, Intercept float64
	// Spacing is the voxel size along i, j, k (mm).
	Spacing [3]float64
	// Window is the first image's VOI window (HasWindow false when none).
	WindowCenter, WindowWidth float64
	HasWindow                 bool
	// Monochrome1 images show low values white.
	Monochrome1 bool
	// HasGeometry is false for a 2D image without position/orientation: the
	// affine is then a plain scaling and must not be used for NIfTI.
	HasGeometry bool
}

// AffineRAS is AffineLPS with the first two world axes negated (NIfTI's RAS+).
func (v *Volume) AffineRAS() [4][4]float64 {
	a := v.AffineLPS
	for c := 0; c < 4; c++ {
		a[0][c], a[1][c] = -a[0][c], -a[1][c]
	}
	return a
}

// Load reads the pixel data of a checked series into one Volume, slice by slice
// straight into the volume's buffer.
func (s *Series) Load(ctx context.Context) (*Volume, error) {
	if s.Err != nil {
		return nil, s.Err
	}
	f0 := &s.Files[0].Header
	nx, ny, nz := f0.Columns, f0.Rows, len(s.Files)
	v := &Volume{Dims: [3]int{nx, ny, nz}, Slope: 1, Monochrome1: f0.Photometric == "MONOCHROME1"}
	switch {
	case f0.SamplesPerPixel == 3:
		v.Type = RGB24
	case f0.BitsAllocated == 8:
		v.Type = Uint8
	case f0.PixelRepresentation == 1:
		v.Type = Int16
	default:
		v.Type = Uint16
	}
	// one rescale for the whole series keeps the stored type; per-slice rescales
	// are applied into float32
	uniform := true
	for i := range s.Files {
		h := &s.Files[i].Header
		if h.RescaleSlope != f0.RescaleSlope || h.RescaleIntercept != f0.RescaleIntercept {
			uniform = false
		}
	}
	stored := v.Type
	sliceBytes := int(f0.FrameBytes())
	if !uniform && v.Type != RGB24 {
		v.Type = Float32
	} else {
		v.Slope, v.Intercept = f0.RescaleSlope, f0.RescaleIntercept
	}
	total := int64(nx) * int64(ny) * int64(nz) * int64(v.Type.Bytes())
	if total > 8<<30 {
		return nil, fmt.Errorf("a %dx%dx%d volume is too large", nx, ny, nz)
	}
	v.Data = make([]byte, total)
	var tmp []byte
	if v.Type == Float32 {
		tmp = make([]byte, sliceBytes)
	}
	sc := &Scratch{}
	for k := range s.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := &s.Files[k]
		dst := v.Data[int64(k)*int64(sliceBytes) : int64(k+1)*int64(sliceBytes)]
		if tmp != nil {
			dst = tmp
		}
		if err := readSlice(f, f0, dst, sc); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if tmp != nil {
			out := v.Data[int64(k)*int64(nx*ny*4) : int64(k+1)*int64(nx*ny*4)]
			toFloat(out, tmp, stored, f.Header.RescaleSlope, f.Header.RescaleIntercept)
		}
	}
	v.WindowCenter, v.WindowWidth, v.HasWindow = f0.WindowCenter, f0.WindowWidth, f0.HasWindow
	ps := f0.PixelSpacing
	if !f0.HasPixelSpacing || ps[0] <= 0 || ps[1] <= 0 {
		ps = [2]float64{1, 1}
	}
	v.Spacing = [3]float64{ps[1], ps[0], 1}
	if f0.SliceThickness > 0 {
		v.Spacing[2] = f0.SliceThickness
	}
	if !f0.HasOrientation || !f0.HasPosition {
		v.AffineLPS = [4][4]float64{{v.Spacing[0], 0, 0, 0}, {0, v.Spacing[1], 0, 0}, {0, 0, v.Spacing[2], 0}, {0, 0, 0, 1}}
		return v, nil
	}
	v.HasGeometry = true
	r, c, n := f0.Directions()
	step := [3]float64{n[0] * v.Spacing[2], n[1] * v.Spacing[2], n[2] * v.Spacing[2]}
	if nz > 1 {
		a := s.Files[0].Header.ImagePositionPatient
		b := s.Files[nz-1].Header.ImagePositionPatient
		for i := range step {
			step[i] = (b[i] - a[i]) / float64(nz-1)
		}
		v.Spacing[2] = math.Sqrt(dot(step, step))
	}
	o := f0.ImagePositionPatient
	for i := 0; i < 3; i++ {
		v.AffineLPS[i] = [4]float64{r[i] * ps[1], c[i] * ps[0], step[i], o[i]}
	}
	v.AffineLPS[3] = [4]float64{0, 0, 0, 1}
	return v, nil
}

func readSlice(f *File, f0 *Header, dst []byte, sc *Scratch) error {
	fh, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer fh.Close()
	rd, err := ReadHeader(fh)
	if err != nil {
		return err
	}
	h := rd.Header()
	if h.Rows != f0.Rows || h.Columns != f0.Columns || h.BitsAllocated != f0.BitsAllocated {
		return errors.New("the file changed since it was scanned")
	}
	return rd.ReadPixelsWith(dst, sc)
}

func toFloat(out, in []byte, t DataType, slope, inter float64) {
	n := len(out) / 4
	for i := 0; i < n; i++ {
		var x float64
		switch t {
		case Uint8:
			x = float64(in[i])
		case Int16:
			x = float64(int16(binary.LittleEndian.Uint16(in[2*i:])))
		default:
			x = float64(binary.LittleEndian.Uint16(in[2*i:]))
		}
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(float32(x*slope+inter)))
	}
}

// Value returns the real (rescaled) value of voxel index idx of a grey volume.
func (v *Volume) Value(idx int) float64 {
	var x float64
	switch v.Type {
	case Uint8:
		x = float64(v.Data[idx])
	case Int16:
		x = float64(int16(binary.LittleEndian.Uint16(v.Data[2*idx:])))
	case Uint16:
		x = float64(binary.LittleEndian.Uint16(v.Data[2*idx:]))
	case Float32:
		x = float64(math.Float32frombits(binary.LittleEndian.Uint32(v.Data[4*idx:])))
	}
	return x*v.Slope + v.Intercept
}
