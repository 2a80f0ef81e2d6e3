package predict

import (
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestItemFolderIsTheStem(t *testing.T) {
	for name, want := range map[string]string{
		"case16.png": "case16", "sub/a.nii.gz": "sub/a", "a.png~2": "a~2", "noext": "noext",
		".png": "png", "../../x.png": "x", "a:b.png": "a_b",
	} {
		if got := ItemFolder(&Item{Name: name, Kind: KindFile, Path: "/x"}); got != want {
			t.Errorf("ItemFolder(%q) = %q, want %q", name, got, want)
		}
	}
	// a case is named by its folder, dots and all
	if got := ItemFolder(&Item{Name: "case.v2", Kind: KindCase, Case: []CaseFile{{Input: "t1"}}}); got != "case.v2" {
		t.Errorf("case folder: %q", got)
	}
}

func TestAssignFolders(t *testing.T) {
	items := []Item{FileItem("a.png", "/a.png", ""), FileItem("a.jpg", "/a.jpg", ""), FileItem("A.tif", "/A.tif", ""), FileItem("b.png", "/b.png", ""), FileItem("c.png", "/c.png", "")}
	// an earlier run gave "b" to b.png and "c" to another input c.gif
	got := assignFolders(items, map[string]string{"b": "b.png", "c": "c.gif"})
	want := []string{"a", "a~2", "A~3", "b", "c~2"}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("%s -> %q, want %q", items[i].Name, got[i], w)
		}
	}
	// folders of lines written before lines named their folder (b.png/) stay
	// taken; their inputs move to their stems
	got = assignFolders(items, map[string]string{"b.png": legacyOwner, "a": legacyOwner})
	want = []string{"a~2", "a~3", "A~4", "b", "c"}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("%s -> %q, want %q", items[i].Name, got[i], w)
		}
	}
}

func TestRecordsCSV(t *testing.T) {
	dir := t.TempDir()
	lines := `{"input":"=cmd|' /C calc'!A0.png","source":"/in/x.png","sha256":"s1","status":"failed","error":"boom","latency_ms":3,"time":"2026-01-01T00:00:00Z"}
{"input":"b.png","source":"/in/b.png","sha256":"s2","status":"ok","latency_ms":12.5,"output":{"output":[{"type":"label_list","name":"l","prediction":[{"label":"cat","probability":0.2},{"label":"dog","probability":0.7}]},{"type":"mask_image","name":"Seg","shape":[4,4],"prediction":"http://127.0.0.1:1/api/output/x.h5"}]},"saved":[{"output":"Seg","url":"http://127.0.0.1:9/api/output/x.h5","path":"b/Seg.h5"}],"masks":[{"output":"Seg","path":"b/Seg.nii.gz","order":"zyx","labels":[{"value":1,"name":"Liver","voxels":12,"ml":0.5,"mean_intensity":40.25},{"value":2,"voxels":3,"ml":0.125,"mean_intensity":-3}]}],"seg":["b/Seg.seg.dcm"],"time":"2026-01-01T00:00:01Z","folder":"b","run":"R1"}
{"input":"=cmd|' /C calc'!A0.png","source":"/in/x.png","sha256":"s1","status":"ok","latency_ms":4,"output":{"output":[]},"time":"2026-01-01T00:00:02Z","run":"R2"}
{"input":"cut`
	if err := os.WriteFile(filepath.Join(dir, ResultsFile), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records: %+v", len(recs), recs)
	}
	// the latest line of an input wins, in first-seen order
	if recs[0].Status != "ok" || recs[0].Run != "R2" {
		t.Errorf("first: %+v", recs[0])
	}
	b := recs[1]
	if top, _ := b.Top(); top.Label != "dog" || len(b.Outputs) != 1 || b.Outputs[0].Path != "b/Seg.h5" || b.Outputs[0].Type != "mask_image" {
		t.Errorf("b: %+v", b)
	}
	if err := WriteCSV(dir, recs); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") || len(rows) != 3 {
		t.Fatalf("rows: %q", rows)
	}
	if rows[1][0] != "'=cmd|' /C calc'!A0.png" || rows[1][11] != "" || rows[1][12] != "" {
		t.Errorf("a formula-like input is not neutralised: %q", rows[1][0])
	}
	if want := []string{"b.png", "ok", "dog", "0.7", "b/Seg.h5;b/Seg.nii.gz", "12.5", "", "2026-01-01T00:00:01Z", "/in/b.png", "s2", "R1",
		"Seg 1 Liver: 12 voxels, 0.5 ml, mean 40.25; Seg 2: 3 voxels, 0.125 ml, mean -3", "b/Seg.seg.dcm"}; strings.Join(rows[2], "|") != strings.Join(want, "|") {
		t.Errorf("row %q, want %q", rows[2], want)
	}
}

func TestRunsKeepEveryRun(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	id1 := NewRunID(dir, t0)
	if err := WriteProvenance(dir, &Provenance{Model: "m", RunID: id1, OK: 1}); err != nil {
		t.Fatal(err)
	}
	id2 := NewRunID(dir, t0) // same second: still a new run
	if id1 != "20260102T030405Z" || id2 != "20260102T030405Z-2" {
		t.Fatalf("ids %q %q", id1, id2)
	}
	if err := WriteProvenance(dir, &Provenance{Model: "m", RunID: id2, OK: 2}); err != nil {
		t.Fatal(err)
	}
	for id, ok := range map[string]string{id1: `"ok": 1`, id2: `"ok": 2`} {
		data, err := os.ReadFile(filepath.Join(dir, RunsDir, id+".json"))
		if err != nil || !strings.Contains(string(data), ok) {
			t.Errorf("runs/%s.json: %s %v", id, data, err)
		}
	}
	if p, err := ReadProvenance(dir); err != nil || p.RunID != id2 {
		t.Errorf("provenance.json is the latest run: %+v %v", p, err)
	}
}

func TestReadDoneClaims(t *testing.T) {
	p := filepath.Join(t.TempDir(), ResultsFile)
	lines := `{"input":"x.png","sha256":"1","status":"ok","saved":[{"output":"m","url":"u","path":"x.png/m.png"}]}
{"input":"y.png","sha256":"2","status":"failed","folder":"y"}
`
	if err := os.WriteFile(p, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	done, claims, cut, err := readDone(filepath.Dir(p))
	if err != nil || cut || !done["1"] || done["2"] {
		t.Fatalf("done %v cut %v err %v", done, cut, err)
	}
	if claims["x.png"] != legacyOwner || claims["y"] != "y.png" || len(claims) != 2 {
		t.Errorf("claims %q", claims)
	}
}

// EachRecord hands over the latest line of each input one at a time, in
// first-seen order, and stops at fn's error.
func TestEachRecord(t *testing.T) {
	dir := t.TempDir()
	lines := `{"input":"a","sha256":"1","status":"failed","error":"x"}
{"input":"b","sha256":"2","status":"ok"}
not json
{"input":"a","sha256":"1","status":"ok","run":"R2"}
{"input":"c","sha256":"3","status":"ok"}
`
	if err := os.WriteFile(filepath.Join(dir, ResultsFile), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	n, err := EachRecord(dir, func(r *Record) error {
		got = append(got, r.Input+":"+r.Status+":"+r.Run)
		return nil
	})
	if err != nil || n != 3 || strings.Join(got, " ") != "a:ok:R2 b:ok: c:ok:" {
		t.Fatalf("%d %v %v", n, got, err)
	}
	stop := errors.New("stop")
	n, err = EachRecord(dir, func(r *Record) error {
		if r.Input == "b" {
			return stop
		}
		return nil
	})
	if n != 1 || !errors.Is(err, stop) {
		t.Fatalf("%d, %v", n, err)
	}
	if n, err := EachRecord(t.TempDir(), func(*Record) error { return stop }); n != 0 || err != nil {
		t.Fatalf("no results.jsonl: %d, %v", n, err)
	}
}
