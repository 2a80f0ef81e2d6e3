package ndarray

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

var npyMagic = []byte("\x93NUMPY")

// maxNPYHeader bounds the header dictionary (NumPy itself refuses more than
// 10,000 bytes by default).
const maxNPYHeader = 1 << 16

// ReadNPY reads a NumPy .npy file of size bytes (format 1.0, 2.0 or 3.0; a
// bool, integer or float dtype of either byte order; C or Fortran order). A
// Fortran-order array is returned in C order.
func ReadNPY(r io.Reader, size int64, lim Limits) (*Array, error) {
	pre := make([]byte, 8)
	if _, err := io.ReadFull(r, pre); err != nil {
		return nil, malformed("npy: %d bytes, too short for a header", size)
	}
	if string(pre[:6]) != string(npyMagic) {
		return nil, ErrNotArray
	}
	major := pre[6]
	var hlen int64
	off := int64(8)
	switch major {
	case 1:
		b := make([]byte, 2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, malformed("npy: cut in its header")
		}
		hlen, off = int64(binary.LittleEndian.Uint16(b)), 10
	case 2, 3:
		b := make([]byte, 4)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, malformed("npy: cut in its header")
		}
		hlen, off = int64(binary.LittleEndian.Uint32(b)), 12
	default:
		return nil, unsupported("npy format version %d.%d (1.0, 2.0 and 3.0 are read)", major, pre[7])
	}
	if hlen > maxNPYHeader || off+hlen > size {
		return nil, malformed("npy: header of %d bytes in a file of %d", hlen, size)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, malformed("npy: cut in its header")
	}
	descr, fortran, shape, err := parseNPYHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	dt, big, err := npyDType(descr)
	if err != nil {
		return nil, err
	}
	n, err := dataSize(shape, dt.Size, lim.maxBytes())
	if err != nil {
		return nil, err
	}
	if n > size-off-hlen {
		return nil, malformed("npy: shape %v of %s needs %d bytes, the file has %d after its header", shape, dt, n, size-off-hlen)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, malformed("npy: data cut short: %v", err)
	}
	if big {
		swap(data, dt.Size)
	}
	a := &Array{Type: dt, Shape: shape, Data: data}
	if fortran && len(shape) > 1 {
		a.Data = fortranToC(data, shape, dt.Size)
	}
	return a, nil
}

// npyDType decodes a descr like '<f4', '|u1', '>i8', '|b1'.
func npyDType(descr string) (DType, bool, error) {
	if len(descr) < 3 {
		return DType{}, false, unsupported("npy dtype %q (only bool, integers and floats are read)", descr)
	}
	order, code, sz := descr[0], descr[1], descr[2:]
	size, err := strconv.Atoi(sz)
	if err != nil {
		return DType{}, false, unsupported("npy dtype %q (only bool, integers and floats are read)", descr)
	}
	var k Kind
	switch code {
	case 'b':
		k = Bool
	case 'i':
		k = Int
	case 'u':
		k = Uint
	case 'f':
		k = Float
	default:
		return DType{}, false, unsupported("npy dtype %q (only bool, integers and floats are read)", descr)
	}
	dt := DType{Kind: k, Size: size}
	if !dt.valid() {
		return DType{}, false, unsupported("npy dtype %q (only bool, integers and floats are read)", descr)
	}
	switch order {
	case '<', '|', '=':
		return dt, false, nil
	case '>':
		return dt, size > 1, nil
	}
	return DType{}, false, malformed("npy dtype %q: unknown byte order", descr)
}

// parseNPYHeader reads the Python dict literal of an .npy header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
func parseNPYHeader(h string) (descr string, fortran bool, shape []int, err error) {
	p := &pyLex{s: strings.TrimRight(h, " \n\x00")}
	bad := func(why string) error { return malformed("npy header %q: %s", clip(h), why) }
	if !p.eat('{') {
		return "", false, nil, bad("not a dictionary")
	}
	seen := map[string]bool{}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok || !p.eat(':') {
			return "", false, nil, bad("want 'key': value")
		}
		if seen[key] {
			return "", false, nil, bad("repeats " + key)
		}
		seen[key] = true
		switch key {
		case "descr":
			if descr, ok = p.str(); !ok {
				return "", false, nil, unsupported("npy dtype that is not a simple type (structured arrays are not read)")
			}
		case "fortran_order":
			switch {
			case p.word("True"):
				fortran = true
			case p.word("False"):
			default:
				return "", false, nil, bad("fortran_order is not True or False")
			}
		case "shape":
			if shape, ok = p.tuple(); !ok {
				return "", false, nil, bad("shape is not a tuple of integers")
			}
		default:
			return "", false, nil, bad("unknown key " + key)
		}
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			break
		}
		return "", false, nil, bad("want , or }")
	}
	if !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return "", false, nil, bad("needs descr, fortran_order and shape")
	}
	if len(shape) > maxRank {
		return "", false, nil, unsupported("%d dimensions (at most %d)", len(shape), maxRank)
	}
	return descr, fortran, shape, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

type pyLex struct {
	s string
	i int
}

func (p *pyLex) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *pyLex) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyLex) word(w string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

func (p *pyLex) str() (string, bool) {
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	q := p.s[p.i]
	j := strings.IndexByte(p.s[p.i+1:], q)
	if j < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+j]
	p.i += j + 2
	return v, true
}

func (p *pyLex) tuple() ([]int, bool) {
	if !p.eat('(') {
		return nil, false
	}
	shape := []int{}
	for {
		if p.eat(')') {
			return shape, true
		}
		p.space()
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == p.i || j-p.i > 18 {
			return nil, false
		}
		n, _ := strconv.Atoi(p.s[p.i:j])
		p.i = j
		p.word("L") // Python 2 longs
		shape = append(shape, n)
		if len(shape) > maxRank {
			return nil, false
		}
		if !p.eat(',') {
			if p.eat(')') {
				return shape, true
			}
			return nil, false
		}
	}
}

// swap reverses the bytes of each size-byte element of b.
func swap(b []byte, size int) {
	for i := 0; i+size <= len(b); i += size {
		e := b[i : i+size]
		for l, r := 0, size-1; l < r; l, r = l+1, r-1 {
			e[l], e[r] = e[r], e[l]
		}
	}
}

// fortranToC reorders data of the given shape from Fortran order (first index
// fastest) to C order (last index fastest).
func fortranToC(data []byte, shape []int, size int) []byte {
	out := make([]byte, len(data))
	n := len(data) / size
	rank := len(shape)
	idx := make([]int, rank)
	// C strides
	cs := make([]int, rank)
	s := 1
	for i := rank - 1; i >= 0; i-- {
		cs[i] = s
		s *= shape[i]
	}
	for f := 0; f < n; f++ {
		c := 0
		for i := 0; i < rank; i++ {
			c += idx[i] * cs[i]
		}
		copy(out[c*size:(c+1)*size], data[f*size:(f+1)*size])
		for i := 0; i < rank; i++ { // Fortran: first index fastest
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// String describes a: dtype and shape.
func (a *Array) String() string {
	return fmt.Sprintf("%s %v", a.Type, a.Shape)
}
