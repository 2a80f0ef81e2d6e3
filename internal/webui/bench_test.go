package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// pageTiming is what the browser measured of one page load.
type pageTiming struct {
	ResponseStart float64 `json:"responseStart"` // first byte of the page: the server has the engine's answers
	FCP           float64 `json:"fcp"`           // first contentful paint
}

// timingJS waits (at most 5 s) for the first contentful paint, then reads the timings.
const timingJS = `new Promise(function(resolve){
  function done(fcp){
    resolve({responseStart: performance.getEntriesByType("navigation")[0].responseStart, fcp: fcp});
  }
  new PerformanceObserver(function(list){
    list.getEntries().forEach(function(e){ if (e.name === "first-contentful-paint") done(e.startTime); });
  }).observe({type: "paint", buffered: true});
  setTimeout(function(){ done(-1); }, 5000);
})`

// BenchmarkPageLoad loads a model's page in headless Chromium (engine: an
// in-process fake) and reports the page's weight and how long the browser
// takes to first paint it after the first byte arrives — the server sends it
// only once the engine has answered, so this is the first render after the
// engine answers (target < 200 ms) — and the time to run a sample until its
// bars are drawn.
func BenchmarkPageLoad(b *testing.B) {
	ctx := testutil.Browser(b)
	e := newFakeEngine(b)
	port := startUI(b, &Server{Models: Fixed(Model{Name: "fake", Mode: "api", APIURL: e.URL()})})
	// the same measure on a one-line page: what the browser itself needs here
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>x</title><p>hello</p>")
	}))
	defer plain.Close()
	var renderMs, fcpMs, runMs, plainMs float64
	bytes := pageWeight(b, URL(port, "fake"))
	for i := 0; i < b.N; i++ {
		// a new tab each time: nothing cached
		testutil.BrowserDo(b, ctx, "blank", chromedp.Navigate("about:blank"))
		testutil.BrowserDo(b, ctx, "open the page", chromedp.Navigate(URL(port, "fake")), chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)))
		pt := testutil.BrowserEval[pageTiming](b, ctx, timingJS, chromedp.EvalAwaitPromise)
		if pt.FCP < 0 {
			b.Fatal("no first-contentful-paint entry")
		}
		renderMs += pt.FCP - pt.ResponseStart
		fcpMs += pt.FCP
		testutil.BrowserDo(b, ctx, "open a plain page", chromedp.Navigate(plain.URL))
		pp := testutil.BrowserEval[pageTiming](b, ctx, timingJS, chromedp.EvalAwaitPromise)
		plainMs += pp.FCP - pp.ResponseStart
		testutil.BrowserDo(b, ctx, "back to the model", chromedp.Navigate(URL(port, "fake")), chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)))
		start := time.Now()
		testutil.BrowserDo(b, ctx, "run a sample", chromedp.Click(chromedp.CSS(`.sample[data-name="cat.png"]`)), chromedp.Query(chromedp.CSS(`body[data-state="done"] .out .bar`)))
		runMs += float64(time.Since(start).Microseconds()) / 1000
	}
	n := float64(b.N)
	b.ReportMetric(renderMs/n, "render-after-engine-ms")
	b.ReportMetric(fcpMs/n, "first-paint-ms")
	b.ReportMetric(plainMs/n, "plain-page-render-ms")
	b.ReportMetric(runMs/n, "sample-run-ms")
	b.ReportMetric(float64(bytes), "page-bytes")
	b.ReportMetric(0, "ns/op")
}

// pageWeight is the size of a model's page, its style and script inlined (the
// engine's images not counted), uncompressed.
func pageWeight(b *testing.B, page string) int {
	resp, err := http.Get(page)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	return int(n)
}
