package conformance

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// A model whose sample_data holds HTML and SVG with script, and whose card
// links one of them, served by the real engine (Flask's send_file gives
// text/html and image/svg+xml) through the web UI: the files come as
// sandboxed downloads, the PNG samples still show inline, the card does not
// link the file, and in Chromium the script never runs in the UI's origin.
func TestRealEngine_WebUIHostileSamples(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Browser(t)
	e.must("pull", e.Model)
	script := `<script>document.title = "script ran"; fetch("/").then(function(r){ return r.text(); }).then(function(t){ document.title = "stole " + t.length; });</script>`
	samples := filepath.Join(e.ModelDir(), "contrib_src", "sample_data")
	writeFiles(t, samples, map[string][]byte{
		"evil.html": []byte("<!doctype html><html><body>" + script + "</body></html>"),
		"evil.svg":  []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">` + script + `</svg>`),
	})
	cfgPath := filepath.Join(e.ModelDir(), "contrib_src", "model", "config.json")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), `"url": "https://example.org/brightness"`, `"url": "api/samples/evil.html"`, 1))
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	p := e.start("run", "--ui-port", strconv.Itoa(port), e.Model)
	t.Cleanup(func() { _ = p.Cmd.Process.Signal(syscall.SIGINT); p.Wait(t, time.Minute) })
	waitFor(t, p.Stdout, regexp.MustCompile(`Web UI: http://\S+`), 2*time.Minute)
	base := "http://127.0.0.1:" + strconv.Itoa(port) + "/m/" + e.Model + "/"

	for name, want := range map[string]string{"evil.html": "download", "evil.svg": "download", "dark.png": "image/png"} {
		resp, err := http.Get(base + "api/samples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || !strings.HasPrefix(h.Get("Content-Security-Policy"), "sandbox; default-src 'none'") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, headers %v", name, resp.StatusCode, h)
		}
		if want == "download" && (h.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment")) {
			t.Errorf("%s is not a download: %v", name, h)
		}
		if want != "download" && (h.Get("Content-Type") != want || h.Get("Content-Disposition") != "") {
			t.Errorf("%s is not inline %s: %v", name, want, h)
		}
	}

	testutil.BrowserDo(t, ctx, "open the page", chromedp.Navigate(base), chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)))
	if n := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll('#publication a').length`); n != 0 {
		t.Errorf("the card links the config's api/samples/evil.html")
	}
	for _, name := range []string{"evil.html", "evil.svg"} {
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_ = chromedp.Do(tctx, chromedp.Navigate(base+"api/samples/"+name)) // a refused download aborts
		cancel()
		time.Sleep(time.Second) // give a script, if one ran, time to rename the tab
		if title := testutil.BrowserEval[string](t, ctx, "document.title"); strings.Contains(title, "script ran") || strings.Contains(title, "stole") {
			t.Errorf("%s: the model's script ran in the UI's origin (title %q)", name, title)
		}
	}
}
