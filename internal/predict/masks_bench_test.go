package predict

import (
	"context"
	"encoding/binary"
	"fmt"
	"github.com/modelhub-ai/modelhub/internal/testutil"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/nifti"
)

// writeNPY writes a uint8 array as a .npy file.
func writeNPY(t testing.TB, path string, shape []int, data []byte) {
	t.Helper()
	hdr := fmt.Sprintf("{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d, %d), }", shape[0], shape[1], shape[2])
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(hdr)))
	b = append(append(b, hdr...), data...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
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
	writeNPY(b, filepath.Join(out, "ct", "mask.npy"), []int{nz, ny, nx}, mask)
	it := &Item{Name: "ct", Case: []CaseFile{{Input: "image", Path: in, Type: TypeNIIGzip}}}
	res := &Result{Folder: "ct", Output: []byte(`{"output": [{"name": "mask", "type": "mask_image", "prediction": "http://e/api/output/mask.npy"}]}`),
		Saved: []SavedFile{{Output: "mask", URL: "http://e/api/output/mask.npy", Path: "ct/mask.npy"}}}
	return out, it, res
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
