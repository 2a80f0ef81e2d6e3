package dicomseg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every Parse error.
var ErrMalformed = errors.New("malformed DICOM")

const undefined = 0xFFFFFFFF

// Parse reads a Part 10 file in explicit VR little endian (what WritePart10
// writes; sequences and items of defined or undefined length) into its file
// meta information and dataset. Values are slices of data, not copies. It
// bounds nesting and checks every length against the bytes left.
func Parse(data []byte) (meta, ds Dataset, err error) {
	if len(data) < 132 || string(data[128:132]) != "DICM" {
		return nil, nil, fmt.Errorf("%w: no DICM preamble", ErrMalformed)
	}
	p := &parser{b: data, off: 132}
	for p.off+2 <= len(p.b) && binary.LittleEndian.Uint16(p.b[p.off:]) == 0x0002 {
		e, err := p.element(0)
		if err != nil {
			return nil, nil, err
		}
		meta = append(meta, e)
	}
	if ts, ok := meta.Get(T(0x0002, 0x0010)); !ok || ts.Str() != ExplicitVRLittleEndian {
		return nil, nil, fmt.Errorf("%w: transfer syntax is not explicit VR little endian", ErrMalformed)
	}
	ds, err = p.dataset(len(p.b), 0)
	return meta, ds, err
}

type parser struct {
	b   []byte
	off int
}

func (p *parser) need(n int) error {
	if n < 0 || p.off+n > len(p.b) {
		return fmt.Errorf("%w: truncated at byte %d", ErrMalformed, p.off)
	}
	return nil
}

func (p *parser) u16() uint16 { v := binary.LittleEndian.Uint16(p.b[p.off:]); p.off += 2; return v }
func (p *parser) u32() uint32 { v := binary.LittleEndian.Uint32(p.b[p.off:]); p.off += 4; return v }

// dataset reads elements up to end (or an item delimiter, consumed, when
// end is -1).
func (p *parser) dataset(end, depth int) (Dataset, error) {
	var d Dataset
	for {
		if end >= 0 && p.off >= end {
			if p.off > end {
				return nil, fmt.Errorf("%w: an element overruns its item", ErrMalformed)
			}
			return d, nil
		}
		if end < 0 {
			if err := p.need(8); err != nil {
				return nil, err
			}
			if binary.LittleEndian.Uint16(p.b[p.off:]) == 0xFFFE && binary.LittleEndian.Uint16(p.b[p.off+2:]) == 0xE00D {
				p.off += 8
				return d, nil
			}
		}
		e, err := p.element(depth)
		if err != nil {
			return nil, err
		}
		d = append(d, e)
	}
}

func (p *parser) element(depth int) (Element, error) {
	if err := p.need(8); err != nil {
		return Element{}, err
	}
	g, el := p.u16(), p.u16()
	t := T(g, el)
	vr := string(p.b[p.off : p.off+2])
	if vr[0] < 'A' || vr[0] > 'Z' || vr[1] < 'A' || vr[1] > 'Z' {
		return Element{}, fmt.Errorf("%w: element %s has no VR", ErrMalformed, t)
	}
	p.off += 2
	var n uint32
	if longVR(vr) {
		p.off += 2
		if err := p.need(4); err != nil {
			return Element{}, err
		}
		n = p.u32()
	} else {
		n = uint32(p.u16())
	}
	e := Element{Tag: t, VR: vr}
	if vr == "SQ" {
		if depth > 16 {
			return Element{}, fmt.Errorf("%w: sequences nested too deep", ErrMalformed)
		}
		end := -1
		if n != undefined {
			if err := p.need(int(n)); err != nil {
				return Element{}, err
			}
			end = p.off + int(n)
		}
		for {
			if end >= 0 && p.off == end {
				return e, nil
			}
			if err := p.need(8); err != nil {
				return Element{}, err
			}
			it, l := T(p.u16(), p.u16()), p.u32()
			switch {
			case it == T(0xFFFE, 0xE0DD) && end < 0:
				return e, nil
			case it != T(0xFFFE, 0xE000):
				return Element{}, fmt.Errorf("%w: %s inside sequence %s", ErrMalformed, it, t)
			}
			itemEnd := -1
			if l != undefined {
				if err := p.need(int(l)); err != nil {
					return Element{}, err
				}
				itemEnd = p.off + int(l)
			}
			items, err := p.dataset(itemEnd, depth+1)
			if err != nil {
				return Element{}, err
			}
			e.Items = append(e.Items, items)
			if end >= 0 && p.off > end {
				return Element{}, fmt.Errorf("%w: an item overruns sequence %s", ErrMalformed, t)
			}
		}
	}
	if n == undefined {
		return Element{}, fmt.Errorf("%w: element %s (%s) of undefined length", ErrMalformed, t, vr)
	}
	if err := p.need(int(n)); err != nil {
		return Element{}, err
	}
	e.Value = p.b[p.off : p.off+int(n)]
	p.off += int(n)
	return e, nil
}
