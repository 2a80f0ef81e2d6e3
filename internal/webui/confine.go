package webui

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// A model's engine is hostile: its samples, thumbnails, outputs and error
// pages are the model author's bytes. Served as they are in the UI's origin,
// an HTML or SVG file runs its script there and reads every page of the UI
// (every running model, its notebook). So every proxied answer is confined:
// a sandboxing Content-Security-Policy (an opaque origin, no script, no
// requests), no MIME sniffing, and only types a browser shows passively
// (images, JSON, plain text) inline; anything else is a download.

// Content-Security-Policies of proxied answers: an image may show itself.
const (
	engineCSP      = "sandbox; default-src 'none'"
	engineImageCSP = "sandbox; default-src 'none'; img-src 'self' data:"
)

// inlineTypes are the media types served inline, with the CSP each gets.
var inlineTypes = map[string]string{
	"image/png":        engineImageCSP,
	"image/jpeg":       engineImageCSP,
	"image/gif":        engineImageCSP,
	"image/webp":       engineImageCSP,
	"image/bmp":        engineImageCSP,
	"application/json": engineCSP,
	"text/plain":       engineCSP,
}

// engineHeaderAllow are the engine's headers relayed as they are; all others
// (its own CSP, Content-Disposition, Refresh, Link, Location, Set-Cookie,
// CORS, ...) are dropped.
var engineHeaderAllow = []string{
	"Content-Length", "Content-Encoding", "Content-Range", "Accept-Ranges",
	"Last-Modified", "Etag", "Date", "Vary", "Allow",
}

// confineHeaders rewrites h, the headers of an engine's answer to a request
// for reqPath, into what the UI sends: the allowed headers, a safe
// Content-Type (an unsafe one becomes application/octet-stream with
// Content-Disposition: attachment), the sandboxing CSP and nosniff.
func confineHeaders(h http.Header, reqPath string) {
	kept := http.Header{}
	for _, k := range engineHeaderAllow {
		if v, ok := h[http.CanonicalHeaderKey(k)]; ok {
			kept[http.CanonicalHeaderKey(k)] = v
		}
	}
	ct, csp, inline := safeType(h.Get("Content-Type"))
	for k := range h {
		delete(h, k)
	}
	for k, v := range kept {
		h[k] = v
	}
	h.Set("Content-Type", ct)
	if !inline {
		h.Set("Content-Disposition", attachment(reqPath))
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// safeType is the Content-Type to send for an engine's ct, its CSP, and
// whether it may be shown inline.
func safeType(ct string) (typ, csp string, inline bool) {
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil {
		if p, ok := inlineTypes[mt]; ok {
			if mt == "application/json" || mt == "text/plain" {
				cs := strings.ToLower(params["charset"])
				if cs != "" && cs != "utf-8" && cs != "us-ascii" {
					return "application/octet-stream", engineCSP, false
				}
				return mt + "; charset=utf-8", p, true
			}
			return mt, p, true
		}
	}
	return "application/octet-stream", engineCSP, false
}

// attachment is the Content-Disposition of a download of reqPath.
func attachment(reqPath string) string {
	name := path.Base(reqPath)
	if name == "/" || name == "." {
		return "attachment"
	}
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}

// safeLink is raw when it is an absolute http(s) URL of another origin than
// the UI's (whose Host is uiHost), else "": a model's config must not make
// the card link to javascript:, data:, or a path of the UI itself.
func safeLink(raw, uiHost string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	_, uiPort, _ := net.SplitHostPort(uiHost)
	if u.Scheme == "http" && port == uiPort {
		if ip := net.ParseIP(host); host == "localhost" || strings.HasSuffix(host, ".localhost") || ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
			return ""
		}
	}
	return u.String()
}
