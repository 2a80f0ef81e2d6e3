package webui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed assets
var assetFS embed.FS

// startedAt stamps the assets' modification time (they change only with the binary).
var startedAt = time.Now()

// appCSS is inlined in every page (one request less before the first paint);
// the Content-Security-Policy allows exactly this text by its hash.
var appCSS = func() string {
	b, err := assetFS.ReadFile("assets/app.css")
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(string(b))
}()

var csp = func() string {
	sum := sha256.Sum256([]byte(appCSS))
	return "default-src 'none'; script-src 'self'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}()

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"text":      text,
	"modelPath": ModelPath,
	"appCSS":    func() template.CSS { return template.CSS(appCSS) },
}).ParseFS(assetFS, "assets/*.html"))

// assetHandler serves the page's script and style; the templates are not served.
func assetHandler() http.Handler {
	sub, _ := fs.Sub(assetFS, "assets")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path
		if strings.HasSuffix(name, ".html") || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, name, startedAt, bytes.NewReader(data))
	})
}

// csp (above) allows the page its own script, its inlined style and images
// (and the blob:/data: images it draws), nothing from elsewhere.

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
	if e.Config.Meta.Name != "" {
		d.Title = e.Config.Meta.Name
	}
	if e.IOErr == nil {
		d.Inputs, d.Multi = inputs(e.IO.Input)
		d.Outputs = outputs(e.IO)
		d.Upload = !d.Multi || m.ContribSrc != ""
	}
	d.Samples = samples(e.Samples)
	render(w, http.StatusOK, "model.html", d)
}
