package dicomtest

import "testing"

// A planted value is found standing on its own, not inside a temporary
// folder's random digits or a long random UID.
func TestHasPlanted(t *testing.T) {
	for text, want := range map[string]bool{
		"/tmp/TestPydicomFilesMR_small_RLE.dcm3902102345/001/out.nii.gz": false,
		"1.2.826.0.1.3680043.8.498.3312390210457 written":                false,
		`{"patient_id": "90210"}`:                                        true,
		"ID 90210, born 19010203":                                        true,
	} {
		if got := HasPlanted(text, "90210"); got != want {
			t.Errorf("HasPlanted(%q) = %v, want %v", text, got, want)
		}
	}
}
