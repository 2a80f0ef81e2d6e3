package webui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/engine"
)

// maxUpload bounds what the UI forwards to an engine in one prediction (a
// variable so a test can lower it).
var maxUpload int64 = 1 << 30

// proxy forwards a request for /api/... to the model's REST API. Only reads
// and POST /api/predict (an upload) pass. The answer is confined (see
// confineHeaders): the engine's CORS headers are dropped, so no other site
// can read the API through the UI, and nothing it sends runs as a page of the
// UI's origin.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, m Model, path string) {
	// our own answers below (errors) are sandboxed too
	w.Header().Set("Content-Security-Policy", engineCSP)
	w.Header().Set("Cache-Control", "no-store")
	if m.APIURL == "" {
		writeError(w, http.StatusNotFound, m.Name+" runs without a REST API (mode "+m.Mode+")")
		return
	}
	if !isSafe(r.Method) && !(r.Method == http.MethodPost && path == engine.RoutePredict) {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, r.Method+" "+path+" is not allowed through the web UI")
		return
	}
	target, err := url.Parse(m.APIURL)
	if err != nil {
		writeError(w, http.StatusBadGateway, "the API URL of "+m.Name+" is invalid: "+err.Error())
		return
	}
	timeout := s.engineTimeout()
	if strings.HasPrefix(path, engine.RoutePredict) {
		timeout = s.predictTimeout()
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	}
	rp := &httputil.ReverseProxy{
		Transport: s.transport(),
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = strings.TrimSuffix(target.Path, "/") + path
			pr.Out.URL.RawPath = ""
			pr.Out.URL.RawQuery = r.URL.RawQuery
			for _, h := range []string{"Origin", "Referer", "Cookie", "Authorization"} {
				pr.Out.Header.Del(h)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			// the engine's answer carries only our headers (the proxy adds
			// them to w's, which hold the guard's nosniff)
			w.Header().Del("X-Content-Type-Options")
			w.Header().Del("Content-Security-Policy")
			confineHeaders(resp.Header, path)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			msg := "the engine of " + m.Name + " at " + m.APIURL + " did not answer: " + err.Error()
			if ctx.Err() == context.DeadlineExceeded {
				msg = "the engine of " + m.Name + " did not answer within " + timeout.String()
			}
			writeError(w, http.StatusBadGateway, msg)
		},
	}
	rp.ServeHTTP(w, r.WithContext(ctx))
}

// writeError answers with an engine-style error, {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
