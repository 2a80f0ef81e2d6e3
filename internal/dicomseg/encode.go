// Package dicomseg writes DICOM Segmentation objects (BINARY, PS3.3 A.51)
// for masks computed on a DICOM series, with a DICOM writer of its own
// (explicit VR little endian, defined lengths; 1-bit pixel data packed
// here, since no Go library writes it), and reads its own output back for
// tests. A SEG goes back to the study of its source, so it is the one output
// of modelhub that carries the source's patient and study modules (copied as
// they are, through CopiedTags); nothing else in modelhub reads them. It
// never prints.
package dicomseg

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Tag is a DICOM tag: group << 16 | element.
type Tag uint32

// T makes a tag.
func T(g, e uint16) Tag { return Tag(uint32(g)<<16 | uint32(e)) }

func (t Tag) String() string { return fmt.Sprintf("(%04X,%04X)", uint32(t)>>16, uint32(t)&0xFFFF) }

// Element is one data element: a value, or (VR SQ) items.
type Element struct {
	Tag   Tag
	VR    string
	Value []byte
	Items []Dataset
}

// Dataset is a list of elements; Encode sorts them by tag.
type Dataset []Element

// Get is the element with tag t.
func (d Dataset) Get(t Tag) (Element, bool) {
	for _, e := range d {
		if e.Tag == t {
			return e, true
		}
	}
	return Element{}, false
}

// Str is the element's value as a string, trailing padding removed.
func (e Element) Str() string { return strings.TrimRight(string(e.Value), "\x00 ") }

// Strs are the element's values (split at backslashes).
func (e Element) Strs() []string {
	s := e.Str()
	if s == "" {
		return nil
	}
	out := strings.Split(s, `\`)
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// U16 is the element's first US value.
func (e Element) U16() int {
	if len(e.Value) < 2 {
		return -1
	}
	return int(binary.LittleEndian.Uint16(e.Value))
}

// Floats are the element's DS values.
func (e Element) Floats() ([]float64, error) {
	var out []float64
	for _, s := range e.Strs() {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func longVR(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

// Str makes a string element (several values joined by backslashes), padded
// to an even length (UI with a NUL, others with a space).
func Str(t Tag, vr string, vals ...string) Element {
	return Element{Tag: t, VR: vr, Value: []byte(strings.Join(vals, `\`))}
}

// US makes an unsigned short element.
func US(t Tag, vals ...int) Element {
	b := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return Element{Tag: t, VR: "US", Value: b}
}

// UL makes an unsigned long element.
func UL(t Tag, vals ...int) Element {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return Element{Tag: t, VR: "UL", Value: b}
}

// AT makes an attribute tag element.
func AT(t Tag, tags ...Tag) Element {
	b := make([]byte, 4*len(tags))
	for i, v := range tags {
		binary.LittleEndian.PutUint16(b[4*i:], uint16(v>>16))
		binary.LittleEndian.PutUint16(b[4*i+2:], uint16(v))
	}
	return Element{Tag: t, VR: "AT", Value: b}
}

// IS makes an integer string element.
func IS(t Tag, v int) Element { return Str(t, "IS", strconv.Itoa(v)) }

// DS makes a decimal string element: each value in at most 16 characters.
func DS(t Tag, vals ...float64) Element {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = FormatDS(v)
	}
	return Str(t, "DS", s...)
}

// FormatDS is v as a DICOM decimal string (at most 16 characters), exact
// when v's shortest representation fits.
func FormatDS(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	for p := 16; len(s) > 16 && p > 0; p-- {
		s = strconv.FormatFloat(v, 'g', p, 64)
	}
	return s
}

// Seq makes a sequence element.
func Seq(t Tag, items ...Dataset) Element { return Element{Tag: t, VR: "SQ", Items: items} }

// Code is a coded concept (Code Sequence Macro).
type Code struct {
	Value, Scheme, Meaning string
}

// Item is the code as a sequence item.
func (c Code) Item() Dataset {
	return Dataset{Str(tagCodeValue, "SH", c.Value), Str(tagCodingScheme, "SH", c.Scheme), Str(tagCodeMeaning, "LO", c.Meaning)}
}

func padded(e *Element) int {
	n := len(e.Value)
	return n + n%2
}

// size is the encoded size of e (header and value).
func (e *Element) size() int {
	h := 8
	if longVR(e.VR) {
		h = 12
	}
	if e.VR == "SQ" {
		n := 0
		for _, it := range e.Items {
			n += 8 + it.size()
		}
		return h + n
	}
	return h + padded(e)
}

func (d Dataset) size() int {
	n := 0
	for i := range d {
		n += d[i].size()
	}
	return n
}

func (d Dataset) sorted() Dataset {
	if sort.SliceIsSorted(d, func(i, j int) bool { return d[i].Tag < d[j].Tag }) {
		return d
	}
	s := append(Dataset(nil), d...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Tag < s[j].Tag })
	return s
}

// appendElement encodes e (explicit VR little endian, defined lengths).
func appendElement(b []byte, e *Element) ([]byte, error) {
	if len(e.VR) != 2 {
		return nil, fmt.Errorf("element %s: no VR", e.Tag)
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(e.Tag>>16))
	b = binary.LittleEndian.AppendUint16(b, uint16(e.Tag))
	b = append(b, e.VR...)
	var n int
	if e.VR == "SQ" {
		n = e.size() - 12
	} else {
		n = padded(e)
	}
	if longVR(e.VR) {
		if int64(n) >= math.MaxUint32 {
			return nil, fmt.Errorf("element %s: %d bytes is too long for DICOM", e.Tag, n)
		}
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	} else {
		if n > math.MaxUint16 {
			return nil, fmt.Errorf("element %s (%s): %d bytes is too long", e.Tag, e.VR, n)
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(n))
	}
	if e.VR == "SQ" {
		for _, it := range e.Items {
			b = binary.LittleEndian.AppendUint16(b, 0xFFFE)
			b = binary.LittleEndian.AppendUint16(b, 0xE000)
			b = binary.LittleEndian.AppendUint32(b, uint32(it.size()))
			var err error
			if b, err = it.appendTo(b); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	b = append(b, e.Value...)
	if len(e.Value)%2 == 1 {
		switch e.VR {
		case "UI", "OB", "UN":
			b = append(b, 0)
		default:
			b = append(b, ' ')
		}
	}
	return b, nil
}

func (d Dataset) appendTo(b []byte) ([]byte, error) {
	var err error
	s := d.sorted()
	for i := range s {
		if i > 0 && s[i].Tag == s[i-1].Tag {
			return nil, fmt.Errorf("element %s twice in one dataset", s[i].Tag)
		}
		if b, err = appendElement(b, &s[i]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// ImplementationClassUID identifies modelhub as the writer of a file.
const ImplementationClassUID = "2.25.111845078485410467970800551227649790616"

// ExplicitVRLittleEndian is the transfer syntax modelhub writes.
const ExplicitVRLittleEndian = "1.2.840.10008.1.2.1"

// WritePart10 writes a DICOM Part 10 file: preamble, file meta information
// (group 0002) and the dataset d in explicit VR little endian. The pixel
// data (if any) is written from pixels without copying it into the dataset.
func WritePart10(w io.Writer, sopClass, sopInstance, version string, d Dataset, pixels []byte) error {
	meta := Dataset{
		{Tag: T(0x0002, 0x0001), VR: "OB", Value: []byte{0, 1}},
		Str(T(0x0002, 0x0002), "UI", sopClass),
		Str(T(0x0002, 0x0003), "UI", sopInstance),
		Str(T(0x0002, 0x0010), "UI", ExplicitVRLittleEndian),
		Str(T(0x0002, 0x0012), "UI", ImplementationClassUID),
		Str(T(0x0002, 0x0013), "SH", clip("MODELHUB_"+version, 16)),
	}
	b := make([]byte, 128, 128+4+12+meta.size()+d.size()+12)
	b = append(b, "DICM"...)
	var err error
	if b, err = appendElement(b, &Element{Tag: T(0x0002, 0x0000), VR: "UL", Value: binary.LittleEndian.AppendUint32(nil, uint32(meta.size()))}); err != nil {
		return err
	}
	if b, err = meta.appendTo(b); err != nil {
		return err
	}
	if b, err = d.appendTo(b); err != nil {
		return err
	}
	if pixels != nil {
		n := len(pixels) + len(pixels)%2
		b = append(b, 0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	if pixels != nil {
		if _, err := w.Write(pixels); err != nil {
			return err
		}
		if len(pixels)%2 == 1 {
			if _, err := w.Write([]byte{0}); err != nil {
				return err
			}
		}
	}
	return nil
}

// clip makes s a safe value of at most n characters: printable ASCII, no
// backslash (the value separator).
func clip(s string, n int) string {
	b := []byte(s)
	out := b[:0]
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '\\' {
			c = '_'
		}
		out = append(out, c)
	}
	if len(out) > n {
		out = out[:n]
	}
	return strings.TrimSpace(string(out))
}
