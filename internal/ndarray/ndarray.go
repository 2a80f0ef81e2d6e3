// Package ndarray reads the n-dimensional arrays model engines return: HDF5
// files as h5py writes them (the modelhub engine saves every numpy output so:
// one dataset named after the output, superblock version 0, contiguous or
// chunked storage, optionally gzip and shuffle) and NumPy .npy files (format
// versions 1 to 3, C or Fortran order). Every size a file declares is checked
// against the file's own size and against Limits before anything is
// allocated, so a malformed or hostile file is refused with an error in
// bounded memory. It never prints.
package ndarray

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Kind is the kind of an array's elements.
type Kind uint8

// Element kinds.
const (
	Int Kind = iota + 1
	Uint
	Float
	Bool
)

// DType is an element type: its kind and size in bytes.
type DType struct {
	Kind Kind
	Size int
}

// String is NumPy's name of the type (uint8, float32, bool).
func (d DType) String() string {
	switch d.Kind {
	case Int:
		return fmt.Sprintf("int%d", d.Size*8)
	case Uint:
		return fmt.Sprintf("uint%d", d.Size*8)
	case Float:
		return fmt.Sprintf("float%d", d.Size*8)
	case Bool:
		return "bool"
	}
	return "unknown"
}

func (d DType) valid() bool {
	switch d.Kind {
	case Int, Uint:
		return d.Size == 1 || d.Size == 2 || d.Size == 4 || d.Size == 8
	case Float:
		return d.Size == 2 || d.Size == 4 || d.Size == 8
	case Bool:
		return d.Size == 1
	}
	return false
}

// Array is an n-dimensional array in C order (the last index varies fastest),
// its elements little-endian in Data.
type Array struct {
	Name  string // the HDF5 dataset's name; empty for .npy
	Type  DType
	Shape []int
	Data  []byte
	// Attrs are the dataset's string attributes (h5py's engine writes
	// "type", the NumPy dtype's name).
	Attrs map[string]string
}

// Len is the number of elements.
func (a *Array) Len() int {
	if a.Type.Size == 0 {
		return 0
	}
	return len(a.Data) / a.Type.Size
}

// At is element i (in C order) as a float64.
func (a *Array) At(i int) float64 {
	b := a.Data[i*a.Type.Size:]
	switch a.Type.Kind {
	case Bool:
		if b[0] != 0 {
			return 1
		}
		return 0
	case Uint:
		switch a.Type.Size {
		case 1:
			return float64(b[0])
		case 2:
			return float64(binary.LittleEndian.Uint16(b))
		case 4:
			return float64(binary.LittleEndian.Uint32(b))
		default:
			return float64(binary.LittleEndian.Uint64(b))
		}
	case Int:
		switch a.Type.Size {
		case 1:
			return float64(int8(b[0]))
		case 2:
			return float64(int16(binary.LittleEndian.Uint16(b)))
		case 4:
			return float64(int32(binary.LittleEndian.Uint32(b)))
		default:
			return float64(int64(binary.LittleEndian.Uint64(b)))
		}
	default:
		switch a.Type.Size {
		case 2:
			return halfToFloat(binary.LittleEndian.Uint16(b))
		case 4:
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		default:
			return math.Float64frombits(binary.LittleEndian.Uint64(b))
		}
	}
}

func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * frac * math.Pow(2, -24)
	case 0x1f:
		if frac == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * (1 + frac/1024) * math.Pow(2, float64(exp-15))
}

// Limits bound what a read may allocate.
type Limits struct {
	// MaxBytes bounds an array's data (default DefaultMaxBytes).
	MaxBytes int64
}

// DefaultMaxBytes is the default bound of an array's data: a 512×512×512
// float32 volume.
const DefaultMaxBytes = 512 << 20

func (l Limits) maxBytes() int64 {
	if l.MaxBytes > 0 {
		return l.MaxBytes
	}
	return DefaultMaxBytes
}

// maxRank is HDF5's own bound on dimensions (H5S_MAX_RANK).
const maxRank = 32

// Errors a read wraps, usable with errors.Is.
var (
	ErrMalformed   = errors.New("malformed file")
	ErrUnsupported = errors.New("unsupported")
	ErrTooLarge    = errors.New("too large")
	ErrNotArray    = errors.New("not an HDF5 or NumPy file")
)

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

func unsupported(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, a...))
}

// dataSize is the byte size of shape×size, refused when it overflows or
// passes max.
func dataSize(shape []int, size int, max int64) (int64, error) {
	n := int64(size)
	for _, d := range shape {
		if d < 0 {
			return 0, malformed("negative dimension %d", d)
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > 0 && int64(d) > (math.MaxInt64/2)/n {
			return 0, fmt.Errorf("%w: shape %v overflows", ErrTooLarge, shape)
		}
		n *= int64(d)
	}
	if n > max {
		return 0, fmt.Errorf("%w: the array holds %d bytes (shape %v), more than the limit of %d MiB", ErrTooLarge, n, shape, max>>20)
	}
	return n, nil
}

// Format names what a file's first bytes say it is: "hdf5", "npy" or "".
func Format(head []byte) string {
	switch {
	case bytes.HasPrefix(head, h5Signature):
		return "hdf5"
	case bytes.HasPrefix(head, npyMagic):
		return "npy"
	}
	return ""
}

// ReadFile reads the array of an .h5 or .npy file (by its content, not its
// name). An HDF5 file's first dataset is returned (the engine writes one).
func ReadFile(path string, lim Limits) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return Read(f, st.Size(), lim)
}

// Read reads the array of an .h5 or .npy file of size bytes.
func Read(r io.ReaderAt, size int64, lim Limits) (*Array, error) {
	head := make([]byte, 8)
	n, _ := r.ReadAt(head, 0)
	switch Format(head[:n]) {
	case "npy":
		return ReadNPY(io.NewSectionReader(r, 0, size), size, lim)
	case "hdf5":
		return ReadH5(r, size, lim)
	}
	// HDF5 allows a user block before the superblock, at 512, 1024, 2048…
	if _, err := findSuperblock(r, size); err == nil {
		return ReadH5(r, size, lim)
	}
	return nil, ErrNotArray
}
