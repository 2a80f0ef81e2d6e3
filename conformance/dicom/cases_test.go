package dicom

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/dicom/dicomtest"
	"github.com/modelhub-ai/modelhub/internal/nifti"
)

// volumeEngine plays a NIfTI model's engine for predict --engine: it reads
// each case's JSON, keeps a copy of every input file it names (predict's
// converted NIfTI, at the path predict wrote it) and answers, per input in
// name order, the file's number of slices (the NIfTI header's dim[3]; the
// voxels are compared with dcm2niix's through nibabel afterwards).
type volumeEngine struct {
	keep string
	mu   sync.Mutex
	n    int
}

func (e *volumeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch r.URL.Path {
	case "/api/get_config":
		reply(200, map[string]any{"id": "x", "meta": map[string]string{"name": "brats-like"}})
	case "/api/predict":
		f, _, err := r.FormFile("file")
		if err != nil {
			reply(400, map[string]string{"error": "no file: " + err.Error()})
			return
		}
		var doc map[string]json.RawMessage
		if err := json.NewDecoder(f).Decode(&doc); err != nil {
			reply(400, map[string]string{"error": err.Error()})
			return
		}
		e.mu.Lock()
		e.n++
		n := e.n
		e.mu.Unlock()
		var slices []int
		for _, key := range []string{"flair", "t1", "t1c", "t2"} {
			var in struct {
				FileURL string `json:"fileurl"`
			}
			if err := json.Unmarshal(doc[key], &in); err != nil || in.FileURL == "" {
				reply(400, map[string]string{"error": "no fileurl for " + key})
				return
			}
			b, err := os.ReadFile(in.FileURL)
			if err != nil {
				reply(400, map[string]string{"error": err.Error()})
				return
			}
			keep := filepath.Join(e.keep, strconv.Itoa(n)+"-"+key+".nii.gz")
			if err := os.WriteFile(keep, b, 0o644); err != nil {
				reply(500, map[string]string{"error": err.Error()})
				return
			}
			im, err := nifti.ReadFile(keep)
			if err != nil {
				reply(400, map[string]string{"error": err.Error()})
				return
			}
			k := im.Dims[2]
			slices = append(slices, k)
		}
		reply(200, map[string]any{"output": []map[string]any{{"name": "slices", "type": "vector", "shape": []int{4}, "prediction": slices}}})
	default:
		_, _ = io.Copy(io.Discard, r.Body)
		reply(404, map[string]string{"error": "no route " + r.URL.Path})
	}
}

const bratsConfig = `{"id": "5c1d2e3f-0000-4000-8000-000000000001", "meta": {"name": "brats-like"},
 "model": {"io": {"input": {"format": ["application/json"],
   "t1": {"format": ["application/nii-gzip"]}, "t1c": {"format": ["application/nii-gzip"]},
   "t2": {"format": ["application/nii-gzip"]}, "flair": {"format": ["application/nii-gzip"]}},
  "output": [{"name": "slices", "type": "vector"}]}}}`

// predict on a folder of DICOM case folders (pydicom-made MR series) for a
// model with four volume inputs: each input takes the series its rules pick,
// a case where an input has no series or several fails in one line naming
// the input and the candidates, and what an input got is dcm2niix's volume.
func TestPredictDICOMCasesByRules(t *testing.T) {
	t.Parallel() // its own folders: the tools of several tests run at once
	need(t, "pydicom", "nibabel", "dcm2niix")
	dir := t.TempDir()
	cohort := filepath.Join(dir, "cohort")
	run(t, python, "testdata/make_series.py", cohort, "brats")
	model := filepath.Join(dir, "model")
	for p, data := range map[string]string{"init/init.json": `{"id": "5c1d2e3f-0000-4000-8000-000000000001", "docker_id": "none:1", "name": "brats-like"}`,
		"contrib_src/model/config.json": bratsConfig} {
		os.MkdirAll(filepath.Join(model, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(model, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(dir, "engine-got")
	os.MkdirAll(keep, 0o755)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: &volumeEngine{keep: keep}}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	engine := "http://" + l.Addr().String()

	predict := func(args ...string) (string, string, error) {
		cmd := exec.Command(binPath, append([]string{"predict", model, "--engine", engine, "--timeout", "20s"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir, "XDG_DATA_HOME="+dir, "MODELHUB_HOME="+filepath.Join(dir, "mh"), "NO_COLOR=1")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		for _, v := range dicomtest.Planted {
			if dicomtest.HasPlanted(stdout.String()+stderr.String(), v) {
				t.Fatalf("patient data %q in the output of predict", v)
			}
		}
		return stdout.String(), stderr.String(), err
	}

	// default rules: c1's t1 is ambiguous (AX T1, AX T1 POST GD) and t1c finds
	// no "t1c"; c2 has no t1c either
	stdout, stderr, err := predict(cohort)
	if err == nil {
		t.Fatalf("predict passed with ambiguous cases:\n%s\n%s", stdout, stderr)
	}
	id := `[0-9a-f]{8}`
	for _, re := range []string{
		`(?m)^c1 +failed .*case c1: input t1 matches 2 series \("AX T1" ` + id + `, "AX T1 POST GD" ` + id + `\): narrow it with --match t1=RULES; no series for input t1c \(no description with the word t1c; candidates: `,
		`(?m)^c2 +failed .*case c2: no series for input t1c \(no description with the word t1c; candidates: "T1" ` + id + `, "T2" ` + id + `, "FLAIR" ` + id + `\): give --match t1c=RULES`,
	} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("stdout does not match %s:\n%s\nstderr:\n%s", re, stdout, stderr)
		}
	}

	// rules pick c1's series; c2 still lacks a t1c
	out := filepath.Join(dir, "out")
	stdout, stderr, err = predict(cohort, "-o", out, "--match", "t1=description~(?i)t1$", "--match", "t1c=description~(?i)post|gd,min-slices=2")
	if err == nil || !regexp.MustCompile(`(?m)^c1 +ok `).MatchString(stdout) || !regexp.MustCompile(`(?m)^c2 +failed .*no series for input t1c \(--match t1c=description~\(\?i\)post\|gd,min-slices=2; candidates: "T1" `).MatchString(stdout) {
		t.Fatalf("with --match:\nstdout %s\nstderr %s", stdout, stderr)
	}
	if !strings.Contains(stderr, "1 done now, 0 done before, 1 failed") {
		t.Errorf("summary: %s", stderr)
	}
	res, err := os.ReadFile(filepath.Join(out, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var c1 struct {
		Status string         `json:"status"`
		Files  map[string]any `json:"files"`
		DICOM  []struct {
			Input       string `json:"input"`
			Description string `json:"series_description"`
			Slices      int    `json:"slices"`
		} `json:"dicom"`
		Output json.RawMessage `json:"output"`
	}
	for _, line := range strings.Split(strings.TrimSpace(string(res)), "\n") {
		if strings.Contains(line, `"input":"c1"`) {
			if err := json.Unmarshal([]byte(line), &c1); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[string]string{}
	for _, d := range c1.DICOM {
		got[d.Input] = d.Description
	}
	// the engine read, per input in name order (flair, t1, t1c, t2), the
	// slices of the series the rules picked
	if !strings.Contains(string(c1.Output), `[6,9,8,7]`) {
		t.Errorf("c1's output %s, want the slices [6,9,8,7]", c1.Output)
	}
	if c1.Status != "ok" || got["t1"] != "AX T1" || got["t1c"] != "AX T1 POST GD" || got["t2"] != "T2 TSE" || got["flair"] != "FLAIR" {
		t.Fatalf("c1 in results.jsonl: %+v\n%s", c1, res)
	}
	prov, _ := os.ReadFile(filepath.Join(out, "provenance.json"))
	if !strings.Contains(string(prov), `"reason": "matches no input"`) || !strings.Contains(string(prov), `"series_description": "Localizer"`) {
		t.Errorf("provenance does not say why the localizer was left out:\n%s", prov)
	}
	for _, b := range [][]byte{res, prov} {
		for _, v := range dicomtest.Planted {
			if dicomtest.HasPlanted(string(b), v) {
				t.Fatalf("patient data %q in the results", v)
			}
		}
	}
	// the engine got each series as dcm2niix converts it: t1 (9 slices) is c1/001
	ref := filepath.Join(dir, "ref")
	dcm2niix(t, filepath.Join(cohort, "c1", "001"), ref)
	refs, _ := filepath.Glob(filepath.Join(ref, "*.nii.gz"))
	if len(refs) != 1 {
		t.Fatalf("dcm2niix wrote %v", refs)
	}
	same(t, filepath.Join(keep, "1-t1.nii.gz"), refs[0])
	assertNoPatientData(t, filepath.Join(keep, "1-t1.nii.gz"))
}
