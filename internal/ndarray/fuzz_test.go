package ndarray

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead: whatever the bytes, Read (and ReadNIfTI) returns an array or an error; it never
// panics, and never returns more data than the limit allows (the fuzzer's
// own memory limit catches an allocation a declared size slipped past).
func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.h5")
	npys, _ := filepath.Glob("testdata/*.npy")
	for _, p := range append(files, npys...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x93NUMPY\x01\x00\x10\x00{'descr': '<u1'}"))
	f.Add([]byte("\x89HDF\r\n\x1a\n\x00"))
	f.Add(nifti(binary.LittleEndian, 3, 2, 2))
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := ReadNIfTI(bytes.NewReader(b), Limits{MaxBytes: limit}); err == nil && len(a.Data) > limit {
			t.Fatalf("nifti: %d bytes of data past the %d limit", len(a.Data), limit)
		}
		a, err := Read(bytes.NewReader(b), int64(len(b)), Limits{MaxBytes: limit})
		if err != nil {
			return
		}
		if len(a.Data) > limit {
			t.Fatalf("%d bytes of data past the %d limit", len(a.Data), limit)
		}
		if a.Type.Size == 0 || len(a.Data)%a.Type.Size != 0 {
			t.Fatalf("%d bytes of %s", len(a.Data), a.Type)
		}
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if n != a.Len() {
			t.Fatalf("shape %v but %d elements", a.Shape, a.Len())
		}
		for i := range a.Len() {
			a.At(i)
		}
	})
}
