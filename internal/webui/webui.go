// Package webui serves the web UI of running modelhub models: an index of the
// models, and per model a page with its card, sample gallery and a form to run
// it, whose /api/ requests are proxied to the model's REST API. Everything the
// page needs is embedded; nothing is fetched from the internet.
//
// The server only answers requests addressed to it by loopback name
// (127.0.0.1:PORT, localhost:PORT, [::1]:PORT), so a page on another site that
// rebinds its DNS name to 127.0.0.1 cannot reach the models through it, and it
// refuses cross-origin requests to the API and every upload from another origin.
package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelhub-ai/modelhub/internal/engine"
)

// Model is a running model the UI serves.
type Model struct {
	Name   string // the model's name, as in `modelhub ps`
	Mode   string // api, expert or bash
	APIURL string // base URL of its REST API, e.g. http://127.0.0.1:8000; empty in expert mode
	// NotebookURL is the notebook with its token (expert mode). It never
	// appears in a page: the pages link to NotebookPath, which redirects.
	NotebookURL string
	// ContribSrc is the host folder mounted at /contrib_src; uploads for a
	// multi-input model are staged there. Empty when unknown.
	ContribSrc string
}

// Lister returns the running models.
type Lister func(ctx context.Context) ([]Model, error)

// Fixed is a Lister of the given models, for a process that started them.
func Fixed(ms ...Model) Lister {
	return func(context.Context) ([]Model, error) { return ms, nil }
}

// Cached returns a Lister that asks l at most once per ttl (a page load makes
// a dozen requests; each must not list the Docker containers again).
func Cached(l Lister, ttl time.Duration) Lister {
	var (
		mu   sync.Mutex
		at   time.Time
		last []Model
	)
	return func(ctx context.Context) ([]Model, error) {
		mu.Lock()
		defer mu.Unlock()
		if last != nil && time.Since(at) < ttl {
			return last, nil
		}
		ms, err := l(ctx)
		if err != nil {
			return nil, err
		}
		last, at = ms, time.Now()
		return ms, nil
	}
}

// Server serves the UI. Models is required.
type Server struct {
	Models Lister
	// Fresh, when set, is asked when a model is not among Models (a cached
	// list may predate a model started a moment ago).
	Fresh Lister
	// Single makes "/" lead to this model's page instead of the index
	// (`modelhub run` serves one model).
	Single string
	// Transport reaches the engines; nil means a loopback transport that
	// ignores proxy settings.
	Transport http.RoundTripper
	// EngineTimeout bounds each request the server itself makes to an engine
	// to build a page (default 10 s); predictions are bounded by
	// PredictTimeout (default 10 min).
	EngineTimeout  time.Duration
	PredictTimeout time.Duration
	// Preview draws output files the engine saved (masks as .png or .h5)
	// so the page can lay them over their input; nil: the page links them.
	Preview PreviewFunc
	// Convert turns an uploaded DICOM file or zipped DICOM series into what
	// the model takes (a PNG or a NIfTI volume); nil: uploads reach the
	// engine as they are.
	Convert ConvertFunc
}

// ModelPath is the path of a model's page.
func ModelPath(name string) string { return "/m/" + url.PathEscape(name) + "/" }

// NotebookPath is the path that sends the browser on to a model's notebook.
func NotebookPath(name string) string { return ModelPath(name) + "_ui/notebook" }

// URL is the address of the page of model name on a server at port (the
// index when name is empty).
func URL(port int, name string) string {
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if name == "" {
		return base + "/"
	}
	return base + ModelPath(name)
}

// Listen binds 127.0.0.1:port (0 chooses a free port).
func Listen(port int) (net.Listener, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("web UI: listen on 127.0.0.1:%d: %w", port, err)
	}
	return l, nil
}

// Port is the port l listens on.
func Port(l net.Listener) int {
	if a, ok := l.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// readHeaderTimeout bounds how long a client may take to send a request's
// headers (a slowloris holds connections open by never finishing them); a
// variable so a test can shorten it.
var readHeaderTimeout = 10 * time.Second

// Serve serves the UI on l until ctx ends, then shuts down (waiting at most
// 2 s for requests in flight).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(Port(l)),
		ReadHeaderTimeout: readHeaderTimeout,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	err := srv.Serve(l)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler is the UI for a server listening on port (the only port its Host
// check accepts).
func (s *Server) Handler(port int) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveIndex)
	mux.HandleFunc("GET /_ui/server.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(serverInfo{ModelhubUI: true, AllModels: s.Single == ""})
	})
	mux.HandleFunc("GET /m/{name}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, ModelPath(r.PathValue("name")), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/m/{name}/{rest...}", s.serveModel)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found: the models are at /", http.StatusNotFound)
	})
	return guard(port, mux)
}

// serveModel dispatches the requests below /m/NAME/.
func (s *Server) serveModel(w http.ResponseWriter, r *http.Request) {
	m, err := s.find(r.Context(), r.PathValue("name"))
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, errNoModel) {
			status = http.StatusNotFound
		}
		s.renderProblem(w, status, err)
		return
	}
	rest := r.PathValue("rest")
	switch {
	case rest == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.servePage(w, r, m)
	case rest == "_ui/notebook" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.serveNotebook(w, r, m)
	case rest == "_ui/predict_upload" && r.Method == http.MethodPost:
		s.predictUpload(w, r, m)
	case rest == "_ui/predict_multi" && r.Method == http.MethodPost:
		s.predictMulti(w, r, m)
	case rest == "_ui/preview" && r.Method == http.MethodGet:
		s.servePreview(w, r, m)
	case strings.HasPrefix(rest, "api/") && !hasDotSegment(rest):
		s.proxy(w, r, m, "/"+rest)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

var errNoModel = errors.New("no such model")

// hasDotSegment reports whether the (decoded) path p has a "." or ".."
// segment: the mux cleans literal ones, but encoded ones (%2e%2e, ..%2f)
// arrive decoded, and forwarded they would reach the engine outside /api/.
func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// serverInfo is /_ui/server.json: who answers on a port.
type serverInfo struct {
	ModelhubUI bool `json:"modelhub_ui"`
	AllModels  bool `json:"all_models"` // `modelhub ui`: every running model, not one
}

// ServesAllModels reports whether a `modelhub ui` answers on 127.0.0.1:port
// (asking it for at most a second): it then has a page for every model that
// runs, including one started after it.
func ServesAllModels(ctx context.Context, port int) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, URL(port, "")+"_ui/server.json", nil)
	if err != nil {
		return false
	}
	resp, err := (&http.Client{Transport: loopback}).Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var info serverInfo
	return resp.StatusCode == http.StatusOK && json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&info) == nil && info.ModelhubUI && info.AllModels
}

// find returns the running model named name (exact, else case-insensitive).
func (s *Server) find(ctx context.Context, name string) (Model, error) {
	for _, list := range []Lister{s.Models, s.Fresh} {
		if list == nil {
			continue
		}
		ms, err := list(ctx)
		if err != nil {
			return Model{}, fmt.Errorf("list the running models: %w", err)
		}
		if m, ok := lookup(ms, name); ok {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("%w: %s is not running (start it with `modelhub run -d %s`)", errNoModel, name, name)
}

// lookup finds name in ms: exactly, else ignoring case.
func lookup(ms []Model, name string) (Model, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m, true
		}
	}
	for _, m := range ms {
		if strings.EqualFold(m.Name, name) {
			return m, true
		}
	}
	return Model{}, false
}

func (s *Server) transport() http.RoundTripper {
	if s.Transport != nil {
		return s.Transport
	}
	return loopback
}

// engine is the client of m's engine.
func (s *Server) engine(m Model) *engine.Client {
	return &engine.Client{Base: m.APIURL, HTTP: &http.Client{Transport: s.transport()}}
}

// loopback reaches the engines and, for ServesAllModels, another web UI.
var loopback = engine.NewTransport(8)

func (s *Server) engineTimeout() time.Duration {
	if s.EngineTimeout > 0 {
		return s.EngineTimeout
	}
	return 10 * time.Second
}

func (s *Server) predictTimeout() time.Duration {
	if s.PredictTimeout > 0 {
		return s.PredictTimeout
	}
	return 10 * time.Minute
}
