package ndarray

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"math"
)

// ReadNIfTI reads the voxels of a NIfTI-1 file (.nii, or .nii.gz when the
// bytes are gzip) as an array in [z, y, x] order (NIfTI's x varies fastest on
// disk, the order SimpleITK and so the modelhub engine use for arrays), in
// voxel order: the affine is not applied. A 4-D file gives its first volume.
// scl_slope and scl_inter are not applied (a preview windows the values).
// The data read is bounded by lim whatever the header or the gzip stream
// claim.
func ReadNIfTI(r io.Reader, lim Limits) (*Array, error) {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(2); bytes.Equal(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, malformed("nifti: %v", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	hdr := make([]byte, 348)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, malformed("nifti: a header of fewer than 348 bytes")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint32(hdr) == 348:
	case binary.BigEndian.Uint32(hdr) == 348:
		bo = binary.BigEndian
	default:
		return nil, ErrNotArray
	}
	if m := string(hdr[344:347]); m != "n+1" && m != "ni1" {
		return nil, unsupported("nifti: magic %q (NIfTI-1 single files are read)", m)
	}
	if string(hdr[344:347]) == "ni1" {
		return nil, unsupported("nifti: a .hdr/.img pair (give the single-file .nii)")
	}
	rank := int(int16(bo.Uint16(hdr[40:])))
	if rank < 1 || rank > 7 {
		return nil, malformed("nifti: %d dimensions", rank)
	}
	dims := make([]int, rank)
	for i := range dims {
		d := int(int16(bo.Uint16(hdr[42+2*i:])))
		if d < 1 {
			return nil, malformed("nifti: dimension %d is %d", i+1, d)
		}
		dims[i] = d
	}
	if rank > 3 { // the first volume
		dims = dims[:3]
	}
	dt, err := niftiType(int(int16(bo.Uint16(hdr[70:]))))
	if err != nil {
		return nil, err
	}
	off := math.Float32frombits(bo.Uint32(hdr[108:]))
	if off < 348 || off > 1<<20 || off != float32(int(off)) {
		return nil, malformed("nifti: vox_offset %v", off)
	}
	shape := make([]int, len(dims)) // [z, y, x]
	for i, d := range dims {
		shape[len(dims)-1-i] = d
	}
	n, err := dataSize(shape, dt.Size, lim.maxBytes())
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, br, int64(off)-348); err != nil {
		return nil, malformed("nifti: cut before its data")
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(br, data); err != nil {
		return nil, malformed("nifti: the data is cut short (%d bytes for shape %v of %s)", n, shape, dt)
	}
	if bo == binary.BigEndian {
		swap(data, dt.Size)
	}
	return &Array{Type: dt, Shape: shape, Data: data}, nil
}

func niftiType(code int) (DType, error) {
	switch code {
	case 2:
		return DType{Uint, 1}, nil
	case 4:
		return DType{Int, 2}, nil
	case 8:
		return DType{Int, 4}, nil
	case 16:
		return DType{Float, 4}, nil
	case 64:
		return DType{Float, 8}, nil
	case 256:
		return DType{Int, 1}, nil
	case 512:
		return DType{Uint, 2}, nil
	case 768:
		return DType{Uint, 4}, nil
	case 1024:
		return DType{Int, 8}, nil
	case 1280:
		return DType{Uint, 8}, nil
	}
	return DType{}, unsupported("nifti datatype %d (integers and floats are read)", code)
}

// IsNIfTI reports whether the first bytes are a NIfTI-1 header (uncompressed).
func IsNIfTI(head []byte) bool {
	if len(head) < 4 {
		return false
	}
	return binary.LittleEndian.Uint32(head) == 348 || binary.BigEndian.Uint32(head) == 348
}
