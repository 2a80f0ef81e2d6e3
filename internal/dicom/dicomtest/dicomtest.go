// Package dicomtest writes small DICOM files for tests and benchmarks: native
// (explicit/implicit little endian, big endian, deflated) and JPEG Lossless
// (its own process 14 encoder), with planted patient data to prove it never leaks.
package dicomtest

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Transfer syntaxes the writer produces.
const (
	ImplicitLE = "1.2.840.10008.1.2"
	ExplicitLE = "1.2.840.10008.1.2.1"
	Deflated   = "1.2.840.10008.1.2.1.99"
	ExplicitBE = "1.2.840.10008.1.2.2"
	JPEGLL14   = "1.2.840.10008.1.2.4.57"
	JPEGLLSV1  = "1.2.840.10008.1.2.4.70"
	JPEGLS     = "1.2.840.10008.1.2.4.80"
)

// Planted patient data: every test that writes with it checks it appears nowhere.
const (
	PatientName      = "SECRET^PLANTED^NAME"
	PatientID        = "PID-PLANTED-90210"
	PatientBirthDate = "19010203"
)

// Planted are the pieces of the planted patient data a test looks for in
// an output (conformance/dicom/testdata/make_series.py plants the same).
var Planted = []string{"SECRET", "PLANTED", "90210", PatientBirthDate}

// chanceDigits are numbers a planted value such as 90210 can occur in by
// chance: the random part of a temporary folder's name (t.TempDir,
// os.MkdirTemp: digits ending a path element) and long random numbers (UIDs
// under 2.25). A planted value standing on its own is not masked.
var chanceDigits = regexp.MustCompile(`[0-9]{9,}|[0-9]+/`)

// HasPlanted reports whether text holds v outside the numbers it could be
// part of by chance.
func HasPlanted(text, v string) bool {
	return strings.Contains(chanceDigits.ReplaceAllString(text, "#"), v)
}

// Image describes one file.
type Image struct {
	TransferSyntax            string // default ExplicitLE
	StudyUID, SeriesUID       string
	SOPInstanceUID            string // default derived from SeriesUID and Instance
	Modality                  string // default CT
	Description               string
	SeriesNumber, Instance    int
	Position                  [3]float64
	Orientation               [6]float64
	NoGeometry                bool
	NoPosition                bool // ImageOrientationPatient without ImagePositionPatient
	Rows, Columns             int
	PixelSpacing              [2]float64 // default 1,1
	SliceThickness            float64
	RescaleSlope              float64 // 0: no rescale written
	RescaleIntercept          float64
	WindowCenter, WindowWidth float64 // width 0: none written
	Signed                    bool
	Bits                      int    // 8 or 16 (default 16)
	Frames                    int    // NumberOfFrames written when > 1
	Pixels                    []int  // Rows*Columns*Frames values
	Predictor                 int    // JPEG Lossless predictor (default 1; SV1 forces 1)
	Restart                   bool   // JPEG Lossless: a restart marker every line
	NoPatient                 bool   // leave out the planted patient data
	FrameOfReferenceUID       string // default StudyUID + ".0" (none with NoGeometry)
	Preamble                  *bool  // default true
	SOPClassUID               string // default CT Image Storage
}

type enc struct {
	buf      bytes.Buffer
	bo       binary.ByteOrder
	explicit bool
}

func (e *enc) tag(g, el uint16) {
	var b [4]byte
	e.bo.PutUint16(b[0:], g)
	e.bo.PutUint16(b[2:], el)
	e.buf.Write(b[:])
}

func (e *enc) elem(g, el uint16, vr string, v []byte) {
	if len(v)%2 == 1 {
		pad := byte(' ')
		if vr == "UI" || vr == "OB" {
			pad = 0
		}
		v = append(v, pad)
	}
	e.tag(g, el)
	var b [4]byte
	if e.explicit {
		e.buf.WriteString(vr)
		switch vr {
		case "OB", "OW", "SQ", "UN", "UT":
			e.buf.Write([]byte{0, 0})
			e.bo.PutUint32(b[:], uint32(len(v)))
			e.buf.Write(b[:])
		default:
			e.bo.PutUint16(b[:2], uint16(len(v)))
			e.buf.Write(b[:2])
		}
	} else {
		e.bo.PutUint32(b[:], uint32(len(v)))
		e.buf.Write(b[:])
	}
	e.buf.Write(v)
}

func (e *enc) str(g, el uint16, vr, s string) { e.elem(g, el, vr, []byte(s)) }
func (e *enc) us(g, el uint16, v int) {
	var b [2]byte
	e.bo.PutUint16(b[:], uint16(v))
	e.elem(g, el, "US", b[:])
}

func ds(v ...float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'g', 10, 64)
	}
	return strings.Join(parts, `\`)
}

// Encode returns the DICOM Part 10 bytes of an image.
func Encode(im Image) ([]byte, error) {
	im, err := withDefaults(im)
	if err != nil {
		return nil, err
	}
	ts := im.TransferSyntax
	var out bytes.Buffer
	writeFileMeta(&out, im)
	d := &enc{bo: binary.LittleEndian, explicit: ts != ImplicitLE}
	if ts == ExplicitBE {
		d.bo = binary.BigEndian
	}
	d.imageHeader(im)
	switch ts {
	case JPEGLL14, JPEGLLSV1:
		d.encapsulatedPixels(im)
	default:
		d.nativePixels(im)
	}
	if ts == Deflated {
		fw, _ := flate.NewWriter(&out, flate.DefaultCompression)
		fw.Write(d.buf.Bytes())
		fw.Close()
	} else {
		out.Write(d.buf.Bytes())
	}
	return out.Bytes(), nil
}

// withDefaults fills in im's unset transfer syntax (explicit VR little endian),
// bits (16), modality (CT), pixel spacing (1x1), SOP instance and class UIDs,
// and checks that it holds Rows x Columns x Frames pixels.
func withDefaults(im Image) (Image, error) {
	if im.TransferSyntax == "" {
		im.TransferSyntax = ExplicitLE
	}
	if im.Bits == 0 {
		im.Bits = 16
	}
	if im.Modality == "" {
		im.Modality = "CT"
	}
	if im.PixelSpacing == [2]float64{} {
		im.PixelSpacing = [2]float64{1, 1}
	}
	frames := im.Frames
	if frames < 1 {
		frames = 1
	}
	if len(im.Pixels) != im.Rows*im.Columns*frames {
		return im, fmt.Errorf("%d pixels for %dx%dx%d", len(im.Pixels), im.Columns, im.Rows, frames)
	}
	if im.SOPInstanceUID == "" {
		im.SOPInstanceUID = fmt.Sprintf("%s.%d", im.SeriesUID, im.Instance+1)
	}
	if im.SOPClassUID == "" {
		im.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
	}
	return im, nil
}

// writeFileMeta writes the preamble (unless im.Preamble is false) and the file
// meta group, always explicit VR little endian, to out.
func writeFileMeta(out *bytes.Buffer, im Image) {
	meta := &enc{bo: binary.LittleEndian, explicit: true}
	meta.elem(0x0002, 0x0001, "OB", []byte{0, 1})
	meta.str(0x0002, 0x0002, "UI", im.SOPClassUID)
	meta.str(0x0002, 0x0003, "UI", im.SOPInstanceUID)
	meta.str(0x0002, 0x0010, "UI", im.TransferSyntax)
	meta.str(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.10.1")
	if im.Preamble == nil || *im.Preamble {
		out.Write(make([]byte, 128))
		out.WriteString("DICM")
	}
	g := &enc{bo: binary.LittleEndian, explicit: true}
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], uint32(meta.buf.Len()))
	g.elem(0x0002, 0x0000, "UL", l[:])
	out.Write(g.buf.Bytes())
	out.Write(meta.buf.Bytes())
}

// imageHeader writes the data set's elements before the pixel data: SOP,
// series, patient (unless im.NoPatient), geometry (unless im.NoGeometry), image
// pixel description, window and rescale.
func (d *enc) imageHeader(im Image) {
	d.str(0x0008, 0x0016, "UI", im.SOPClassUID)
	d.str(0x0008, 0x0018, "UI", im.SOPInstanceUID)
	d.str(0x0008, 0x0060, "CS", im.Modality)
	if im.Description != "" {
		d.str(0x0008, 0x103E, "LO", im.Description)
	}
	if !im.NoPatient {
		d.str(0x0010, 0x0010, "PN", PatientName)
		d.str(0x0010, 0x0020, "LO", PatientID)
		d.str(0x0010, 0x0030, "DA", PatientBirthDate)
	}
	if im.SliceThickness > 0 {
		d.str(0x0018, 0x0050, "DS", ds(im.SliceThickness))
	}
	d.str(0x0020, 0x000D, "UI", im.StudyUID)
	d.str(0x0020, 0x000E, "UI", im.SeriesUID)
	d.str(0x0020, 0x0011, "IS", strconv.Itoa(im.SeriesNumber))
	d.str(0x0020, 0x0013, "IS", strconv.Itoa(im.Instance))
	if !im.NoGeometry {
		if !im.NoPosition {
			d.str(0x0020, 0x0032, "DS", ds(im.Position[:]...))
		}
		d.str(0x0020, 0x0037, "DS", ds(im.Orientation[:]...))
		if im.FrameOfReferenceUID == "" {
			im.FrameOfReferenceUID = im.StudyUID + ".0"
		}
		d.str(0x0020, 0x0052, "UI", im.FrameOfReferenceUID)
	}
	d.us(0x0028, 0x0002, 1)
	d.str(0x0028, 0x0004, "CS", "MONOCHROME2")
	if im.Frames > 1 {
		d.str(0x0028, 0x0008, "IS", strconv.Itoa(im.Frames))
	}
	d.us(0x0028, 0x0010, im.Rows)
	d.us(0x0028, 0x0011, im.Columns)
	d.str(0x0028, 0x0030, "DS", ds(im.PixelSpacing[:]...))
	d.us(0x0028, 0x0100, im.Bits)
	d.us(0x0028, 0x0101, im.Bits)
	d.us(0x0028, 0x0102, im.Bits-1)
	rep := 0
	if im.Signed {
		rep = 1
	}
	d.us(0x0028, 0x0103, rep)
	if im.WindowWidth > 0 {
		d.str(0x0028, 0x1050, "DS", ds(im.WindowCenter))
		d.str(0x0028, 0x1051, "DS", ds(im.WindowWidth))
	}
	if im.RescaleSlope != 0 {
		d.str(0x0028, 0x1052, "DS", ds(im.RescaleIntercept))
		d.str(0x0028, 0x1053, "DS", ds(im.RescaleSlope))
	}
}

// encapsulatedPixels writes im's pixels as JPEG Lossless (predictor 1 for
// JPEGLLSV1, else im.Predictor or 1) in encapsulated pixel data: an empty
// offset table and two fragments, to test that they are joined.
func (d *enc) encapsulatedPixels(im Image) {
	mask := 1<<im.Bits - 1
	pred := im.Predictor
	if pred == 0 || im.TransferSyntax == JPEGLLSV1 {
		pred = 1
	}
	s := make([]uint16, len(im.Pixels))
	for i, p := range im.Pixels {
		s[i] = uint16(p & mask)
	}
	jpg := EncodeLossless(s, im.Columns, im.Rows, im.Bits, pred, im.Restart)
	d.tag(0x7FE0, 0x0010)
	d.buf.WriteString("OB\x00\x00")
	d.buf.Write([]byte{0xFF, 0xFF, 0xFF, 0xFF})
	var l [4]byte
	item := func(b []byte) {
		d.tag(0xFFFE, 0xE000)
		binary.LittleEndian.PutUint32(l[:], uint32(len(b)))
		d.buf.Write(l[:])
		d.buf.Write(b)
	}
	item(nil)
	if len(jpg)%2 == 1 {
		jpg = append(jpg, 0)
	}
	half := len(jpg) / 2 &^ 1
	item(jpg[:half])
	item(jpg[half:])
	d.tag(0xFFFE, 0xE0DD)
	d.buf.Write([]byte{0, 0, 0, 0})
}

// nativePixels writes im's pixels uncompressed: OB bytes at 8 bits, else OW
// words in the data set's byte order.
func (d *enc) nativePixels(im Image) {
	mask := 1<<im.Bits - 1
	var px []byte
	if im.Bits == 8 {
		px = make([]byte, len(im.Pixels))
		for i, p := range im.Pixels {
			px[i] = byte(p)
		}
	} else {
		px = make([]byte, 2*len(im.Pixels))
		for i, p := range im.Pixels {
			d.bo.PutUint16(px[2*i:], uint16(p&mask))
		}
	}
	vr := "OW"
	if im.Bits == 8 {
		vr = "OB"
	}
	d.elem(0x7FE0, 0x0010, vr, px)
}

// WriteFile encodes an image into path (creating its folder).
func WriteFile(path string, im Image) error {
	b, err := Encode(im)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Series describes a stack of slices to write.
type Series struct {
	TransferSyntax      string
	StudyUID, SeriesUID string
	Modality            string
	Description         string
	SeriesNumber        int
	Rows, Columns       int
	Slices              int
	Origin              [3]float64
	Orientation         [6]float64 // default axial 1,0,0,0,1,0
	PixelSpacing        [2]float64
	SliceSpacing        float64 // default 1
	RescaleSlope        float64
	RescaleIntercept    float64
	WindowCenter        float64
	WindowWidth         float64
	Signed              bool
	// Value gives the stored value of voxel (i, j, k); default a gradient.
	Value func(i, j, k int) int
}

// Normal is the slice normal of an orientation (row x column).
func Normal(o [6]float64) [3]float64 {
	return [3]float64{o[1]*o[5] - o[2]*o[4], o[2]*o[3] - o[0]*o[5], o[0]*o[4] - o[1]*o[3]}
}

// Images returns the slices of a series, in slice order.
func (s Series) Images() []Image {
	if s.Orientation == [6]float64{} {
		s.Orientation = [6]float64{1, 0, 0, 0, 1, 0}
	}
	if s.SliceSpacing == 0 {
		s.SliceSpacing = 1
	}
	if s.Value == nil {
		s.Value = func(i, j, k int) int { return (i + 2*j + 7*k) % 1000 }
	}
	n := Normal(s.Orientation)
	out := make([]Image, s.Slices)
	for k := range out {
		px := make([]int, s.Rows*s.Columns)
		for j := 0; j < s.Rows; j++ {
			for i := 0; i < s.Columns; i++ {
				px[j*s.Columns+i] = s.Value(i, j, k)
			}
		}
		z := float64(k) * s.SliceSpacing
		out[k] = Image{
			TransferSyntax: s.TransferSyntax, StudyUID: s.StudyUID, SeriesUID: s.SeriesUID,
			Modality: s.Modality, Description: s.Description, SeriesNumber: s.SeriesNumber, Instance: k + 1,
			Position:    [3]float64{s.Origin[0] + z*n[0], s.Origin[1] + z*n[1], s.Origin[2] + z*n[2]},
			Orientation: s.Orientation, Rows: s.Rows, Columns: s.Columns, PixelSpacing: s.PixelSpacing,
			SliceThickness: s.SliceSpacing, RescaleSlope: s.RescaleSlope, RescaleIntercept: s.RescaleIntercept,
			WindowCenter: s.WindowCenter, WindowWidth: s.WindowWidth, Signed: s.Signed, Pixels: px,
		}
	}
	return out
}

// WriteSeries writes the series' slices as dir/name000.dcm ... and returns the paths.
func (s Series) Write(dir, prefix string) ([]string, error) {
	var paths []string
	for k, im := range s.Images() {
		p := filepath.Join(dir, fmt.Sprintf("%s%04d.dcm", prefix, k))
		if err := WriteFile(p, im); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// EncodeLossless encodes samples (raster order, one component) as a JPEG
// Lossless process 14 image with the given predictor, point transform 0.
func EncodeLossless(s []uint16, w, h, precision, pred int, restart bool) []byte {
	var out bytes.Buffer
	out.Write([]byte{0xFF, 0xD8})
	// SOF3
	out.Write([]byte{0xFF, 0xC3, 0, 11, byte(precision), byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})
	// DHT: 14 codes of 4 bits (categories 0-13), 3 of 5 bits (14-16)
	dht := []byte{0xFF, 0xC4, 0, 2 + 17 + 17, 0x00, 0, 0, 0, 14, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for c := 0; c <= 16; c++ {
		dht = append(dht, byte(c))
	}
	out.Write(dht)
	var codes [17]uint32
	var lens [17]uint
	for c := 0; c < 14; c++ {
		codes[c], lens[c] = uint32(c), 4
	}
	for c := 14; c <= 16; c++ {
		codes[c], lens[c] = uint32(14<<1+(c-14)), 5
	}
	if restart {
		out.Write([]byte{0xFF, 0xDD, 0, 4, byte(w >> 8), byte(w)})
	}
	out.Write([]byte{0xFF, 0xDA, 0, 8, 1, 1, 0x00, byte(pred), 0, 0})
	bw := &bitWriter{out: &out}
	initial := 1 << (precision - 1)
	first := true
	for y := 0; y < h; y++ {
		if restart && y > 0 {
			bw.flush()
			out.Write([]byte{0xFF, byte(0xD0 + (y-1)%8)})
			first = true
		}
		for x := 0; x < w; x++ {
			i := y*w + x
			var p int
			switch {
			case first && x == 0:
				p = initial
			case first:
				p = int(s[i-1])
			case x == 0:
				p = int(s[i-w])
			default:
				ra, rb, rc := int(s[i-1]), int(s[i-w]), int(s[i-w-1])
				p = [8]int{0, ra, rb, rc, ra + rb - rc, ra + ((rb - rc) >> 1), rb + ((ra - rc) >> 1), (ra + rb) >> 1}[pred]
			}
			d := (int(s[i]) - p) & 0xFFFF
			if d >= 32768 {
				d -= 65536
			}
			if d == -32768 {
				bw.put(codes[16], lens[16])
				continue
			}
			a := d
			if a < 0 {
				a = -a
			}
			cat := 0
			for a > 0 {
				cat++
				a >>= 1
			}
			bw.put(codes[cat], lens[cat])
			if cat > 0 {
				v := d
				if d < 0 {
					v = d + (1 << cat) - 1
				}
				bw.put(uint32(v)&(1<<cat-1), uint(cat))
			}
		}
		first = false
	}
	bw.flush()
	out.Write([]byte{0xFF, 0xD9})
	return out.Bytes()
}

type bitWriter struct {
	out   io.ByteWriter
	acc   uint64
	nbits uint
}

func (b *bitWriter) put(v uint32, n uint) {
	b.acc = b.acc<<n | uint64(v)
	b.nbits += n
	for b.nbits >= 8 {
		c := byte(b.acc >> (b.nbits - 8))
		b.out.WriteByte(c)
		if c == 0xFF {
			b.out.WriteByte(0)
		}
		b.nbits -= 8
	}
}

func (b *bitWriter) flush() {
	if b.nbits > 0 {
		b.put(1<<(8-b.nbits)-1, 8-b.nbits)
	}
	b.acc, b.nbits = 0, 0
}
