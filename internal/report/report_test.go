package report

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/ndarray"
	"github.com/modelhub-ai/modelhub/internal/predict"
)

func write(t *testing.T, dir string) (Stats, []Case) {
	t.Helper()
	recs, err := predict.ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Write(t.Context(), dir, recs, Options{Model: `<b>model</b>`})
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="data">(.*?)</script>`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no data in the page")
	}
	var cases []Case
	if err := json.Unmarshal(m[1], &cases); err != nil {
		t.Fatalf("the page's data is not JSON: %v", err)
	}
	return st, cases
}

func decodePNG(t *testing.T, p string) image.Image {
	t.Helper()
	f, err := os.Open(p)
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

func TestWrite(t *testing.T) {
	dir := cohort(t, 10, true)
	st, cases := write(t, dir)
	if st.Cases != 12 || st.Rendered != 12 || len(cases) != 12 {
		t.Fatalf("stats %+v, %d cases", st, len(cases))
	}
	page, _ := os.ReadFile(filepath.Join(dir, File))
	s := string(page)
	// hostile strings are data, never markup; nothing is loaded from elsewhere
	for _, bad := range []string{"<img src=x", "<script>alert", "<b>bad</b>", "<b>model</b>", "http://", "https://"} {
		if strings.Contains(s, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if strings.Count(s, "<script") != 2 || !strings.Contains(s, "&lt;b&gt;model&lt;/b&gt;") {
		t.Errorf("scripts: %d; title escaped: %v", strings.Count(s, "<script"), strings.Contains(s, "&lt;b&gt;model"))
	}
	if !regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; img-src &#39;self&#39; data:; style-src &#39;sha256-(?:[A-Za-z0-9/=]|&#43;)+&#39;; script-src &#39;sha256-(?:[A-Za-z0-9/=]|&#43;)+&#39;`).MatchString(s) {
		t.Error("no strict CSP")
	}
	by := map[string]Case{}
	for _, c := range cases {
		by[c.Input] = c
	}
	if c := by[`<img src=x onerror=alert(1)>"'&.png`]; c.Status != "ok" || len(c.Views) != 1 {
		t.Errorf("hostile name: %+v", c)
	}
	if c := by["case0006.png"]; c.Status != "failed" || c.Error != "the model answered: <b>bad</b> input 6" {
		t.Errorf("failed case: %+v", c)
	}
	// a 2-D case: the input with the mask over it, both drawn as PNGs
	c := by["case0001.png"]
	if len(c.Views) != 1 || len(c.Views[0].Planes) != 1 || len(c.Views[0].Planes[0].Layers) != 1 || len(c.Files) != 1 || c.Files[0].Path != "case0001/mask.npy" {
		t.Fatalf("case0001: %+v", c)
	}
	pane := c.Views[0].Planes[0]
	base, mask := decodePNG(t, filepath.Join(dir, pane.Base)), decodePNG(t, filepath.Join(dir, pane.Layers[0].Src))
	if base.Bounds().Dx() != 48 || mask.Bounds() != base.Bounds() {
		t.Errorf("input %v, mask %v", base.Bounds(), mask.Bounds())
	}
	if _, _, _, a := mask.At(0, 0).RGBA(); a != 0 {
		t.Error("the mask's background is not transparent")
	}
	if r, g, b, a := mask.At(24+1, 20).RGBA(); a == 0 || r>>8 != uint32(Palette[0].R) || g>>8 != uint32(Palette[0].G) || b>>8 != uint32(Palette[0].B) {
		t.Errorf("the mask's label is drawn %v %v %v %v", r>>8, g>>8, b>>8, a)
	}
	// a heatmap: a second layer, a colour map from blue (left) to red (right)
	hc := by["case0003.png"].Views[0].Planes[0]
	if len(hc.Layers) != 2 || hc.Layers[1].Kind != KindHeat {
		t.Fatalf("case0003 layers: %+v", hc.Layers)
	}
	heat := decodePNG(t, filepath.Join(dir, hc.Layers[1].Src))
	if r, _, b, _ := heat.At(0, 0).RGBA(); b <= r {
		t.Errorf("the heatmap's low end is not blue: r %d b %d", r>>8, b>>8)
	}
	if r, _, b, _ := heat.At(47, 0).RGBA(); r <= b {
		t.Errorf("the heatmap's high end is not red: r %d b %d", r>>8, b>>8)
	}
	// the first case's mask is empty: said so
	if v := by["case0000.png"].Views; len(v) != 1 || len(v[0].Blank) != 1 || !v[0].Planes[0].Layers[0].Blank {
		t.Errorf("blank mask: %+v", v)
	}
	// a volume: three planes, each with its slice of the mask
	vol := by["volume.npy"]
	if len(vol.Views) != 1 || len(vol.Views[0].Planes) != 3 || !strings.Contains(vol.Views[0].Title, "volume 9×20×24") {
		t.Fatalf("volume: %+v", vol)
	}
	for i, want := range []string{"axial", "coronal", "sagittal"} {
		p := vol.Views[0].Planes[i]
		if p.Name != want || len(p.Layers) != 1 || p.Layers[0].Blank {
			t.Errorf("plane %d: %+v", i, p)
		}
	}
	if b := decodePNG(t, filepath.Join(dir, vol.Views[0].Planes[1].Base)).Bounds(); b.Dx() != 24 || b.Dy() != 9 {
		t.Errorf("coronal plane %v, want 24×9", b)
	}
	// the engine's .h5 mask (written by h5py) over its input
	h := by["h5case.png"]
	if len(h.Views) != 1 || len(h.Views[0].Planes[0].Layers) != 1 {
		t.Fatalf("h5 case: %+v", h)
	}

	// again: nothing is drawn twice
	if st, _ := write(t, dir); st.Rendered != 0 {
		t.Errorf("second write drew %d cases", st.Rendered)
	}
	// a result that changes is drawn again and its old images go
	old := filepath.Dir(filepath.Join(dir, by["case0001.png"].Views[0].Planes[0].Base))
	f, _ := os.OpenFile(filepath.Join(dir, predict.ResultsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"input":"case0001.png","sha256":"new","status":"failed","error":"later","time":"2026-12-07T04:00:00Z"}` + "\n")
	f.Close()
	if st, _ := write(t, dir); st.Rendered != 1 {
		t.Errorf("after a change, %d drawn", st.Rendered)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale images kept: %v", err)
	}
}

// An output path that leaves the folder or goes through a link is not read.
func TestWriteConfined(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret.npy")
	writeNPY(t, secret, []int{2, 2}, []byte{1, 1, 1, 1})
	if err := os.Symlink(filepath.Dir(secret), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	recs := []predict.Record{
		{Input: "a", Status: "ok", Outputs: []predict.OutputInfo{{Name: "m", Type: "mask_image", Path: "../" + filepath.Base(filepath.Dir(secret)) + "/secret.npy"}}},
		{Input: "b", Status: "ok", Outputs: []predict.OutputInfo{{Name: "m", Type: "mask_image", Path: "link/secret.npy"}}},
	}
	if _, err := Write(t.Context(), dir, recs, Options{}); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, File))
	if !strings.Contains(string(page), "leaves the output folder") || !strings.Contains(string(page), "is a symbolic link") {
		t.Errorf("the page does not say why: %s", page)
	}
	ents, _ := filepath.Glob(filepath.Join(dir, FilesDir, "*", "out*.png"))
	if len(ents) != 0 {
		t.Errorf("drew %v", ents)
	}
}

func TestOutputPNGKinds(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "h.npy")
	writeNPY(t, p, []int{2, 3}, []byte{0, 1, 2, 3, 4, 5})
	pngs, names, blank, err := OutputPNG(p, KindHeat, ndarray.Limits{})
	if err != nil || len(pngs) != 1 || names[0] != "image" || blank {
		t.Fatalf("%d %v %v %v", len(pngs), names, blank, err)
	}
	if _, _, _, err := OutputPNG(filepath.Join(dir, "missing.npy"), KindMask, ndarray.Limits{}); err == nil {
		t.Error("a missing file drew")
	}
	// a NIfTI volume (gzip): its three middle planes
	nii := filepath.Join(dir, "v.nii.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(niftiU8(6, 5, 4))
	zw.Close()
	if err := os.WriteFile(nii, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := Load(nii, ndarray.Limits{})
	if err != nil || len(v.Planes) != 3 || v.Planes[0].W != 6 || v.Planes[0].H != 5 || v.Planes[2].W != 5 || v.Planes[2].H != 4 {
		t.Fatalf("nifti volume: %+v %v", v, err)
	}
	// a flat image keeps its grey level (not stretched to white)
	flat := FromImage(image.NewGray(image.Rect(0, 0, 3, 3)))
	for i := range flat.Planes[0].v {
		flat.Planes[0].v[i] = 10
	}
	if g := flat.Planes[0].Gray().(*image.Gray).Pix[0]; g != 10 {
		t.Errorf("a flat image drawn at %d, want 10", g)
	}
	// an 8-bit grey image keeps its levels: a dark image is drawn dark, not
	// stretched to look like a bright one; a 16-bit image is windowed
	dark := image.NewGray(image.Rect(0, 0, 16, 16))
	deep := image.NewGray16(image.Rect(0, 0, 16, 16))
	for i := range dark.Pix {
		dark.Pix[i] = uint8(5 + i%56)
		deep.SetGray16(i%16, i/16, color.Gray16{Y: uint16(1000 + 10*(i%56))})
	}
	got := FromImage(dark).Planes[0].Gray().(*image.Gray)
	if !bytes.Equal(got.Pix, dark.Pix) {
		t.Errorf("an 8-bit image drawn with other levels: %v, want %v", got.Pix[:8], dark.Pix[:8])
	}
	g16 := FromImage(deep).Planes[0].Gray().(*image.Gray)
	if lo, hi := slices.Min(g16.Pix), slices.Max(g16.Pix); lo != 0 || hi != 255 {
		t.Errorf("a 16-bit image drawn in %d..%d, want it windowed to 0..255", lo, hi)
	}
	if KindOf("mask_image") != KindMask || KindOf("heatmap") != KindHeat || KindOf("label_list") != "" {
		t.Error("KindOf")
	}
}

// niftiU8 is a NIfTI-1 file of nx×ny×nz uint8 voxels.
func niftiU8(nx, ny, nz int) []byte {
	h := make([]byte, 352)
	binary.LittleEndian.PutUint32(h, 348)
	for i, d := range []int{3, nx, ny, nz, 1, 1, 1, 1} {
		binary.LittleEndian.PutUint16(h[40+2*i:], uint16(d))
	}
	binary.LittleEndian.PutUint16(h[70:], 2)
	binary.LittleEndian.PutUint32(h[108:], math.Float32bits(352))
	copy(h[344:], "n+1\x00")
	for i := range nx * ny * nz {
		h = append(h, byte(i))
	}
	return h
}
