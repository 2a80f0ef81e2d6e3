package nifti

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func rot(ax, ay, az float64) [3][3]float64 {
	cx, sx, cy, sy, cz, sz := math.Cos(ax), math.Sin(ax), math.Cos(ay), math.Sin(ay), math.Cos(az), math.Sin(az)
	rx := [3][3]float64{{1, 0, 0}, {0, cx, -sx}, {0, sx, cx}}
	ry := [3][3]float64{{cy, 0, sy}, {0, 1, 0}, {-sy, 0, cy}}
	rz := [3][3]float64{{cz, -sz, 0}, {sz, cz, 0}, {0, 0, 1}}
	mul := func(a, b [3][3]float64) (m [3][3]float64) {
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				for k := 0; k < 3; k++ {
					m[i][j] += a[i][k] * b[k][j]
				}
			}
		}
		return
	}
	return mul(rz, mul(ry, rx))
}

func TestWriteReadQform(t *testing.T) {
	dir := t.TempDir()
	for n, c := range []struct {
		angles [3]float64
		flip   bool
	}{{[3]float64{0, 0, 0}, false}, {[3]float64{0, 0, 0}, true}, {[3]float64{0.3, -0.2, 1.1}, true}, {[3]float64{math.Pi, 0, 0.01}, false}, {[3]float64{0, math.Pi, 0}, true}} {
		r := rot(c.angles[0], c.angles[1], c.angles[2])
		sp := [3]float64{0.7, 0.8, 2.5}
		var a [4][4]float64
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				a[i][j] = r[i][j] * sp[j]
				if c.flip && j == 2 {
					a[i][j] = -a[i][j]
				}
			}
			a[i][3] = float64(10*i) - 7.5
		}
		a[3][3] = 1
		im := &Image{Dims: [3]int{3, 2, 2}, Datatype: DTInt16, Data: make([]byte, 24), Affine: a, Slope: 1, Inter: -1024, Description: "x\x01y"}
		for i := range im.Data {
			im.Data[i] = byte(i * 7)
		}
		p := filepath.Join(dir, "t.nii.gz")
		if err := WriteFile(p, im); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if got.Dims != im.Dims || got.Datatype != DTInt16 || got.Slope != 1 || got.Inter != -1024 || string(got.Data) != string(im.Data) || got.Description != "x_y" {
			t.Fatalf("case %d: %+v", n, got)
		}
		q := QformAffine(qb(p), qc(p), qd(p), got.Qfac, got.Pixdim, [3]float64{a[0][3], a[1][3], a[2][3]})
		for i := 0; i < 3; i++ {
			for j := 0; j < 4; j++ {
				if math.Abs(got.Affine[i][j]-a[i][j]) > 1e-5 || math.Abs(q[i][j]-a[i][j]) > 1e-4 {
					t.Fatalf("case %d: sform %v qform %v want %v", n, got.Affine, q, a)
				}
			}
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.nii")); err == nil {
		t.Fatal("no error")
	}
	os.WriteFile(filepath.Join(dir, "junk.nii"), []byte("junk"), 0o644)
	if _, err := ReadFile(filepath.Join(dir, "junk.nii")); err == nil {
		t.Fatal("no error for junk")
	}
}

// the quaternion as written, read back through a header with the sform switched off
func quat(t string, off int) float64 {
	im, r, _ := readRaw(t)
	_ = im
	return r[off]
}

func qb(p string) float64 { return quat(p, 0) }
func qc(p string) float64 { return quat(p, 1) }
func qd(p string) float64 { return quat(p, 2) }
