package main

import (
	"archive/zip"
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"
	_ "image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// engine serves the modelhub REST API for the model folder root (contrib_src).
type engine struct {
	root   string
	log    io.Writer
	client *http.Client // for predict?fileurl=; nil means a 30 s client
	// outDir receives the output files of predictions (served under
	// /api/output/); "" means contrib_src/output.
	outDir string
	// predictDelay makes every prediction take at least this long (tests of
	// timeouts and interruptions).
	predictDelay time.Duration
	// declaredOutputs makes a prediction return every output config.json
	// declares, of its type; otherwise it is one label_list whatever the
	// config says (what `modelhub test` must catch).
	declaredOutputs bool
	outSeq          atomic.Int64
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
	mux.HandleFunc("GET /api/output/{name}", e.outputFile)
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
			Input  map[string]json.RawMessage `json:"input"`
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
	e.predict(w, r, f)
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
	e.predict(w, r, resp.Body)
}

func (e *engine) predictUpload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<20)
	f, _, err := r.FormFile("file")
	if err != nil {
		writeError(w, http.StatusBadRequest, "missing multipart field \"file\": "+err.Error())
		return
	}
	defer f.Close()
	e.predict(w, r, f)
}

type label struct {
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

type output struct {
	Prediction  any    `json:"prediction"`
	Shape       []int  `json:"shape"`
	Type        string `json:"type"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type prediction struct {
	Output         []output          `json:"output"`
	Timestamp      string            `json:"timestamp"`
	ProcessingTime float64           `json:"processing_time"`
	Model          map[string]string `json:"model"`
}

func (e *engine) predict(w http.ResponseWriter, r *http.Request, in io.Reader) {
	start := time.Now()
	raw, c, err := e.readConfig()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if e.predictDelay > 0 {
		select {
		case <-time.After(e.predictDelay):
		case <-r.Context().Done():
			return
		}
	}
	data, err := io.ReadAll(in)
	if err != nil {
		writeError(w, http.StatusBadRequest, "read input: "+err.Error())
		return
	}
	var img image.Image
	var means map[string]float64 // per input of a multi-input case
	if names := inputNames(raw); len(names) > 0 && looksLikeJSON(data) {
		img, means, err = e.loadCase(r, names, data)
	} else {
		img, _, err = image.Decode(bytes.NewReader(data))
		if err != nil {
			err = errors.New("decode input image: " + err.Error())
		}
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	outs, err := e.outputs(r, c, img, means)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, prediction{
		Output:         outs,
		Timestamp:      start.UTC().Format(time.RFC3339Nano),
		ProcessingTime: time.Since(start).Seconds(),
		Model:          map[string]string{"id": c.ID, "name": c.Meta.Name},
	})
}

// outputs computes the prediction's outputs. By default one label_list (the
// brightness labels) named after the first declared output. With
// declaredOutputs, every output config.json declares: label_list =
// brightness labels, vector = the mean intensity (per input for a case),
// mask_image/heatmap/image = a PNG mask of the bright pixels saved to the
// output folder and returned as its /api/output/ URL.
func (e *engine) outputs(r *http.Request, c config, img image.Image, means map[string]float64) ([]output, error) {
	decl := c.Model.IO.Output
	if !e.declaredOutputs && len(decl) > 0 {
		labels := classify(img)
		return []output{{Prediction: labels, Shape: []int{len(labels)}, Type: "label_list", Name: decl[0].Name, Description: decl[0].Description}}, nil
	}
	if len(decl) == 0 {
		decl = append(decl, struct {
			Name        string `json:"name"`
			Type        string `json:"type"`
			Description string `json:"description"`
		}{Name: "brightness", Type: "label_list"})
	}
	var outs []output
	for i, d := range decl {
		o := output{Name: d.Name, Description: d.Description, Type: d.Type}
		switch d.Type {
		case "vector":
			v := []float64{meanIntensity(img)}
			if len(means) > 0 {
				v = v[:0]
				for _, n := range sortedKeys(means) {
					v = append(v, means[n])
				}
			}
			o.Prediction, o.Shape = v, []int{len(v)}
		case "mask_image", "heatmap", "image":
			name, err := e.saveMask(img)
			if err != nil {
				return nil, err
			}
			b := img.Bounds()
			o.Prediction, o.Shape = "http://"+r.Host+"/api/output/"+name, []int{b.Dy(), b.Dx()}
		default:
			if i > 0 && d.Type != "label_list" {
				continue
			}
			labels := classify(img)
			o.Prediction, o.Shape, o.Type = labels, []int{len(labels)}, "label_list"
		}
		outs = append(outs, o)
	}
	return outs, nil
}

func sortedKeys(m map[string]float64) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// saveMask writes the mask of img's bright pixels (mean above 0.5) as a PNG
// into the output folder and returns its file name.
func (e *engine) saveMask(img image.Image) (string, error) {
	b := img.Bounds()
	mask := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.Gray16Model.Convert(img.At(x, y)).(color.Gray16).Y > 0x7fff {
				mask.SetGray(x-b.Min.X, y-b.Min.Y, color.Gray{Y: 255})
			}
		}
	}
	dir := e.outputDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("output folder: %w", err)
	}
	name := fmt.Sprintf("%s-%d.png", time.Now().UTC().Format("2006-01-02-15-04-05"), e.outSeq.Add(1))
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	if err := png.Encode(f, mask); err != nil {
		f.Close()
		return "", err
	}
	return name, f.Close()
}

func (e *engine) outputDir() string {
	if e.outDir != "" {
		return e.outDir
	}
	return filepath.Join(e.root, "output")
}

func (e *engine) outputFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !fs.ValidPath(name) || filepath.Base(name) != name || name == "." {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid file name %q", name))
		return
	}
	f, err := os.Open(filepath.Join(e.outputDir(), name))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("no file %q in output", name))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("no file %q in output", name))
		return
	}
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// inputNames are the named inputs of a multi-input model: config.json's
// model.io.input.format holds application/json and the other keys of
// model.io.input with a format are the inputs.
func inputNames(raw map[string]any) []string {
	model, _ := raw["model"].(map[string]any)
	io, _ := model["io"].(map[string]any)
	in, _ := io["input"].(map[string]any)
	formats, _ := in["format"].([]any)
	multi := false
	for _, f := range formats {
		if f == "application/json" {
			multi = true
		}
	}
	if !multi {
		return nil
	}
	var names []string
	for k, v := range in {
		if m, ok := v.(map[string]any); ok && k != "format" {
			if _, ok := m["format"]; ok {
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	return names
}

func looksLikeJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// loadCase reads a multi-input case as the modelhub engine takes it: a JSON
// object naming, for every input, {"fileurl": a path in the container
// (relative to contrib_src) or an http(s) URL}. The inputs are images; the
// result is their pixel-wise mean (they must have the same size) and each
// one's mean intensity.
func (e *engine) loadCase(r *http.Request, names []string, data []byte) (image.Image, map[string]float64, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("input JSON: %v", err)
	}
	var imgs []image.Image
	means := map[string]float64{}
	for _, n := range names {
		var entry struct {
			FileURL string `json:"fileurl"`
		}
		rawEntry, ok := doc[n]
		if !ok || json.Unmarshal(rawEntry, &entry) != nil || entry.FileURL == "" {
			return nil, nil, fmt.Errorf("the input json does not match the input schema in the configuration file: no fileurl for %q", n)
		}
		rc, err := e.openInput(r, entry.FileURL)
		if err != nil {
			return nil, nil, fmt.Errorf("input %s: %v", n, err)
		}
		img, _, err := image.Decode(rc)
		rc.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("input %s: decode image: %v", n, err)
		}
		if len(imgs) > 0 && img.Bounds().Size() != imgs[0].Bounds().Size() {
			return nil, nil, fmt.Errorf("input %s is %v, input %s is %v: the inputs of a case must have the same size", n, img.Bounds().Size(), names[0], imgs[0].Bounds().Size())
		}
		imgs = append(imgs, img)
		means[n] = meanIntensity(img)
	}
	return meanImage(imgs), means, nil
}

func (e *engine) openInput(r *http.Request, ref string) (io.ReadCloser, error) {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		c := e.client
		if c == nil {
			c = &http.Client{Timeout: 30 * time.Second}
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, ref, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("fetch %s: %s", ref, resp.Status)
		}
		return resp.Body, nil
	}
	p := ref
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.root, p)
	}
	return os.Open(p)
}

// meanImage is the pixel-wise mean luma of same-sized images.
func meanImage(imgs []image.Image) image.Image {
	if len(imgs) == 1 {
		return imgs[0]
	}
	b := imgs[0].Bounds()
	out := image.NewGray16(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			var sum int
			for _, im := range imgs {
				ib := im.Bounds()
				sum += int(color.Gray16Model.Convert(im.At(ib.Min.X+x, ib.Min.Y+y)).(color.Gray16).Y)
			}
			out.SetGray16(x, y, color.Gray16{Y: uint16(sum / len(imgs))})
		}
	}
	return out
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
