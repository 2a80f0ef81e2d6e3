package conformance

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
