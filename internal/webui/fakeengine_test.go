package webui

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeEngine is a modelhub engine whose answers a test sets: config, legal,
// io and samples, and a predict function for predict_sample and POST predict.
type fakeEngine struct {
	mu      sync.Mutex
	config  string
	legal   map[string]string
	legalOK bool
	io      string
	samples []string
	// predict answers a prediction on the named sample or uploaded file
	// (its bytes in data); nil answers a label_list of "cat" and "dog".
	predict func(name string, data []byte) (int, any)
	// outputs are the files under /api/output/, by name.
	outputs map[string][]byte
	// seen records each request as "METHOD PATH?QUERY" and its headers.
	seen    []string
	headers []http.Header
	bodies  [][]byte
	srv     *httptest.Server
}

const fakeConfig = `{"id": "id-1", "meta": {"name": "Fake<Net>", "task": "Classification", "task_extended": "Fake image classification", "application_area": "Testing", "data_type": "Image"},
 "publication": {"title": "A fake model", "authors": "A. Author, B. Author", "year": 2024, "source": "arXiv", "url": "https://example.org/paper", "abstract": "Nothing."},
 "model": {"description": "Says cat or dog.", "architecture": "Coin flip", "learning_type": "None", "format": ".bin", "io": {}}}`

const fakeIO = `{"input": {"format": ["image/png", "image/jpeg"], "dim_limits": [{"min": 1, "max": 4}, {"min": 32}, {"min": 32}]},
 "output": [{"name": "probabilities", "type": "label_list", "description": "Cat or dog."}]}`

func newFakeEngine(t testing.TB) *fakeEngine {
	f := &fakeEngine{
		config: fakeConfig, io: fakeIO, legalOK: true,
		legal:   map[string]string{"model_license": "MIT licence text", "sample_data_license": "CC-BY text", "modelhub_license": "modelhub MIT", "modelhub_acknowledgements": "thanks"},
		samples: []string{"cat.png", "scan.nii.gz"},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEngine) URL() string { return f.srv.URL }

func (f *fakeEngine) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func (f *fakeEngine) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+r.URL.RequestURI())
	f.headers = append(f.headers, r.Header.Clone())
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	w.Header().Set("Access-Control-Allow-Origin", "*") // as flask-cors does
	switch p := r.URL.Path; {
	case p == "/api/get_config":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, f.config)
	case p == "/api/get_legal":
		if !f.legalOK {
			reply(http.StatusBadRequest, map[string]string{"error": "[Errno 2] No such file or directory: '/contrib_src/license/model'"})
			return
		}
		reply(http.StatusOK, f.legal)
	case p == "/api/get_model_io":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, f.io)
	case p == "/api/get_samples":
		var urls []string
		for _, s := range f.samples {
			urls = append(urls, "http://"+r.Host+"/api/samples/"+s)
		}
		reply(http.StatusOK, urls)
	case strings.HasPrefix(p, "/api/samples/") || strings.HasPrefix(p, "/api/thumbnail/"):
		w.Header().Set("Content-Type", "image/png")
		_ = png.Encode(w, grey(64, 48, 200))
	case strings.HasPrefix(p, "/api/output/") && f.outputs[strings.TrimPrefix(p, "/api/output/")] != nil:
		_, _ = w.Write(f.outputs[strings.TrimPrefix(p, "/api/output/")])
	case p == "/api/predict_sample":
		reply(f.answer(r.URL.Query().Get("filename"), nil))
	case p == "/api/predict" && r.Method == http.MethodPost:
		req, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		req.Header = r.Header
		file, hdr, err := req.FormFile("file")
		if err != nil {
			reply(http.StatusBadRequest, map[string]string{"error": "no file"})
			return
		}
		data, _ := io.ReadAll(file)
		reply(f.answer(hdr.Filename, data))
	default:
		reply(http.StatusNotFound, map[string]string{"error": "no route " + p})
	}
}

func (f *fakeEngine) answer(name string, data []byte) (int, any) {
	if f.predict != nil {
		return f.predict(name, data)
	}
	return http.StatusOK, labelPrediction("cat", 0.8, "dog", 0.2)
}

// labelPrediction is a label_list prediction of two labels.
func labelPrediction(a string, pa float64, b string, pb float64) map[string]any {
	return prediction(map[string]any{"name": "probabilities", "type": "label_list", "shape": []int{2},
		"prediction": []map[string]any{{"label": b, "probability": pb}, {"label": a, "probability": pa}}})
}

func prediction(outs ...map[string]any) map[string]any {
	return map[string]any{"output": outs, "timestamp": "2026-01-01T00:00:00", "processing_time": 0.012, "model": map[string]string{"id": "id-1", "name": "Fake<Net>"}}
}

func grey(w, h int, v uint8) image.Image {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	img.Set(0, 0, color.Gray{255 - v})
	return img
}
