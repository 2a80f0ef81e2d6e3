package dicom

import (
	"errors"
	"fmt"
)

// DecodeLossless decodes a JPEG Lossless (ITU T.81 process 14, Huffman coded,
// predictors 1-7, any point transform) image, the compression of DICOM transfer
// syntaxes 1.2.840.10008.1.2.4.57 and .70. It returns the samples in raster order
// (components interleaved), their precision in bits, the size and the number of
// components. It never panics on malformed input.
func DecodeLossless(data []byte) (samples []uint16, precision, width, height, comps int, err error) {
	return DecodeLosslessBuf(data, nil)
}

// DecodeLosslessBuf is DecodeLossless decoding into buf when it is large
// enough (so a series decodes slice after slice without garbage).
func DecodeLosslessBuf(data []byte, buf []uint16) (samples []uint16, precision, width, height, comps int, err error) {
	d := &llDecoder{data: data, buf: buf}
	samples, err = d.decode()
	return samples, d.precision, d.width, d.height, d.ncomp, err
}

// maxLosslessPixels bounds what a header may ask to allocate (a hostile 65535x65535
// frame with 4 components would ask for 32 GiB).
const maxLosslessPixels = 1 << 28

type huffTable struct {
	// lookahead: for the next 9 bits, (length<<8 | value), 0 when longer
	look    [1 << 9]uint16
	maxcode [18]int32
	valptr  [17]int32
	mincode [17]int32
	vals    []byte
	defined bool
}

type llComp struct {
	id   byte
	h, v byte
	td   byte
}

type llDecoder struct {
	data      []byte
	p         int
	precision int
	width     int
	height    int
	ncomp     int
	comps     []llComp
	tables    [4]huffTable
	restart   int
	buf       []uint16 // reused for the output when large enough
	// bit reader
	bits   uint64
	nbits  uint
	marker bool // hit a marker: feed zeros
}

var errLLTruncated = errors.New("jpeg lossless: truncated data")

func (d *llDecoder) u8() (byte, error) {
	if d.p >= len(d.data) {
		return 0, errLLTruncated
	}
	b := d.data[d.p]
	d.p++
	return b, nil
}

func (d *llDecoder) u16() (int, error) {
	if d.p+2 > len(d.data) {
		return 0, errLLTruncated
	}
	v := int(d.data[d.p])<<8 | int(d.data[d.p+1])
	d.p += 2
	return v, nil
}

func (d *llDecoder) segment() ([]byte, error) {
	n, err := d.u16()
	if err != nil {
		return nil, err
	}
	if n < 2 || d.p+n-2 > len(d.data) {
		return nil, errLLTruncated
	}
	s := d.data[d.p : d.p+n-2]
	d.p += n - 2
	return s, nil
}

func (d *llDecoder) decode() ([]uint16, error) {
	if len(d.data) < 2 || d.data[0] != 0xFF || d.data[1] != 0xD8 {
		return nil, errors.New("jpeg lossless: no SOI marker")
	}
	d.p = 2
	var out []uint16
	sawFrame := false
	for {
		// find the next marker (skip fill bytes)
		b, err := d.u8()
		if err != nil {
			return nil, err
		}
		if b != 0xFF {
			return nil, fmt.Errorf("jpeg lossless: expected a marker at byte %d", d.p-1)
		}
		m, err := d.u8()
		for err == nil && m == 0xFF {
			m, err = d.u8()
		}
		if err != nil {
			return nil, err
		}
		switch {
		case m == 0xD9: // EOI
			if out == nil {
				return nil, errors.New("jpeg lossless: no scan")
			}
			return out, nil
		case m == 0xC3: // SOF3
			s, err := d.segment()
			if err != nil {
				return nil, err
			}
			if err := d.readSOF(s); err != nil {
				return nil, err
			}
			sawFrame = true
		case m == 0xC4:
			s, err := d.segment()
			if err != nil {
				return nil, err
			}
			if err := d.readDHT(s); err != nil {
				return nil, err
			}
		case m == 0xDD:
			s, err := d.segment()
			if err != nil {
				return nil, err
			}
			if len(s) != 2 {
				return nil, errors.New("jpeg lossless: bad DRI segment")
			}
			d.restart = int(s[0])<<8 | int(s[1])
		case m == 0xDA:
			if !sawFrame {
				return nil, errors.New("jpeg lossless: scan before frame header")
			}
			s, err := d.segment()
			if err != nil {
				return nil, err
			}
			if out != nil {
				return nil, errors.New("jpeg lossless: more than one scan is not supported")
			}
			out, err = d.readScan(s)
			if err != nil {
				return nil, err
			}
			// after the scan, the parser continues at the marker the scan stopped at
			if out != nil && d.p >= len(d.data) {
				return out, nil // tolerate a missing EOI
			}
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return nil, fmt.Errorf("jpeg lossless: frame type SOF%d is not lossless Huffman (process 14)", m-0xC0)
		case m >= 0xD0 && m <= 0xD7, m == 0x01:
			// stray RST/TEM: no length
		default: // APPn, COM, DQT, DNL, ...: skip
			if _, err := d.segment(); err != nil {
				return nil, err
			}
		}
	}
}

func (d *llDecoder) readSOF(s []byte) error {
	if len(s) < 6 {
		return errLLTruncated
	}
	d.precision = int(s[0])
	d.height = int(s[1])<<8 | int(s[2])
	d.width = int(s[3])<<8 | int(s[4])
	d.ncomp = int(s[5])
	if d.precision < 2 || d.precision > 16 {
		return fmt.Errorf("jpeg lossless: precision %d out of range", d.precision)
	}
	if d.width == 0 || d.height == 0 {
		return errors.New("jpeg lossless: zero image size (DNL is not supported)")
	}
	if d.ncomp < 1 || d.ncomp > 4 || len(s) < 6+3*d.ncomp {
		return errors.New("jpeg lossless: bad component count")
	}
	if d.width*d.height*d.ncomp > maxLosslessPixels {
		return fmt.Errorf("jpeg lossless: %dx%dx%d is too large", d.width, d.height, d.ncomp)
	}
	d.comps = make([]llComp, d.ncomp)
	for i := range d.comps {
		c := s[6+3*i:]
		d.comps[i] = llComp{id: c[0], h: c[1] >> 4, v: c[1] & 15}
		if d.comps[i].h != 1 || d.comps[i].v != 1 {
			return errors.New("jpeg lossless: subsampled components are not supported")
		}
	}
	return nil
}

func (d *llDecoder) readDHT(s []byte) error {
	for len(s) > 0 {
		if len(s) < 17 {
			return errLLTruncated
		}
		class, id := s[0]>>4, s[0]&15
		if class != 0 || id > 3 {
			return fmt.Errorf("jpeg lossless: bad Huffman table class %d id %d", class, id)
		}
		var counts [17]int
		total := 0
		for i := 1; i <= 16; i++ {
			counts[i] = int(s[i])
			total += counts[i]
		}
		if total > 256 || len(s) < 17+total {
			return errLLTruncated
		}
		t := &d.tables[id]
		*t = huffTable{vals: append([]byte(nil), s[17:17+total]...), defined: true}
		code, k := int32(0), int32(0)
		for l := 1; l <= 16; l++ {
			t.valptr[l] = k
			t.mincode[l] = code
			code += int32(counts[l])
			k += int32(counts[l])
			if counts[l] > 0 {
				t.maxcode[l] = code - 1
			} else {
				t.maxcode[l] = -1
			}
			if code > 1<<l {
				return errors.New("jpeg lossless: bad Huffman table")
			}
			code <<= 1
		}
		t.maxcode[17] = 1 << 30
		// lookahead table
		k = 0
		code = 0
		for l := 1; l <= 9; l++ {
			for i := 0; i < counts[l]; i++ {
				c := int(t.mincode[l]) + i
				shift := 9 - l
				for j := 0; j < 1<<shift; j++ {
					t.look[c<<shift|j] = uint16(l)<<8 | uint16(t.vals[int(t.valptr[l])+i])
				}
			}
		}
		s = s[17+total:]
	}
	return nil
}

func (d *llDecoder) fill() {
	for d.nbits <= 56 {
		if d.marker || d.p >= len(d.data) {
			d.bits <<= 8
			d.nbits += 8
			continue
		}
		b := d.data[d.p]
		if b == 0xFF {
			if d.p+1 < len(d.data) && d.data[d.p+1] == 0x00 {
				d.p += 2
			} else {
				d.marker = true
				continue
			}
		} else {
			d.p++
		}
		d.bits = d.bits<<8 | uint64(b)
		d.nbits += 8
	}
}

func (d *llDecoder) decodeHuff(t *huffTable) (int, error) {
	if d.nbits < 16 {
		d.fill()
	}
	peek := int(d.bits>>(d.nbits-9)) & 0x1FF
	if e := t.look[peek]; e != 0 {
		d.nbits -= uint(e >> 8)
		return int(e & 0xFF), nil
	}
	code := int32(0)
	for l := 1; l <= 16; l++ {
		code = code<<1 | int32(d.bits>>(d.nbits-1)&1)
		d.nbits--
		if code <= t.maxcode[l] {
			idx := t.valptr[l] + code - t.mincode[l]
			if idx < 0 || int(idx) >= len(t.vals) {
				return 0, errors.New("jpeg lossless: bad Huffman code")
			}
			return int(t.vals[idx]), nil
		}
	}
	return 0, errors.New("jpeg lossless: bad Huffman code")
}

func (d *llDecoder) receive(n int) int {
	if d.nbits < uint(n) {
		d.fill()
	}
	v := int(d.bits>>(d.nbits-uint(n))) & (1<<n - 1)
	d.nbits -= uint(n)
	return v
}

// diff decodes one difference value.
func (d *llDecoder) diff(t *huffTable) (int, error) {
	s, err := d.decodeHuff(t)
	if err != nil {
		return 0, err
	}
	switch {
	case s == 0:
		return 0, nil
	case s == 16:
		return 32768, nil
	case s > 16:
		return 0, fmt.Errorf("jpeg lossless: difference category %d", s)
	}
	v := d.receive(s)
	if v < 1<<(s-1) {
		v += -(1 << s) + 1
	}
	return v, nil
}

// restartMarker resynchronises at an RSTn marker after a restart interval.
func (d *llDecoder) restartMarker() error {
	d.bits, d.nbits, d.marker = 0, 0, false
	for d.p+1 < len(d.data) && !(d.data[d.p] == 0xFF && d.data[d.p+1] >= 0xD0 && d.data[d.p+1] <= 0xD7) {
		if d.data[d.p] == 0xFF && d.data[d.p+1] != 0 && d.data[d.p+1] != 0xFF {
			return errors.New("jpeg lossless: missing restart marker")
		}
		d.p++
	}
	if d.p+1 >= len(d.data) {
		return errLLTruncated
	}
	d.p += 2
	return nil
}

// readScan decodes one scan segment s and the entropy-coded data after it into
// the frame's samples, leaving d.p at the next marker.
func (d *llDecoder) readScan(s []byte) ([]uint16, error) {
	tabs, pred, pt, err := d.scanHeader(s)
	if err != nil {
		return nil, err
	}
	out, err := d.scanBuffer()
	if err != nil {
		return nil, err
	}
	if err := d.decodeLines(out, tabs, pred, pt); err != nil {
		return nil, err
	}
	d.skipToMarker()
	if pt > 0 {
		for i := range out {
			out[i] <<= uint(pt)
		}
	}
	return out, nil
}

// scanHeader reads a start-of-scan segment: it needs every component of the
// frame, in order, each with a defined Huffman table, a predictor 1-7 and a
// point transform below the precision. It returns the table of each component,
// the predictor and the point transform.
func (d *llDecoder) scanHeader(s []byte) (tabs []*huffTable, pred, pt int, err error) {
	if len(s) < 1 {
		return nil, 0, 0, errLLTruncated
	}
	ns := int(s[0])
	if ns != d.ncomp || len(s) < 1+2*ns+3 {
		return nil, 0, 0, errors.New("jpeg lossless: the scan must hold every component")
	}
	tabs = make([]*huffTable, ns)
	for i := 0; i < ns; i++ {
		cs, td := s[1+2*i], s[2+2*i]>>4
		if cs != d.comps[i].id {
			return nil, 0, 0, errors.New("jpeg lossless: scan components out of order")
		}
		if td > 3 || !d.tables[td].defined {
			return nil, 0, 0, fmt.Errorf("jpeg lossless: Huffman table %d not defined", td)
		}
		tabs[i] = &d.tables[td]
	}
	pred = int(s[1+2*ns])
	pt = int(s[3+2*ns] & 15)
	if pred < 1 || pred > 7 {
		return nil, 0, 0, fmt.Errorf("jpeg lossless: predictor %d (must be 1-7)", pred)
	}
	if pt >= d.precision {
		return nil, 0, 0, fmt.Errorf("jpeg lossless: point transform %d >= precision %d", pt, d.precision)
	}
	return tabs, pred, pt, nil
}

// scanBuffer returns the frame's output samples (d.buf when it is large
// enough), refusing a frame larger than the data left could hold and a restart
// interval that is not whole lines.
func (d *llDecoder) scanBuffer() ([]uint16, error) {
	w, h, nc := d.width, d.height, d.ncomp
	// every sample takes at least one bit: a frame larger than the data is truncated
	// (or hostile) and is refused before anything is allocated for it
	if int64(w)*int64(h)*int64(nc) > 8*int64(len(d.data)-d.p) {
		return nil, errLLTruncated
	}
	var out []uint16
	if cap(d.buf) >= w*h*nc {
		out = d.buf[:w*h*nc] // every sample is written by decodeLines
	} else {
		out = make([]uint16, w*h*nc)
	}
	if d.restart > 0 && d.restart%w != 0 {
		return nil, fmt.Errorf("jpeg lossless: restart interval %d is not a multiple of the line width %d", d.restart, w)
	}
	return out, nil
}

// decodeLines decodes the entropy-coded data into out, line by line, with the
// components' tables tabs, predictor pred and point transform pt. Samples are
// decoded unshifted (readScan applies the point transform at the end). This is
// the hot loop: keep it in one piece.
func (d *llDecoder) decodeLines(out []uint16, tabs []*huffTable, pred, pt int) error {
	w, h, nc := d.width, d.height, len(tabs)
	initial := 1 << (d.precision - pt - 1)
	mask := 1<<(d.precision-pt) - 1
	d.bits, d.nbits, d.marker = 0, 0, false
	rowStride := w * nc
	mcus := 0
	firstLine := true
	for y := 0; y < h; y++ {
		row := out[y*rowStride : (y+1)*rowStride]
		var prev []uint16
		if y > 0 {
			prev = out[(y-1)*rowStride : y*rowStride]
		}
		if d.restart > 0 && mcus > 0 && mcus%d.restart == 0 {
			if err := d.restartMarker(); err != nil {
				return err
			}
			firstLine = true
		}
		for x := 0; x < w; x++ {
			for c := 0; c < nc; c++ {
				i := x*nc + c
				dv, err := d.diff(tabs[c])
				if err != nil {
					return err
				}
				var p int
				switch {
				case firstLine && x == 0:
					p = initial
				case firstLine:
					p = int(row[i-nc])
				case x == 0:
					p = int(prev[i])
				default:
					ra, rb, rc := int(row[i-nc]), int(prev[i]), int(prev[i-nc])
					switch pred {
					case 1:
						p = ra
					case 2:
						p = rb
					case 3:
						p = rc
					case 4:
						p = ra + rb - rc
					case 5:
						p = ra + ((rb - rc) >> 1)
					case 6:
						p = rb + ((ra - rc) >> 1)
					case 7:
						p = (ra + rb) >> 1
					}
				}
				row[i] = uint16((p + dv) & 0xFFFF & mask)
			}
			mcus++
		}
		firstLine = false
	}
	return nil
}

// skipToMarker moves past the entropy-coded data to the next marker (one that
// is neither a stuffed 0xFF00 nor a restart marker), where parsing continues.
func (d *llDecoder) skipToMarker() {
	for d.p+1 < len(d.data) && !(d.data[d.p] == 0xFF && d.data[d.p+1] != 0 && (d.data[d.p+1] < 0xD0 || d.data[d.p+1] > 0xD7)) {
		d.p++
	}
}
