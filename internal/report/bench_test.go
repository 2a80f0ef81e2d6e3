package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// BenchmarkReportChromium1000 opens the report of a 1,000-case folder from
// disk in headless Chromium and reports how long it takes from navigation
// until the first page of cards is drawn with its images loaded
// in the window (render-ms; target < 2000; the cards further down load their
// images lazily as they scroll into view), the same for a one-line page
// (plain-page-ms: what the browser itself needs here), when the cards were
// drawn on the page's own clock, how long writing the report took, and the
// page's weight.
func BenchmarkReportChromium1000(b *testing.B) { benchReportChromium(b, 1000) }

// BenchmarkReportChromium10000 is the same at 10,000 cases: the page still
// draws one page of 60 cards (its first page says "1–60 of" every case).
func BenchmarkReportChromium10000(b *testing.B) { benchReportChromium(b, 10000) }

func benchReportChromium(b *testing.B, n int) {
	ctx := testutil.Browser(b)
	dir := cohort(b, n, false)
	recs, err := predict.ReadRecords(dir)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := Write(context.Background(), dir, recs, Options{Model: "bench"}); err != nil {
		b.Fatal(err)
	}
	writeMs := float64(time.Since(start).Microseconds()) / 1000
	fi, err := os.Stat(filepath.Join(dir, File))
	if err != nil {
		b.Fatal(err)
	}
	const loaded = `new Promise(function (ok) {
	  (function poll() {
	    var imgs = Array.prototype.filter.call(document.querySelectorAll("#cases img"), function (i) { return i.getBoundingClientRect().top < innerHeight; });
	    if (document.body.dataset.state === "ready" && imgs.every(function (i) { return i.complete; })) ok({n: imgs.length, at: performance.now(), ready: window.__readyAt || -1});
	    else setTimeout(poll, 5);
	  })();
	})`
	plain := filepath.Join(dir, "plain.html")
	if err := os.WriteFile(plain, []byte("<!doctype html><title>x</title><p>hello</p>"), 0o644); err != nil {
		b.Fatal(err)
	}
	var total, inPage, ready, plainMs float64
	b.ResetTimer()
	for range b.N {
		testutil.BrowserDo(b, ctx, "blank", chromedp.Navigate("about:blank"))
		t0 := time.Now()
		testutil.BrowserDo(b, ctx, "open", chromedp.Navigate(fileURL(filepath.Join(dir, File))))
		r := testutil.BrowserEval[struct {
			N     int     `json:"n"`
			At    float64 `json:"at"`
			Ready float64 `json:"ready"`
		}](b, ctx, loaded, chromedp.EvalAwaitPromise)
		if r.N == 0 {
			b.Fatal("no image on the first page")
		}
		total += float64(time.Since(t0).Microseconds()) / 1000
		if got, want := testutil.BrowserText(b, ctx, "#range"), fmt.Sprintf("1–60 of %d", len(recs)); got != want {
			b.Fatalf("range %q, want %q", got, want)
		}
		inPage += r.At
		ready += r.Ready
		t1 := time.Now()
		testutil.BrowserDo(b, ctx, "plain", chromedp.Navigate(fileURL(plain)))
		_ = testutil.BrowserEval[int](b, ctx, `1`)
		plainMs += float64(time.Since(t1).Microseconds()) / 1000
	}
	b.ReportMetric(total/float64(b.N), "render-ms")
	b.ReportMetric(inPage/float64(b.N), "page-clock-ms")
	b.ReportMetric(ready/float64(b.N), "cards-drawn-ms")
	b.ReportMetric(plainMs/float64(b.N), "plain-page-ms")
	b.ReportMetric(writeMs, "write-report-ms")
	b.ReportMetric(float64(fi.Size()), "page-bytes")
	b.ReportMetric(0, "ns/op")
}
