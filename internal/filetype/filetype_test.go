package filetype

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	dicom := make([]byte, 200)
	copy(dicom[128:], "DICM")
	nii := make([]byte, 352)
	copy(nii[344:], "n+1\x00")
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	jpeg := []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F'}
	gz := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	files := map[string][]byte{
		"a.png": png, "jpeg-named.png": jpeg, "b.JPG": jpeg,
		"v.nii.gz": gz, "x.gz": gz, "v.nii": nii, "s.dcm": dicom, "noext": dicom,
		"c.json": []byte(" {\"t1\": {}}"), "fake.json": []byte("hello"), "notes.txt": []byte("{not json"),
		"garbage.png": []byte("not an image"), "blob": []byte("zzz"), "a.npy": []byte("\x93NUMPY\x01\x00"),
		"h.nrrd": []byte("NRRD0004\n"), "w.webp": []byte("RIFF\x00\x00\x00\x00WEBPVP8 "),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		"a.png": PNG, "jpeg-named.png": JPEG, "b.JPG": JPEG,
		"v.nii.gz": NIIGzip, "x.gz": Gzip, "v.nii": NII, "s.dcm": DICOM, "noext": DICOM,
		"c.json": JSON, "fake.json": Unknown, "notes.txt": "text/plain",
		"garbage.png": PNG, // inconclusive bytes: the name decides, as the engine does
		"blob":        Unknown, "a.npy": Numpy, "h.nrrd": NRRD, "w.webp": "image/webp",
	}
	for name, w := range want {
		got, err := Detect(filepath.Join(dir, name))
		if err != nil || got != w {
			t.Errorf("%s: %q %v, want %q", name, got, err, w)
		}
	}
	if _, err := Detect(filepath.Join(dir, "missing")); err == nil {
		t.Error("Detect of a missing file")
	}
	if !IsDICOM(dicom) || IsDICOM(dicom[:131]) || IsDICOM(png) {
		t.Error("IsDICOM")
	}
}

func TestNames(t *testing.T) {
	if !Accepts([]string{"image/jpg"}, "image/jpeg") || Accepts([]string{"image/png"}, "image/jpeg") || !Accepts([]string{" Application/X-NII-GZIP"}, NIIGzip) {
		t.Error("Accepts aliases")
	}
	for in, w := range map[string]string{"t1.nii.gz": "t1", "a.png": "a", "BraTS_t1ce.NII.GZ": "BraTS_t1ce", "x": "x", "a.b.c": "a.b", "dir/h.nhdr": "h"} {
		if got := Stem(in); got != w {
			t.Errorf("Stem(%q) = %q, want %q", in, got, w)
		}
	}
	for in, w := range map[string]string{"a/x.NII.GZ": ".NII.GZ", "b.tar.gz": ".tar.gz", "/a/b.h5": ".h5", "noext": "", `c\d.png`: ".png"} {
		if got := Ext(in); got != w {
			t.Errorf("Ext(%q) = %q, want %q", in, got, w)
		}
	}
	// every type the engine knows has words and endings for the web UI
	for media, w := range map[string]string{
		"image/jpg": "JPEG image", NRRD: "NRRD volume (.nrrd)", "image/webp": "WebP image",
		Numpy: "NumPy array or other binary file (.npy)", NIIGzip: "compressed NIfTI volume (.nii.gz)", "x/unknown": "x/unknown",
	} {
		if got := DisplayName(media); got != w {
			t.Errorf("DisplayName(%q) = %q, want %q", media, got, w)
		}
	}
	for media, w := range map[string][]string{
		JPEG: {".jpg", ".jpeg"}, NIIGzip: {".nii.gz", ".gz"}, NRRD: {".nrrd", ".nhdr"}, Numpy: {".npy"}, "image/webp": {".webp"}, "x/unknown": nil,
	} {
		if got := Exts(media); !slices.Equal(got, w) {
			t.Errorf("Exts(%q) = %q, want %q", media, got, w)
		}
	}
	for name, w := range map[string]bool{"a.PNG": true, "a.webp": true, "a.tif": false, "a.nii.gz": false, "a": false} {
		if Browsable(name) != w {
			t.Errorf("Browsable(%q) = %v", name, !w)
		}
	}
	if got, ok := ByName("scan.DCM"); !ok || got.Kind != KindDICOM || got.Media != DICOM {
		t.Errorf("ByName(scan.DCM) = %+v", got)
	}
	// the table is one: every media type has one row
	seen := map[string]bool{}
	for _, r := range table {
		if seen[r.Media] || !strings.HasPrefix(r.Exts[0], ".") {
			t.Errorf("table row %+v repeats a media type or has no extension", r)
		}
		seen[r.Media] = true
	}
}
