package predict

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/modelhub-ai/modelhub/internal/filetype"
	"github.com/modelhub-ai/modelhub/internal/ndarray"
	"github.com/modelhub-ai/modelhub/internal/testutil"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/nifti"
)

// npyBytes is a .npy file of the given NumPy dtype (descr) and shape.
func npyBytes(descr string, shape []int, data []byte) []byte {
	dims := make([]string, len(shape))
	for i, n := range shape {
		dims[i] = fmt.Sprint(n)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(hdr)))
	return append(append(b, hdr...), data...)
}

func writeNPY3(t testing.TB, path string, shape []int, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, npyBytes("|u1", shape, data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeNPYf(t testing.TB, path string, shape []int, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, npyBytes("<f4", shape, data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func npyArray(t testing.TB, shape []int, data []byte) *ndarray.Array {
	t.Helper()
	b := npyBytes("|u1", shape, data)
	a, err := ndarray.ReadNPY(bytes.NewReader(b), int64(len(b)), ndarray.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func readPNG(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// benchCase is a 300-slice 512x512 CT-like input NIfTI and the engine's
// [z, y, x] mask of it, saved as predict saves outputs.
func benchCase(b *testing.B) (string, *Item, *Result) {
	const nx, ny, nz = 512, 512, 300
	dir := b.TempDir()
	vol := make([]byte, 2*nx*ny*nz)
	mask := make([]byte, nx*ny*nz)
	for k := 0; k < nz; k++ {
		for j := 0; j < ny; j++ {
			for i := 0; i < nx; i++ {
				idx := (k*ny+j)*nx + i
				dx, dy := float64(i-256), float64(j-256)
				v := -1000
				if dx*dx+dy*dy < 180*180 {
					v = 40 + (i*7+j*3+k)%50
					mask[idx] = 1
				}
				binary.LittleEndian.PutUint16(vol[2*idx:], uint16(int16(v)))
			}
		}
	}
	in := filepath.Join(dir, "ct.nii.gz")
	if err := nifti.WriteFile(in, &nifti.Image{Dims: [3]int{nx, ny, nz}, Datatype: nifti.DTInt16, Data: vol,
		Affine: [4][4]float64{{-0.7, 0, 0, 180}, {0, -0.7, 0, 180}, {0, 0, 1, -150}, {0, 0, 0, 1}}}); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(out, "ct"), 0o755); err != nil {
		b.Fatal(err)
	}
	writeNPY3(b, filepath.Join(out, "ct", "mask.npy"), []int{nz, ny, nx}, mask)
	it := CaseItem("ct", []CaseFile{{Input: "image", Path: in, Type: filetype.NIIGzip}})
	res := &Result{Folder: "ct", Output: []byte(`{"output": [{"name": "mask", "type": "mask_image", "prediction": "http://e/api/output/mask.npy"}]}`),
		Saved: []SavedFile{{Output: "mask", URL: "http://e/api/output/mask.npy", Path: "ct/mask.npy"}}}
	return out, &it, res
}

// A 300-slice 512x512 mask to NIfTI in the input's geometry (target: under
// 1 s): reading the engine's array, writing mask.nii.gz. The input volume is
// read too (for its affine and the label statistics), so this is the whole
// step predict takes per case.
func BenchmarkMaskNIfTI300x512(b *testing.B) {
	out, it, res := benchCase(b)
	m := &MaskOptions{Model: "bench"}
	b.ResetTimer()
	cpu0 := testutil.CPUTime()
	for b.Loop() {
		r := *res
		r.Masks = nil
		if err := m.post(context.Background(), out, it, &r); err != nil {
			b.Fatal(err)
		}
		if len(r.Masks) != 1 || r.Masks[0].Path == "" {
			b.Fatalf("%+v", r.Masks)
		}
	}
	b.ReportMetric((testutil.CPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
