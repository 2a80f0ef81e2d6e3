package testutil

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
)

// FakeEngine serves the REST API of a modelhub engine (get_config, get_legal,
// get_samples, predict_sample) with answers a test controls. Its zero value is not
// usable: build it with NewFakeEngine.
type FakeEngine struct {
	mu sync.Mutex
	// Config is returned by get_config as is, with status ConfigStatus (0 means
	// 200; 503 plays an engine still starting).
	Config       []byte
	ConfigStatus int
	// Legal is returned by get_legal, with status LegalStatus (0 means 200).
	Legal       map[string]string
	LegalStatus int
	// Samples are the sample names; get_samples lists them as absolute URLs.
	Samples []string
	// Predict answers predict_sample with a status and a JSON value; nil answers
	// GoodPrediction for Config's outputs.
	Predict func(name string) (int, any)

	predicted []string
	srv       *httptest.Server
}

// NewFakeEngine returns an engine serving config with licenses and samples a.png, b.png.
func NewFakeEngine(config []byte) *FakeEngine {
	return &FakeEngine{
		Config:  config,
		Legal:   map[string]string{"modelhub_license": "MIT", "modelhub_acknowledgements": "", "model_license": "Apache-2.0", "sample_data_license": "CC-BY"},
		Samples: []string{"a.png", "b.png"},
	}
}

// Start serves the engine on 127.0.0.1 and returns its base URL.
func (f *FakeEngine) Start() string {
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f.srv.URL
}

// Close stops the server.
func (f *FakeEngine) Close() { f.srv.Close() }

// Predicted lists the sample names predict_sample was called with, in order.
func (f *FakeEngine) Predicted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.predicted...)
}

func (f *FakeEngine) serve(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/api/get_config":
		w.Header().Set("Content-Type", "application/json")
		if f.ConfigStatus != 0 {
			w.WriteHeader(f.ConfigStatus)
		}
		_, _ = w.Write(f.Config)
	case "/api/get_legal":
		status := f.LegalStatus
		if status == 0 {
			status = http.StatusOK
		}
		reply(status, f.Legal)
	case "/api/get_samples":
		urls := []string{}
		for _, s := range f.Samples {
			urls = append(urls, "http://"+r.Host+"/api/samples/"+s)
		}
		reply(http.StatusOK, urls)
	case "/api/predict_sample":
		name := r.URL.Query().Get("filename")
		f.predicted = append(f.predicted, name)
		if f.Predict != nil {
			reply(f.Predict(name))
			return
		}
		p, err := GoodPrediction(f.Config)
		if err != nil {
			reply(http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		reply(http.StatusOK, p)
	default:
		reply(http.StatusNotFound, map[string]string{"error": "no route " + r.URL.Path})
	}
}

// GoodPrediction builds a prediction matching the outputs a config.json declares: two
// labels for label_list, a 3-vector for vector, a 2x3 array for the other types.
func GoodPrediction(config []byte) (map[string]any, error) {
	var c struct {
		Model struct {
			IO struct {
				Output []struct{ Name, Type string } `json:"output"`
			} `json:"io"`
		} `json:"model"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	var outs []any
	for _, o := range c.Model.IO.Output {
		out := map[string]any{"name": o.Name, "type": o.Type, "description": ""}
		switch o.Type {
		case "label_list":
			out["prediction"] = []any{map[string]any{"label": "cat", "probability": 0.75}, map[string]any{"label": "dog", "probability": 0.25}}
			out["shape"] = []int{2}
		case "vector":
			out["prediction"], out["shape"] = []float64{0.5, 1, 1.5}, []int{3}
		default:
			out["prediction"], out["shape"] = [][]int{{0, 1, 0}, {1, 1, 0}}, []int{2, 3}
		}
		outs = append(outs, out)
	}
	return map[string]any{"output": outs, "timestamp": "2026-01-01T00:00:00", "processing_time": 0.01,
		"model": map[string]string{"id": "", "name": ""}}, nil
}
