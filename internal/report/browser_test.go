package report

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// fileURL is the file:// URL of a local path.
func fileURL(p string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
}

// openReport writes the report of dir and opens it from disk in Chromium,
// waiting for its first page of cards.
func openReport(t testing.TB, ctx context.Context, dir string) {
	t.Helper()
	recs, err := predict.ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(context.Background(), dir, recs, Options{Model: "demo"}); err != nil {
		t.Fatal(err)
	}
	testutil.BrowserDo(t, ctx, "open the report",
		chromedp.Navigate(fileURL(filepath.Join(dir, File))),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="ready"]`)))
}

// The report opened from its folder in Chromium, as a user opens it: its
// cards, the masks over their inputs (images load under the page's CSP),
// sorting, filtering and paging, the opacity control; no script error.
func TestBrowser_report(t *testing.T) {
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	dir := cohort(t, 70, true) // 72 cases: two pages of 60
	openReport(t, ctx, dir)

	if n := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll("#cases .card").length`); n != 60 {
		t.Fatalf("%d cards on the first page, want 60", n)
	}
	if s := testutil.BrowserText(t, ctx, "#range"); s != "1–60 of 72" {
		t.Errorf("range %q", s)
	}
	// every image of the page loaded (CSP allows the folder's images)
	waitImages := `new Promise(function (ok) {
	  var imgs = Array.prototype.slice.call(document.querySelectorAll("#cases img"));
	  imgs.forEach(function (i) { i.loading = "eager"; });
	  var n = 0, t0 = Date.now();
	  (function poll() {
	    var done = imgs.filter(function (i) { return i.complete; });
	    if (done.length === imgs.length || Date.now() - t0 > 20000) ok(imgs.filter(function (i) { return i.naturalWidth > 0; }).length + "/" + imgs.length);
	    else setTimeout(poll, 50);
	  })();
	})`
	if got := testutil.BrowserEval[string](t, ctx, waitImages, chromedp.EvalAwaitPromise); got == "" || got[:len(got)/2] != got[len(got)/2+1:] {
		t.Fatalf("images loaded: %s", got)
	}
	// the hostile name is a card's text, not markup
	if n := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll("img[src='x']").length + (window.__pwned ? 100 : 0)`); n != 0 {
		t.Fatal("an input name became markup")
	}
	if s := testutil.BrowserEval[string](t, ctx, `Array.prototype.filter.call(document.querySelectorAll("#cases .card"), function (c) { return c.dataset.input.indexOf("<img") === 0; })[0].querySelector("h2").firstChild.textContent`); s != `<img src=x onerror=alert(1)>"'&.png ` {
		t.Errorf("hostile card title %q", s)
	}
	// a mask over its input: a layer image on top of the input in one stack
	if n := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll('.card[data-input="case0001.png"] .stack img.base + img.layer.mask').length`); n != 1 {
		t.Errorf("case0001: %d mask layers over the input", n)
	}
	if n := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll('.card[data-input="case0003.png"] .stack img.base ~ img.layer.heat').length`); n != 1 {
		t.Errorf("case0003: %d heatmap layers over the input", n)
	}
	testutil.BrowserDo(t, ctx, "hide heatmaps", chromedp.Click(chromedp.CSS("#show-heat")))
	if d := testutil.BrowserEval[string](t, ctx, `getComputedStyle(document.querySelector('.card[data-input="case0003.png"] img.layer.heat')).display + " " + getComputedStyle(document.querySelector('.card[data-input="case0003.png"] img.layer.mask')).display`); d != "none block" {
		t.Errorf("heatmaps hidden, masks shown: display %q", d)
	}
	testutil.BrowserDo(t, ctx, "show heatmaps", chromedp.Click(chromedp.CSS("#show-heat")))
	if s := testutil.BrowserText(t, ctx, `.card[data-input="case0000.png"] .blank`); s != "mask: the mask is blank (no labelled pixel)" {
		t.Errorf("blank mask note %q", s)
	}
	// opacity
	testutil.BrowserDo(t, ctx, "opacity", chromedp.SetValue(chromedp.CSS("#opacity"), "80"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("opacity").dispatchEvent(new Event("input"))`))
	if o := testutil.BrowserEval[string](t, ctx, `getComputedStyle(document.querySelector(".card .stack img.layer")).opacity`); o != "0.8" {
		t.Errorf("overlay opacity %q after the slider moved to 80", o)
	}
	testutil.Screenshot(t, ctx, shots, "report")

	// sort by probability, highest first: the first card has the top one
	testutil.BrowserDo(t, ctx, "sort", chromedp.SetValue(chromedp.CSS("#sort"), "prob-desc"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("sort").dispatchEvent(new Event("change"))`))
	probs := testutil.BrowserEval[[]float64](t, ctx, `Array.prototype.map.call(document.querySelectorAll("#cases .card"), function (c) {
	  var p = c.querySelector(".pct"); return p ? parseFloat(p.textContent) : -1; })`)
	for i := 1; i < len(probs); i++ {
		if probs[i] > probs[i-1] {
			t.Fatalf("not sorted by probability: %v", probs)
		}
	}
	if probs[0] != 100 { // case0000's "other" label: 1 - 0
		t.Errorf("top probability %v", probs[0])
	}
	// filter: failed only
	testutil.BrowserDo(t, ctx, "filter", chromedp.SetValue(chromedp.CSS("#status"), "failed"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("status").dispatchEvent(new Event("change"))`))
	if n := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll('#cases .card[data-status="failed"]').length === document.querySelectorAll("#cases .card").length ? document.querySelectorAll("#cases .card").length : -1`); n != 10 {
		t.Errorf("%d failed cards shown (want the 10 failed only)", n)
	}
	testutil.Screenshot(t, ctx, shots, "failed")
	// filter by label text, then page 2 of everything
	testutil.BrowserDo(t, ctx, "find", chromedp.Evaluate[chromedp.Void](`document.getElementById("status").value = "";
	  document.getElementById("q").value = "volume"; document.getElementById("q").dispatchEvent(new Event("input"))`))
	if n := testutil.BrowserEval[int](t, ctx, `document.querySelectorAll('#cases .card[data-input="volume.npy"] figure').length`); n != 3 {
		t.Errorf("the volume shows %d planes", n)
	}
	testutil.Screenshot(t, ctx, shots, "volume")
	testutil.BrowserDo(t, ctx, "page 2", chromedp.Evaluate[chromedp.Void](`document.getElementById("q").value = "";
	  document.getElementById("q").dispatchEvent(new Event("input"))`),
		chromedp.Click(chromedp.CSS("#next")))
	if s := testutil.BrowserText(t, ctx, "#range"); s != "61–72 of 72" {
		t.Errorf("page 2: %q", s)
	}
}
