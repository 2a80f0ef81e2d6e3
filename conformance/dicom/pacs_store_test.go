//go:build unix

package dicom

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mhdicom "github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicomweb"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// A SEG modelhub writes for a pydicom-made series, sent to Orthanc over
// STOW-RS: accepted, listed by QIDO as a SEG series of the study, and
// fetched back (WADO-RS) it passes dciodvfy and the pydicom check against
// its source series (references, frame positions, pixels). An Orthanc that
// refuses SEGs (a Lua filter) makes Store report the instance refused, and
// it is not in the study.
func TestOrthancStoreSEG(t *testing.T) {
	needSEGTools(t)
	for _, refuse := range []bool{false, true} {
		lua := ""
		if refuse {
			lua = testutil.OrthancRefuseSEG
		}
		o := testutil.StartOrthancWith(t, nil, lua)
		dir := t.TempDir()
		in := filepath.Join(dir, "in")
		run(t, python, "testdata/make_series.py", in, "oblique", "blob")
		o.Upload(t, in)
		_, _, segPath := writeThresholdSEG(t, in, dir)
		h, _, err := mhdicom.ReadFileHeader(segPath)
		if err != nil {
			t.Fatal(err)
		}
		c, err := dicomweb.New(o.DICOMweb, dicomweb.Auth{User: o.User, Password: o.Password}, nil)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := c.Store(context.Background(), h.StudyInstanceUID, []string{segPath})
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != 1 || stored[0].SOPInstanceUID != h.SOPInstanceUID {
			t.Fatalf("stored: %+v", stored)
		}
		if refuse {
			if stored[0].Accepted || !strings.Contains(stored[0].Reason, "neither as stored nor as failed") {
				t.Fatalf("Orthanc refusing SEGs: %+v\n%s", stored, o.Log())
			}
			if series, err := c.Series(context.Background(), h.StudyInstanceUID); err != nil || len(series) != 1 {
				t.Fatalf("Orthanc refusing SEGs holds %+v %v", series, err)
			}
			t.Logf("refused: %s", stored[0].Reason)
			continue
		}
		if !stored[0].Accepted {
			t.Fatalf("Orthanc refused the SEG: %s", stored[0].Reason)
		}
		series, err := c.Series(context.Background(), h.StudyInstanceUID)
		if err != nil {
			t.Fatal(err)
		}
		var seg string
		for _, s := range series {
			if s.Modality == "SEG" {
				seg = s.UID
			}
		}
		if len(series) != 2 || seg != h.SeriesInstanceUID {
			t.Fatalf("QIDO: %+v, want the source and the SEG %s", series, h.SeriesInstanceUID)
		}
		back := filepath.Join(dir, "back.seg.dcm")
		os.WriteFile(back, wadoInstance(t, o, h.StudyInstanceUID, seg, h.SOPInstanceUID), 0o644)
		dciodvfy(t, back)
		t.Log(run(t, python, "testdata/check_seg.py", in, back))
	}
}

// wadoInstance retrieves one instance from Orthanc (WADO-RS) with Go's own
// multipart reader.
func wadoInstance(t *testing.T, o *testutil.Orthanc, study, series, sop string) []byte {
	t.Helper()
	body := o.Get(t, "/dicom-web/studies/"+study+"/series/"+series+"/instances/"+sop, `multipart/related; type="application/dicom"`)
	ct := o.LastContentType
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		t.Fatalf("%q: %v", ct, err)
	}
	part, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).NextPart()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(part)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
