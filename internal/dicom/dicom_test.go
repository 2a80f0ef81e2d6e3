package dicom_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
)

func img(ts string, signed bool, bits int) dicomtest.Image {
	rows, cols := 5, 7
	px := make([]int, rows*cols)
	for i := range px {
		switch {
		case bits == 8:
			px[i] = (i * 37) % 256
		case signed:
			px[i] = (i*997)%4000 - 2000
		default:
			px[i] = (i * 1999) % 65536
		}
	}
	return dicomtest.Image{TransferSyntax: ts, StudyUID: "1.2.3", SeriesUID: "1.2.3.4", Rows: rows, Columns: cols,
		Position: [3]float64{1, 2, 3}, Orientation: [6]float64{1, 0, 0, 0, 1, 0}, Signed: signed, Bits: bits, Pixels: px,
		RescaleSlope: 1, RescaleIntercept: -1024, Description: "Lung 1mm"}
}

func decode(t *testing.T, b []byte) (*dicom.Header, []int) {
	t.Helper()
	rd, err := dicom.ReadHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	h := rd.Header()
	buf := make([]byte, h.FrameBytes())
	if err := rd.ReadPixels(buf); err != nil {
		t.Fatal(err)
	}
	out := make([]int, h.Rows*h.Columns)
	for i := range out {
		switch {
		case h.BitsAllocated == 8:
			out[i] = int(buf[i])
		case h.PixelRepresentation == 1:
			out[i] = int(int16(binary.LittleEndian.Uint16(buf[2*i:])))
		default:
			out[i] = int(binary.LittleEndian.Uint16(buf[2*i:]))
		}
	}
	return h, out
}

func TestTransferSyntaxes(t *testing.T) {
	for _, ts := range []string{dicomtest.ExplicitLE, dicomtest.ImplicitLE, dicomtest.ExplicitBE, dicomtest.Deflated,
		dicomtest.JPEGLL14, dicomtest.JPEGLLSV1} {
		for _, c := range []struct {
			signed bool
			bits   int
		}{{true, 16}, {false, 16}, {false, 8}} {
			in := img(ts, c.signed, c.bits)
			b, err := dicomtest.Encode(in)
			if err != nil {
				t.Fatal(err)
			}
			h, px := decode(t, b)
			if h.TransferSyntax != ts || h.Rows != 5 || h.Columns != 7 || h.StudyInstanceUID != "1.2.3" ||
				h.SeriesDescription != "Lung 1mm" || h.RescaleIntercept != -1024 || h.ImagePositionPatient != [3]float64{1, 2, 3} {
				t.Fatalf("%s: header %+v", ts, h)
			}
			for i := range px {
				if px[i] != in.Pixels[i] {
					t.Fatalf("%s signed=%v bits=%d: pixel %d = %d, want %d", ts, c.signed, c.bits, i, px[i], in.Pixels[i])
				}
			}
		}
	}
}

func TestNoPreambleImplicit(t *testing.T) {
	f := false
	in := img(dicomtest.ImplicitLE, true, 16)
	in.Preamble = &f
	b, _ := dicomtest.Encode(in)
	_, px := decode(t, b)
	if px[3] != in.Pixels[3] {
		t.Fatal("pixels differ")
	}
}

func TestLosslessPredictors(t *testing.T) {
	w, h := 33, 17
	r := rand.New(rand.NewSource(1))
	for _, prec := range []int{8, 12, 16} {
		s := make([]uint16, w*h)
		for i := range s {
			// smooth image with noise and extremes (exercises category 16)
			s[i] = uint16((i*31 + r.Intn(50)) % (1 << prec))
		}
		s[5], s[6] = 0, uint16(1<<prec-1)
		for pred := 1; pred <= 7; pred++ {
			for _, rst := range []bool{false, true} {
				enc := dicomtest.EncodeLossless(s, w, h, prec, pred, rst)
				got, p, gw, gh, nc, err := dicom.DecodeLossless(enc)
				if err != nil {
					t.Fatalf("prec %d pred %d restart %v: %v", prec, pred, rst, err)
				}
				if p != prec || gw != w || gh != h || nc != 1 {
					t.Fatalf("frame %d %dx%d %d", p, gw, gh, nc)
				}
				for i := range s {
					if got[i] != s[i] {
						t.Fatalf("prec %d pred %d restart %v: sample %d = %d, want %d", prec, pred, rst, i, got[i], s[i])
					}
				}
			}
		}
	}
}

func TestLosslessRejectsMalformed(t *testing.T) {
	s := make([]uint16, 64)
	enc := dicomtest.EncodeLossless(s, 8, 8, 12, 1, false)
	for n := 0; n < len(enc)-2; n++ {
		if _, _, _, _, _, err := dicom.DecodeLossless(enc[:n]); err == nil && n < 30 {
			t.Fatalf("truncated at %d: no error", n)
		}
	}
	bad := append([]byte(nil), enc...)
	bad[3] = 0xC0 // SOF0
	if _, _, _, _, _, err := dicom.DecodeLossless(bad); err == nil || !strings.Contains(err.Error(), "SOF0") {
		t.Fatalf("baseline frame: %v", err)
	}
}

func FuzzDecodeLossless(f *testing.F) {
	s := make([]uint16, 12*9)
	for i := range s {
		s[i] = uint16(i * 300)
	}
	for pred := 1; pred <= 7; pred++ {
		f.Add(dicomtest.EncodeLossless(s, 12, 9, 16, pred, pred%2 == 0))
	}
	f.Add(dicomtest.EncodeLossless(s[:16], 4, 4, 8, 1, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, w, h, nc, err := dicom.DecodeLossless(b)
		if err == nil && len(out) != w*h*nc {
			t.Fatalf("%d samples for %dx%dx%d", len(out), w, h, nc)
		}
	})
}

func FuzzReadHeader(f *testing.F) {
	for _, ts := range []string{dicomtest.ExplicitLE, dicomtest.ImplicitLE, dicomtest.ExplicitBE, dicomtest.Deflated, dicomtest.JPEGLL14} {
		b, _ := dicomtest.Encode(img(ts, true, 16))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rd, err := dicom.ReadHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		h := rd.Header()
		if h.FrameBytes() > 0 && h.FrameBytes() < 1<<24 {
			_ = rd.ReadPixels(make([]byte, h.FrameBytes()))
		}
	})
}

func TestCompressedHint(t *testing.T) {
	b, _ := dicomtest.Encode(img(dicomtest.JPEGLL14, false, 16))
	b = bytes.Replace(b, []byte(dicomtest.JPEGLL14), []byte(dicomtest.JPEGLS), 1)
	rd, err := dicom.ReadHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	err = rd.ReadPixels(make([]byte, rd.Header().FrameBytes()))
	if err == nil || !strings.Contains(err.Error(), "JPEG-LS") || !strings.Contains(err.Error(), "dcmdjpls") {
		t.Fatalf("got %v", err)
	}
	// every syntax modelhub does not decode names itself and the command
	for ts, want := range map[string]string{
		"1.2.840.10008.1.2.4.80": "JPEG-LS (1.2.840.10008.1.2.4.80) is not decoded by modelhub; decompress the folder first, e.g. `dcmdjpls IN.dcm OUT.dcm`",
		"1.2.840.10008.1.2.4.81": "JPEG-LS (1.2.840.10008.1.2.4.81) is not decoded by modelhub; decompress the folder first, e.g. `dcmdjpls IN.dcm OUT.dcm`",
		"1.2.840.10008.1.2.5":    "RLE Lossless (1.2.840.10008.1.2.5) is not decoded by modelhub; decompress the folder first, e.g. `dcmdrle IN.dcm OUT.dcm`",
		"1.2.840.10008.1.2.4.90": "JPEG 2000 (1.2.840.10008.1.2.4.90) is not decoded by modelhub; decompress the folder first, e.g. `gdcmconv --raw IN.dcm OUT.dcm`",
		"1.2.840.10008.1.2.4.91": "JPEG 2000 (1.2.840.10008.1.2.4.91)",
		"1.2.840.10008.1.2.4.50": "lossy JPEG (1.2.840.10008.1.2.4.50) is not decoded by modelhub; decompress the folder first, e.g. `dcmdjpeg IN.dcm OUT.dcm`",
		dicomtest.JPEGLL14:       "",
		dicomtest.JPEGLLSV1:      "",
		dicomtest.Deflated:       "",
		dicomtest.ExplicitBE:     "",
		dicomtest.ImplicitLE:     "",
	} {
		got := dicom.CompressedHint(ts)
		if (want == "") != (got == "") || !strings.HasPrefix(got, want) {
			t.Errorf("CompressedHint(%s) = %q, want %q", ts, got, want)
		}
	}
}

func writeSeries(t *testing.T, dir, prefix string, s dicomtest.Series) []string {
	t.Helper()
	p, err := s.Write(dir, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func scan(t *testing.T, dir string) *dicom.ScanResult {
	t.Helper()
	res, err := dicom.Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestScanGroupsOrdersAndChecks(t *testing.T) {
	dir := t.TempDir()
	ct := dicomtest.Series{StudyUID: "1.1", SeriesUID: "1.1.1", Description: "CT", SeriesNumber: 2, Rows: 4, Columns: 3,
		Slices: 6, SliceSpacing: 2.5, Origin: [3]float64{-10, 5, 100}, RescaleSlope: 1, RescaleIntercept: -1024, Signed: true}
	paths := writeSeries(t, filepath.Join(dir, "a"), "x", ct)
	// shuffle the names: slice order must come from positions
	r := rand.New(rand.NewSource(3))
	perm := r.Perm(len(paths))
	for i, p := range paths {
		os.Rename(p, filepath.Join(dir, "a", "f"+string(rune('a'+perm[i]))))
	}
	// a second series in the same folder, coronal with column direction [0,0,-1]
	writeSeries(t, filepath.Join(dir, "a"), "y", dicomtest.Series{StudyUID: "1.1", SeriesUID: "1.1.2", SeriesNumber: 3, Rows: 4, Columns: 3,
		Slices: 3, Orientation: [6]float64{1, 0, 0, 0, 0, -1}})
	// noise: a text file, an empty file, a DICOMDIR (its media storage class;
	// given pixel data, so only the class tells it apart from an image)
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not dicom"), 0o644)
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644)
	dd := ct.Images()[0]
	dd.SOPClassUID, dd.SeriesUID = "1.2.840.10008.1.3.10", "1.1.9"
	if err := dicomtest.WriteFile(filepath.Join(dir, "DICOMDIR"), dd); err != nil {
		t.Fatal(err)
	}
	res := scan(t, dir)
	if len(res.Series) != 2 || res.Ignored != 3 || res.DICOM != 9 {
		t.Fatalf("series %d ignored %d dicom %d", len(res.Series), res.Ignored, res.DICOM)
	}
	s := res.Series[0]
	if s.Err != nil || s.Slices() != 6 || s.Orientation != "axial" {
		t.Fatalf("%+v", s)
	}
	for i, f := range s.Files {
		if f.Header.InstanceNumber != i+1 {
			t.Fatalf("slice %d is instance %d", i, f.Header.InstanceNumber)
		}
	}
	if res.Series[1].Orientation != "coronal" || res.Series[1].Err != nil {
		t.Fatalf("%+v", res.Series[1])
	}
	v, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v.Dims != [3]int{3, 4, 6} || v.Type != dicom.Int16 || v.Intercept != -1024 || v.Spacing[2] != 2.5 {
		t.Fatalf("volume %+v", v.Dims)
	}
	// voxel (i=2, j=1, k=4) is value (2+2+28)%1000 = 32 - 1024
	if got := v.Value(4*12 + 1*3 + 2); got != 32-1024 {
		t.Fatalf("voxel = %v", got)
	}
	if v.AffineLPS[2][3] != 100 || v.AffineLPS[2][2] != 2.5 {
		t.Fatalf("affine %v", v.AffineLPS)
	}
}

func TestScanReadsOnlyHeaders(t *testing.T) {
	dir := t.TempDir()
	writeSeries(t, dir, "x", dicomtest.Series{StudyUID: "1.1", SeriesUID: "1.1.1", Rows: 128, Columns: 128, Slices: 4})
	res := scan(t, dir)
	if total := sizeOf(t, dir); res.BytesRead*4 > total || res.Series[0].Err != nil {
		t.Fatalf("grouping read %d bytes of %d", res.BytesRead, total)
	}
}

func sizeOf(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func TestBadSeries(t *testing.T) {
	base := dicomtest.Series{StudyUID: "1.9", SeriesUID: "1.9.1", Rows: 2, Columns: 2, Slices: 4, SliceSpacing: 3}
	cases := map[string]struct {
		edit func(ims []dicomtest.Image) []dicomtest.Image
		want string
	}{
		"duplicate": {func(ims []dicomtest.Image) []dicomtest.Image {
			d := ims[1]
			d.Instance = 9
			return append(ims, d)
		}, "duplicate slice position 3.000 mm"},
		"uneven": {func(ims []dicomtest.Image) []dicomtest.Image {
			ims[3].Position[2] += 1.5
			return ims
		}, "uneven slice spacing: gaps from 3.000 to 4.500 mm (differ by 1.500 mm)"},
		"missing orientation": {func(ims []dicomtest.Image) []dicomtest.Image {
			ims[3].NoGeometry = true // the last: the others stay evenly spaced
			return ims
		}, ""}, // split by orientation: see below
		"no orientation at all": {func(ims []dicomtest.Image) []dicomtest.Image {
			for k := range ims {
				ims[k].NoGeometry = true
			}
			return ims
		}, "no ImageOrientationPatient: the slices cannot be ordered"},
		"missing position": {func(ims []dicomtest.Image) []dicomtest.Image {
			ims[1].NoPosition = true
			return ims
		}, "no ImagePositionPatient in some images: the slices cannot be ordered"},
		"inconsistent orientation": {func(ims []dicomtest.Image) []dicomtest.Image {
			// the same orientation to 3 decimals (one group), apart by 1.5e-4
			ims[2].Orientation = [6]float64{0.99985, 0.0004, 0, 0, 1, 0}
			return ims
		}, "inconsistent ImageOrientationPatient between slices"},
		"mixed sizes": {func(ims []dicomtest.Image) []dicomtest.Image {
			ims[0].Rows, ims[0].Columns, ims[0].Pixels = 1, 1, []int{1}
			return ims
		}, "mixed image sizes: 1x1 (1 files), 2x2 (3 files)"},
		"multi-frame": {func(ims []dicomtest.Image) []dicomtest.Image {
			ims[0].Frames, ims[0].Pixels = 2, append(ims[0].Pixels, ims[0].Pixels...)
			return ims
		}, "multi-frame images (2 frames in one file) are not supported"},
		"tilt": {func(ims []dicomtest.Image) []dicomtest.Image {
			for k := range ims {
				ims[k].Position[1] += 0.5 * float64(k)
			}
			return ims
		}, "not stacked along their normal (gantry tilt or a sheared stack: up to 1.500 mm off)"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for i, im := range c.edit(base.Images()) {
				if err := dicomtest.WriteFile(filepath.Join(dir, "s", string(rune('a'+i))), im); err != nil {
					t.Fatal(err)
				}
			}
			res := scan(t, dir)
			if c.want == "" {
				// the slice without geometry forms its own group; the rest still converts
				if len(res.Series) != 2 {
					t.Fatalf("%d series", len(res.Series))
				}
				for _, s := range res.Series {
					if s.Slices() == 3 && s.Err != nil {
						t.Fatalf("the slices with geometry: %v", s.Err)
					}
				}
				return
			}
			if len(res.Series) != 1 || res.Series[0].Err == nil || !strings.Contains(res.Series[0].Err.Error(), c.want) {
				t.Fatalf("got %v, want %q", res.Series[0].Err, c.want)
			}
		})
	}
}

func TestLocalizerInsideSeries(t *testing.T) {
	dir := t.TempDir()
	s := dicomtest.Series{StudyUID: "1.5", SeriesUID: "1.5.1", Rows: 2, Columns: 2, Slices: 5}
	writeSeries(t, dir, "ax", s)
	loc := s.Images()[0]
	loc.Orientation = [6]float64{0, 1, 0, 0, 0, -1}
	loc.Instance = 99
	dicomtest.WriteFile(filepath.Join(dir, "loc"), loc)
	res := scan(t, dir)
	if len(res.Series) != 2 || res.Series[0].Slices() != 5 || res.Series[0].Err != nil || res.Series[1].Orientation != "sagittal" {
		t.Fatalf("%+v", res.Series)
	}
	if res.Series[0].ID() == res.Series[1].ID() {
		t.Fatal("same ID for two groups")
	}
}
