package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/predict"
)

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustMatch(t *testing.T, what, re, s string) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(s) {
		t.Errorf("%s does not match %q:\n%s", what, re, s)
	}
}

// predict on a folder against the real engine: the model is pulled and
// started, the accepted files are uploaded (one at a time: the engine loses
// overlapping uploads), an input the engine cannot read fails without
// stopping the batch, results.jsonl and provenance.json record it all, the
// container is removed, and a rerun skips what is done.
func TestRealEngine_Predict(t *testing.T) {
	e := newEnv(t)
	in := t.TempDir()
	writeFiles(t, in, map[string][]byte{
		"bright.png": pngBytes(t, 16, 16, 240), "sub/dark.png": pngBytes(t, 16, 16, 10),
		"notes.txt": []byte("not an image"), "broken.png": []byte("not a PNG either"),
	})
	out := filepath.Join(t.TempDir(), "out")
	r := e.run("predict", e.Model, in, "-o", out)
	if r.Code != 1 {
		t.Fatalf("want exit 1 (broken.png fails):\n%s", r)
	}
	mustMatch(t, "stdout", `(?m)^bright\.png +ok +\S+ +bright \d\.\d\d, dark \d\.\d\d$`, r.Stdout)
	mustMatch(t, "stdout", `(?m)^sub/dark\.png +ok +\S+ +dark \d\.\d\d, bright \d\.\d\d$`, r.Stdout)
	mustMatch(t, "stdout", `(?m)^broken\.png +failed +\S+ +the model answered: `, r.Stdout)
	mustMatch(t, "stderr", `(?m)^2 done now, 0 done before, 1 failed, 1 unsupported$`, r.Stderr)
	if cs := e.Containers(); len(cs) != 0 {
		t.Errorf("containers left: %+v", cs)
	}

	data, err := os.ReadFile(filepath.Join(out, predict.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 {
		t.Fatalf("results.jsonl has %d lines:\n%s", len(lines), data)
	}
	for _, l := range lines {
		var res predict.Result
		if err := json.Unmarshal([]byte(l), &res); err != nil || len(res.SHA256) != 64 {
			t.Errorf("line %s: %v", l, err)
		}
		if res.Status == "ok" && !strings.Contains(string(res.Output), `"processing_time"`) {
			t.Errorf("an ok line without the engine's answer: %s", l)
		}
	}

	prov, err := predict.ReadProvenance(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(e.Weights)
	if prov.Model != e.Model || prov.Image != e.Image || !strings.HasPrefix(prov.ImageID, "sha256:") || len(prov.GitCommit) != 40 ||
		len(prov.WeightFiles) != 1 || prov.WeightFiles[0].SHA256 != hex.EncodeToString(sum[:]) || prov.EndedAt.IsZero() || prov.OK != 2 || prov.Failed != 1 {
		t.Errorf("provenance.json: %+v", prov)
	}

	r = e.run("predict", e.Model, in, "-o", out)
	if r.Code != 1 {
		t.Fatalf("rerun: want exit 1:\n%s", r)
	}
	mustMatch(t, "rerun stderr", `(?m)^0 done now, 2 done before, 1 failed, 1 unsupported$`, r.Stderr)
}

// A multi-input case against the real engine: its files are copied into the
// container and the engine reads them by the paths of the case JSON.
func TestRealEngine_PredictMultiInput(t *testing.T) {
	e := newEnv(t)
	model := e.localModel(t, "multimodel", "-multi")
	in := t.TempDir()
	writeFiles(t, in, map[string][]byte{
		"cases/p1/t1.png": pngBytes(t, 16, 16, 250), "cases/p1/t2.png": pngBytes(t, 16, 16, 250),
		"cases/p2/scan_t1.png": pngBytes(t, 16, 16, 5), "cases/p2/scan_t2.png": pngBytes(t, 16, 16, 5),
	})
	r := e.run("predict", model, filepath.Join(in, "cases"), "--json")
	if r.Code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	mustMatch(t, "stdout", `"input":"p1",.*"status":"ok".*"label":"bright","probability":0\.98`, r.Stdout)
	mustMatch(t, "stdout", `"input":"p2",.*"status":"ok".*"label":"bright","probability":0\.0196`, r.Stdout)
	mustMatch(t, "stderr", `(?m)^2 done now, 0 done before, 0 failed, 0 unsupported$`, r.Stderr)

	r = e.run("predict", model, "--input", "t1="+filepath.Join(in, "cases/p1/t1.png"), "--input", "t2="+filepath.Join(in, "cases/p2/scan_t2.png"))
	if r.Code != 0 {
		t.Fatalf("--input: want exit 0:\n%s", r)
	}
	mustMatch(t, "stdout", `(?m)^cases +ok +\S+ +bright 0\.50, dark 0\.50$`, r.Stdout)
}
