package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every answer proxied from an engine is sandboxed, never sniffed, and shown
// inline only when it is an image, JSON or plain text; anything else (HTML,
// SVG, XML, script, unknown) is a download.
func TestProxy_confinesEngineAnswers(t *testing.T) {
	e := newFakeEngine(t)
	e.raw = map[string]rawAnswer{
		"/api/samples/evil.html":   {"text/html; charset=utf-8", "<script>fetch('/')</script>", map[string]string{"Content-Security-Policy": "script-src *", "Refresh": "0; url=http://evil.example/", "Content-Disposition": "inline"}},
		"/api/samples/evil.svg":    {"image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, nil},
		"/api/samples/evil.xml":    {"application/xml", `<x/>`, nil},
		"/api/samples/evil.js":     {"text/javascript", `alert(1)`, nil},
		"/api/samples/x.bin":       {"", "\x00\x01", nil},
		"/api/samples/weird":       {"image/png; x", "x", nil},
		"/api/samples/utf7.txt":    {"text/plain; charset=utf-7", "+ADw-script+AD4-", nil},
		"/api/samples/cat.png":     {"image/png", "\x89PNG", nil},
		"/api/samples/cat.jpg":     {"image/jpeg", "\xff\xd8", nil},
		"/api/samples/cat.webp":    {"image/webp", "RIFF", nil},
		"/api/samples/notes.txt":   {"text/plain", "hello", nil},
		"/api/thumbnail/thumb.gif": {"image/gif", "GIF89a", nil},
	}
	s := testServer(Model{Name: "fake", Mode: "api", APIURL: e.URL()})
	for _, tc := range []struct {
		path, ctype string
		inline      bool
		csp         string
	}{
		{"/m/fake/api/samples/evil.html", "application/octet-stream", false, engineCSP},
		{"/m/fake/api/samples/evil.svg", "application/octet-stream", false, engineCSP},
		{"/m/fake/api/samples/evil.xml", "application/octet-stream", false, engineCSP},
		{"/m/fake/api/samples/evil.js", "application/octet-stream", false, engineCSP},
		{"/m/fake/api/samples/x.bin", "application/octet-stream", false, engineCSP},
		{"/m/fake/api/samples/weird", "application/octet-stream", false, engineCSP},
		{"/m/fake/api/samples/utf7.txt", "application/octet-stream", false, engineCSP},
		{"/m/fake/api/samples/cat.png", "image/png", true, engineImageCSP},
		{"/m/fake/api/samples/cat.jpg", "image/jpeg", true, engineImageCSP},
		{"/m/fake/api/samples/cat.webp", "image/webp", true, engineImageCSP},
		{"/m/fake/api/thumbnail/thumb.gif", "image/gif", true, engineImageCSP},
		{"/m/fake/api/samples/notes.txt", "text/plain; charset=utf-8", true, engineCSP},
		{"/m/fake/api/get_config", "application/json; charset=utf-8", true, engineCSP},
		{"/m/fake/api/predict_sample?filename=cat.png", "application/json; charset=utf-8", true, engineCSP},
		{"/m/fake/api/no_such_route", "application/json; charset=utf-8", true, engineCSP},
	} {
		w := serve(t, s, httptest.NewRequest("GET", tc.path, nil))
		h := w.Header()
		if got := h.Values("Content-Type"); len(got) != 1 || got[0] != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != tc.csp {
			t.Errorf("%s: Content-Security-Policy %q, want %q", tc.path, got, tc.csp)
		}
		if !strings.HasPrefix(tc.csp, "sandbox; default-src 'none'") {
			t.Fatalf("the test's CSP %q is not a sandbox", tc.csp)
		}
		if got := h.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", tc.path, got)
		}
		cd := h.Get("Content-Disposition")
		if tc.inline && cd != "" {
			t.Errorf("%s: Content-Disposition %q, want none (inline)", tc.path, cd)
		}
		if !tc.inline && !strings.HasPrefix(cd, "attachment") {
			t.Errorf("%s: Content-Disposition %q, want attachment", tc.path, cd)
		}
		if h.Get("Refresh") != "" || h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: the engine's headers passed: %v", tc.path, h)
		}
	}
	if cd := serve(t, s, httptest.NewRequest("GET", "/m/fake/api/samples/evil.html", nil)).Header().Get("Content-Disposition"); cd != `attachment; filename=evil.html` {
		t.Errorf("Content-Disposition %q", cd)
	}
	// the UI's own error answers on the API paths are sandboxed too
	s2 := testServer(Model{Name: "nb", Mode: "expert"})
	w := serve(t, s2, httptest.NewRequest("GET", "/m/nb/api/samples/evil.html", nil))
	if w.Code != 404 || w.Header().Get("Content-Security-Policy") != engineCSP {
		t.Errorf("an error of the UI on an API path: %d %v", w.Code, w.Header())
	}
}

func TestSafeLink(t *testing.T) {
	const ui = "127.0.0.1:8800"
	for raw, want := range map[string]string{
		"https://example.org/paper":         "https://example.org/paper",
		"http://arxiv.org/abs/1":            "http://arxiv.org/abs/1",
		" https://example.org/x ":           "https://example.org/x",
		"http://127.0.0.1:8000/":            "http://127.0.0.1:8000/", // another origin (the engine's port)
		"api/samples/evil.html":             "",
		"/m/other/":                         "",
		"//evil.example/x":                  "",
		"javascript:alert(1)":               "",
		"JavaScript:alert(1)":               "",
		"data:text/html,<script>x</script>": "",
		"vbscript:x":                        "",
		"file:///etc/passwd":                "",
		"http://127.0.0.1:8800/":            "",
		"http://localhost:8800/m/x/":        "",
		"http://LOCALHOST.:8800/":           "",
		"http://[::1]:8800/":                "",
		"http://127.1.2.3:8800/":            "",
		"http://0.0.0.0:8800/":              "",
		"http://user:pw@example.org/":       "",
		"https:example.org":                 "",
		"":                                  "",
	} {
		if got := safeLink(raw, ui); got != want {
			t.Errorf("safeLink(%q) = %q, want %q", raw, got, want)
		}
	}
}

// The card links a model's publication only when it is an http(s) page of
// another origin: a config's "api/samples/evil.html" (proxied in the UI's
// origin), javascript: or data: gives no link.
func TestModelPage_cardLinks(t *testing.T) {
	for url, want := range map[string]string{
		"api/samples/evil.html":                              "",
		"javascript:fetch('/')":                              "",
		"data:text/html,<script>1</script>":                  "",
		"http://127.0.0.1:8800/m/fake/api/samples/evil.html": "",
		"https://example.org/paper":                          `href="https://example.org/paper"`,
	} {
		e := newFakeEngine(t)
		e.config = strings.Replace(fakeConfig, `"url": "https://example.org/paper"`, `"url": "`+url+`"`, 1)
		body := serve(t, testServer(Model{Name: "fake", Mode: "api", APIURL: e.URL()}), httptest.NewRequest("GET", "/m/fake/", nil)).Body.String()
		if !strings.Contains(body, "A fake model") {
			t.Fatalf("%s: the page lacks the publication:\n%s", url, body)
		}
		hasLink := strings.Contains(body, `rel="noreferrer" target="_blank">A fake model`)
		if want == "" && hasLink {
			t.Errorf("publication url %q is linked", url)
		}
		if want != "" && !strings.Contains(body, want) {
			t.Errorf("publication url %q is not linked", url)
		}
	}
}

// A notebook's token is in no page and no JSON of the UI; its link redirects
// a navigation, and refuses a script's request.
func TestNotebookToken_notInPages(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef0123456789abcdef"
	nb := "http://127.0.0.1:8888/notebooks/sandbox.ipynb?token=" + token
	e := newFakeEngine(t)
	s := testServer(Model{Name: "nb", Mode: "expert", NotebookURL: nb}, Model{Name: "fake", Mode: "api", APIURL: e.URL()})
	for _, p := range []string{"/", "/m/nb/", "/m/fake/", "/_ui/server.json", "/m/fake/api/get_config", "/m/nb/api/get_config", "/m/none/"} {
		w := serve(t, s, httptest.NewRequest("GET", p, nil))
		if strings.Contains(w.Body.String(), token) || strings.Contains(w.Header().Get("Location"), token) {
			t.Errorf("GET %s shows the notebook token:\n%s", p, w.Body)
		}
	}
	// a click on the link: a navigation
	r := httptest.NewRequest("GET", "/m/nb/_ui/notebook", nil)
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	r.Header.Set("Sec-Fetch-Dest", "document")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if w := serve(t, s, r); w.Code != http.StatusSeeOther || w.Header().Get("Location") != nb {
		t.Errorf("the notebook link: %d %v", w.Code, w.Header())
	}
	// a script's fetch (cors or no-cors), an iframe, another site: refused
	for _, h := range []map[string]string{
		{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-origin"},
		{"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-origin"},
		{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "same-origin"},
		{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "cross-site"},
	} {
		r := httptest.NewRequest("GET", "/m/nb/_ui/notebook", nil)
		for k, v := range h {
			r.Header.Set(k, v)
		}
		if w := serve(t, s, r); w.Code != http.StatusForbidden || strings.Contains(w.Body.String()+w.Header().Get("Location"), token) {
			t.Errorf("%v: %d %v %s", h, w.Code, w.Header(), w.Body)
		}
	}
	if w := serve(t, s, httptest.NewRequest("GET", "/m/fake/_ui/notebook", nil)); w.Code != 404 {
		t.Errorf("a model without a notebook: %d", w.Code)
	}
}
