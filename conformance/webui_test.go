package conformance

import (
	"encoding/json"
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

// The web UI that `run` serves works with the real engine (which has no page
// of its own): in headless Chromium, the page shows the model, a sample run
// draws its label bars with the right top label, an uploaded file gets a
// result, and an engine error is shown.
func TestRealEngine_WebUI(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	e.must("pull", e.Model)
	port := testutil.FreePort(t)
	p := e.start("run", "--ui-port", strconv.Itoa(port), e.Model)
	line := waitFor(t, p.Stdout, regexp.MustCompile(`Web UI: (http://\S+)`), 2*time.Minute)
	url := strings.TrimPrefix(strings.TrimSpace(line), "Web UI: ")
	if want := "http://127.0.0.1:" + strconv.Itoa(port) + "/"; url != want {
		t.Fatalf("Web UI %q, want %q", url, want)
	}
	upload := filepath.Join(t.TempDir(), "upload.png")
	if err := os.WriteFile(upload, pngBytes(t, 16, 16, 250), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.BrowserCheck(t, ctx, url, shots, testutil.BrowserExpect{
		Name: e.Model, Sample: "dark.png", TopLabel: "dark", Upload: upload, UploadTopLabel: "bright",
	})
	_ = p.Cmd.Process.Signal(syscall.SIGINT)
	if code := p.Wait(t, time.Minute); code != 130 {
		t.Errorf("exit code %d after Ctrl-C, want 130\n%s", code, p.Stderr)
	}
}

// A multi-input model in the web UI: one file per named input, staged in the
// model folder for the engine, which reads them by the paths of its case JSON.
func TestRealEngine_WebUIMultiInput(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Browser(t)
	shots := testutil.ScreenshotDir(t)
	model := filepath.Join(t.TempDir(), e.Model+"-multi")
	if err := os.CopyFS(model, os.DirFS(filepath.Join("testdata", "multimodel"))); err != nil {
		t.Fatal(err)
	}
	initJSON, _ := json.Marshal(map[string]any{"docker_id": e.Image, "external_contrib_files": []any{}})
	writeFiles(t, model, map[string][]byte{"init/init.json": initJSON})
	in := t.TempDir()
	writeFiles(t, in, map[string][]byte{"a.png": pngBytes(t, 16, 16, 250), "b.png": pngBytes(t, 16, 16, 250)})
	port := testutil.FreePort(t)
	p := e.start("run", "--ui-port", strconv.Itoa(port), model)
	t.Cleanup(func() { _ = p.Cmd.Process.Signal(syscall.SIGINT); p.Wait(t, time.Minute) })
	waitFor(t, p.Stdout, regexp.MustCompile(`Web UI: http://\S+`), 2*time.Minute)
	testutil.BrowserDo(t, ctx, "open the page", chromedp.Navigate("http://127.0.0.1:"+strconv.Itoa(port)+"/"),
		chromedp.Query(chromedp.CSS(`body[data-state="ready"]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#multi input[name="t1"]`), []string{filepath.Join(in, "a.png")}),
		chromedp.SetUploadFiles(chromedp.CSS(`#multi input[name="t2"]`), []string{filepath.Join(in, "b.png")}),
		chromedp.Click(chromedp.CSS(`#multi button[type="submit"]`)))
	testutil.AwaitRun(t, ctx, "done")
	if got := testutil.BrowserText(t, ctx, ".out .label"); got != "bright" {
		t.Errorf("top label %q, want bright", got)
	}
	if got := testutil.BrowserText(t, ctx, ".out .pct"); got != "98.0 %" {
		t.Errorf("top percentage %q, want 98.0 %%", got)
	}
	testutil.Screenshot(t, ctx, shots, "multi")
	if _, err := os.Stat(filepath.Join(model, "contrib_src", ".modelhub-ui")); err == nil {
		t.Errorf("the staged uploads were left in the model folder")
	}
}
