package main

import (
	"archive/zip"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// engine serves the modelhub REST API for the model folder root (contrib_src).
type engine struct {
	root   string
	log    io.Writer
	client *http.Client // for predict?fileurl=; nil means a 30 s client
}

const modelhubLicense = `MIT License

Copyright (c) modelhub-ai

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software, to deal in the Software without restriction.`

const modelhubAcknowledgements = "The modelhub demo engine: a stand-in for the modelhub engine, for tests and demos."

func listenAndServe(addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

func (e *engine) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", e.webUI)
	mux.HandleFunc("GET /api/get_config", e.getConfig)
	mux.HandleFunc("GET /api/get_legal", e.getLegal)
	mux.HandleFunc("GET /api/get_model_io", e.getModelIO)
	mux.HandleFunc("GET /api/get_samples", e.getSamples)
	mux.HandleFunc("GET /api/samples/{name}", e.fileFrom("sample_data"))
	mux.HandleFunc("GET /api/thumbnail/{name}", e.fileFrom("model"))
	mux.HandleFunc("GET /api/output/{name}", e.fileFrom("output"))
	mux.HandleFunc("GET /api/get_model_files", e.getModelFiles)
	mux.HandleFunc("GET /api/predict", e.predictURL)
	mux.HandleFunc("POST /api/predict", e.predictUpload)
	mux.HandleFunc("GET /api/predict_sample", e.predictSample)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(e.log, "%s %s\n", r.Method, r.URL.RequestURI())
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// config is the part of config.json the engine itself reads.
type config struct {
	ID   string `json:"id"`
	Meta struct {
		Name string `json:"name"`
	} `json:"meta"`
	Model struct {
		IO struct {
			Output []struct {
				Name        string `json:"name"`
				Type        string `json:"type"`
				Description string `json:"description"`
			} `json:"output"`
		} `json:"io"`
	} `json:"model"`
}

func (e *engine) readConfig() (raw map[string]any, c config, err error) {
	data, err := os.ReadFile(filepath.Join(e.root, "model", "config.json"))
	if err != nil {
		return nil, c, fmt.Errorf("read config: %w", err)
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, c, fmt.Errorf("config.json: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, c, fmt.Errorf("config.json: %w", err)
	}
	return raw, c, nil
}

func (e *engine) webUI(w http.ResponseWriter, r *http.Request) {
	_, c, err := e.readConfig()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>%[1]s</title><h1>%[1]s</h1>
<p>Demo modelhub engine. Try <a href="/api/get_config">/api/get_config</a>,
<a href="/api/get_samples">/api/get_samples</a>.</p>
<form method="post" action="/api/predict" enctype="multipart/form-data">
<input type="file" name="file"><button>Predict</button></form>
`, htmlEscape(c.Meta.Name))
}

func htmlEscape(s string) string {
	var b []byte
	for _, r := range s {
		switch r {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&quot;"...)
		default:
			b = append(b, string(r)...)
		}
	}
	return string(b)
}

func (e *engine) getConfig(w http.ResponseWriter, r *http.Request) {
	raw, _, err := e.readConfig()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, raw)
}

func (e *engine) getModelIO(w http.ResponseWriter, r *http.Request) {
	raw, _, err := e.readConfig()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	model, _ := raw["model"].(map[string]any)
	io, ok := model["io"]
	if !ok {
		writeError(w, http.StatusBadRequest, "config.json has no model.io")
		return
	}
	writeJSON(w, http.StatusOK, io)
}

func (e *engine) getLegal(w http.ResponseWriter, r *http.Request) {
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(e.root, "license", name))
		if err != nil {
			return ""
		}
		return string(data)
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"modelhub_license":          modelhubLicense,
		"modelhub_acknowledgements": modelhubAcknowledgements,
		"model_license":             read("model"),
		"sample_data_license":       read("sample_data"),
	})
}

func (e *engine) sampleNames() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(e.root, "sample_data"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, en := range entries {
		if en.Type().IsRegular() && en.Name()[0] != '.' {
			names = append(names, en.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func (e *engine) getSamples(w http.ResponseWriter, r *http.Request) {
	names, err := e.sampleNames()
	if err != nil {
		writeError(w, http.StatusBadRequest, "no sample data: "+err.Error())
		return
	}
	urls := make([]string, 0, len(names))
	for _, n := range names {
		urls = append(urls, "http://"+r.Host+"/api/samples/"+n)
	}
	writeJSON(w, http.StatusOK, urls)
}

// openIn opens NAME inside contrib_src/DIR, refusing anything that is not a plain name.
func (e *engine) openIn(dir, name string) (*os.File, error) {
	if !fs.ValidPath(name) || filepath.Base(name) != name || name == "." {
		return nil, fmt.Errorf("invalid file name %q", name)
	}
	root, err := os.OpenRoot(filepath.Join(e.root, dir))
	if err != nil {
		return nil, fmt.Errorf("no %s folder", dir)
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("no file %q in %s", name, dir)
	}
	return f, nil
}

func (e *engine) fileFrom(dir string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		f, err := e.openIn(dir, name)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("no file %q in %s", name, dir))
			return
		}
		http.ServeContent(w, r, name, st.ModTime(), f)
	}
}

func (e *engine) getModelFiles(w http.ResponseWriter, r *http.Request) {
	dir := filepath.Join(e.root, "model")
	if _, err := os.Stat(dir); err != nil {
		writeError(w, http.StatusBadRequest, "no model folder")
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="model.zip"`)
	zw := zip.NewWriter(w)
	if err := zw.AddFS(os.DirFS(dir)); err != nil {
		fmt.Fprintln(e.log, "get_model_files:", err)
	}
	_ = zw.Close()
}

func (e *engine) predictSample(w http.ResponseWriter, r *http.Request) {
	f, err := e.openIn("sample_data", r.URL.Query().Get("filename"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	defer f.Close()
	e.predict(w, f)
}

func (e *engine) predictURL(w http.ResponseWriter, r *http.Request) {
	u := r.URL.Query().Get("fileurl")
	if u == "" {
		writeError(w, http.StatusBadRequest, "missing fileurl parameter")
		return
	}
	c := e.client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Get(u)
	if err != nil {
		writeError(w, http.StatusBadRequest, "fetch input: "+err.Error())
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		writeError(w, http.StatusBadRequest, "fetch input: "+resp.Status)
		return
	}
	e.predict(w, resp.Body)
}

func (e *engine) predictUpload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<20)
	f, _, err := r.FormFile("file")
	if err != nil {
		writeError(w, http.StatusBadRequest, "missing multipart field \"file\": "+err.Error())
		return
	}
	defer f.Close()
	e.predict(w, f)
}

type label struct {
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

type output struct {
	Prediction  []label `json:"prediction"`
	Shape       []int   `json:"shape"`
	Type        string  `json:"type"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
}

type prediction struct {
	Output         []output          `json:"output"`
	Timestamp      string            `json:"timestamp"`
	ProcessingTime float64           `json:"processing_time"`
	Model          map[string]string `json:"model"`
}

func (e *engine) predict(w http.ResponseWriter, in io.Reader) {
	start := time.Now()
	_, c, err := e.readConfig()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	img, _, err := image.Decode(in)
	if err != nil {
		writeError(w, http.StatusBadRequest, "decode input image: "+err.Error())
		return
	}
	labels := classify(img)
	out := output{Prediction: labels, Shape: []int{len(labels)}, Type: "label_list", Name: "brightness"}
	if len(c.Model.IO.Output) > 0 {
		o := c.Model.IO.Output[0]
		out.Name, out.Description = o.Name, o.Description
	}
	writeJSON(w, http.StatusOK, prediction{
		Output:         []output{out},
		Timestamp:      start.UTC().Format(time.RFC3339Nano),
		ProcessingTime: time.Since(start).Seconds(),
		Model:          map[string]string{"id": c.ID, "name": c.Meta.Name},
	})
}

// meanIntensity is the mean luma of img in [0, 1].
func meanIntensity(img image.Image) float64 {
	b := img.Bounds()
	if b.Empty() {
		return 0
	}
	var sum float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			sum += float64(color.Gray16Model.Convert(img.At(x, y)).(color.Gray16).Y)
		}
	}
	return sum / float64(b.Dx()*b.Dy()) / 0xffff
}

// classify labels img "bright" or "dark", most probable first.
func classify(img image.Image) []label {
	m := meanIntensity(img)
	bright, dark := label{"bright", m}, label{"dark", 1 - m}
	if dark.Probability > bright.Probability {
		return []label{dark, bright}
	}
	return []label{bright, dark}
}

var errNoToken = errors.New("refusing to serve a notebook without a token (pass --NotebookApp.token=TOKEN)")

// notebook is the stand-in for `jupyter notebook ...`.
func notebook(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "notebook" {
		args = args[1:]
	}
	flags := splitArgs(args)
	token := flags["NotebookApp.token"]
	if token == "" {
		fmt.Fprintln(stderr, "jupyter:", errNoToken)
		return 1
	}
	port := flags["port"]
	if port == "" {
		port = "8888"
	}
	addr := net.JoinHostPort(flags["ip"], port)
	fmt.Fprintf(stderr, "[NotebookApp] Serving notebooks from /contrib_src on %s\n", addr)
	if err := listenAndServe(addr, notebookHandler(token, stderr)); err != nil {
		fmt.Fprintln(stderr, "jupyter:", err)
		return 1
	}
	return 0
}

func notebookHandler(token string, log io.Writer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"started": true, "kernels": 0})
	})
	mux.HandleFunc("GET /notebooks/sandbox.ipynb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintln(w, "<!doctype html><title>sandbox.ipynb</title><h1>sandbox.ipynb</h1><p>Demo notebook stand-in.</p>")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/notebooks/sandbox.ipynb", http.StatusFound)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.URL.Query().Get("token")
		if a := r.Header.Get("Authorization"); got == "" && len(a) > 6 && a[:6] == "token " {
			got = a[6:]
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			fmt.Fprintf(log, "[NotebookApp] 403 %s %s (missing or wrong token)\n", r.Method, r.URL.Path)
			http.Error(w, "403 Forbidden: a valid token is required", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}
