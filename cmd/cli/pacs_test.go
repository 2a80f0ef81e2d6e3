package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicomweb"
	"github.com/modelhub-ai/modelhub/internal/dicomweb/dicomwebtest"
)

// What a DICOMweb server says (descriptions, modalities, names) prints on
// one line, with nothing a terminal acts on.
func Test_pacsLsRun_escapes(t *testing.T) {
	s := dicomwebtest.New()
	defer s.Close()
	s.Add(dicomwebtest.Instance{Study: "1.2.3", Series: "1.2.3.1", SOP: "1.2.3.1.1", Modality: "CT\x1b[2J", SeriesDescription: "ax" + osc52 + "\nforged",
		StudyDescription: "st" + osc52, PatientName: "N\x1b[31m"})
	f, out, _ := testFactory(t, "[]", false, 0)
	client := func(u string) (*dicomweb.Client, error) { return dicomweb.New(u, dicomweb.Auth{}, nil) }
	for _, o := range []*PacsLsOptions{{URL: s.Root(), ShowPHI: true}, {URL: s.Root(), Study: "1.2.3"}} {
		out.Reset()
		o.IO, o.Client = f.IO, client
		if err := pacsLsRun(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		if terminalControls.MatchString(out.String()) || strings.Count(out.String(), "\n") != 2 {
			t.Errorf("pacs ls printed %q", out.String())
		}
	}
}

// A series predict --from leaves out (a SEG, a report) is named on stderr
// with its UID, modality and description made safe: all three come from the
// server.
func Test_fetchStudy_skippedEscapes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/dicom+json")
		fmt.Fprint(w, `[{"0020000E":{"vr":"UI","Value":["1.2\u001b]52;c;ZWNobyBoaQ==\u0007"]},"00080060":{"vr":"CS","Value":["SEG"]},`+
			`"0008103E":{"vr":"LO","Value":["d\u001b[2J\nforged"]}}]`)
	}))
	defer srv.Close()
	t.Setenv("MODELHUB_CACHE", t.TempDir())
	f, _, errOut := testFactory(t, "[]", false, 0)
	c, err := dicomweb.New(srv.URL+"/dicom-web", dicomweb.Auth{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fetchStudy(t.Context(), &PredictOptions{IO: f.IO, PACS: c, Study: "1.2.3"}); err != nil {
		t.Fatal(err)
	}
	msg := errOut.String()
	if !strings.Contains(msg, "not fetched: series 1.2") || terminalControls.MatchString(msg) || strings.Count(msg, "\n") != 3 {
		t.Fatalf("stderr %q", msg)
	}
}

// pacs ls --json gives the server's strings exactly (they decode to the
// same value) but with no character a terminal acts on left raw: not
// even DEL, C1 (CSI as U+009B) or bidi controls, which encoding/json keeps.
func Test_pacsLsRun_jsonExactAndSafe(t *testing.T) {
	desc := "ax\u009b2J\x7f\u202eevil\x1b[31m"
	s := dicomwebtest.New()
	defer s.Close()
	s.Add(dicomwebtest.Instance{Study: "1.2.3", Series: "1.2.3.1", SOP: "1.2.3.1.1", Modality: "CT", SeriesDescription: desc, StudyDescription: desc})
	f, out, _ := testFactory(t, "[]", false, 0)
	client := func(u string) (*dicomweb.Client, error) { return dicomweb.New(u, dicomweb.Auth{}, nil) }
	for _, o := range []*PacsLsOptions{{URL: s.Root(), JSON: true}, {URL: s.Root(), Study: "1.2.3", JSON: true}} {
		out.Reset()
		o.IO, o.Client = f.IO, client
		if err := pacsLsRun(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		if terminalControls.MatchString(out.String()) {
			t.Errorf("--json holds raw control characters: %q", out.String())
		}
		var got []map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 1 || got[0]["description"] != desc {
			t.Errorf("--json is not exact: %v %q", err, out.String())
		}
	}
}

// A study list the server cut short (Warning: 299, no paging) is shown with
// a warning saying it is not complete, and exit 0.
func Test_pacsLsRun_partial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Warning", `299 pacs: "There are more results"`)
		fmt.Fprint(w, `[{"0020000D":{"vr":"UI","Value":["1.2.3"]}}]`)
	}))
	defer srv.Close()
	f, out, errOut := testFactory(t, "[]", false, 0)
	o := &PacsLsOptions{IO: f.IO, URL: srv.URL + "/dicom-web", Client: func(u string) (*dicomweb.Client, error) { return dicomweb.New(u, dicomweb.Auth{}, nil) }}
	if err := pacsLsRun(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1.2.3") || !strings.Contains(errOut.String(), "warning: the DICOMweb server 127.0.0.1:") ||
		!strings.Contains(errOut.String(), "cut its answer about the list of studies short (Warning: 299) after 1 result(s) and does not page with offset: these are not all its studies") {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
}
