package webui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

//go:embed assets
var assetFS embed.FS

// The page's style and script are inlined in every page: no request stands
// between the engine's answer and the first paint. The Content-Security-Policy
// allows exactly these texts, by their hashes, and nothing else.
var (
	appCSS = asset("app.css")
	appJS  = asset("app.js")
	csp    = "default-src 'none'; script-src " + hashSource(appJS) + "; style-src " + hashSource(appCSS) +
		"; img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

func asset(name string) string {
	b, err := assetFS.ReadFile("assets/" + name)
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(string(b))
}

// hashSource is the CSP source that allows the inline element text s.
func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"text":         text,
	"modelPath":    ModelPath,
	"notebookPath": NotebookPath,
	"appCSS":       func() template.CSS { return template.CSS(appCSS) },
	"appJS":        func() template.JS { return template.JS(appJS) },
}).ParseFS(assetFS, "assets/*.html"))

func render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type indexData struct {
	Models []Model
	Err    string
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	if s.Single != "" {
		http.Redirect(w, r, ModelPath(s.Single), http.StatusFound)
		return
	}
	ms, err := s.Models(r.Context())
	d := indexData{Models: ms}
	if err != nil {
		d.Err = "cannot list the running models: " + err.Error()
	}
	render(w, http.StatusOK, "index.html", d)
}

type problemData struct {
	Status int
	Err    string
}

func (s *Server) renderProblem(w http.ResponseWriter, status int, err error) {
	render(w, status, "problem.html", problemData{Status: status, Err: err.Error()})
}

// pageData is a model's page.
type pageData struct {
	Model    Model
	Index    bool // link back to the index (not for `run`'s single model)
	Config   modelConfig
	Title    string
	Problems []string
	Legal    map[string]string
	Inputs   []inputView
	Multi    bool
	Outputs  []outputView
	Samples  []sampleView
	Upload   bool // files can be uploaded (single input, or multi-input with a local model folder)
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request, m Model) {
	d := pageData{Model: m, Index: s.Single == "", Title: m.Name}
	if m.APIURL == "" {
		render(w, http.StatusOK, "model.html", d)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.engineTimeout())
	defer cancel()
	e := s.fetchEngine(ctx, m)
	for _, err := range []error{e.ConfigErr, e.LegalErr, e.IOErr, e.SamplesErr} {
		if err != nil {
			d.Problems = append(d.Problems, err.Error())
		}
	}
	d.Config, d.Legal = e.Config, e.Legal
	d.Config.Publication.URL = safeLink(d.Config.Publication.URL, r.Host)
	if e.Config.Meta.Name != "" {
		d.Title = e.Config.Meta.Name
	}
	if e.IOErr == nil {
		d.Inputs, d.Multi = inputs(e.IO.Input)
		d.Outputs = outputs(e.IO)
		d.Upload = !d.Multi || m.ContribSrc != ""
		for i := range d.Inputs {
			in := &d.Inputs[i]
			if s.Convert != nil && convertible(in.MIME) {
				in.Convert = true
				in.Accept += ",.dcm,.zip,application/dicom,application/zip"
			}
		}
	}
	d.Samples = samples(e.Samples)
	render(w, http.StatusOK, "model.html", d)
}

// serveNotebook sends the browser on to the model's notebook. The notebook's
// URL holds its token, so no page, script or JSON of the UI contains it: the
// pages link here, and only a navigation (not a script's fetch, which a
// browser marks with Sec-Fetch-Mode) is redirected.
func (s *Server) serveNotebook(w http.ResponseWriter, r *http.Request, m Model) {
	if m.NotebookURL == "" {
		s.renderProblem(w, http.StatusNotFound, fmt.Errorf("%s runs no notebook (mode %s)", m.Name, m.Mode))
		return
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" {
		http.Error(w, "refused: the notebook is opened by following its link", http.StatusForbidden)
		return
	}
	if dest := r.Header.Get("Sec-Fetch-Dest"); dest != "" && dest != "document" {
		http.Error(w, "refused: the notebook is opened by following its link", http.StatusForbidden)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, m.NotebookURL, http.StatusSeeOther)
}
