package modeltest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

const goodConfig = `{
  "id": "0b6b2c8e-3f0a-4c55-9d1e-6a0f4f3e2a11",
  "meta": {"name": "fake", "application_area": "a", "task": "t", "task_extended": "te", "data_type": "d"},
  "model": {"description": "d", "provenance": "p", "architecture": "a", "learning_type": "l", "format": ".onnx",
    "io": {"input": {"format": ["image/png"], "dim_limits": [{"min": 1}]},
           "output": [{"name": "probabilities", "type": "label_list"}, {"name": "features", "type": "vector"}, {"name": "mask", "type": "mask_image"}]}},
  "modelhub": {}
}`

// goodPrediction matches goodConfig's outputs.
func goodPrediction() map[string]any {
	p, err := testutil.GoodPrediction([]byte(goodConfig))
	if err != nil {
		panic(err)
	}
	return p
}

func newFake() *testutil.FakeEngine {
	f := testutil.NewFakeEngine([]byte(goodConfig))
	f.Samples = []string{"a.png", "b.png", "sub/c.png"}
	return f
}

func start(t *testing.T, f *testutil.FakeEngine) string {
	t.Helper()
	url := f.Start()
	t.Cleanup(f.Close)
	return url
}

func local(t *testing.T, cfg string) *config.ModelConfig {
	t.Helper()
	c, err := config.ParseModelConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func run(t *testing.T, f *testutil.FakeEngine, opts Options) *Report {
	t.Helper()
	opts.BaseURL = start(t, f)
	if opts.Local == nil {
		opts.Local = local(t, goodConfig)
	}
	rep := &Report{}
	Run(context.Background(), opts, rep)
	return rep
}

func find(t *testing.T, rep *Report, name string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, rep.Checks)
	return Check{}
}

func wantCheck(t *testing.T, rep *Report, name string, st Status, detail string) {
	t.Helper()
	c := find(t, rep, name)
	if c.Status != st || !strings.Contains(c.Detail, detail) {
		t.Errorf("%s = %s %q, want %s containing %q", name, c.Status, c.Detail, st, detail)
	}
}

func TestRun_goodModel(t *testing.T) {
	f := newFake()
	var seen []string
	rep := &Report{OnCheck: func(c Check) { seen = append(seen, c.Name) }}
	Run(context.Background(), Options{BaseURL: start(t, f), Local: local(t, goodConfig)}, rep)

	want := []string{CheckConfig, CheckName, CheckLegal, CheckSamples, CheckFirst, CheckAll, CheckLatency}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("checks %v, want %v", seen, want)
	}
	for _, c := range rep.Checks {
		if c.Status != Pass {
			t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
		}
	}
	if rep.Summary() != "PASSED" || !rep.Passed() {
		t.Errorf("summary %q", rep.Summary())
	}
	if strings.Join(f.Predicted(), ",") != "a.png,b.png,sub/c.png" {
		t.Errorf("predicted on %v, want every sample", f.Predicted())
	}
	if rep.Latency == nil || rep.Latency.Samples != 3 || rep.Latency.MinMS > rep.Latency.MedianMS || rep.Latency.MedianMS > rep.Latency.MaxMS {
		t.Errorf("latency %+v", rep.Latency)
	}
	wantCheck(t, rep, CheckAll, Pass, "2 more sample(s)")
}

func TestRun_samplesLimit(t *testing.T) {
	f := newFake()
	rep := run(t, f, Options{Samples: 2})
	if len(f.Predicted()) != 2 || len(rep.Samples) != 2 {
		t.Fatalf("predicted %v", f.Predicted())
	}
	wantCheck(t, rep, CheckAll, Pass, "(--samples 2 of 3)")

	f = newFake()
	rep = run(t, f, Options{Samples: 1})
	if len(f.Predicted()) != 1 {
		t.Fatalf("predicted %v", f.Predicted())
	}
	for _, c := range rep.Checks {
		if c.Name == CheckAll {
			t.Errorf("one sample: unexpected %s", c.Name)
		}
	}
}

func TestRun_failures(t *testing.T) {
	mutate := func(fn func(p map[string]any)) func(string) (int, any) {
		return func(string) (int, any) {
			p := goodPrediction()
			fn(p)
			return 200, p
		}
	}
	outputs := func(p map[string]any) []any { return p["output"].([]any) }
	tests := []struct {
		name    string
		predict func(string) (int, any)
		detail  string
	}{
		{"wrong output count", mutate(func(p map[string]any) { p["output"] = outputs(p)[:2] }), "2 output(s) returned, config declares 3"},
		{"wrong type", mutate(func(p map[string]any) { outputs(p)[1].(map[string]any)["type"] = "heatmap" }), `output 1 (features): type "heatmap", config declares "vector"`},
		{"wrong shape", mutate(func(p map[string]any) { outputs(p)[2].(map[string]any)["shape"] = []int{3, 2} }), "output 2 (mask): prediction has shape [2 3], declared shape is [3 2]"},
		{"no shape", mutate(func(p map[string]any) { delete(outputs(p)[2].(map[string]any), "shape") }), `no "shape" list`},
		{"vector not 1-d", mutate(func(p map[string]any) {
			o := outputs(p)[1].(map[string]any)
			o["prediction"], o["shape"] = [][]int{{1}, {2}}, []int{2, 1}
		}), "vector prediction has 2 dimensions [2 1], want 1"},
		{"ragged", mutate(func(p map[string]any) { outputs(p)[2].(map[string]any)["prediction"] = []any{[]int{1, 2, 3}, []int{1}} }), "ragged"},
		{"label without probability", mutate(func(p map[string]any) {
			outputs(p)[0].(map[string]any)["prediction"] = []any{map[string]any{"label": "cat", "probability": "high"}}
		}), `label_list entry 0 has no numeric "probability"`},
		{"label_list shape", mutate(func(p map[string]any) { outputs(p)[0].(map[string]any)["shape"] = []int{5} }), "label_list has 2 entries, declared shape is [5]"},
		{"error JSON", func(string) (int, any) { return 400, map[string]string{"error": "cannot open sample"} }, "engine error (status 400): cannot open sample"},
		{"error JSON with 200", func(string) (int, any) { return 200, map[string]string{"error": "boom"} }, "engine error (status 200): boom"},
		{"server error", func(string) (int, any) { return 500, "Internal Server Error" }, "status 500"},
		{"no output", func(string) (int, any) { return 200, map[string]any{"timestamp": "x"} }, `no "output" list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.Predict = tt.predict
			rep := run(t, f, Options{})
			wantCheck(t, rep, CheckFirst, Fail, tt.detail)
			wantCheck(t, rep, CheckAll, Fail, "2 of 2 more sample(s) failed")
			if rep.Summary() != "FAILED (2)" || rep.Passed() {
				t.Errorf("summary %q", rep.Summary())
			}
		})
	}
}

func TestRun_onlyOneSampleFails(t *testing.T) {
	f := newFake()
	f.Predict = func(name string) (int, any) {
		if name == "sub/c.png" {
			return 400, map[string]string{"error": "bad file"}
		}
		return 200, goodPrediction()
	}
	rep := run(t, f, Options{})
	wantCheck(t, rep, CheckFirst, Pass, "a.png")
	wantCheck(t, rep, CheckAll, Fail, "1 of 2 more sample(s) failed: sub/c.png: GET /api/predict_sample: engine error (status 400): bad file")
	if rep.Summary() != "FAILED (1)" {
		t.Errorf("summary %q", rep.Summary())
	}
}

func TestRun_savedArrayURL(t *testing.T) {
	f := newFake()
	f.Predict = func(string) (int, any) {
		p := goodPrediction()
		o := p["output"].([]any)[2].(map[string]any)
		o["prediction"] = "http://127.0.0.1/api/output/mask.npy"
		return 200, p
	}
	rep := run(t, f, Options{})
	wantCheck(t, rep, CheckFirst, Pass, "3 output(s)")
}

func TestRun_warnings(t *testing.T) {
	f := newFake()
	f.Samples = nil
	f.Legal = map[string]string{"model_license": "MIT", "sample_data_license": " "}
	rep := run(t, f, Options{})
	wantCheck(t, rep, CheckLegal, Warn, "sample_data_license")
	wantCheck(t, rep, CheckSamples, Warn, "contrib_src/sample_data")
	wantCheck(t, rep, CheckFirst, Skip, "no samples")
	if rep.Summary() != "PASSED with 2 warnings" || !rep.Passed() {
		t.Errorf("summary %q", rep.Summary())
	}
	if len(f.Predicted()) != 0 {
		t.Errorf("predicted %v", f.Predicted())
	}
}

func TestRun_legalErrorIsAWarning(t *testing.T) {
	// What the engine answers when contrib_src/license/model is missing.
	f := newFake()
	f.Legal = map[string]string{"modelhub_license": "MIT", "sample_data_license": "CC0", "error": "[Errno 2] No such file or directory: '/contrib_src/license/model'"}
	f.LegalStatus = 400
	rep := run(t, f, Options{})
	wantCheck(t, rep, CheckLegal, Warn, "missing or empty: model_license (add contrib_src/license/model and contrib_src/license/sample_data); the engine says: [Errno 2] No such file")

	f = newFake()
	f.Legal = nil
	f.LegalStatus = 500
	rep = run(t, f, Options{})
	wantCheck(t, rep, CheckLegal, Fail, "want an object")
}

func TestRun_samplesErrorIsAWarning(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/get_samples":
			w.WriteHeader(400)
			w.Write([]byte(`{"error": "StopIteration()"}`))
		case "/api/get_config":
			w.Write([]byte(goodConfig))
		default:
			w.Write([]byte(`{"model_license": "a", "sample_data_license": "b"}`))
		}
	}))
	defer srv.Close()
	rep := &Report{}
	Run(context.Background(), Options{BaseURL: srv.URL, Local: local(t, goodConfig)}, rep)
	wantCheck(t, rep, CheckSamples, Warn, "engine error (status 400): StopIteration() (does contrib_src/sample_data exist?)")
	wantCheck(t, rep, CheckFirst, Skip, "no samples")
	if rep.Summary() != "PASSED with 1 warning" {
		t.Errorf("summary %q", rep.Summary())
	}
}

func TestRun_configChecks(t *testing.T) {
	f := newFake()
	f.Config = []byte(strings.Replace(goodConfig, `"name": "fake"`, `"name": "other"`, 1))
	rep := run(t, f, Options{})
	wantCheck(t, rep, CheckConfig, Pass, "embedded")
	wantCheck(t, rep, CheckName, Fail, `engine serves "other", local config.json says "fake"`)

	f = newFake()
	f.Config = []byte(strings.Replace(goodConfig, `"type": "vector"`, `"type": "tensor"`, 1))
	rep = run(t, f, Options{})
	wantCheck(t, rep, CheckConfig, Fail, "/model/io/output/1/type: value must be one of")

	f = newFake()
	f.Config = []byte(`{"error": "config.json missing"}`)
	rep = run(t, f, Options{})
	wantCheck(t, rep, CheckConfig, Fail, "engine error")
	wantCheck(t, rep, CheckName, Skip, "no config")
}

func TestRun_engineDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	rep := &Report{}
	Run(context.Background(), Options{BaseURL: url, Local: local(t, goodConfig)}, rep)
	wantCheck(t, rep, CheckConfig, Fail, "connect")
	if !strings.HasPrefix(rep.Summary(), "FAILED") {
		t.Errorf("summary %q", rep.Summary())
	}
}

func TestRun_canceled(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	f.Predict = func(string) (int, any) { cancel(); return 200, goodPrediction() }
	rep := &Report{}
	Run(ctx, Options{BaseURL: start(t, f), Local: local(t, goodConfig)}, rep)
	wantCheck(t, rep, CheckAll, Fail, "interrupted")
}

func TestReport_JSON(t *testing.T) {
	rep := &Report{}
	rep.Add("a", Pass, "ok")
	rep.Add("b", Warn, "hmm %d", 1)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"summary":"PASSED with 1 warning","passed":true,"failures":0,"warnings":1,"checks":[{"name":"a","status":"PASS","detail":"ok"},{"name":"b","status":"WARN","detail":"hmm 1"}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestLatency(t *testing.T) {
	for _, tt := range []struct {
		in               []float64
		min, median, max float64
	}{
		{[]float64{5}, 5, 5, 5},
		{[]float64{9, 1, 4}, 1, 4, 9},
		{[]float64{4, 1, 3, 10}, 1, 3.5, 10},
	} {
		var rs []SampleResult
		for _, v := range tt.in {
			rs = append(rs, SampleResult{LatencyMS: v})
		}
		l := latency(rs)
		if l.MinMS != tt.min || l.MedianMS != tt.median || l.MaxMS != tt.max || l.Samples != len(tt.in) {
			t.Errorf("%v: got %+v", tt.in, l)
		}
	}
	if s := fmt.Sprint(Latency{Samples: 2, MinMS: 1.5, MedianMS: 2, MaxMS: 1200}); s != "min 1.5ms, median 2ms, max 1.2s over 2 sample(s)" {
		t.Errorf("String = %q", s)
	}
}
