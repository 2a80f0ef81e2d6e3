package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvRequireBrowser makes a missing Chromium fail the browser tests instead of
// skipping them (CI sets it after installing the chromium package).
const EnvRequireBrowser = "MODELHUB_REQUIRE_BROWSER"

// EnvScreenshots names the folder browser tests save their screenshots in
// (default: a temporary folder of the test, removed with it).
const EnvScreenshots = "MODELHUB_SCREENSHOTS"

// chromiumPath finds a Chromium or Chrome binary: $MODELHUB_CHROMIUM, then the
// usual names on PATH.
func chromiumPath() string {
	if p := os.Getenv("MODELHUB_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser starts a headless Chromium for the test and returns a context that
// drives one tab of it (closed when the test ends). Without Chromium the test
// is skipped loudly, or fails when MODELHUB_REQUIRE_BROWSER=1.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		msg := "no Chromium found (install the Debian package chromium, or set MODELHUB_CHROMIUM)"
		if os.Getenv(EnvRequireBrowser) == "1" {
			t.Fatalf("%s, and %s=1 requires the browser tests to run", msg, EnvRequireBrowser)
		}
		fmt.Fprintln(os.Stderr, "SKIP (this browser test did not run): "+msg)
		t.Skip("SKIP: " + msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1200, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// start the browser now (on ctx itself: the first action owns the
	// browser's lifetime), so a broken install fails here, clearly
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	return ctx
}

// ScreenshotDir is $MODELHUB_SCREENSHOTS (created), else a temporary folder.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Screenshot saves the whole page as DIR/TEST-NAME.png and logs where.
func Screenshot(t testing.TB, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", file)
}

// BrowserDo runs browser steps with a bound.
func BrowserDo(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func BrowserEval[T any](t testing.TB, ctx context.Context, js string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func BrowserText(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// AwaitRun waits until the page's current run ends in state (done or error).
func AwaitRun(t testing.TB, ctx context.Context, state string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Query(chromedp.CSS(`body[data-state="done"], body[data-state="error"]`))); err != nil {
		t.Fatalf("the run did not end: %v", err)
	}
	if got := BrowserEval[string](t, ctx, "document.body.dataset.state"); got != state {
		t.Fatalf("the run ended in state %q, want %q (error: %q)", got, state, BrowserEval[string](t, ctx, `document.getElementById("error").textContent`))
	}
}

// ResetRun forgets the previous run's state before starting another.
func ResetRun(t testing.TB, ctx context.Context) {
	t.Helper()
	BrowserEval[string](t, ctx, `document.body.dataset.state = "ready"`)
}

// BrowserExpect is what BrowserCheck looks for on a model's page.
type BrowserExpect struct {
	Name           string // the model's name, shown as the page's heading
	Sample         string // a sample to run, and the top label it gets
	TopLabel       string
	Upload         string // a file to upload, and the top label it gets
	UploadTopLabel string
}

// BrowserCheck opens a model's web UI page at pageURL in the browser and checks it:
// its name, a sample run with label bars and the right top label, an uploaded
// file's result, and an engine error (a text file is no image).
func BrowserCheck(t *testing.T, ctx context.Context, pageURL, shots string, want BrowserExpect) {
	t.Helper()
	BrowserDo(t, ctx, "open the page", chromedp.Navigate(pageURL), chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)))
	if got := BrowserText(t, ctx, "#model-name"); got != want.Name {
		t.Errorf("the page's heading is %q, want %q", got, want.Name)
	}
	if !BrowserEval[bool](t, ctx, `(function(){var i=document.getElementById("thumb"); return !i || i.hidden || i.naturalWidth > 0})()`) {
		t.Errorf("the thumbnail is shown broken")
	}
	Screenshot(t, ctx, shots, "page")

	BrowserDo(t, ctx, "run on "+want.Sample, chromedp.Click(chromedp.CSS(`.sample[data-name="`+want.Sample+`"]`)))
	AwaitRun(t, ctx, "done")
	if n := BrowserEval[int](t, ctx, `document.querySelectorAll(".out .bar i").length`); n < 1 {
		t.Errorf("no label bars")
	}
	if got := BrowserText(t, ctx, ".out .label"); got != want.TopLabel {
		t.Errorf("top label on %s: %q, want %q", want.Sample, got, want.TopLabel)
	}
	if got := BrowserText(t, ctx, ".out .pct"); !strings.HasSuffix(got, " %") {
		t.Errorf("top percentage %q", got)
	}
	Screenshot(t, ctx, shots, "sample")

	ResetRun(t, ctx)
	BrowserDo(t, ctx, "upload "+want.Upload, chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{want.Upload}))
	AwaitRun(t, ctx, "done")
	if got := BrowserText(t, ctx, ".out .label"); got != want.UploadTopLabel {
		t.Errorf("top label on the uploaded %s: %q, want %q", filepath.Base(want.Upload), got, want.UploadTopLabel)
	}
	Screenshot(t, ctx, shots, "upload")

	notImage := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notImage, []byte("not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ResetRun(t, ctx)
	BrowserDo(t, ctx, "upload a text file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{notImage}))
	AwaitRun(t, ctx, "error")
	if got := BrowserText(t, ctx, "#error"); !strings.HasPrefix(got, "The engine reported an error: ") {
		t.Errorf("error shown: %q", got)
	}
	Screenshot(t, ctx, shots, "error")
}
