// Package dicom reads DICOM Part 10 files: the header fields modelhub needs to group,
// order and convert images (never patient data: the Header type has no field for it),
// and pixel data in native and JPEG Lossless transfer syntaxes. It never prints.
package dicom

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/filetype"
)

// Transfer syntax UIDs modelhub knows by name.
const (
	ImplicitVRLittleEndian = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian = "1.2.840.10008.1.2.1"
	DeflatedExplicitVRLE   = "1.2.840.10008.1.2.1.99"
	ExplicitVRBigEndian    = "1.2.840.10008.1.2.2"
	JPEGLosslessP14        = "1.2.840.10008.1.2.4.57"
	JPEGLosslessSV1        = "1.2.840.10008.1.2.4.70"

	mediaStorageDirectory = "1.2.840.10008.1.3.10" // DICOMDIR
)

// ErrNotDICOM is returned for a file that is not a DICOM Part 10 file (nor a bare
// dataset that starts like one).
var ErrNotDICOM = errors.New("not a DICOM file")

// ErrDICOMDIR is returned for a DICOMDIR (a media directory, not an image).
var ErrDICOMDIR = errors.New("a DICOMDIR, not an image")

// Header holds the header fields modelhub uses. It deliberately has no field for
// any patient attribute: what is not read cannot leak.
type Header struct {
	TransferSyntax    string
	SOPClassUID       string
	SOPInstanceUID    string
	StudyInstanceUID  string
	SeriesInstanceUID string
	Modality          string
	SeriesDescription string
	SeriesNumber      string
	InstanceNumber    int

	// Geometry (LPS, millimetres); HasPosition/HasOrientation say whether present.
	ImagePositionPatient    [3]float64
	ImageOrientationPatient [6]float64
	HasPosition             bool
	HasOrientation          bool
	PixelSpacing            [2]float64 // row spacing (between rows), column spacing
	HasPixelSpacing         bool
	SliceThickness          float64

	Rows, Columns             int
	SamplesPerPixel           int
	Photometric               string
	PlanarConfiguration       int
	NumberOfFrames            int
	BitsAllocated, BitsStored int
	HighBit                   int
	PixelRepresentation       int // 0 unsigned, 1 signed

	RescaleSlope, RescaleIntercept float64
	HasRescale                     bool
	WindowCenter, WindowWidth      float64
	HasWindow                      bool

	// Where the pixel data starts, in the (inflated) dataset stream, and its length
	// (-1 for encapsulated pixel data of undefined length). Zero PixelDataLength
	// and HasPixelData false mean the file has no pixel data.
	HasPixelData    bool
	PixelDataLength int64
}

// FrameBytes is the size of one native frame.
func (h *Header) FrameBytes() int64 {
	return int64(h.Rows) * int64(h.Columns) * int64(h.SamplesPerPixel) * int64(h.BitsAllocated/8)
}

// Compressed reports whether the transfer syntax encapsulates its pixel data.
func (h *Header) Compressed() bool {
	switch h.TransferSyntax {
	case ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLE, ExplicitVRBigEndian:
		return false
	}
	return true
}

type tag uint32

func mk(g, e uint16) tag { return tag(uint32(g)<<16 | uint32(e)) }

var (
	tagTransferSyntax    = mk(0x0002, 0x0010)
	tagMediaSOPClass     = mk(0x0002, 0x0002)
	tagSOPClassUID       = mk(0x0008, 0x0016)
	tagSOPInstanceUID    = mk(0x0008, 0x0018)
	tagModality          = mk(0x0008, 0x0060)
	tagSeriesDescription = mk(0x0008, 0x103E)
	tagSliceThickness    = mk(0x0018, 0x0050)
	tagStudyUID          = mk(0x0020, 0x000D)
	tagSeriesUID         = mk(0x0020, 0x000E)
	tagSeriesNumber      = mk(0x0020, 0x0011)
	tagInstanceNumber    = mk(0x0020, 0x0013)
	tagIPP               = mk(0x0020, 0x0032)
	tagIOP               = mk(0x0020, 0x0037)
	tagSamplesPerPixel   = mk(0x0028, 0x0002)
	tagPhotometric       = mk(0x0028, 0x0004)
	tagPlanarConfig      = mk(0x0028, 0x0006)
	tagNumberOfFrames    = mk(0x0028, 0x0008)
	tagRows              = mk(0x0028, 0x0010)
	tagColumns           = mk(0x0028, 0x0011)
	tagPixelSpacing      = mk(0x0028, 0x0030)
	tagBitsAllocated     = mk(0x0028, 0x0100)
	tagBitsStored        = mk(0x0028, 0x0101)
	tagHighBit           = mk(0x0028, 0x0102)
	tagPixelRep          = mk(0x0028, 0x0103)
	tagWindowCenter      = mk(0x0028, 0x1050)
	tagWindowWidth       = mk(0x0028, 0x1051)
	tagRescaleIntercept  = mk(0x0028, 0x1052)
	tagRescaleSlope      = mk(0x0028, 0x1053)
	tagPixelData         = mk(0x7FE0, 0x0010)
	tagItem              = mk(0xFFFE, 0xE000)
	tagItemDelim         = mk(0xFFFE, 0xE00D)
	tagSeqDelim          = mk(0xFFFE, 0xE0DD)
)

const undefinedLength = 0xFFFFFFFF

// maxValue bounds any header value modelhub keeps in memory (a hostile file cannot
// make it allocate more); longer values of tags it needs are an error, others are
// skipped without being read into memory.
const maxValue = 1 << 16

// Reader reads one DICOM file's dataset: Header first, then (optionally) the
// pixel data through the same stream.
type Reader struct {
	r        *bufio.Reader
	bo       binary.ByteOrder
	explicit bool
	h        Header
	pos      int64 // bytes consumed from the dataset stream
	skipBuf  []byte
	// raw, when set, receives the top-level string values of these tags
	// (ReadStrings); nil for every other reader.
	raw map[uint32]string
	got map[uint32][]byte
}

// ReadHeader reads the header of a DICOM file from r and stops at the start of
// the pixel data (or the end of the dataset). The returned Reader can then read
// the pixel data. r should be buffered by the caller only if it wants to count
// bytes itself: ReadHeader wraps it in a small bufio.Reader.
func ReadHeader(r io.Reader) (*Reader, error) { return readHeader(r, nil) }

func readHeader(r io.Reader, raw map[uint32]string) (*Reader, error) {
	br := bufio.NewReaderSize(r, 4096)
	rd := &Reader{r: br, bo: binary.LittleEndian, explicit: true, raw: raw, got: map[uint32][]byte{}}
	rd.h.SamplesPerPixel = 1
	rd.h.NumberOfFrames = 1
	rd.h.RescaleSlope = 1
	pre, err := br.Peek(132)
	if err == nil && filetype.IsDICOM(pre) {
		if _, err := br.Discard(132); err != nil {
			return nil, err
		}
		if err := rd.readMeta(); err != nil {
			return nil, err
		}
	} else {
		// A bare dataset (no preamble): accept it only if it starts with a plausible
		// group 0002/0008 element, and guess implicit or explicit VR from its bytes.
		head, _ := br.Peek(8)
		if len(head) < 8 {
			return nil, ErrNotDICOM
		}
		g := binary.LittleEndian.Uint16(head[0:2])
		if g != 0x0002 && g != 0x0008 {
			return nil, ErrNotDICOM
		}
		if isVR(head[4], head[5]) {
			rd.h.TransferSyntax = ExplicitVRLittleEndian
		} else {
			rd.h.TransferSyntax = ImplicitVRLittleEndian
			rd.explicit = false
		}
		if g == 0x0002 {
			if err := rd.readMeta(); err != nil {
				return nil, err
			}
		}
	}
	if rd.h.SOPClassUID == mediaStorageDirectory {
		return nil, ErrDICOMDIR
	}
	switch rd.h.TransferSyntax {
	case ImplicitVRLittleEndian:
		rd.explicit = false
	case ExplicitVRBigEndian:
		rd.bo = binary.BigEndian
	case DeflatedExplicitVRLE:
		rd.r = bufio.NewReaderSize(flate.NewReader(br), 65536)
	case "":
		return nil, fmt.Errorf("%w: no transfer syntax", ErrNotDICOM)
	}
	if err := rd.readDataset(); err != nil {
		return nil, err
	}
	if rd.h.SOPClassUID == mediaStorageDirectory {
		return nil, ErrDICOMDIR
	}
	return rd, nil
}

// Header returns the header read by ReadHeader.
func (rd *Reader) Header() *Header { return &rd.h }

func isVR(a, b byte) bool { return a >= 'A' && a <= 'Z' && b >= 'A' && b <= 'Z' }

func longVR(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

// readMeta reads the group 0002 file meta information (always explicit VR little
// endian) until the first element of another group.
func (rd *Reader) readMeta() error {
	saveBO, saveExp := rd.bo, rd.explicit
	rd.bo, rd.explicit = binary.LittleEndian, true
	defer func() { rd.bo, rd.explicit = saveBO, saveExp }()
	for {
		b, err := rd.r.Peek(2)
		if err != nil {
			return fmt.Errorf("%w: truncated file meta information", ErrNotDICOM)
		}
		if binary.LittleEndian.Uint16(b) != 0x0002 {
			return nil
		}
		t, vr, n, err := rd.elementHeader()
		if err != nil {
			return err
		}
		if n == undefinedLength {
			return fmt.Errorf("file meta element %s has undefined length", t)
		}
		switch t {
		case tagTransferSyntax, tagMediaSOPClass:
			v, err := rd.value(n)
			if err != nil {
				return err
			}
			if t == tagTransferSyntax {
				rd.h.TransferSyntax = cleanUID(v)
			} else if cleanUID(v) == mediaStorageDirectory {
				rd.h.SOPClassUID = mediaStorageDirectory
			}
		default:
			if err := rd.skip(int64(n)); err != nil {
				return err
			}
		}
		_ = vr
	}
}

func (t tag) String() string { return fmt.Sprintf("(%04X,%04X)", uint32(t)>>16, uint32(t)&0xFFFF) }

// elementHeader reads a tag, its VR (explicit syntaxes) and value length.
func (rd *Reader) elementHeader() (tag, string, uint32, error) {
	var b [8]byte
	if _, err := io.ReadFull(rd.r, b[:8]); err != nil {
		return 0, "", 0, err
	}
	rd.pos += 8
	t := mk(rd.bo.Uint16(b[0:2]), rd.bo.Uint16(b[2:4]))
	if t>>16 == 0xFFFE || !rd.explicit {
		return t, "", rd.bo.Uint32(b[4:8]), nil
	}
	vr := string(b[4:6])
	if !isVR(b[4], b[5]) {
		return 0, "", 0, fmt.Errorf("element %s: invalid VR %q", t, vr)
	}
	if longVR(vr) {
		var l [4]byte
		if _, err := io.ReadFull(rd.r, l[:]); err != nil {
			return 0, "", 0, err
		}
		rd.pos += 4
		return t, vr, rd.bo.Uint32(l[:]), nil
	}
	return t, vr, uint32(rd.bo.Uint16(b[6:8])), nil
}

func (rd *Reader) value(n uint32) ([]byte, error) {
	if n > maxValue {
		return nil, fmt.Errorf("header value of %d bytes is too long", n)
	}
	v := make([]byte, n)
	if _, err := io.ReadFull(rd.r, v); err != nil {
		return nil, fmt.Errorf("truncated header: %w", err)
	}
	rd.pos += int64(n)
	return v, nil
}

func (rd *Reader) skip(n int64) error {
	d, err := rd.r.Discard(int(n))
	rd.pos += int64(d)
	if err != nil {
		return fmt.Errorf("truncated header: %w", err)
	}
	return nil
}

// readDataset reads top-level elements until PixelData (left unread) or EOF.
func (rd *Reader) readDataset() error {
	for {
		if _, err := rd.r.Peek(1); err == io.EOF {
			return nil
		}
		t, vr, n, err := rd.elementHeader()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("truncated header: %w", io.ErrUnexpectedEOF)
			}
			return err
		}
		if t == tagPixelData {
			rd.h.HasPixelData = true
			if n == undefinedLength {
				rd.h.PixelDataLength = -1
			} else {
				rd.h.PixelDataLength = int64(n)
			}
			return nil
		}
		if t > tagPixelData {
			// trailing padding or private data after a file without pixel data
			return nil
		}
		if n == undefinedLength || vr == "SQ" {
			if err := rd.skipSequenceVR(vr, n, 0); err != nil {
				return fmt.Errorf("element %s: %w", t, err)
			}
			continue
		}
		if _, ok := rd.raw[uint32(t)]; ok {
			v, err := rd.value(n)
			if err != nil {
				return fmt.Errorf("element %s: %w", t, err)
			}
			rd.got[uint32(t)] = v
			if !wanted(t) {
				continue
			}
			if err := rd.set(t, vr, v); err != nil {
				return fmt.Errorf("element %s: %w", t, err)
			}
			continue
		}
		if !wanted(t) {
			if err := rd.skip(int64(n)); err != nil {
				return err
			}
			continue
		}
		v, err := rd.value(n)
		if err != nil {
			return fmt.Errorf("element %s: %w", t, err)
		}
		if err := rd.set(t, vr, v); err != nil {
			return fmt.Errorf("element %s: %w", t, err)
		}
	}
}

// skipSequenceVR skips a sequence; an UN value of undefined length holds a
// sequence in implicit VR little endian (PS3.5 6.2.2).
func (rd *Reader) skipSequenceVR(vr string, n uint32, depth int) error {
	if vr == "UN" && n == undefinedLength && rd.explicit {
		bo := rd.bo
		rd.explicit, rd.bo = false, binary.LittleEndian
		defer func() { rd.explicit, rd.bo = true, bo }()
	}
	return rd.skipSequence(n, depth)
}

// skipSequence skips a sequence (or any value of undefined length) item by item.
func (rd *Reader) skipSequence(n uint32, depth int) error {
	if depth > 32 {
		return errors.New("sequences nested too deep")
	}
	if n != undefinedLength {
		return rd.skip(int64(n))
	}
	for {
		t, _, l, err := rd.itemHeader()
		if err != nil {
			return err
		}
		switch t {
		case tagSeqDelim:
			return nil
		case tagItem:
			if l != undefinedLength {
				if err := rd.skip(int64(l)); err != nil {
					return err
				}
				continue
			}
			if err := rd.skipItem(depth + 1); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected %s inside a sequence", t)
		}
	}
}

func (rd *Reader) itemHeader() (tag, string, uint32, error) {
	var b [8]byte
	if _, err := io.ReadFull(rd.r, b[:]); err != nil {
		return 0, "", 0, fmt.Errorf("truncated sequence: %w", err)
	}
	rd.pos += 8
	return mk(rd.bo.Uint16(b[0:2]), rd.bo.Uint16(b[2:4])), "", rd.bo.Uint32(b[4:8]), nil
}

// skipItem skips the elements of an item of undefined length up to its delimiter.
func (rd *Reader) skipItem(depth int) error {
	for {
		t, vr, n, err := rd.elementHeader()
		if err != nil {
			return fmt.Errorf("truncated item: %w", err)
		}
		if t == tagItemDelim {
			return nil
		}
		if n == undefinedLength || vr == "SQ" {
			if err := rd.skipSequenceVR(vr, n, depth); err != nil {
				return err
			}
			continue
		}
		if err := rd.skip(int64(n)); err != nil {
			return err
		}
	}
}

func wanted(t tag) bool {
	switch t {
	case tagSOPClassUID, tagSOPInstanceUID, tagModality, tagSeriesDescription, tagSliceThickness,
		tagStudyUID, tagSeriesUID, tagSeriesNumber, tagInstanceNumber, tagIPP, tagIOP,
		tagSamplesPerPixel, tagPhotometric, tagPlanarConfig, tagNumberOfFrames, tagRows, tagColumns,
		tagPixelSpacing, tagBitsAllocated, tagBitsStored, tagHighBit, tagPixelRep,
		tagWindowCenter, tagWindowWidth, tagRescaleIntercept, tagRescaleSlope, tagTransferSyntax:
		return true
	}
	return false
}

func (rd *Reader) us(vr string, v []byte) (int, error) {
	if vr == "" || vr == "US" || vr == "SS" {
		if len(v) < 2 {
			return 0, errors.New("short US value")
		}
		x := rd.bo.Uint16(v)
		if vr == "SS" {
			return int(int16(x)), nil
		}
		return int(x), nil
	}
	return 0, fmt.Errorf("unexpected VR %s", vr)
}

func cleanUID(v []byte) string { return strings.TrimRight(string(v), "\x00 ") }
func cleanStr(v []byte) string { return strings.TrimSpace(strings.TrimRight(string(v), "\x00")) }

func decimals(v []byte) ([]float64, error) {
	s := cleanStr(v)
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, `\`)
	out := make([]float64, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("not a number: %q", p)
		}
		out[i] = f
	}
	return out, nil
}

func (rd *Reader) set(t tag, vr string, v []byte) error {
	h := &rd.h
	var err error
	switch t {
	case tagSOPClassUID:
		if h.SOPClassUID != mediaStorageDirectory {
			h.SOPClassUID = cleanUID(v)
		}
	case tagSOPInstanceUID:
		h.SOPInstanceUID = cleanUID(v)
	case tagModality:
		h.Modality = cleanStr(v)
	case tagSeriesDescription:
		h.SeriesDescription = cleanStr(v)
	case tagStudyUID:
		h.StudyInstanceUID = cleanUID(v)
	case tagSeriesUID:
		h.SeriesInstanceUID = cleanUID(v)
	case tagSeriesNumber:
		h.SeriesNumber = cleanStr(v)
	case tagInstanceNumber:
		h.InstanceNumber, _ = strconv.Atoi(cleanStr(v))
	case tagSliceThickness:
		if f, e := decimals(v); e == nil && len(f) > 0 {
			h.SliceThickness = f[0]
		}
	case tagIPP:
		f, e := decimals(v)
		if e != nil || len(f) != 3 {
			return fmt.Errorf("ImagePositionPatient is not 3 numbers")
		}
		copy(h.ImagePositionPatient[:], f)
		h.HasPosition = true
	case tagIOP:
		f, e := decimals(v)
		if e != nil || len(f) != 6 {
			return fmt.Errorf("ImageOrientationPatient is not 6 numbers")
		}
		copy(h.ImageOrientationPatient[:], f)
		h.HasOrientation = true
	case tagPixelSpacing:
		f, e := decimals(v)
		if e != nil || len(f) != 2 {
			return fmt.Errorf("PixelSpacing is not 2 numbers")
		}
		copy(h.PixelSpacing[:], f)
		h.HasPixelSpacing = true
	case tagRescaleIntercept, tagRescaleSlope:
		f, e := decimals(v)
		if e != nil || len(f) < 1 {
			return fmt.Errorf("rescale value is not a number")
		}
		if t == tagRescaleSlope {
			h.RescaleSlope = f[0]
		} else {
			h.RescaleIntercept = f[0]
		}
		h.HasRescale = true
	case tagWindowCenter, tagWindowWidth:
		f, e := decimals(v)
		if e == nil && len(f) > 0 {
			if t == tagWindowCenter {
				h.WindowCenter = f[0]
			} else {
				h.WindowWidth = f[0]
			}
			h.HasWindow = h.WindowWidth > 0
		}
	case tagPhotometric:
		h.Photometric = cleanStr(v)
	case tagNumberOfFrames:
		n, e := strconv.Atoi(cleanStr(v))
		if e != nil || n < 1 {
			return fmt.Errorf("NumberOfFrames %q is not a positive number", cleanStr(v))
		}
		h.NumberOfFrames = n
	case tagSamplesPerPixel:
		h.SamplesPerPixel, err = rd.us(vr, v)
	case tagPlanarConfig:
		h.PlanarConfiguration, err = rd.us(vr, v)
	case tagRows:
		h.Rows, err = rd.us(vr, v)
	case tagColumns:
		h.Columns, err = rd.us(vr, v)
	case tagBitsAllocated:
		h.BitsAllocated, err = rd.us(vr, v)
	case tagBitsStored:
		h.BitsStored, err = rd.us(vr, v)
	case tagHighBit:
		h.HighBit, err = rd.us(vr, v)
	case tagPixelRep:
		h.PixelRepresentation, err = rd.us(vr, v)
	}
	return err
}
