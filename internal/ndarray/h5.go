package ndarray

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// The HDF5 subset read here is what h5py writes with its default settings
// (libver "earliest"): superblock version 0 or 1, version 1 object headers,
// groups as symbol tables (a version 1 B-tree and a local heap), datasets
// with a version 1–3 data layout that is compact, contiguous or chunked (a
// version 1 B-tree of chunks), through the deflate (gzip), shuffle and
// fletcher32 filters. Anything else — superblock 2/3 (libver "latest"),
// version 2 object headers, shared messages, other filters, compound, string
// or variable-length data — is refused as unsupported, naming what.

var h5Signature = []byte("\x89HDF\r\n\x1a\n")

const (
	maxMeta     = 16 << 20 // bound of one metadata block read (object header, heap, node)
	maxWork     = 100000   // bound of metadata reads per file (cycles, absurd trees)
	maxGroupDep = 16
)

const (
	msgDataspace    = 0x0001
	msgLinkInfo     = 0x0002
	msgDatatype     = 0x0003
	msgLink         = 0x0006
	msgLayout       = 0x0008
	msgFilters      = 0x000B
	msgAttribute    = 0x000C
	msgContinuation = 0x0010
	msgSymbolTable  = 0x0011
)

type h5file struct {
	r      io.ReaderAt
	size   int64
	base   int64
	so, sl int // sizes of offsets and lengths
	lim    Limits
	work   int
	// chunkDims is the key dimensionality of chunk B-tree nodes (rank+1).
	chunkDims int
}

// findSuperblock returns the offset of the HDF5 signature: 0, 512, 1024, …
func findSuperblock(r io.ReaderAt, size int64) (int64, error) {
	b := make([]byte, 8)
	for off := int64(0); off+8 <= size; {
		if n, _ := r.ReadAt(b, off); n == 8 && bytes.Equal(b, h5Signature) {
			return off, nil
		}
		if off == 0 {
			off = 512
		} else {
			off *= 2
		}
	}
	return 0, ErrNotArray
}

// ReadH5 reads the first dataset (in name order, depth first) of an HDF5
// file of size bytes: the one dataset the modelhub engine writes per output.
func ReadH5(r io.ReaderAt, size int64, lim Limits) (*Array, error) {
	f := &h5file{r: r, size: size, lim: lim}
	root, err := f.superblock()
	if err != nil {
		return nil, err
	}
	a, err := f.firstDataset(root, "", 0)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, fmt.Errorf("hdf5: the file holds no dataset")
	}
	return a, nil
}

func (f *h5file) read(addr, n int64) ([]byte, error) {
	f.work++
	if f.work > maxWork {
		return nil, malformed("hdf5: more than %d metadata blocks (a cycle?)", maxWork)
	}
	abs := f.base + addr
	if addr < 0 || n < 0 || abs < 0 || abs > f.size || n > f.size-abs {
		return nil, malformed("hdf5: a block of %d bytes at %d lies outside the file (%d bytes)", n, addr, f.size)
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, abs); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, fmt.Errorf("hdf5: read at %d: %w", addr, err)
	}
	return b, nil
}

func (f *h5file) readMeta(addr, n int64) ([]byte, error) {
	if n > maxMeta {
		return nil, malformed("hdf5: a metadata block of %d bytes (more than %d MiB)", n, maxMeta>>20)
	}
	return f.read(addr, n)
}

// le reads an n-byte little-endian unsigned integer.
func le(b []byte, n int) uint64 {
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// cursor reads fields off a block, failing (not panicking) past its end.
type cursor struct {
	b   []byte
	i   int
	err error
}

func (c *cursor) take(n int) []byte {
	if c.err != nil {
		return make([]byte, max(n, 0))
	}
	if n < 0 || c.i+n > len(c.b) {
		c.err = malformed("hdf5: a structure is cut short")
		return make([]byte, max(n, 0))
	}
	v := c.b[c.i : c.i+n]
	c.i += n
	return v
}

func (c *cursor) u8() int  { return int(c.take(1)[0]) }
func (c *cursor) u16() int { return int(binary.LittleEndian.Uint16(c.take(2))) }
func (c *cursor) u32() int64 {
	return int64(binary.LittleEndian.Uint32(c.take(4)))
}
func (c *cursor) uN(n int) uint64 { return le(c.take(n), n) }

// addr reads an offset; undefined (all ones) is -1. An offset too large for
// an int64 is refused.
func (f *h5file) addr(c *cursor) int64 {
	v := c.uN(f.so)
	if v == 1<<(8*uint(f.so))-1 || (f.so == 8 && v == ^uint64(0)) {
		return -1
	}
	if v > 1<<62 {
		if c.err == nil {
			c.err = malformed("hdf5: address %d out of range", v)
		}
		return -1
	}
	return int64(v)
}

func (f *h5file) length(c *cursor) int64 {
	v := c.uN(f.sl)
	if v > 1<<62 {
		if c.err == nil {
			c.err = malformed("hdf5: length %d out of range", v)
		}
		return 0
	}
	return int64(v)
}

// superblock reads the superblock and returns the root group's object
// header address.
func (f *h5file) superblock() (int64, error) {
	off, err := findSuperblock(f.r, f.size)
	if err != nil {
		return 0, err
	}
	f.base = off
	head := make([]byte, min(f.size-off, 128))
	if _, err := f.r.ReadAt(head, off); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	c := &cursor{b: head, i: 8}
	ver := c.u8()
	if ver >= 2 && ver <= 3 {
		return 0, unsupported("HDF5 superblock version %d (written with libver='latest'); modelhub reads h5py's default files (superblock version 0)", ver)
	}
	if ver > 1 {
		return 0, unsupported("HDF5 superblock version %d", ver)
	}
	c.take(4) // free-space, root symbol table, reserved, shared header versions
	f.so, f.sl = c.u8(), c.u8()
	for _, s := range []int{f.so, f.sl} {
		if s != 2 && s != 4 && s != 8 {
			return 0, malformed("hdf5: size of offsets/lengths %d (want 2, 4 or 8)", s)
		}
	}
	c.take(1)
	c.take(4) // group leaf and internal node K
	c.take(4) // consistency flags
	if ver == 1 {
		c.take(4)
	}
	base := f.addr(c)
	f.addr(c) // free-space info (unused)
	f.addr(c) // end of file
	f.addr(c) // driver info
	// root group symbol table entry
	f.addr(c) // link name offset
	root := f.addr(c)
	if c.err != nil {
		return 0, c.err
	}
	if base > 0 {
		f.base = base
	}
	if root < 0 {
		return 0, malformed("hdf5: no root group")
	}
	return root, nil
}

// message is one header message.
type message struct {
	typ   int
	flags int
	data  []byte
}

// header reads a version 1 object header and its continuation blocks.
func (f *h5file) header(addr int64) ([]message, error) {
	pre, err := f.readMeta(addr, 16)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(pre, []byte("OHDR")) {
		return nil, unsupported("HDF5 version 2 object headers (written with libver='latest'); modelhub reads h5py's default files")
	}
	if pre[0] != 1 {
		return nil, malformed("hdf5: object header version %d at %d", pre[0], addr)
	}
	nmsgs := int(binary.LittleEndian.Uint16(pre[2:]))
	size := int64(binary.LittleEndian.Uint32(pre[8:]))
	type block struct{ at, n int64 }
	queue := []block{{addr + 16, size}}
	var msgs []message
	for blocks := 0; len(queue) > 0; blocks++ {
		if blocks > 64 {
			return nil, malformed("hdf5: object header at %d has more than 64 continuation blocks", addr)
		}
		b := queue[0]
		queue = queue[1:]
		data, err := f.readMeta(b.at, b.n)
		if err != nil {
			return nil, err
		}
		c := &cursor{b: data}
		for c.i+8 <= len(data) && len(msgs) < nmsgs {
			typ, sz, flags := c.u16(), c.u16(), c.u8()
			c.take(3)
			body := c.take(sz)
			if c.err != nil {
				return nil, c.err
			}
			if pad := c.i % 8; pad != 0 && c.i+8-pad <= len(data) {
				c.take(8 - pad)
			}
			msgs = append(msgs, message{typ, flags, body})
			if typ == msgContinuation {
				mc := &cursor{b: body}
				at, n := f.addr(mc), f.length(mc)
				if mc.err != nil {
					return nil, mc.err
				}
				queue = append(queue, block{at, n})
			}
		}
	}
	return msgs, nil
}

// entry is a group member: its name and object header address.
type entry struct {
	name string
	addr int64
}

// firstDataset returns the first dataset at or below the object at addr.
func (f *h5file) firstDataset(addr int64, name string, depth int) (*Array, error) {
	if depth > maxGroupDep {
		return nil, malformed("hdf5: groups nested more than %d deep", maxGroupDep)
	}
	msgs, err := f.header(addr)
	if err != nil {
		return nil, err
	}
	var sym *message
	for i, m := range msgs {
		switch m.typ {
		case msgLayout:
			return f.dataset(name, msgs)
		case msgSymbolTable:
			sym = &msgs[i]
		}
	}
	if sym == nil {
		for _, m := range msgs {
			if m.typ == msgLink || m.typ == msgLinkInfo {
				return nil, unsupported("HDF5 groups stored as link messages (written with libver='latest'); modelhub reads h5py's default files")
			}
		}
		return nil, nil // neither a group nor a dataset (e.g. a committed datatype)
	}
	c := &cursor{b: sym.data}
	btree, heap := f.addr(c), f.addr(c)
	if c.err != nil {
		return nil, c.err
	}
	entries, err := f.groupEntries(btree, heap)
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	for _, e := range entries {
		a, err := f.firstDataset(e.addr, strings.TrimPrefix(name+"/"+e.name, "/"), depth+1)
		if err != nil || a != nil {
			return a, err
		}
	}
	return nil, nil
}

// groupEntries lists a symbol-table group: a version 1 B-tree of symbol
// table nodes whose names are in a local heap.
func (f *h5file) groupEntries(btree, heapAddr int64) ([]entry, error) {
	hh, err := f.readMeta(heapAddr, int64(8+2*f.sl+f.so))
	if err != nil {
		return nil, err
	}
	if string(hh[:4]) != "HEAP" {
		return nil, malformed("hdf5: no local heap at %d", heapAddr)
	}
	c := &cursor{b: hh, i: 8}
	segSize := f.length(c)
	f.length(c)
	segAddr := f.addr(c)
	if c.err != nil {
		return nil, c.err
	}
	heap, err := f.readMeta(segAddr, segSize)
	if err != nil {
		return nil, err
	}
	var out []entry
	seen := map[int64]bool{}
	var walk func(addr int64, level int) error
	walk = func(addr int64, level int) error {
		if seen[addr] {
			return malformed("hdf5: a B-tree node is reached twice (%d)", addr)
		}
		seen[addr] = true
		node, children, err := f.btreeNode(addr, 0, level)
		if err != nil {
			return err
		}
		for _, ch := range children {
			if node > 0 {
				if err := walk(ch.addr, node-1); err != nil {
					return err
				}
				continue
			}
			es, err := f.symbolNode(ch.addr, heap)
			if err != nil {
				return err
			}
			out = append(out, es...)
			if len(out) > 1<<16 {
				return malformed("hdf5: a group of more than 65536 members")
			}
		}
		return nil
	}
	if err := walk(btree, -1); err != nil {
		return nil, err
	}
	return out, nil
}

// btChild is a child of a version 1 B-tree node with the key before it.
type btChild struct {
	key  []byte
	addr int64
}

// btreeNode reads a version 1 B-tree node of the given type; its level must
// be want (unless want < 0) and is returned.
func (f *h5file) btreeNode(addr int64, typ, want int) (int, []btChild, error) {
	hd := int64(8 + 2*f.so)
	h, err := f.readMeta(addr, hd)
	if err != nil {
		return 0, nil, err
	}
	if string(h[:4]) != "TREE" || int(h[4]) != typ {
		return 0, nil, malformed("hdf5: no B-tree node of type %d at %d", typ, addr)
	}
	level, used := int(h[5]), int(binary.LittleEndian.Uint16(h[6:]))
	if want >= 0 && level != want {
		return 0, nil, malformed("hdf5: B-tree node at %d is at level %d, want %d", addr, level, want)
	}
	var ks int
	if typ == 0 {
		ks = f.sl
	} else {
		ks = 8 + 8*f.chunkDims
	}
	body, err := f.readMeta(addr+hd, int64((used+1)*ks+used*f.so))
	if err != nil {
		return 0, nil, err
	}
	c := &cursor{b: body}
	out := make([]btChild, 0, used)
	for range used {
		k := c.take(ks)
		a := f.addr(c)
		out = append(out, btChild{key: k, addr: a})
	}
	return level, out, c.err
}

// symbolNode reads a symbol table node's entries, named from heap.
func (f *h5file) symbolNode(addr int64, heap []byte) ([]entry, error) {
	h, err := f.readMeta(addr, 8)
	if err != nil {
		return nil, err
	}
	if string(h[:4]) != "SNOD" {
		return nil, malformed("hdf5: no symbol table node at %d", addr)
	}
	n := int(binary.LittleEndian.Uint16(h[6:]))
	es := int64(2*f.so + 24)
	body, err := f.readMeta(addr+8, int64(n)*es)
	if err != nil {
		return nil, err
	}
	c := &cursor{b: body}
	var out []entry
	for range n {
		nameOff := f.length(c)
		obj := f.addr(c)
		c.take(24)
		if c.err != nil {
			return nil, c.err
		}
		if nameOff >= int64(len(heap)) {
			return nil, malformed("hdf5: a member's name lies outside its heap")
		}
		name := heap[nameOff:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		out = append(out, entry{name: string(name), addr: obj})
	}
	return out, nil
}

// dtype is a dataset's or attribute's type as the file stores it.
type dtype struct {
	DType
	big    bool
	str    bool // a fixed-length string (attributes only)
	strLen int
}

func parseDatatype(b []byte) (dtype, error) {
	c := &cursor{b: b}
	cv := c.u8()
	bits := c.take(3)
	size := int(c.u32())
	if c.err != nil {
		return dtype{}, c.err
	}
	class := cv & 0x0f
	switch class {
	case 0: // fixed point
		p := &cursor{b: b[8:]}
		off, prec := p.u16(), p.u16()
		if p.err != nil {
			return dtype{}, p.err
		}
		k := Uint
		if bits[0]&0x08 != 0 {
			k = Int
		}
		dt := dtype{DType: DType{Kind: k, Size: size}, big: bits[0]&1 != 0}
		if !dt.valid() || off != 0 || prec != size*8 {
			return dtype{}, unsupported("integers of %d bytes with %d bits at offset %d", size, prec, off)
		}
		return dt, nil
	case 1: // floating point
		if bits[0]&0x40 != 0 {
			return dtype{}, unsupported("VAX-order floats")
		}
		dt := dtype{DType: DType{Kind: Float, Size: size}, big: bits[0]&1 != 0}
		if !dt.valid() {
			return dtype{}, unsupported("floats of %d bytes", size)
		}
		return dt, nil
	case 3: // string
		return dtype{str: true, strLen: size}, nil
	case 8: // enum: h5py's bool is an enum of int8 {FALSE, TRUE}
		base, err := parseDatatype(b[8:])
		if err != nil {
			return dtype{}, err
		}
		members := int(binary.LittleEndian.Uint16(append(bits[:2:2], 0)))
		if base.Size == 1 && members == 2 {
			base.Kind = Bool
			return base, nil
		}
		return base, nil
	}
	names := map[int]string{2: "time", 4: "bitfield", 5: "opaque", 6: "compound", 7: "reference", 9: "variable-length", 10: "array"}
	n := names[class]
	if n == "" {
		n = fmt.Sprintf("class %d", class)
	}
	return dtype{}, unsupported("HDF5 %s data (only integers, floats and bools are read)", n)
}

// parseDataspace returns the dimensions; null reports a dataspace with no data.
func (f *h5file) parseDataspace(b []byte) (shape []int, null bool, err error) {
	c := &cursor{b: b}
	ver, rank, flags := c.u8(), c.u8(), c.u8()
	switch ver {
	case 1:
		c.take(5)
	case 2:
		if typ := c.u8(); typ == 2 {
			return nil, true, c.err
		}
	default:
		return nil, false, malformed("hdf5: dataspace version %d", ver)
	}
	if rank > maxRank {
		return nil, false, malformed("hdf5: %d dimensions (at most %d)", rank, maxRank)
	}
	shape = make([]int, rank)
	for i := range shape {
		d := f.length(c)
		if d > 1<<40 {
			return nil, false, fmt.Errorf("%w: dimension of %d elements", ErrTooLarge, d)
		}
		shape[i] = int(d)
	}
	_ = flags
	return shape, false, c.err
}

type filter struct {
	id    int
	flags int
}

func parseFilters(b []byte) ([]filter, error) {
	c := &cursor{b: b}
	ver, n := c.u8(), c.u8()
	if ver == 1 {
		c.take(6)
	} else if ver != 2 {
		return nil, malformed("hdf5: filter pipeline version %d", ver)
	}
	var out []filter
	for range n {
		id := c.u16()
		nameLen := 0
		if ver == 1 || id >= 256 {
			nameLen = c.u16()
		}
		flags, nv := c.u16(), c.u16()
		if ver == 1 {
			c.take((nameLen + 7) / 8 * 8)
		} else {
			c.take(nameLen)
		}
		c.take(4 * nv)
		if ver == 1 && nv%2 == 1 {
			c.take(4)
		}
		if c.err != nil {
			return nil, c.err
		}
		switch id {
		case 1, 2, 3:
		default:
			names := map[int]string{4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf", 32001: "blosc", 32004: "lz4", 32008: "bitshuffle", 32015: "zstd"}
			nm := names[id]
			if nm == "" {
				nm = fmt.Sprintf("filter %d", id)
			}
			return nil, unsupported("HDF5 %s compression (gzip, shuffle and fletcher32 are read)", nm)
		}
		out = append(out, filter{id, flags})
	}
	return out, nil
}

// attrString reads a string-valued attribute message; ok is false for
// other attributes.
func (f *h5file) attrString(b []byte) (name, val string, ok bool) {
	c := &cursor{b: b}
	ver := c.u8()
	c.u8()
	nl, tl, sl := c.u16(), c.u16(), c.u16()
	pad := func(n int) int { return n }
	switch ver {
	case 1:
		pad = func(n int) int { return (n + 7) / 8 * 8 }
	case 2:
	case 3:
		c.u8()
	default:
		return "", "", false
	}
	nm := c.take(pad(nl))
	tb := c.take(pad(tl))
	sb := c.take(pad(sl))
	if c.err != nil || nl > len(nm) || tl > len(tb) || sl > len(sb) {
		return "", "", false
	}
	dt, err := parseDatatype(tb[:tl])
	if err != nil || !dt.str {
		return "", "", false
	}
	shape, null, err := f.parseDataspace(sb[:sl])
	if err != nil || null || len(shape) > 1 || (len(shape) == 1 && shape[0] != 1) {
		return "", "", false
	}
	v := c.take(dt.strLen)
	if c.err != nil {
		return "", "", false
	}
	return strings.TrimRight(string(bytes.TrimRight(nm[:nl], "\x00")), "\x00"), strings.TrimRight(string(v), "\x00 "), true
}

// dataset reads a dataset from its header messages.
func (f *h5file) dataset(name string, msgs []message) (*Array, error) {
	var (
		dt                 dtype
		shape              []int
		haveT, haveS, null bool
		layout             []byte
		filters            []filter
		attrs              = map[string]string{}
	)
	for _, m := range msgs {
		if m.flags&0x02 != 0 && (m.typ == msgDatatype || m.typ == msgDataspace) {
			return nil, unsupported("HDF5 shared datatypes or dataspaces")
		}
		var err error
		switch m.typ {
		case msgDatatype:
			dt, err = parseDatatype(m.data)
			haveT = true
		case msgDataspace:
			shape, null, err = f.parseDataspace(m.data)
			haveS = true
		case msgLayout:
			layout = m.data
		case msgFilters:
			filters, err = parseFilters(m.data)
		case msgAttribute:
			if k, v, ok := f.attrString(m.data); ok && len(attrs) < 64 {
				attrs[k] = v
			}
		}
		if err != nil {
			return nil, fmt.Errorf("dataset %q: %w", name, err)
		}
	}
	if !haveT || !haveS {
		return nil, malformed("hdf5: dataset %q has no datatype or dataspace", name)
	}
	if dt.str {
		return nil, unsupported("dataset %q holds strings (only integers, floats and bools are read)", name)
	}
	if null {
		return nil, fmt.Errorf("hdf5: dataset %q is empty (null dataspace)", name)
	}
	n, err := dataSize(shape, dt.Size, f.lim.maxBytes())
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", name, err)
	}
	data, err := f.layoutData(name, layout, shape, dt, n, filters)
	if err != nil {
		return nil, err
	}
	if dt.big {
		swap(data, dt.Size)
	}
	return &Array{Name: name, Type: dt.DType, Shape: shape, Data: data, Attrs: attrs}, nil
}

func (f *h5file) layoutData(name string, b []byte, shape []int, dt dtype, n int64, filters []filter) ([]byte, error) {
	c := &cursor{b: b}
	ver := c.u8()
	var class, ndims int
	var addr int64
	var dims []int64
	switch ver {
	case 1, 2:
		ndims, class = c.u8(), c.u8()
		c.take(5)
		if class != 0 {
			addr = f.addr(c)
		}
		for range ndims {
			dims = append(dims, c.u32())
		}
		if class == 0 {
			sz := c.u32()
			return f.compact(name, c.take(int(min(sz, int64(len(b))))), n, c.err)
		}
	case 3:
		class = c.u8()
		switch class {
		case 0:
			sz := c.u16()
			return f.compact(name, c.take(sz), n, c.err)
		case 1:
			addr = f.addr(c)
			size := f.length(c)
			if c.err == nil && size != n && addr >= 0 {
				return nil, malformed("hdf5: dataset %q stores %d bytes for shape %v of %s (%d bytes)", name, size, shape, dt, n)
			}
		case 2:
			ndims = c.u8()
			addr = f.addr(c)
			for range ndims {
				dims = append(dims, c.u32())
			}
		}
	case 4, 5:
		return nil, unsupported("HDF5 data layout version %d (written with libver='latest'); modelhub reads h5py's default files", ver)
	default:
		return nil, malformed("hdf5: data layout version %d", ver)
	}
	if c.err != nil {
		return nil, c.err
	}
	switch class {
	case 1: // contiguous
		if len(filters) > 0 {
			return nil, malformed("hdf5: dataset %q is contiguous but filtered", name)
		}
		if addr < 0 { // never written: the fill value
			return make([]byte, n), nil
		}
		return f.read(addr, n)
	case 2:
		if ndims != len(shape)+1 {
			return nil, malformed("hdf5: dataset %q: chunks of %d dimensions for %d", name, ndims-1, len(shape))
		}
		return f.chunked(name, addr, shape, dims[:len(shape)], dt, n, filters)
	}
	return nil, malformed("hdf5: data layout class %d", class)
}

func (f *h5file) compact(name string, data []byte, n int64, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != n {
		return nil, malformed("hdf5: dataset %q holds %d bytes, its shape needs %d", name, len(data), n)
	}
	return append([]byte(nil), data...), nil
}

// chunked assembles a chunked dataset from its B-tree of chunks.
func (f *h5file) chunked(name string, btree int64, shape []int, cdims []int64, dt dtype, n int64, filters []filter) ([]byte, error) {
	rank := len(shape)
	cshape := make([]int, rank)
	for i, d := range cdims {
		if d <= 0 || d > 1<<32 {
			return nil, malformed("hdf5: dataset %q: chunk dimension %d", name, d)
		}
		cshape[i] = int(d)
	}
	cn, err := dataSize(cshape, dt.Size, f.lim.maxBytes())
	if err != nil {
		return nil, fmt.Errorf("dataset %q: chunk: %w", name, err)
	}
	out := make([]byte, n)
	if btree < 0 || n == 0 {
		return out, nil
	}
	f.chunkDims = rank + 1
	seen := map[int64]bool{}
	var walk func(addr int64, level int) error
	walk = func(addr int64, level int) error {
		if seen[addr] {
			return malformed("hdf5: a B-tree node is reached twice (%d)", addr)
		}
		seen[addr] = true
		lvl, children, err := f.btreeNode(addr, 1, level)
		if err != nil {
			return err
		}
		for _, ch := range children {
			if lvl > 0 {
				if err := walk(ch.addr, lvl-1); err != nil {
					return err
				}
				continue
			}
			kc := &cursor{b: ch.key}
			stored := kc.u32()
			mask := kc.u32()
			off := make([]int, rank)
			for i := range off {
				o := kc.uN(8)
				if o >= uint64(shape[i]) || o%uint64(cshape[i]) != 0 {
					return malformed("hdf5: dataset %q: a chunk at offset %d of dimension %d (size %d)", name, o, i, shape[i])
				}
				off[i] = int(o)
			}
			if stored > cn*2+4096 {
				return malformed("hdf5: dataset %q: a chunk stores %d bytes for %d", name, stored, cn)
			}
			raw, err := f.read(ch.addr, stored)
			if err != nil {
				return err
			}
			chunk, err := unfilter(raw, filters, int(mask), cn, dt.Size)
			if err != nil {
				return fmt.Errorf("dataset %q: %w", name, err)
			}
			place(out, chunk, shape, cshape, off, dt.Size)
		}
		return nil
	}
	if err := walk(btree, -1); err != nil {
		return nil, err
	}
	return out, nil
}

// unfilter undoes a chunk's filters (last applied first) into exactly n bytes.
func unfilter(b []byte, fs []filter, mask int, n int64, size int) ([]byte, error) {
	for i := len(fs) - 1; i >= 0; i-- {
		if mask&(1<<i) != 0 {
			continue
		}
		switch fs[i].id {
		case 3: // fletcher32: a checksum after the data
			if len(b) < 4 {
				return nil, malformed("hdf5: a chunk too short for its checksum")
			}
			b = b[:len(b)-4]
		case 1:
			zr, err := zlib.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, malformed("hdf5: a gzip chunk: %v", err)
			}
			out := make([]byte, n)
			k, err := io.ReadFull(zr, out)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, malformed("hdf5: a gzip chunk: %v", err)
			}
			b = out[:k]
		case 2:
			b = unshuffle(b, size)
		}
	}
	if int64(len(b)) != n {
		return nil, malformed("hdf5: a chunk holds %d bytes, want %d", len(b), n)
	}
	return b, nil
}

// unshuffle undoes HDF5's shuffle filter (byte i of every element stored
// together).
func unshuffle(b []byte, size int) []byte {
	if size <= 1 {
		return b
	}
	n := len(b) / size
	out := make([]byte, len(b))
	for j := 0; j < size; j++ {
		for i := 0; i < n; i++ {
			out[i*size+j] = b[j*n+i]
		}
	}
	copy(out[n*size:], b[n*size:])
	return out
}

// place copies a chunk of shape cshape at offset off into out (of shape),
// clipping the chunk at the array's edges.
func place(out, chunk []byte, shape, cshape, off []int, size int) {
	rank := len(shape)
	if rank == 0 {
		copy(out, chunk)
		return
	}
	// rows along the last dimension
	last := rank - 1
	rowLen := min(cshape[last], shape[last]-off[last])
	idx := make([]int, rank-1)
	for {
		ok := true
		for i := range idx {
			if off[i]+idx[i] >= shape[i] {
				ok = false
			}
		}
		if ok {
			src, dst := 0, 0
			for i := 0; i < rank-1; i++ {
				src = src*cshape[i] + idx[i]
				dst = dst*shape[i] + off[i] + idx[i]
			}
			src = src * cshape[last]
			dst = dst*shape[last] + off[last]
			copy(out[dst*size:(dst+rowLen)*size], chunk[src*size:(src+rowLen)*size])
		}
		i := rank - 2
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < cshape[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}
