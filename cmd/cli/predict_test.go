package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/predict"
)

func TestNewCmdPredict_flags(t *testing.T) {
	tests := []struct {
		args    string
		want    string // fmt of the interesting options
		wantErr string
	}{
		{args: "squeezenet a.png ./photos", want: "squeezenet [a.png ./photos] [] out= json=false jobs=1 it=10m0s force=false keep=false"},
		{args: "m - -o out --json -j 8 --input-timeout 30s --force --keep-running", want: "m [-] [] out=out json=true jobs=8 it=30s force=true keep=true"},
		{args: "brats --input t1=a.nii.gz -i T2=b.nii.gz", want: "brats [] [{t1 a.nii.gz} {T2 b.nii.gz}] out= json=false jobs=1 it=10m0s force=false keep=false"},
		{args: "", wantErr: "predict needs a MODEL and inputs"},
		{args: "m", wantErr: "predict needs inputs after the model"},
		{args: "m a.png -j 0", wantErr: "--jobs 0: give at least 1"},
		{args: "m a.png --input-timeout -1s", wantErr: "--input-timeout must not be negative"},
		{args: "m a.png --timeout 0s", wantErr: "--timeout must be positive"},
		{args: "m a.png --force", wantErr: "--force redoes inputs recorded in -o DIR's results.jsonl: give -o DIR"},
		{args: "m --input t1", wantErr: `--input "t1": want NAME=PATH`},
		{args: "m --input =a.png", wantErr: `want NAME=PATH`},
		{args: "m cohort --match t1", wantErr: `--match "t1": want NAME=RULES`},
		{args: "m cohort --match description~x", wantErr: `--match "description~x": want NAME=RULES`},
		{args: "m cohort --match t1=size=3", wantErr: `--match t1: series rule "size=3": unknown key "size"`},
		{args: "m cohort --match t1=largest --match t1=min-slices=3", wantErr: `--match t1 is given twice: combine its rules with commas`},
		{args: "m a.png --replicas 0", wantErr: `--replicas "0": give a number of containers (1 or more) or auto`},
		{args: "m a.png --replicas x", wantErr: `--replicas "x"`},
		{args: "m a.png --replicas 2 --keep-running", wantErr: "--keep-running keeps one container"},
		{args: "m a.png --gpus all --engine http://h:80", wantErr: "--gpus applies to models predict starts; with --engine it starts none"},
		{args: "m a.png --api-port 9000 --engine http://h:80", wantErr: "--api-port applies to models predict starts"},
		{args: "m a.png --api-port 70000", wantErr: "--api-port 70000: a port is a number"},
		{args: "m a.png --gpus device=", wantErr: `invalid --gpus "device="`},
	}
	// --match NAME=RULES keeps each input's rules (checked here, matched later)
	if m := flagCase(t, NewCmdPredict, "m cohort --match t1=description~(?i)^t1$,min-slices=20 --match t1c=largest", "", true); fmt.Sprint(m.Match) != "map[t1:[description~(?i)^t1$,min-slices=20] t1c:[largest]]" {
		t.Errorf("--match: %v", m.Match)
	}
	for _, tt := range tests {
		got := flagCase(t, NewCmdPredict, tt.args, tt.wantErr, true)
		if got == nil {
			continue
		}
		s := fmt.Sprintf("%s %v %v out=%s json=%v jobs=%d it=%s force=%v keep=%v", got.Model, got.Args, got.Inputs, got.OutDir, got.JSON, got.Jobs, got.InputTimeout, got.Force, got.KeepRunning)
		if s != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.args, s, tt.want)
		}
	}
	got := flagCase(t, NewCmdPredict, "m a.png --replicas auto --gpus device=0,1 --api-port 9000 --keep-running=false", "", true)
	if got == nil || got.Replicas != "auto" || got.GPUs != "device=0,1" || got.APIPort != 9000 {
		t.Errorf("replica flags: %+v", got)
	}
}

func TestDescribeOutput(t *testing.T) {
	r := &predict.Result{
		Output: json.RawMessage(`{"output": [
		  {"type": "label_list", "prediction": [{"label": "a", "probability": 0.1}, {"label": "b", "probability": 0.6}, {"label": "c", "probability": 0.2}, {"label": "d", "probability": 0.1}]},
		  {"type": "mask_image", "shape": [240, 240, 155], "prediction": "http://127.0.0.1:5/api/output/x.h5"},
		  {"type": "vector", "shape": [3], "prediction": [1, 2, 3]}]}`),
		Saved: []predict.SavedFile{{Output: "seg", URL: "http://127.0.0.1:5/api/output/x.h5", Path: "case1/seg.h5"}},
	}
	got := describeOutput(r, "out")
	want := "b 0.60, c 0.20, a 0.10; mask_image [240 240 155] → out/case1/seg.h5; vector [3]"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	r.Saved = nil
	if got := describeOutput(r, ""); !strings.Contains(got, "→ http://127.0.0.1:5/api/output/x.h5") {
		t.Errorf("unsaved: %s", got)
	}
}

// On a terminal the batch draws one bar and prints failures above it; off a
// terminal one line per input; with --quiet nothing; --json one line per result.
func TestPredictOutput_modes(t *testing.T) {
	res := []*predict.Result{
		{Input: "a.png", Status: "ok", LatencyMS: 12, Output: json.RawMessage(`{"output": [{"type": "label_list", "prediction": [{"label": "x", "probability": 1}]}]}`), Time: time.Unix(0, 0)},
		{Input: "b.png", Status: "failed", Error: "the model answered: nope"},
	}
	items := []predict.Item{{Name: "a.png"}, {Name: "b.png"}}
	for _, mode := range []string{"tty", "plain", "quiet", "json"} {
		f, out, errOut := testFactory(t, "[]", mode == "tty", 80)
		f.IO.Quiet = mode == "quiet"
		o := newPredictOutput(f.IO, mode == "json", 2)
		for _, r := range res {
			o.result(r, predict.Summary{})
		}
		o.finish()
		o.table(items)
		switch mode {
		case "tty":
			if !strings.Contains(errOut.String(), "✗ b.png: the model answered: nope") || !strings.Contains(errOut.String(), "predicting") {
				t.Errorf("tty stderr: %q", errOut)
			}
		case "plain":
			if errOut.String() != "[1/2] a.png: ok (12ms)\n[2/2] b.png: failed: the model answered: nope\n" {
				t.Errorf("plain stderr: %q", errOut)
			}
		case "quiet":
			if errOut.Len() != 0 {
				t.Errorf("quiet stderr: %q", errOut)
			}
		case "json":
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"input":"a.png","sha256":"","status":"ok","latency_ms":12,"output":{"output"`) {
				t.Errorf("json stdout: %q", out)
			}
			continue
		}
		if !strings.Contains(out.String(), "a.png  ok      12ms     x 1.00\nb.png  failed  0ms      the model answered: nope\n") {
			t.Errorf("%s table: %q", mode, out)
		}
	}
}

// A large inline answer (a mask as nested lists; answers go up to
// engine.MaxAnswer) is not copied again for the table, and once for --json.
// 4 MiB shows it as well as 16 (a copy would pass the 1 MiB bound 4 times
// over) and takes a quarter of the time with the race detector on.
func Test_predictOutput_largeAnswerAllocs(t *testing.T) {
	const size = 4 << 20
	if size > engine.MaxAnswer {
		t.Fatalf("the test answer (%d bytes) is larger than engine.MaxAnswer", size)
	}
	var b strings.Builder
	b.WriteString(`{"output": [{"name": "mask", "type": "mask_image", "shape": [2048, 2048], "prediction": [`)
	for b.Len() < size {
		b.WriteString("[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],")
	}
	b.WriteString(`[0]]}]}`)
	raw := json.RawMessage(b.String())
	for _, jsonOut := range []bool{false, true} {
		var out, errOut bytes.Buffer
		out.Grow(len(raw) + 1<<20) // the terminal's side, not predict's
		o := newPredictOutput(&IOStreams{Out: &out, ErrOut: &errOut}, jsonOut, 1)
		r := &predict.Result{Input: "a.png", Status: predict.StatusOK, Output: raw}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		o.result(r, predict.Summary{OK: 1})
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		limit := uint64(1 << 20) // the table keeps type, name and shape
		if jsonOut {
			limit = uint64(len(raw)) + 1<<20 // one line of JSON, written once
		}
		if alloc > limit {
			t.Errorf("json=%v: showing a %d MiB answer allocated %.1f MiB, want at most %.1f", jsonOut, len(raw)>>20, float64(alloc)/(1<<20), float64(limit)/(1<<20))
		}
		if jsonOut && out.Len() < len(raw)/2 {
			t.Errorf("--json printed %d bytes", out.Len())
		}
	}
}
