package ndarray

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// fixture is one entry of a manifest.json written by testdata/gen.py.
type fixture struct {
	File     string `json:"file"`
	Kind     string `json:"kind"`
	DType    string `json:"dtype"`
	Shape    []int  `json:"shape"`
	Name     string `json:"name"`
	TypeAttr string `json:"type_attr"`
	Error    string `json:"error"`
}

// want is gen.py's value(i) for a dtype.
func want(dtype string, i int) float64 {
	switch {
	case dtype == "bool":
		if i%3 == 0 {
			return 1
		}
		return 0
	case strings.HasPrefix(dtype, "float"):
		return float64((i*7)%97)*0.25 - 10
	case strings.HasPrefix(dtype, "int"):
		return float64((i*7)%97 - 40)
	}
	return float64((i * 7) % 97)
}

func checkFixtures(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man []fixture
	if err := json.Unmarshal(data, &man); err != nil {
		t.Fatal(err)
	}
	for _, fx := range man {
		t.Run(fx.File, func(t *testing.T) {
			a, err := ReadFile(filepath.Join(dir, fx.File), Limits{})
			if fx.Error != "" {
				if err == nil || !strings.Contains(err.Error(), fx.Error) {
					t.Fatalf("err = %v, want one containing %q", err, fx.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Type.String() != fx.DType {
				t.Errorf("dtype %s, want %s", a.Type, fx.DType)
			}
			if !slices.Equal(a.Shape, fx.Shape) {
				t.Errorf("shape %v, want %v", a.Shape, fx.Shape)
			}
			if fx.Name != "" && a.Name != fx.Name {
				t.Errorf("name %q, want %q", a.Name, fx.Name)
			}
			if fx.TypeAttr != "" && a.Attrs["type"] != fx.TypeAttr {
				t.Errorf("attribute type = %q, want %q", a.Attrs["type"], fx.TypeAttr)
			}
			n := 1
			for _, d := range fx.Shape {
				n *= d
			}
			if a.Len() != n {
				t.Fatalf("%d elements, want %d", a.Len(), n)
			}
			for i := range n {
				if g, w := a.At(i), want(fx.DType, i); g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
					t.Fatalf("element %d = %v, want %v", i, g, w)
				}
			}
		})
	}
	return len(man)
}

// The committed fixtures (written by `python3 testdata/gen.py testdata small`)
// run everywhere.
func TestCommittedFixtures(t *testing.T) {
	if n := checkFixtures(t, "testdata"); n < 4 {
		t.Fatalf("only %d fixtures", n)
	}
}

// python finds a Python with h5py and NumPy: $MODELHUB_PYTHON, Debian's
// /usr/bin/python3 (python3-h5py), then python3 on PATH.
func python(t *testing.T) string {
	var tried []string
	for _, p := range []string{os.Getenv("MODELHUB_PYTHON"), "/usr/bin/python3", "python3"} {
		if p == "" {
			continue
		}
		if exec.Command(p, "-c", "import h5py, numpy").Run() == nil {
			return p
		}
		tried = append(tried, p)
	}
	msg := fmt.Sprintf("no Python with h5py and numpy (tried %s; install python3-h5py)", strings.Join(tried, ", "))
	if os.Getenv("MODELHUB_REQUIRE_H5") == "1" {
		t.Fatalf("%s, and MODELHUB_REQUIRE_H5=1 requires these tests", msg)
	}
	fmt.Fprintln(os.Stderr, "SKIP (this test did not run): "+msg)
	t.Skip("SKIP: " + msg)
	return ""
}

// Every dtype, byte order, storage layout and shape h5py writes, and every
// .npy version and order NumPy writes, read back element by element; what is
// not read is refused naming why.
func TestH5pyWrittenFiles(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	out, err := exec.Command(py, "testdata/gen.py", dir, "all").CombinedOutput()
	if err != nil {
		t.Fatalf("gen.py: %v\n%s", err, out)
	}
	if n := checkFixtures(t, dir); n < 500 {
		t.Fatalf("only %d fixtures", n)
	}
}

func TestLimits(t *testing.T) {
	a, err := ReadFile("testdata/heat_chunked_gzip_shuffle_be.h5", Limits{MaxBytes: 59})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a 60-byte array under a 59-byte limit: %v, %v", a, err)
	}
	if !strings.Contains(err.Error(), "limit") {
		t.Errorf("error %q does not name the limit", err)
	}
	if _, err := ReadFile("testdata/v3_be.npy", Limits{MaxBytes: 47}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("npy over the limit: %v", err)
	}
}

// A file that declares more data than it holds is refused before the data
// is allocated.
func TestDeclaredSizeChecked(t *testing.T) {
	hdr := "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }"
	npy := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), 0)
	npy = append(npy, hdr...)
	_, err := Read(bytes.NewReader(npy), int64(len(npy)), Limits{MaxBytes: 1 << 62})
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "needs") {
		t.Fatalf("err = %v", err)
	}
	_, err = Read(bytes.NewReader(npy), int64(len(npy)), Limits{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	// a contiguous dataset whose data lies past the end of the file
	b, err := os.ReadFile("testdata/mask_contiguous.h5")
	if err != nil {
		t.Fatal(err)
	}
	cut := b[:len(b)-10]
	if _, err := Read(bytes.NewReader(cut), int64(len(cut)), Limits{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("cut file: %v", err)
	}
}

func TestNotArray(t *testing.T) {
	for _, s := range []string{"", "hello", "\x89PNG\r\n\x1a\n...."} {
		if _, err := Read(strings.NewReader(s), int64(len(s)), Limits{}); !errors.Is(err, ErrNotArray) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestNPYHeaderErrors(t *testing.T) {
	for _, h := range []string{
		"{'descr': '<f4', 'fortran_order': False}",
		"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
		"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }",
		"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
		"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
		"[1, 2]",
	} {
		npy := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), 0)
		npy = append(npy, h...)
		npy = append(npy, make([]byte, 8)...)
		if _, err := Read(bytes.NewReader(npy), int64(len(npy)), Limits{}); err == nil {
			t.Errorf("%s: read", h)
		}
	}
}

func TestFortranToC(t *testing.T) {
	// a 2x3 array [[0 1 2] [3 4 5]] in Fortran order is 0 3 1 4 2 5
	got := fortranToC([]byte{0, 3, 1, 4, 2, 5}, []int{2, 3}, 1)
	if !bytes.Equal(got, []byte{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("%v", got)
	}
}

// An .h5 whose dataspace declares a huge shape (1 TiB: the dims and maxdims
// of a small h5py file rewritten) is refused, and refusing it allocates
// next to nothing: over the limit before any allocation; under a limit
// raised out of the way, a contiguous dataset's data is checked against
// the file's size first.
func TestH5HugeDeclaredShapeBoundedMemory(t *testing.T) {
	for file, dims := range map[string][]uint64{
		"mask_contiguous.h5":              {6, 5},
		"heat_chunked_gzip_shuffle_be.h5": {3, 4, 5},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		old, huge := dimBytes(dims), dimBytes(append([]uint64{1 << 20, 1 << 20}, dims[2:]...))
		if bytes.Count(b, old) != 2 { // dims and maxdims
			t.Fatalf("%s: the dims %v are not where expected", file, dims)
		}
		b = bytes.ReplaceAll(b, old, huge)
		read := func(lim Limits) error {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Read(bytes.NewReader(b), int64(len(b)), lim)
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
				t.Errorf("%s: refusing it allocated %d bytes", file, got)
			}
			return err
		}
		if err := read(Limits{}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "more than the limit of 512 MiB") {
			t.Errorf("%s: %v, want ErrTooLarge naming the limit", file, err)
		}
		if strings.Contains(file, "contiguous") {
			if err := read(Limits{MaxBytes: 1 << 62}); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s under no limit: %v, want ErrMalformed", file, err)
			}
		}
	}
}

func dimBytes(dims []uint64) []byte {
	var b []byte
	for _, d := range dims {
		b = binary.LittleEndian.AppendUint64(b, d)
	}
	return b
}
