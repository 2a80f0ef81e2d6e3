package dicom

import "testing"

// A series is named for people without empty parentheses or raw escapes.
func TestSeriesLabel(t *testing.T) {
	s := &Series{StudyInstanceUID: "1.2", SeriesInstanceUID: "1.2.3", Description: "AX\x1b[2J\u202e", Files: make([]File, 3)}
	if got, want := s.Label(), `series `+s.ID()+` "AX\x1b[2J\u202e" (no modality, 3 slice(s))`; got != want {
		t.Fatalf("Label = %q, want %q", got, want)
	}
	s.Modality, s.Description = "CT\n", ""
	if got, want := s.Label(), `series `+s.ID()+` "(no description)" (CT\n, 3 slice(s))`; got != want {
		t.Fatalf("Label = %q, want %q", got, want)
	}
}
