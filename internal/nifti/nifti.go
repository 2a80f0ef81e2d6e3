// Package nifti writes and reads NIfTI-1 single-file images (.nii, .nii.gz). The
// affine is always in NIfTI's RAS+ world space; callers convert at their edge.
// It never prints.
package nifti

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/modelhub-ai/modelhub/internal/safepath"
)

// NIfTI-1 datatype codes modelhub writes or reads.
const (
	DTUint8   = 2
	DTInt16   = 4
	DTInt32   = 8
	DTFloat32 = 16
	DTFloat64 = 64
	DTRGB24   = 128
	DTInt8    = 256
	DTUint16  = 512
	DTUint32  = 768
)

// BytesPer returns the size of one voxel of a datatype (0 when unknown).
func BytesPer(dt int) int {
	switch dt {
	case DTUint8, DTInt8:
		return 1
	case DTInt16, DTUint16:
		return 2
	case DTRGB24:
		return 3
	case DTInt32, DTUint32, DTFloat32:
		return 4
	case DTFloat64:
		return 8
	}
	return 0
}

// Image is a 3D NIfTI image. Data holds Dims[0]*Dims[1]*Dims[2] voxels, x fastest,
// little endian. Affine maps voxel (i, j, k, 1) to RAS+ millimetres. Real values
// are Data*Slope+Inter (Slope 0 or 1 and Inter 0: no scaling).
type Image struct {
	Dims        [3]int
	Datatype    int
	Data        []byte
	Affine      [4][4]float64
	Slope       float64
	Inter       float64
	Description string // at most 79 bytes are written; never patient data
	// read back only
	QformCode, SformCode int
	Pixdim               [3]float64
	Qfac                 float64
}

const headerSize = 348

// Encode writes the .nii bytes (header, empty extension, voxels) to w.
func Encode(w io.Writer, im *Image) error {
	bp := BytesPer(im.Datatype)
	if bp == 0 {
		return fmt.Errorf("nifti: datatype %d is not supported", im.Datatype)
	}
	n := int64(im.Dims[0]) * int64(im.Dims[1]) * int64(im.Dims[2])
	if int64(len(im.Data)) != n*int64(bp) {
		return fmt.Errorf("nifti: %d bytes of data for %v voxels of %d bytes", len(im.Data), im.Dims, bp)
	}
	var h [headerSize + 4]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], headerSize)
	h[38] = 'r'
	le.PutUint16(h[40:], 3)
	for i := 0; i < 3; i++ {
		le.PutUint16(h[42+2*i:], uint16(im.Dims[i]))
	}
	for i := 3; i < 7; i++ {
		le.PutUint16(h[42+2*i:], 1)
	}
	le.PutUint16(h[70:], uint16(im.Datatype))
	le.PutUint16(h[72:], uint16(8*bp))
	q := quatern(im.Affine)
	put32 := func(off int, v float64) { le.PutUint32(h[off:], math.Float32bits(float32(v))) }
	put32(76, q.qfac)
	for i := 0; i < 3; i++ {
		put32(80+4*i, q.pixdim[i])
	}
	put32(108, headerSize+4)
	slope, inter := im.Slope, im.Inter
	if slope == 0 {
		slope = 1
	}
	if slope == 1 && inter == 0 {
		slope = 0 // no scaling
	}
	put32(112, slope)
	put32(116, inter)
	h[123] = 2 | 8 // mm, s
	copy(h[148:227], sanitizeDescrip(im.Description))
	le.PutUint16(h[252:], 1) // scanner anatomical
	le.PutUint16(h[254:], 1)
	bcd := q.float32BCD()
	for i, v := range bcd {
		le.PutUint32(h[256+4*i:], math.Float32bits(v))
	}
	put32(268, im.Affine[0][3])
	put32(272, im.Affine[1][3])
	put32(276, im.Affine[2][3])
	for r := 0; r < 3; r++ {
		for c := 0; c < 4; c++ {
			put32(280+16*r+4*c, im.Affine[r][c])
		}
	}
	copy(h[344:], "n+1\x00")
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(im.Data)
	return err
}

func sanitizeDescrip(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '_'
		}
	}
	if len(b) > 79 {
		b = b[:79]
	}
	return string(b)
}

// WriteFile writes im to path, gzip-compressed when path ends in .gz. It writes
// path+".part" first and renames it when complete.
func WriteFile(path string, im *Image) (err error) {
	part := path + ".part"
	f, err := safepath.CreateNew(part, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(part)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	var w io.Writer = bw
	var zw *kgzip.Writer
	if strings.HasSuffix(path, ".gz") {
		zw, _ = kgzip.NewWriterLevel(bw, kgzip.DefaultCompression)
		w = zw
	}
	if err = Encode(w, im); err != nil {
		return err
	}
	if zw != nil {
		if err = zw.Close(); err != nil {
			return err
		}
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(part, path)
}

type qform struct {
	a, b, c, d, qfac float64
	pixdim           [3]float64
}

// float32BCD rounds the quaternion to float32. Readers rebuild a as
// sqrt(1-(b²+c²+d²)); for a turn of 180° (a = 0) rounding can leave that sum
// just below 1 and give a ≈ 2e-4, a rotation error of up to 1e-3 mm per mm. So
// when a is below float32's resolution, the largest of b, c, d is moved by at
// most a few ULPs until the sum reaches 1.
func (q qform) float32BCD() [3]float32 {
	v := [3]float32{float32(q.b), float32(q.c), float32(q.d)}
	if q.a*q.a > 4e-7 {
		return v
	}
	big := 0
	for i := range v {
		if math.Abs(float64(v[i])) > math.Abs(float64(v[big])) {
			big = i
		}
	}
	for step := 0; step < 8; step++ {
		sum := 0.0
		for _, x := range v {
			sum += float64(x) * float64(x)
		}
		if sum >= 1 {
			break
		}
		if v[big] >= 0 {
			v[big] = math.Nextafter32(v[big], 2)
		} else {
			v[big] = math.Nextafter32(v[big], -2)
		}
	}
	return v
}

// quatern computes the qform quaternion, qfac and voxel sizes of an affine
// (nifti1_io's nifti_mat44_to_quatern for an orthogonal matrix).
func quatern(a [4][4]float64) qform {
	var r [3][3]float64
	var q qform
	for c := 0; c < 3; c++ {
		l := math.Sqrt(a[0][c]*a[0][c] + a[1][c]*a[1][c] + a[2][c]*a[2][c])
		if l == 0 {
			q.pixdim[c] = 1
			r[c][c] = 1
			continue
		}
		q.pixdim[c] = l
		for i := 0; i < 3; i++ {
			r[i][c] = a[i][c] / l
		}
	}
	det := r[0][0]*(r[1][1]*r[2][2]-r[1][2]*r[2][1]) - r[0][1]*(r[1][0]*r[2][2]-r[1][2]*r[2][0]) + r[0][2]*(r[1][0]*r[2][1]-r[1][1]*r[2][0])
	q.qfac = 1
	if det < 0 {
		q.qfac = -1
		for i := 0; i < 3; i++ {
			r[i][2] = -r[i][2]
		}
	}
	r11, r12, r13 := r[0][0], r[0][1], r[0][2]
	r21, r22, r23 := r[1][0], r[1][1], r[1][2]
	r31, r32, r33 := r[2][0], r[2][1], r[2][2]
	var qa, qb, qc, qd float64
	s := r11 + r22 + r33 + 1
	if s > 0.5 {
		qa = 0.5 * math.Sqrt(s)
		qb = 0.25 * (r32 - r23) / qa
		qc = 0.25 * (r13 - r31) / qa
		qd = 0.25 * (r21 - r12) / qa
	} else {
		xd := 1 + r11 - (r22 + r33)
		yd := 1 + r22 - (r11 + r33)
		zd := 1 + r33 - (r11 + r22)
		switch {
		case xd > 1:
			qb = 0.5 * math.Sqrt(xd)
			qc = 0.25 * (r12 + r21) / qb
			qd = 0.25 * (r13 + r31) / qb
			qa = 0.25 * (r32 - r23) / qb
		case yd > 1:
			qc = 0.5 * math.Sqrt(yd)
			qb = 0.25 * (r12 + r21) / qc
			qd = 0.25 * (r23 + r32) / qc
			qa = 0.25 * (r13 - r31) / qc
		default:
			qd = 0.5 * math.Sqrt(zd)
			qb = 0.25 * (r13 + r31) / qd
			qc = 0.25 * (r23 + r32) / qd
			qa = 0.25 * (r21 - r12) / qd
		}
		if qa < 0 {
			qb, qc, qd = -qb, -qc, -qd
		}
	}
	q.a, q.b, q.c, q.d = qa, qb, qc, qd
	return q
}

// QformAffine rebuilds the affine a qform describes (for checks and for files
// with only a qform).
func QformAffine(b, c, d, qfac float64, pixdim [3]float64, off [3]float64) [4][4]float64 {
	a := math.Sqrt(math.Max(0, 1-(b*b+c*c+d*d)))
	if qfac == 0 {
		qfac = 1
	}
	r := [3][3]float64{
		{a*a + b*b - c*c - d*d, 2 * (b*c - a*d), 2 * (b*d + a*c)},
		{2 * (b*c + a*d), a*a + c*c - b*b - d*d, 2 * (c*d - a*b)},
		{2 * (b*d - a*c), 2 * (c*d + a*b), a*a + d*d - c*c - b*b},
	}
	var m [4][4]float64
	for i := 0; i < 3; i++ {
		m[i][0] = r[i][0] * pixdim[0]
		m[i][1] = r[i][1] * pixdim[1]
		m[i][2] = r[i][2] * pixdim[2] * qfac
		m[i][3] = off[i]
	}
	m[3][3] = 1
	return m
}

// ErrNotNIfTI is returned for data that is not a NIfTI-1 file.
var ErrNotNIfTI = errors.New("not a NIfTI-1 file")

// maxVoxels bounds what a header may make the reader allocate.
const maxVoxels = 1 << 31

// ReadHeader reads a NIfTI-1 header (from .nii or .nii.gz bytes): dimensions,
// datatype, scaling and the affine (sform when set, else qform, else pixdim).
func ReadHeader(r io.Reader) (*Image, io.Reader, error) {
	br := bufio.NewReader(r)
	if m, err := br.Peek(2); err == nil && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := kgzip.NewReader(br) // about twice as fast as compress/gzip
		if err != nil {
			return nil, nil, err
		}
		br = bufio.NewReader(zr)
	}
	var h [headerSize]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, nil, ErrNotNIfTI
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if bo.Uint32(h[0:]) != headerSize {
		bo = binary.BigEndian
		if bo.Uint32(h[0:]) != headerSize {
			return nil, nil, ErrNotNIfTI
		}
	}
	if string(h[344:347]) != "n+1" {
		return nil, nil, fmt.Errorf("%w (magic %q; only single-file .nii is read)", ErrNotNIfTI, h[344:348])
	}
	f32 := func(off int) float64 { return float64(math.Float32frombits(bo.Uint32(h[off:]))) }
	im := &Image{}
	ndim := int(int16(bo.Uint16(h[40:])))
	if ndim < 1 || ndim > 7 {
		return nil, nil, fmt.Errorf("nifti: dim[0] = %d", ndim)
	}
	for i := 0; i < 3; i++ {
		im.Dims[i] = 1
		if i < ndim {
			im.Dims[i] = int(int16(bo.Uint16(h[42+2*i:])))
		}
		if im.Dims[i] < 1 {
			return nil, nil, fmt.Errorf("nifti: dimension %d is %d", i+1, im.Dims[i])
		}
	}
	for i := 3; i < ndim; i++ {
		if d := int(int16(bo.Uint16(h[42+2*i:]))); d > 1 {
			return nil, nil, fmt.Errorf("nifti: %d-dimensional images are not supported (dim %d is %d)", ndim, i+1, d)
		}
	}
	im.Datatype = int(int16(bo.Uint16(h[70:])))
	im.Qfac = f32(76)
	for i := 0; i < 3; i++ {
		im.Pixdim[i] = f32(80 + 4*i)
	}
	im.Slope, im.Inter = f32(112), f32(116)
	im.QformCode, im.SformCode = int(int16(bo.Uint16(h[252:]))), int(int16(bo.Uint16(h[254:])))
	switch {
	case im.SformCode > 0:
		for r := 0; r < 3; r++ {
			for c := 0; c < 4; c++ {
				im.Affine[r][c] = f32(280 + 16*r + 4*c)
			}
		}
		im.Affine[3][3] = 1
	case im.QformCode > 0:
		im.Affine = QformAffine(f32(256), f32(260), f32(264), im.Qfac, im.Pixdim, [3]float64{f32(268), f32(272), f32(276)})
	default:
		im.Affine = [4][4]float64{{im.Pixdim[0], 0, 0, 0}, {0, im.Pixdim[1], 0, 0}, {0, 0, im.Pixdim[2], 0}, {0, 0, 0, 1}}
	}
	im.Description = strings.TrimRight(string(bytes.TrimRight(h[148:228], "\x00")), " ")
	vox := f32(108)
	if vox < headerSize || vox > 1<<24 {
		return nil, nil, fmt.Errorf("nifti: vox_offset %v", vox)
	}
	if _, err := br.Discard(int(vox) - headerSize); err != nil {
		return nil, nil, fmt.Errorf("nifti: truncated: %w", err)
	}
	if bo == binary.BigEndian {
		return im, &swapReader{r: br, n: BytesPer(im.Datatype)}, nil
	}
	return im, br, nil
}

type swapReader struct {
	r io.Reader
	n int
}

func (s *swapReader) Read(p []byte) (int, error) {
	if s.n <= 1 {
		return s.r.Read(p)
	}
	p = p[:len(p)/s.n*s.n]
	n, err := io.ReadFull(s.r, p)
	for i := 0; i+s.n <= n; i += s.n {
		for a, b := i, i+s.n-1; a < b; a, b = a+1, b-1 {
			p[a], p[b] = p[b], p[a]
		}
	}
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// ReadFile reads a whole .nii or .nii.gz file, voxels little endian.
func ReadFile(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	im, r, err := ReadHeader(f)
	if err != nil {
		return nil, err
	}
	bp := BytesPer(im.Datatype)
	if bp == 0 {
		return nil, fmt.Errorf("nifti: datatype %d is not supported", im.Datatype)
	}
	n := int64(im.Dims[0]) * int64(im.Dims[1]) * int64(im.Dims[2])
	if n > maxVoxels {
		return nil, fmt.Errorf("nifti: %v voxels is too large", im.Dims)
	}
	im.Data = make([]byte, n*int64(bp))
	if _, err := io.ReadFull(r, im.Data); err != nil {
		return nil, fmt.Errorf("nifti: truncated voxel data: %w", err)
	}
	return im, nil
}
