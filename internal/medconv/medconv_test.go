package medconv

import (
	"context"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/nifti"
	"github.com/modelhub-ai/modelhub/internal/safepath"
)

func scanOne(t *testing.T, s dicomtest.Series) *dicom.Series {
	t.Helper()
	dir := t.TempDir()
	if _, err := s.Write(dir, "im"); err != nil {
		t.Fatal(err)
	}
	res, err := dicom.Scan(context.Background(), []string{dir})
	if err != nil || len(res.Series) != 1 {
		t.Fatalf("%v %d", err, len(res.Series))
	}
	return res.Series[0]
}

// The NIfTI affine maps each voxel to the LPS position the DICOM headers give,
// negated in x and y (RAS), for oblique stacks and a column direction [0,-1,0].
func TestNIfTIAffine(t *testing.T) {
	c, s := math.Cos(0.3), math.Sin(0.3)
	for _, o := range [][6]float64{{1, 0, 0, 0, 1, 0}, {1, 0, 0, 0, -1, 0}, {c, s, 0, 0, 0, -1}, {0, 1, 0, 0, 0, -1}, {c, 0, s, 0, 1, 0}} {
		ser := dicomtest.Series{StudyUID: "1.2", SeriesUID: "1.2.3", Rows: 3, Columns: 4, Slices: 5, Orientation: o,
			PixelSpacing: [2]float64{0.5, 0.75}, SliceSpacing: 2.5, Origin: [3]float64{-100, 20, 33}, RescaleSlope: 1, RescaleIntercept: -1024, Signed: true}
		sr := scanOne(t, ser)
		dir := t.TempDir()
		r, err := Convert(context.Background(), sr, NIfTI, nil, dir)
		if err != nil || r.Error != "" {
			t.Fatal(err, r.Error)
		}
		im, err := nifti.ReadFile(r.Output)
		if err != nil {
			t.Fatal(err)
		}
		if im.Dims != [3]int{4, 3, 5} || im.Datatype != nifti.DTInt16 || im.Inter != -1024 {
			t.Fatalf("%+v", im)
		}
		n := dicomtest.Normal(o)
		for _, ijk := range [][3]int{{0, 0, 0}, {3, 2, 4}, {1, 2, 3}} {
			i, j, k := float64(ijk[0]), float64(ijk[1]), float64(ijk[2])
			for ax := 0; ax < 3; ax++ {
				lps := ser.Origin[ax] + i*0.75*o[ax] + j*0.5*o[3+ax] + k*2.5*n[ax]
				if ax < 2 {
					lps = -lps
				}
				got := im.Affine[ax][0]*i + im.Affine[ax][1]*j + im.Affine[ax][2]*k + im.Affine[ax][3]
				if math.Abs(got-lps) > 1e-3 {
					t.Fatalf("orientation %v voxel %v axis %d: %v, want %v", o, ijk, ax, got, lps)
				}
			}
		}
		// the voxel values are the stored values in slice order
		ijk := 2 + 4*1 + 12*3
		want := (2 + 2*1 + 7*3) % 1000
		if got := int(int16(uint16(im.Data[2*ijk]) | uint16(im.Data[2*ijk+1])<<8)); got != want {
			t.Fatalf("voxel %d = %d, want %d", ijk, got, want)
		}
	}
}

func TestPNGWindow(t *testing.T) {
	ser := dicomtest.Series{StudyUID: "1.2", SeriesUID: "1.2.4", Rows: 1, Columns: 4, Slices: 1, RescaleSlope: 1, RescaleIntercept: -1024,
		Value: func(i, j, k int) int { return []int{0, 424, 1024, 3000}[i] }}
	sr := scanOne(t, ser)
	dir := t.TempDir()
	w, _ := ParseWindow("lung")
	r, err := Convert(context.Background(), sr, PNG, w, dir)
	if err != nil || r.Error != "" {
		t.Fatal(err, r.Error)
	}
	f, _ := os.Open(r.Output)
	defer f.Close()
	im, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// the lung window (-600/1500) spans -1350..150 HU: DICOM's linear function inside
	lin := func(hu float64) uint8 { return uint8(math.Round(((hu+600.5)/1499 + 0.5) * 255)) }
	want := []uint8{lin(-1024), lin(-600), lin(0), 255}
	for i := 0; i < 4; i++ {
		r, _, _, _ := im.At(i, 0).RGBA()
		if uint8(r>>8) != want[i] {
			t.Fatalf("pixel %d = %d, want %d", i, r>>8, want[i])
		}
	}
	if !strings.Contains(r.Conversion, "lung (center -600 width 1500)") {
		t.Fatal(r.Conversion)
	}
	// several slices are refused for PNG
	sr = scanOne(t, dicomtest.Series{StudyUID: "1.2", SeriesUID: "1.2.5", Rows: 2, Columns: 2, Slices: 3})
	r, _ = Convert(context.Background(), sr, PNG, nil, dir)
	if !strings.Contains(r.Error, "3 slices; PNG takes a single 2D image") {
		t.Fatal(r.Error)
	}
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]Window{"bone": Presets["bone"], "Soft Tissue": Presets["soft-tissue"], "40,80": {Center: 40, Width: 80}} {
		w, err := ParseWindow(in)
		if err != nil || *w != want {
			t.Errorf("%q: %v %v", in, w, err)
		}
	}
	for _, bad := range []string{"liver", "1,0", "a,b"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestOutputName(t *testing.T) {
	for desc, prefix := range map[string]string{
		"Lung 1.0 B70f":          "Lung_1.0_B70f_",
		"../../etc/passwd":       "etc_passwd_",
		"CON":                    "CON_",
		"":                       "CT_series_",
		"a/b\\c:d*e?f\"g<h>|i":   "a_b_c_d_e_f_g_h_i_",
		"Thorax \x1b[31m ünï":    "Thorax_31m_n_",
		strings.Repeat("x", 100): strings.Repeat("x", 48) + "_",
	} {
		s := &dicom.Series{StudyInstanceUID: "1", SeriesInstanceUID: "2", Description: desc, Modality: "CT"}
		n := OutputName(s, ".nii.gz")
		if !strings.HasPrefix(n, prefix) || len(n) != len(prefix)+8+7 {
			t.Errorf("%q: %q", desc, n)
		}
		if err := safepath.CheckSegment(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
		if filepath.Base(n) != n {
			t.Errorf("%q is not a base name", n)
		}
	}
}

// An output folder prepared by someone else (a shared cohort folder) cannot
// make convert write outside it: a planted OUTPUT.part link, for NIfTI and
// PNG alike, is replaced, and its target is left as it was.
func TestConvertPlantedPartLink(t *testing.T) {
	ser := dicomtest.Series{StudyUID: "1.2", SeriesUID: "1.2.6", Rows: 2, Columns: 2, Slices: 1}
	sr := scanOne(t, ser)
	for _, to := range []Target{NIfTI, PNG} {
		base := t.TempDir()
		dir := filepath.Join(base, "out")
		victim := filepath.Join(base, "victim")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(victim, []byte("keep me"), 0o644)
		out := filepath.Join(dir, OutputName(sr, Ext(to)))
		if err := os.Symlink("../victim", out+".part"); err != nil {
			t.Skip("no symbolic links here:", err)
		}
		r, err := Convert(context.Background(), sr, to, nil, dir)
		if err != nil || r.Error != "" || r.Output != out {
			t.Fatalf("%v: %+v %v", to, r, err)
		}
		if data, _ := os.ReadFile(victim); string(data) != "keep me" {
			t.Fatalf("%v: written through the planted link: the file outside now holds %d bytes", to, len(data))
		}
		if fi, err := os.Lstat(out); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("%v: the output is not a regular file: %v %v", to, fi, err)
		}
	}
}
