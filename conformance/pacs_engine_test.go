//go:build unix

package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/dicomweb"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// A PACS in and out with the real engine: a pydicom-made series (oblique,
// with a block of tissue) uploaded to Debian's Orthanc (authentication on,
// DICOMweb plugin), then `predict MASKMODEL --from ORTHANC --study UID
// --store`: the study is fetched, the mask model runs on the real engine,
// and its SEG is stored back. Orthanc then lists the SEG in the study
// (QIDO), and the SEG fetched back (WADO-RS) passes dciodvfy and the pydicom
// check against the source series (its references, frame positions and
// pixels). A rerun stores nothing twice. Patient data appears in no output.
func TestRealEngine_PACSStore(t *testing.T) {
	needDICOMTools(t)
	e := newEnv(t)
	o := testutil.StartOrthanc(t)
	e.ExtraEnv = []string{dicomweb.EnvUser + "=" + o.User, dicomweb.EnvPassword + "=" + o.Password}
	model := e.localModel(t, "dicommask", "-pacs")
	src, h := uploadSeries(t, o, "oblique")
	ls := e.must("pacs", "ls", o.DICOMweb, "--study", h.StudyInstanceUID)
	mustMatch(t, "pacs ls", `(?m)^`+strings.ReplaceAll(h.SeriesInstanceUID, ".", `\.`)+` +1 +CT +Oblique +9$`, ls.Stdout)

	out := filepath.Join(t.TempDir(), "out")
	r := e.run("predict", model, "--from", o.DICOMweb, "--study", h.StudyInstanceUID, "--store", "-o", out, "--json")
	if r.Code != 0 {
		t.Fatalf("want exit 0:\n%s\n--- orthanc\n%s", r, o.Log())
	}
	mustMatch(t, "stderr", `(?m)^study [0-9.]+: 9 instance\(s\) in 1 series fetched now \(.*\), 0 already on disk$`, r.Stderr)
	mustMatch(t, "stderr", `(?m)^1 done now, 0 done before, 0 failed, 0 unsupported$`, r.Stderr)
	var res struct {
		SEG    []string                `json:"seg"`
		Masks  []struct{ Path string } `json:"masks"`
		Stored []struct {
			File     string `json:"file"`
			SOP      string `json:"sop_instance_uid"`
			Accepted bool   `json:"accepted"`
		} `json:"stored"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.Stdout)), &res); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	if len(res.SEG) != 1 || len(res.Stored) != 1 || !res.Stored[0].Accepted || res.Stored[0].File != res.SEG[0] || len(res.Masks) != 1 {
		t.Fatalf("want one SEG, stored and accepted: %s", r.Stdout)
	}
	for _, v := range []string{"SECRET", "PLANTED", "90210"} {
		if dicomtest.HasPlanted(r.Stdout+r.Stderr, v) {
			t.Fatalf("%q in predict's output", v)
		}
	}
	if strings.Contains(r.Stdout+r.Stderr, o.Password) {
		t.Fatalf("the PACS password in predict's output")
	}
	prov, _ := os.ReadFile(filepath.Join(out, "provenance.json"))
	if !strings.Contains(string(prov), `"study_uid": "`+h.StudyInstanceUID+`"`) || strings.Contains(string(prov), o.Password) || strings.Contains(string(prov), "SECRET") {
		t.Fatalf("provenance:\n%s", prov)
	}

	// the SEG is in Orthanc, in the source's study
	c, err := dicomweb.New(o.DICOMweb, dicomweb.Auth{User: o.User, Password: o.Password}, nil)
	if err != nil {
		t.Fatal(err)
	}
	series, err := c.Series(context.Background(), h.StudyInstanceUID)
	if err != nil {
		t.Fatal(err)
	}
	var segSeries string
	for _, s := range series {
		if s.Modality == "SEG" {
			segSeries = s.UID
		}
	}
	if len(series) != 2 || segSeries == "" {
		t.Fatalf("Orthanc's study holds %+v, want the source and a SEG", series)
	}
	body := o.Get(t, "/dicom-web/studies/"+h.StudyInstanceUID+"/series/"+segSeries+"/instances/"+res.Stored[0].SOP, `multipart/related; type="application/dicom"`)
	_, params, err := mime.ParseMediaType(o.LastContentType)
	if err != nil {
		t.Fatal(err)
	}
	part, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).NextPart()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(part)
	back := filepath.Join(t.TempDir(), "back.seg.dcm")
	os.WriteFile(back, data, 0o644)
	vf, _ := exec.Command("dciodvfy", back).CombinedOutput()
	if strings.Contains(string(vf), "\nError") || strings.HasPrefix(string(vf), "Error") || !strings.Contains(string(vf), "Segmentation") {
		t.Fatalf("dciodvfy of the SEG fetched back:\n%s", vf)
	}
	ref := filepath.Join(t.TempDir(), "ref")
	os.MkdirAll(ref, 0o755)
	if o, err := exec.Command("dcm2niix", "-z", "y", "-f", "ref", "-o", ref, src).CombinedOutput(); err != nil {
		t.Fatalf("dcm2niix: %v\n%s", err, o)
	}
	chk, err := exec.Command("/usr/bin/python3", "dicom/testdata/check_seg.py", src, back,
		filepath.Join(out, filepath.FromSlash(res.Masks[0].Path)), filepath.Join(ref, "ref.nii.gz")).CombinedOutput()
	if err != nil {
		t.Fatalf("check_seg.py of the SEG fetched back: %s", chk)
	}
	t.Logf("fetched back: %s", strings.TrimSpace(string(chk)))

	// a rerun: the study is on disk, the case done, nothing stored twice
	r = e.must("predict", model, "--from", o.DICOMweb, "--study", h.StudyInstanceUID, "--store", "-o", out)
	mustMatch(t, "stderr", `(?m)^study [0-9.]+: 0 instance\(s\) in 1 series fetched now \(.*\), 9 already on disk$`, r.Stderr)
	mustMatch(t, "stderr", `(?m)^not fetched: series [0-9.]+ \(SEG `, r.Stderr)
	mustMatch(t, "stderr", `(?m)^0 done now, 1 done before, 0 failed, 0 unsupported$`, r.Stderr)
	if series, _ := c.Series(context.Background(), h.StudyInstanceUID); len(series) != 2 {
		t.Fatalf("after the rerun Orthanc holds %+v", series)
	}
}

// predict --store to an Orthanc that refuses SEGs: the case fails in one
// line naming the SEG and why, predict exits 1, and the study holds no SEG.
func TestRealEngine_PACSStoreRefused(t *testing.T) {
	needDICOMTools(t)
	e := newEnv(t)
	o := testutil.StartOrthancWith(t, nil, testutil.OrthancRefuseSEG)
	e.ExtraEnv = []string{dicomweb.EnvUser + "=" + o.User, dicomweb.EnvPassword + "=" + o.Password}
	model := e.localModel(t, "dicommask", "-pacsno")
	_, h := uploadSeries(t, o, "aniso")
	out := filepath.Join(t.TempDir(), "out")
	r := e.run("predict", model, "--from", o.DICOMweb, "--study", h.StudyInstanceUID, "--store", "-o", out)
	if r.Code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	mustMatch(t, "stderr", `(?m)^\S.*the DICOMweb server http://127\.0\.0\.1:\d+/dicom-web refused the SEG Aniso_[0-9a-f]{8}/mask\.seg\.dcm \([0-9.]+\): the server's answer lists it neither as stored nor as failed: not stored; rerun to try again$`, r.Stderr)
	mustMatch(t, "stderr", `(?m)^0 done now, 0 done before, 1 failed, 0 unsupported$`, r.Stderr)
	c, _ := dicomweb.New(o.DICOMweb, dicomweb.Auth{User: o.User, Password: o.Password}, nil)
	if series, err := c.Series(context.Background(), h.StudyInstanceUID); err != nil || len(series) != 1 {
		t.Fatalf("Orthanc holds %+v %v, want the source series only", series, err)
	}
}

// uploadSeries makes a pydicom series of that kind (make_series.py, with a
// blob for the mask model to find) and uploads it to Orthanc; it returns
// its folder and the header of one of its files (study and series UIDs).
func uploadSeries(t *testing.T, o *testutil.Orthanc, kind string) (string, *dicom.Header) {
	t.Helper()
	src := filepath.Join(t.TempDir(), kind)
	if out, err := exec.Command("/usr/bin/python3", "dicom/testdata/make_series.py", src, kind, "blob").CombinedOutput(); err != nil {
		t.Fatalf("make_series: %v\n%s", err, out)
	}
	o.Upload(t, src)
	files, _ := filepath.Glob(filepath.Join(src, "*"))
	h, _, err := dicom.ReadFileHeader(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return src, h
}
