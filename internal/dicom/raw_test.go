package dicom_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
)

// ReadStrings reads the named elements in every transfer syntax, and the
// header as ReadHeader does; Header itself never holds patient data.
func TestReadStrings(t *testing.T) {
	for _, ts := range []string{dicomtest.ExplicitLE, dicomtest.ImplicitLE, dicomtest.ExplicitBE, dicomtest.Deflated, dicomtest.JPEGLL14} {
		p := filepath.Join(t.TempDir(), "im")
		im := dicomtest.Image{TransferSyntax: ts, StudyUID: "1.2.3", SeriesUID: "1.2.3.4", Rows: 2, Columns: 2, Pixels: []int{1, 2, 3, 4},
			Orientation: [6]float64{1, 0, 0, 0, 1, 0}}
		if err := dicomtest.WriteFile(p, im); err != nil {
			t.Fatal(err)
		}
		h, got, err := dicom.ReadStrings(p, map[uint32]string{0x00100010: "PN", 0x00100020: "LO", 0x00200052: "UI", 0x00081030: "LO"})
		if err != nil {
			t.Fatalf("%s: %v", ts, err)
		}
		if strings.TrimSpace(string(got[0x00100010])) != dicomtest.PatientName || strings.TrimSpace(string(got[0x00100020])) != dicomtest.PatientID ||
			strings.TrimRight(string(got[0x00200052]), "\x00") != "1.2.3.0" {
			t.Fatalf("%s: %v", ts, got)
		}
		if _, ok := got[0x00081030]; ok {
			t.Fatalf("%s: an element the file lacks: %v", ts, got)
		}
		if h.Rows != 2 || h.StudyInstanceUID != "1.2.3" || !h.HasPixelData {
			t.Fatalf("%s: header %+v", ts, h)
		}
	}
	if _, _, err := dicom.ReadStrings("x", map[uint32]string{0x00280010: "US"}); err == nil {
		t.Fatal("a non-string VR is refused")
	}
}
