package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/dicom"
	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/dicomweb/dicomwebtest"
)

func init() {
	scriptCmds["pacs-server"] = cmdPacsServer
}

// pacs-server DIR [user=U password=P refuse=CODE tls delay=D] serves the DICOM files
// under DIR (written by dicom-series) over DICOMweb on 127.0.0.1, its root
// in $PACS_URL: a fake (dicomwebtest) with basic authentication when user
// is given, every study described "PLANTED STUDY" of the planted patient;
// refuse=CODE refuses every stored instance with that failure reason; tls
// serves HTTPS with a certificate of its own, written to pacs-ca.pem;
// delay=D waits D before each instance of a WADO-RS answer. It
// stops at the end of the script.
func cmdPacsServer(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: pacs-server DIR [user=U password=P refuse=CODE]")
	}
	s := dicomwebtest.New()
	for _, a := range args[1:] {
		if a == "tls" {
			s.Close()
			s = dicomwebtest.NewTLS()
			ts.Check(os.WriteFile(ts.MkAbs("pacs-ca.pem"), s.CertPEM(), 0o644))
		}
	}
	ts.Defer(s.Close)
	for _, a := range args[1:] {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "user":
			s.User = v
		case "password":
			s.Password = v
		case "tls":
		case "delay":
			d, err := time.ParseDuration(v)
			ts.Check(err)
			s.Delay = d
		case "refuse":
			code, err := strconv.Atoi(v)
			ts.Check(err)
			s.Refuse = func(string) int { return code }
		default:
			ts.Fatalf("unknown option %s", a)
		}
	}
	err := filepath.WalkDir(ts.MkAbs(args[0]), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		h, _, err := dicom.ReadFileHeader(p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(h.SeriesNumber)
		s.Add(dicomwebtest.Instance{Study: h.StudyInstanceUID, Series: h.SeriesInstanceUID, SOP: h.SOPInstanceUID, Modality: h.Modality,
			SeriesDescription: h.SeriesDescription, SeriesNumber: n, StudyDescription: "PLANTED STUDY", StudyDate: "20240102",
			PatientName: dicomtest.PatientName, PatientID: dicomtest.PatientID, PatientBirthDate: dicomtest.PatientBirthDate, Data: data})
		return nil
	})
	ts.Check(err)
	ts.Setenv("PACS_URL", s.Root())
}
