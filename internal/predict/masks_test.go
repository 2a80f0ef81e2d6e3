package predict

import (
	"context"
	"github.com/modelhub-ai/modelhub/internal/filetype"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/nifti"
)

func TestMatchOrder(t *testing.T) {
	for _, tc := range []struct {
		shape []int
		dims  [3]int
		want  string
	}{
		{[]int{5, 8, 6}, [3]int{6, 8, 5}, "zyx"},
		{[]int{6, 8, 5}, [3]int{6, 8, 5}, "xyz"},
		{[]int{1, 5, 8, 6}, [3]int{6, 8, 5}, "zyx"}, // a channel axis of 1
		{[]int{8, 6}, [3]int{6, 8, 1}, "zyx"},       // a 2D mask of a 2D image
		{[]int{6, 8}, [3]int{6, 8, 1}, "xyz"},
		{[]int{4, 4, 4}, [3]int{4, 4, 4}, "zyx"}, // both fit: the engine's order
		{[]int{4, 8, 6}, [3]int{6, 8, 5}, ""},
		{[]int{5, 6, 8}, [3]int{6, 8, 5}, ""}, // rows and columns swapped only
		{[]int{240}, [3]int{6, 8, 5}, ""},
	} {
		if got := matchOrder(tc.shape, tc.dims); got != tc.want {
			t.Errorf("matchOrder(%v, %v) = %q, want %q", tc.shape, tc.dims, got, tc.want)
		}
	}
}

// a transposed [x, y, z] array lands on the same voxels as a [z, y, x] one
func TestLabelVolume_transposed(t *testing.T) {
	dims := [3]int{3, 2, 4}
	zyx := make([]byte, 24)
	xyz := make([]byte, 24)
	for z := 0; z < 4; z++ {
		for y := 0; y < 2; y++ {
			for x := 0; x < 3; x++ {
				v := byte((x + 2*y + 3*z) % 4)
				zyx[(z*2+y)*3+x] = v
				xyz[(x*2+y)*4+z] = v
			}
		}
	}
	a := npyArray(t, []int{3, 2, 4}, xyz)
	lab, err := labelVolume(a, "xyz", dims)
	if err != nil {
		t.Fatal(err)
	}
	if string(lab) != string(zyx) {
		t.Fatalf("transposed labels %v, want %v", lab, zyx)
	}
}

// A 2D image input and a 2D mask: mask.png holds the labels, the overlay
// colours the labelled pixels over the image, and the statistics count
// pixels (no volume) with the image's mean grey.
func TestPost_2D(t *testing.T) {
	dir := t.TempDir()
	img := image.NewGray(image.Rect(0, 0, 4, 3))
	for i := range img.Pix {
		img.Pix[i] = uint8(10 * i)
	}
	in := filepath.Join(dir, "x.png")
	f, _ := os.Create(in)
	png.Encode(f, img)
	f.Close()
	out := filepath.Join(dir, "out")
	os.MkdirAll(filepath.Join(out, "x"), 0o755)
	mask := []byte{0, 1, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0} // [3, 4]
	writeNPY3(t, filepath.Join(out, "x", "mask.npy"), []int{3, 4}, mask)
	it := FileItem("x.png", in, "image/png")
	res := &Result{Folder: "x", Output: []byte(`{"output": [{"name": "mask", "type": "mask_image"}]}`),
		Saved: []SavedFile{{Output: "mask", Path: "x/mask.npy"}}}
	m := &MaskOptions{Model: "t"}
	if err := m.post(context.Background(), out, &it, res); err != nil {
		t.Fatal(err)
	}
	if len(res.Masks) != 1 {
		t.Fatalf("%+v", res.Masks)
	}
	mf := res.Masks[0]
	if mf.Path != "x/mask.png" || mf.Overlay != "x/mask.overlay.png" || mf.Order != "zyx" || mf.Warning != "" {
		t.Fatalf("%+v", mf)
	}
	if len(mf.Labels) != 2 || mf.Labels[0].Voxels != 2 || mf.Labels[0].Mean != 15 || mf.Labels[0].ML != 0 || mf.Labels[1].Value != 2 || mf.Labels[1].Mean != 80 {
		t.Fatalf("labels %+v", mf.Labels)
	}
	got := readPNG(t, filepath.Join(out, "x", "mask.png"))
	for i, v := range mask {
		if c := color.GrayModel.Convert(got.At(i%4, i/4)).(color.Gray).Y; c != v {
			t.Fatalf("mask.png pixel %d = %d, want %d", i, c, v)
		}
	}
	ov := readPNG(t, filepath.Join(out, "x", "mask.overlay.png"))
	for i, v := range mask {
		r, g, b, _ := ov.At(i%4, i/4).RGBA()
		grey := r == g && g == b
		if (v == 0) != grey {
			t.Fatalf("overlay pixel %d (label %d) is %v,%v,%v", i, v, r>>8, g>>8, b>>8)
		}
	}
}

// A NIfTI input: the mask gets the input's affine exactly; a mask with
// values that are no labels is written, with a warning and no statistics.
func TestPost_volume(t *testing.T) {
	dir := t.TempDir()
	aff := [4][4]float64{{0, 0, -2.5, 10}, {-0.7, 0, 0, 20}, {0, 0.8, 0, -5}, {0, 0, 0, 1}}
	in := filepath.Join(dir, "ct.nii.gz")
	data := make([]byte, 2*24)
	for i := 0; i < 24; i++ {
		data[2*i] = byte(i)
	}
	if err := nifti.WriteFile(in, &nifti.Image{Dims: [3]int{3, 2, 4}, Datatype: nifti.DTInt16, Data: data, Affine: aff, Slope: 2, Inter: -1}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	os.MkdirAll(filepath.Join(out, "ct"), 0o755)
	mask := make([]byte, 24)
	mask[5], mask[23] = 1, 1
	writeNPY3(t, filepath.Join(out, "ct", "mask.npy"), []int{4, 2, 3}, mask)
	it := CaseItem("ct", []CaseFile{{Input: "image", Path: in, Type: filetype.NIIGzip}})
	res := &Result{Folder: "ct", Output: []byte(`{"output": [{"name": "mask", "type": "mask_image"}]}`),
		Saved: []SavedFile{{Output: "mask", Path: "ct/mask.npy"}}}
	if err := (&MaskOptions{}).post(context.Background(), out, &it, res); err != nil {
		t.Fatal(err)
	}
	l := res.Masks[0].Labels
	// voxel volume 2.5*0.7*0.8 = 1.4 mm³; values 2*5-1 and 2*23-1
	if len(l) != 1 || l[0].Voxels != 2 || l[0].ML != 0.0028 || l[0].Mean != 27 {
		t.Fatalf("%+v", res.Masks)
	}
	im, err := nifti.ReadFile(filepath.Join(out, "ct", "mask.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := nifti.ReadFile(in)
	if im.Affine != src.Affine || im.Dims != [3]int{3, 2, 4} || im.Datatype != nifti.DTUint8 || string(im.Data) != string(mask) {
		t.Fatalf("mask NIfTI %+v", im)
	}
	// --seg on a NIfTI input: nothing to reference, the case does not fail
	res.Masks = nil
	if err := (&MaskOptions{SEG: true}).post(context.Background(), out, &it, res); err != nil || len(res.SEG) != 0 {
		t.Fatalf("--seg with a NIfTI input: %v %v", err, res.SEG)
	}
	// probabilities: written as float32, no statistics, said why
	prob := strings.Repeat("\x00\x00\x00\x3f", 24) // 0.5
	writeNPYf(t, filepath.Join(out, "ct", "mask.npy"), []int{4, 2, 3}, []byte(prob))
	res.Masks = nil
	if err := (&MaskOptions{}).post(context.Background(), out, &it, res); err != nil {
		t.Fatal(err)
	}
	if mf := res.Masks[0]; len(mf.Labels) != 0 || !strings.Contains(mf.Warning, "holds 0.5, not a label value") || mf.Path != "ct/mask.nii.gz" {
		t.Fatalf("%+v", mf)
	}
}
