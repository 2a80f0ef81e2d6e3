package predict

import (
	"strings"
	"testing"
)

// Every kind of input names its source, and an item of no kind is refused by
// name, not sent as whatever its empty fields suggest.
func TestItemKinds(t *testing.T) {
	f, u, c := FileItem("a.png", "/in/a.png", "image/png"), URLItem("u.png", "https://h/u.png"), CaseItem("p1", []CaseFile{{Input: "t1", Path: "/in/t1.nii"}})
	if f.Kind != KindFile || u.Kind != KindURL || c.Kind != KindCase {
		t.Fatalf("kinds %v %v %v", f.Kind, u.Kind, c.Kind)
	}
	if f.Source() != "/in/a.png" || u.Source() != "https://h/u.png" || c.Source() != "" {
		t.Errorf("sources %q %q %q", f.Source(), u.Source(), c.Source())
	}
	f.SourceArg = "/dicom/series"
	if f.Source() != "/dicom/series" {
		t.Errorf("a converted input's source is %q, want the DICOM given", f.Source())
	}
	if h, err := hashItem(t.Context(), &u); err != nil || h != hashString("https://h/u.png") {
		t.Errorf("hash of a URL: %q %v", h, err)
	}
	none := Item{Name: "x", Path: "/in/x.png"}
	if _, err := hashItem(t.Context(), &none); err == nil || !strings.Contains(err.Error(), "Kind(0) is not a kind of input") {
		t.Errorf("an item of no kind: %v", err)
	}
	if _, _, err := (&Runner{}).send(t.Context(), &none, &Result{}); err == nil {
		t.Error("an item of no kind was sent")
	}
	if KindFile.String() != "file" || KindURL.String() != "url" || KindCase.String() != "case" {
		t.Error("Kind.String")
	}
}
