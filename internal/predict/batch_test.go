package predict

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/filetype"
)

// fakeEngine answers like the modelhub engine: a label_list for any upload,
// {"error"} with 400 for a file named bad*, a mask URL for mask*, a long
// wait for slow*; a case JSON is answered with the paths it names.
type fakeEngine struct {
	mu       sync.Mutex
	uploads  map[string][]byte // filename -> content
	lengths  []int64
	slow     chan struct{} // slow* uploads wait until it is closed
	arrivals chan string
}

func newFakeEngine(t *testing.T) (*fakeEngine, *httptest.Server) {
	f := &fakeEngine{uploads: map[string][]byte{}, slow: make(chan struct{}), arrivals: make(chan string, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/predict", func(w http.ResponseWriter, r *http.Request) {
		file, hdr, err := r.FormFile("file")
		if err != nil {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error": %q}`, err.Error())
			return
		}
		data, _ := io.ReadAll(file)
		f.mu.Lock()
		f.uploads[hdr.Filename] = data
		f.lengths = append(f.lengths, r.ContentLength)
		f.mu.Unlock()
		f.arrivals <- hdr.Filename
		switch {
		case strings.HasPrefix(hdr.Filename, "bad"):
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error": "decode input image: bad"}`)
		case strings.HasPrefix(hdr.Filename, "slow"):
			select {
			case <-f.slow:
			case <-r.Context().Done():
				return
			}
			fmt.Fprint(w, `{"output": []}`)
		case strings.HasPrefix(hdr.Filename, "mask"):
			fmt.Fprintf(w, `{"output": [{"prediction": "http://%s/api/output/2024-1.png", "shape": [2, 2], "type": "mask_image", "name": "Seg"}]}`, r.Host)
		case strings.HasSuffix(hdr.Filename, ".json"):
			w.Write([]byte(`{"output": [{"prediction": [], "shape": [0], "type": "vector", "name": "v"}], "echo": ` + string(data) + `}`))
		default:
			fmt.Fprint(w, `{"output": [{"prediction": [{"label": "cat", "probability": 0.9}], "shape": [1], "type": "label_list", "name": "p"}]}`)
		}
	})
	mux.HandleFunc("GET /api/output/{name}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("MASK")) })
	mux.HandleFunc("GET /api/predict", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"output": [{"prediction": %q, "type": "custom", "name": "u"}]}`, r.URL.Query().Get("fileurl"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-f.slow:
		default:
			close(f.slow)
		}
	})
	return f, srv
}

func fileItems(t *testing.T, dir string, names ...string) []Item {
	var items []Item
	for _, n := range names {
		p := filepath.Join(dir, n)
		os.WriteFile(p, []byte("content of "+n), 0o644)
		items = append(items, FileItem(n, p, "image/png"))
	}
	return items
}

func readLines(t *testing.T, p string) []Result {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Result
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestRunner_batchResumeForce(t *testing.T) {
	fe, srv := newFakeEngine(t)
	in, out := t.TempDir(), t.TempDir()
	items := fileItems(t, in, "a.png", "bad.png", "mask.png")
	items = append(items, URLItem("u.png", "https://example.org/u.png"))
	opts := Options{Jobs: 3, OutDir: out}
	var calls []string
	run := func(o Options) Summary {
		plan, err := Prepare(t.Context(), items, o)
		if err != nil {
			t.Fatal(err)
		}
		r := &Runner{Client: &engine.Client{Base: srv.URL, HTTP: engine.NewHTTP(3)}, Options: o,
			OnResult: func(r *Result, s Summary) { calls = append(calls, r.Input+"="+r.Status) }}
		sum, err := r.Run(t.Context(), plan)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	if sum := run(opts); sum != (Summary{OK: 3, Failed: 1}) {
		t.Fatalf("first run: %+v", sum)
	}
	if len(calls) != 4 {
		t.Errorf("OnResult calls: %v", calls)
	}
	// the upload streamed the file with a Content-Length, under its own name
	if string(fe.uploads["a.png"]) != "content of a.png" || fe.lengths[0] <= int64(len("content of a.png")) {
		t.Errorf("upload: %q, Content-Length %v", fe.uploads["a.png"], fe.lengths)
	}
	lines := readLines(t, filepath.Join(out, ResultsFile))
	byIn := map[string]Result{}
	for _, l := range lines {
		byIn[l.Input] = l
	}
	if a := byIn["a.png"]; a.Status != "ok" || a.SHA256 != hashString("content of a.png") || !strings.Contains(string(a.Output), `"cat"`) || a.Time.IsZero() {
		t.Errorf("a.png: %+v", a)
	}
	if b := byIn["bad.png"]; b.Status != "failed" || b.Error != "the model answered: decode input image: bad" {
		t.Errorf("bad.png: %+v", b)
	}
	m := byIn["mask.png"]
	if len(m.Saved) != 1 || m.Saved[0].Path != "mask/Seg.png" || m.Saved[0].Output != "Seg" || m.Folder != "mask" {
		t.Fatalf("mask.png saved: %+v in %q", m.Saved, m.Folder)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "mask", "Seg.png")); string(data) != "MASK" {
		t.Errorf("downloaded mask = %q", data)
	}
	if u := byIn["u.png"]; u.Status != "ok" || !strings.Contains(string(u.Output), "https://example.org/u.png") || u.SHA256 != hashString("https://example.org/u.png") {
		t.Errorf("URL input: %+v", u)
	}

	// a rerun skips the inputs done ok and redoes the failed one
	fe.uploads = map[string][]byte{}
	if sum := run(opts); sum != (Summary{Failed: 1, Skipped: 3}) {
		t.Errorf("rerun: %+v", sum)
	}
	if len(fe.uploads) != 1 || fe.uploads["bad.png"] == nil {
		t.Errorf("rerun uploaded %v", fe.uploads)
	}
	// --force redoes everything
	opts.Force = true
	if sum := run(opts); sum != (Summary{OK: 3, Failed: 1}) {
		t.Errorf("force: %+v", sum)
	}
	if n := len(readLines(t, filepath.Join(out, ResultsFile))); n != 4+1+4 {
		t.Errorf("results.jsonl has %d lines, want 9 (appended)", n)
	}
}

func TestRunner_timeoutAndInterrupt(t *testing.T) {
	fe, srv := newFakeEngine(t)
	in, out := t.TempDir(), t.TempDir()
	items := fileItems(t, in, "slow1.png", "a.png")
	r := &Runner{Client: &engine.Client{Base: srv.URL, HTTP: engine.NewHTTP(2)}, Options: Options{Jobs: 2, OutDir: out, InputTimeout: 200 * time.Millisecond}}
	plan, _ := Prepare(t.Context(), items, r.Options)
	sum, err := r.Run(t.Context(), plan)
	if err != nil || sum != (Summary{OK: 1, Failed: 1}) {
		t.Fatalf("timeout run: %+v %v", sum, err)
	}
	lines := readLines(t, filepath.Join(out, ResultsFile))
	for _, l := range lines {
		if l.Input == "slow1.png" && l.Error != "no answer within 200ms (raise --input-timeout if the model needs longer)" {
			t.Errorf("timeout error = %q", l.Error)
		}
	}

	// Ctrl-C while slow2 is in flight: no line for it, and a cut line left by
	// a crash is closed before the next append
	f, _ := os.OpenFile(filepath.Join(out, ResultsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte(`{"input": "cut`))
	f.Close()
	items = fileItems(t, in, "slow2.png")
	r.InputTimeout = 0
	ctx, cancel := context.WithCancel(t.Context())
	plan, err = Prepare(ctx, items, r.Options)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for name := range fe.arrivals {
			if name == "slow2.png" {
				cancel()
				return
			}
		}
	}()
	sum, err = r.Run(ctx, plan)
	if err == nil || !strings.Contains(err.Error(), "batch interrupted") || sum.OK+sum.Failed != 0 {
		t.Fatalf("interrupted run: %+v %v", sum, err)
	}
	data, _ := os.ReadFile(filepath.Join(out, ResultsFile))
	if strings.Contains(string(data), "slow2") || !strings.HasSuffix(string(data), "\n") {
		t.Errorf("results.jsonl after Ctrl-C:\n%s", data)
	}
}

type fakeCopier struct {
	got     []CaseFile
	cleaned bool
}

func (f *fakeCopier) CopyCase(ctx context.Context, files []CaseFile) (map[string]string, func(context.Context), error) {
	f.got = files
	paths := map[string]string{}
	for _, cf := range files {
		paths[cf.Input] = "/tmp/case/" + cf.Input + FileExt(cf.Path)
	}
	return paths, func(context.Context) { f.cleaned = true }, nil
}

func TestRunner_case(t *testing.T) {
	fe, srv := newFakeEngine(t)
	in := t.TempDir()
	os.WriteFile(filepath.Join(in, "a.nii.gz"), gzipBytes, 0o644)
	it := CaseItem("p1", []CaseFile{
		{Input: "t1", Path: filepath.Join(in, "a.nii.gz"), Type: filetype.NIIGzip},
		{Input: "t2", URL: "https://example.org/b.nii.gz", Type: filetype.NIIGzip},
	})
	bad := CaseItem("p2", nil)
	bad.Err = fmt.Errorf("case p2: no file for input t2")
	cp := &fakeCopier{}
	var results []*Result
	r := &Runner{Client: &engine.Client{Base: srv.URL, HTTP: engine.NewHTTP(1)}, Copier: cp, Options: Options{Jobs: 1},
		OnResult: func(r *Result, s Summary) { results = append(results, r) }}
	plan, _ := Prepare(t.Context(), []Item{it, bad}, r.Options)
	sum, err := r.Run(t.Context(), plan)
	if err != nil || sum != (Summary{OK: 1, Failed: 1}) {
		t.Fatalf("%+v %v", sum, err)
	}
	if len(cp.got) != 1 || cp.got[0].Input != "t1" || !cp.cleaned {
		t.Errorf("copier: %+v cleaned=%v", cp.got, cp.cleaned)
	}
	var doc map[string]map[string]any
	json.Unmarshal(fe.uploads["p1.json"], &doc)
	if doc["t1"]["fileurl"] != "/tmp/case/t1.nii.gz" || doc["t2"]["fileurl"] != "https://example.org/b.nii.gz" || fmt.Sprint(doc["t1"]["type"]) != "[application/nii-gzip]" {
		t.Errorf("case JSON: %s", fe.uploads["p1.json"])
	}
	want := hashString("t1 " + hashString(string(gzipBytes)) + "\nt2 " + hashString("https://example.org/b.nii.gz") + "\n")
	if results[0].SHA256 != want || results[0].Files["t1"] != filepath.Join(in, "a.nii.gz") {
		t.Errorf("case result: %+v", results[0])
	}
	if results[1].Status != "failed" || results[1].Error != "case p2: no file for input t2" {
		t.Errorf("bad case: %+v", results[1])
	}
}

func TestOutputFolderAndExt(t *testing.T) {
	for in, want := range map[string]string{"a.png": "a.png", "sub/../x.png": "sub/x.png", "../../etc": "etc", "": "input", "a:b?.png": "a_b_.png"} {
		if got := OutputFolder(in); got != want {
			t.Errorf("OutputFolder(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"http://h/api/output/x.nii.gz?a=b": ".nii.gz", "/a/b.h5": ".h5", "noext": ""} {
		if got := FileExt(in); got != want {
			t.Errorf("FileExt(%q) = %q, want %q", in, got, want)
		}
	}
}

// An output's name comes from the model's config.json: whatever it says, it
// becomes one harmless file name inside the input's folder (issue 21, "what
// held": output names with ../).
func TestSafeFileName(t *testing.T) {
	for in, want := range map[string]string{"mask": "mask", "..": "input", ".": "input", "../../etc/passwd": "_.._etc_passwd",
		`..\..\x`: `_.._x`, "a/b": "a_b", " . ": "input", "x\x00\ny": "x__y", "C:": "C_"} {
		if got := SafeFileName(in); got != want {
			t.Errorf("SafeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
