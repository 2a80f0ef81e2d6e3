package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelhub-ai/modelhub/internal/bundle"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/fetch"
	"github.com/modelhub-ai/modelhub/internal/modeltest"
	"github.com/modelhub-ai/modelhub/internal/predict"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// terminalControls matches what a terminal acts on: C0 (but newline), DEL,
// C1, bidi controls.
var terminalControls = regexp.MustCompile("[\x00-\x09\x0b-\x1f\x7f\u0080-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

const osc52 = "\x1b]52;c;ZXZpbA==\x07"

// The engine's labels and errors reach predict's table and progress lines as
// visible escapes, one row per input; --json keeps them exact.
func Test_predictOutput_engineTextEscaped(t *testing.T) {
	answer, _ := json.Marshal(map[string]any{"output": []any{map[string]any{"name": "p\x1b[2J", "type": "label_list", "shape": []int{2},
		"prediction": []any{map[string]any{"label": "cat" + osc52 + "\nforged row", "probability": 0.9}, map[string]any{"label": "dog\u202e", "probability": 0.1}}}}})
	results := []*predict.Result{
		{Input: "a.png", Status: predict.StatusOK, Output: answer},
		{Input: "b\x1b[31m.png", Status: predict.StatusFailed, Error: "the model answered: bad\x1b]0;title\x07\nFAKE"},
	}
	for _, jsonOut := range []bool{false, true} {
		var out, errOut bytes.Buffer
		ios := &IOStreams{Out: &out, ErrOut: &errOut}
		o := newPredictOutput(ios, jsonOut, len(results))
		for i, r := range results {
			o.result(r, predict.Summary{OK: i})
		}
		o.finish()
		o.table([]predict.Item{{Name: "a.png"}, {Name: "b\x1b[31m.png"}})
		if terminalControls.MatchString(errOut.String()) {
			t.Errorf("json=%v: stderr holds control characters: %q", jsonOut, errOut.String())
		}
		if jsonOut {
			if !strings.Contains(out.String(), `cat\u001b]52;c;ZXZpbA==\u0007\nforged row`) || !strings.Contains(out.String(), `dog\u202e`) || terminalControls.MatchString(out.String()) {
				t.Errorf("--json is not exact: %s", out.String())
			}
			continue
		}
		if terminalControls.MatchString(out.String()) {
			t.Errorf("the table holds control characters: %q", out.String())
		}
		if n := strings.Count(out.String(), "\n"); n != 3 {
			t.Errorf("the table has %d lines, want 3:\n%s", n, out.String())
		}
		for _, want := range []string{`cat\x1b]52;c;ZXZpbA==\x07 forged row 0.90, dog\u202e 0.10`, `b\x1b[31m.png`, `bad\x1b]0;title\x07 FAKE`} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("the table lacks %q:\n%s", want, out.String())
			}
		}
	}
}

// The top-level error printer, notes and warnings escape what they quote.
func Test_fprintf_escapesArgs(t *testing.T) {
	var b bytes.Buffer
	fprintf(&b, "modelhub: %s; %v; %s; %v\n", "x"+osc52, errors.New("server answered 503 \x1b[2JBusy"), stringer("s\x9b"), []string{"l\x1b"})
	if terminalControls.MatchString(b.String()) || !strings.Contains(b.String(), `x\x1b]52;c;ZXZpbA==\x07; server answered 503 \x1b[2JBusy; s\x9b; [l\x1b]`) {
		t.Errorf("fprintf printed %q", b.String())
	}
	b.Reset()
	fprintf(&b, "%d %s\n", 3, "multi\nline\ttext")
	if b.String() != "3 multi\nline\ttext\n" {
		t.Errorf("fprintf changed plain text: %q", b.String())
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// ps shows what Docker reports (an image reference from a model's init.json)
// escaped, one row per model.
func Test_psRun_escapes(t *testing.T) {
	list := []dockerrun.Container{{Name: "c", Model: "m", Mode: "api", Image: "img" + osc52 + "\nforged", Running: true, GPUs: "x\x1b[2J"}}
	fd := &testutil.FakeDocker{ListFunc: func(context.Context, bool) ([]dockerrun.Container, error) { return list, nil }}
	d := func(ctx context.Context) (dockerrun.API, error) { return fd, nil }
	f, out, _ := testFactory(t, "[]", false, 0)
	if err := psRun(t.Context(), &PsOptions{IO: f.IO, Docker: d, Now: time.Now}); err != nil {
		t.Fatal(err)
	}
	if terminalControls.MatchString(out.String()) || strings.Count(out.String(), "\n") != 2 || !strings.Contains(out.String(), `img\x1b]52;c;ZXZpbA==\x07\nforged`) {
		t.Errorf("ps printed %q", out.String())
	}
}

// A check's name, file and detail (from a model's files) print on one line.
func Test_printCheck_escapes(t *testing.T) {
	var b bytes.Buffer
	printCheck(&b, modeltest.Check{Status: modeltest.Fail, Name: "n\x1b[2J", File: "f\u202e", Detail: "d" + osc52 + "\nFAIL  forged"}, true)
	s := b.String()
	// only our own colour sequence, at the start
	s = strings.Replace(strings.Replace(s, "\x1b[31m", "", 1), "\x1b[0m", "", 1)
	if terminalControls.MatchString(s) || strings.Count(s, "\n") != 1 || !strings.Contains(s, `n\x1b[2J (f\u202e): d\x1b]52;c;ZXZpbA==\x07\nFAIL  forged`) {
		t.Errorf("printCheck printed %q", b.String())
	}
}

// A git server's sideband progress ("remote: ...") prints escaped, on a
// terminal (the bar's stage) and off one (the finished stage's line).
func Test_pullProgress_sidebandEscaped(t *testing.T) {
	line := fetch.ParseProgressLine("Counting objects" + osc52 + ": 100% (2/2), done.")
	for _, tty := range []bool{false, true} {
		var errOut bytes.Buffer
		p := newPullProgress(&IOStreams{ErrOut: &errOut, ErrTTY: tty})
		half := fetch.ParseProgressLine("Counting objects" + osc52 + ":  50% (1/2)")
		p.clone(half)
		p.clone(line)
		p.note("remote said \x1b[2J")
		if terminalControls.MatchString(strings.ReplaceAll(errOut.String(), "\r", "")) {
			t.Errorf("tty=%v: the progress holds control characters: %q", tty, errOut.String())
		}
		if !strings.Contains(errOut.String(), `\x1b]52;c;ZXZpbA==\x07`) {
			t.Errorf("tty=%v: the stage is not shown escaped: %q", tty, errOut.String())
		}
	}
}

// load --list shows a bundle's manifest fields (written by whoever made the
// bundle) escaped, one row per model and image; --json stays exact.
func Test_listBundle_escapes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "b.mhb")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	man := &bundle.Manifest{
		Version:  1,
		Modelhub: "v1" + osc52,
		Models:   []bundle.Model{{Name: "m" + osc52 + "\nforged  abc", Commit: "c\x1b[2J", DockerID: "img\u202e", Files: 1, Size: 1}},
		Images:   []bundle.Image{{Ref: "img\x9b31m\nimage forged", ID: "sha256:\x1b[2J"}},
	}
	f, out, errOut := testFactory(t, "[]", false, 0)
	if err := listBundle(&LoadOptions{IO: f.IO, File: file}, man); err != nil {
		t.Fatal(err)
	}
	if s := out.String() + errOut.String(); terminalControls.MatchString(s) {
		t.Errorf("load --list printed control characters: %q", s)
	}
	if n := strings.Count(out.String(), "\n"); n != 3 || !strings.Contains(out.String(), `m\x1b]52;c;ZXZpbA==\x07\nforged  abc`) || !strings.Contains(out.String(), `image img\x9b31m\nimage forged`) {
		t.Errorf("load --list printed %d lines: %q", n, out.String())
	}
	out.Reset()
	if err := listBundle(&LoadOptions{IO: f.IO, File: file, JSON: true}, man); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"name": "m\u001b]52;c;ZXZpbA==\u0007\nforged  abc"`) {
		t.Errorf("load --list --json is not exact: %s", out.String())
	}
}
