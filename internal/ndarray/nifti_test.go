package ndarray

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// nifti builds a NIfTI-1 file of int16 voxels v(x,y,z) = x + 10y + 100z.
func nifti(bo interface {
	binary.ByteOrder
	binary.AppendByteOrder
}, nx, ny, nz int) []byte {
	h := make([]byte, 352)
	bo.PutUint32(h, 348)
	for i, d := range []int{3, nx, ny, nz, 1, 1, 1, 1} {
		bo.PutUint16(h[40+2*i:], uint16(d))
	}
	bo.PutUint16(h[70:], 4)
	bo.PutUint16(h[72:], 16)
	bo.PutUint32(h[108:], math.Float32bits(352))
	copy(h[344:], "n+1\x00")
	for z := range nz {
		for y := range ny {
			for x := range nx {
				h = bo.AppendUint16(h, uint16(x+10*y+100*z))
			}
		}
	}
	return h
}

func checkNIfTI(t *testing.T, a *Array, nx, ny, nz int) {
	t.Helper()
	if a.Type.String() != "int16" || len(a.Shape) != 3 || a.Shape[0] != nz || a.Shape[1] != ny || a.Shape[2] != nx {
		t.Fatalf("%s", a)
	}
	for z := range nz {
		for y := range ny {
			for x := range nx {
				if v := a.At((z*ny+y)*nx + x); v != float64(x+10*y+100*z) {
					t.Fatalf("voxel %d,%d,%d = %v", x, y, z, v)
				}
			}
		}
	}
}

func TestReadNIfTI(t *testing.T) {
	for _, bo := range []interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}{binary.LittleEndian, binary.BigEndian} {
		raw := nifti(bo, 4, 3, 2)
		a, err := ReadNIfTI(bytes.NewReader(raw), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		checkNIfTI(t, a, 4, 3, 2)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(raw)
		zw.Close()
		if a, err = ReadNIfTI(&gz, Limits{}); err != nil {
			t.Fatal(err)
		}
		checkNIfTI(t, a, 4, 3, 2)
	}
	// declared larger than the limit, or than the data: refused
	if _, err := ReadNIfTI(bytes.NewReader(nifti(binary.LittleEndian, 4, 3, 2)), Limits{MaxBytes: 47}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	raw := nifti(binary.LittleEndian, 4, 3, 2)
	if _, err := ReadNIfTI(bytes.NewReader(raw[:len(raw)-1]), Limits{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("cut: %v", err)
	}
}

// A volume written by nibabel (the reference reader/writer of NIfTI in
// Python) reads back in [z, y, x] order.
func TestReadNIfTINibabel(t *testing.T) {
	py := python(t)
	if exec.Command(py, "-c", "import nibabel").Run() != nil {
		if os.Getenv("MODELHUB_REQUIRE_H5") == "1" {
			t.Fatal("no nibabel, and MODELHUB_REQUIRE_H5=1 requires this test (install python3-nibabel)")
		}
		t.Skip("SKIP: no nibabel (install python3-nibabel)")
	}
	p := filepath.Join(t.TempDir(), "v.nii.gz")
	script := `import sys, numpy as np, nibabel as nib
x, y, z = np.meshgrid(np.arange(5), np.arange(4), np.arange(3), indexing="ij")
nib.save(nib.Nifti1Image((x + 10*y + 100*z).astype(np.int16), np.eye(4)), sys.argv[1])`
	if out, err := exec.Command(py, "-c", script, p).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := ReadNIfTI(f, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	checkNIfTI(t, a, 5, 4, 3)
}
