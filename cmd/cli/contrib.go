package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/modelhub-ai/modelhub/internal/modeltest"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/termsafe"
)

// Helpers shared by the contributor commands validate and test.

// errNoModelFolder is returned when MODEL is neither a folder nor a downloaded model.
var errNoModelFolder = errors.New("no model folder")

// modelFolder resolves MODEL for validate and test: an existing folder (a path, used
// in place even without init/init.json, so that validate can say what is missing), else
// a completely downloaded model of that name (ignoring case). It never downloads and
// never reads the index. It returns the folder and the model's name: the folder's base
// name, or the downloaded model's index name.
func modelFolder(ctx context.Context, newStore func() (*store.Store, error), model string) (dir, name string, err error) {
	if fi, err := os.Stat(model); err == nil {
		if !fi.IsDir() {
			return "", "", fmt.Errorf("%s is a file: pass the model's folder (the one holding init/ and contrib_src/)", model)
		}
		abs, err := filepath.Abs(model)
		if err != nil {
			return "", "", err
		}
		return abs, filepath.Base(abs), nil
	}
	if !store.IsPath(model) {
		if s, err := newStore(); err == nil {
			st := &store.Store{Home: s.Home} // no index: only downloaded models
			if m, err := st.Resolve(ctx, model); err == nil && m.Complete() {
				return m.Dir, m.Name, nil
			}
		}
	}
	return "", "", fmt.Errorf("%w %s: pass the path of a model folder, or download the model first with `modelhub pull %s`", errNoModelFolder, model, model)
}

// printCheck prints one report line: "STATUS  NAME (FILE): DETAIL", the status in
// colour when color is set.
func printCheck(w io.Writer, c modeltest.Check, color bool) {
	status := fmt.Sprintf("%-4s", c.Status)
	if code, ok := statusColor[c.Status]; ok && color {
		status = "\x1b[" + code + "m" + status + "\x1b[0m"
	}
	line := status + "  " + termsafe.Line(c.Name)
	if c.File != "" {
		line += " (" + termsafe.Line(c.File) + ")"
	}
	if c.Detail != "" {
		line += ": " + termsafe.Line(c.Detail) // one line per check
	}
	fprintfRaw(w, "%s\n", line) // the parts are safe; status may carry our colour
}

var statusColor = map[modeltest.Status]string{modeltest.Pass: "32", modeltest.Warn: "33", modeltest.Fail: "31", modeltest.Skip: "2"}

// checkPrinter prints checks as they finish on stdout, in colour on a terminal
// (unless NO_COLOR).
func checkPrinter(ios *IOStreams) func(modeltest.Check) {
	color := ios.OutTTY && ios.Color
	return func(c modeltest.Check) { printCheck(ios.Out, c, color) }
}

// finishReport prints the report's summary (or the whole report as JSON) on stdout and
// turns failures into exit status 1 with a hint on stderr.
func finishReport(ios *IOStreams, rep *modeltest.Report, asJSON bool, hint string) error {
	if asJSON {
		if err := writeJSON(ios.Out, rep); err != nil {
			return err
		}
	} else {
		fprintf(ios.Out, "%s\n", rep.Summary())
	}
	if rep.Passed() {
		return nil
	}
	n := rep.Count(modeltest.Fail)
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d check%s failed: %s", n, pluralS(n), hint)}
}
