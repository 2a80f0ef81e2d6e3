package cli

import (
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
