package webui

import (
	"net/http"
	"strconv"
	"strings"
)

// allowedHosts are the Host headers a server on port answers: its loopback
// names. Anything else (a rebound DNS name, the machine's LAN address) is refused.
func allowedHosts(port int) map[string]bool {
	p := strconv.Itoa(port)
	return map[string]bool{"127.0.0.1:" + p: true, "localhost:" + p: true, "[::1]:" + p: true}
}

// guard refuses requests not addressed to a loopback name of port, and
// requests from other origins to anything but a page (API reads, uploads).
func guard(port int, next http.Handler) http.Handler {
	hosts := allowedHosts(port)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if !hosts[strings.ToLower(r.Host)] {
			http.Error(w, "refused: this web UI answers only at http://127.0.0.1:"+strconv.Itoa(port)+"/ (Host "+strconv.Quote(r.Host)+")", http.StatusMisdirectedRequest)
			return
		}
		if !sameOrigin(r, hosts) && (!isSafe(r.Method) || !isPage(r.URL.Path)) {
			http.Error(w, "refused: a request from another site", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether r comes from a page of this server, or not from
// a browser page at all (curl sends neither Origin nor Sec-Fetch-Site).
// Browsers send Origin with every POST and with cross-origin reads.
func sameOrigin(r *http.Request, hosts map[string]bool) bool {
	if o := r.Header.Get("Origin"); o != "" {
		rest, ok := strings.CutPrefix(strings.ToLower(o), "http://")
		if !ok || !hosts[rest] {
			return false
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

func isSafe(method string) bool { return method == http.MethodGet || method == http.MethodHead }

// isPage: the index, a model's page and the page's own assets may be opened
// from a link on another site; the API may not.
func isPage(path string) bool {
	if path == "/" || strings.HasPrefix(path, "/_ui/") {
		return true
	}
	rest, ok := strings.CutPrefix(path, "/m/")
	if !ok {
		return false
	}
	i := strings.Index(rest, "/")
	return i < 0 || i == len(rest)-1
}
