// Command engine plays the modelhub engine inside the demo image.
//
// It is a multi-call binary chosen by the name it runs under (argv[0]) or,
// when started as "engine", by its first argument:
//
//	engine | python3 run.py                 the REST API on :80 for the model at /contrib_src
//	jupyter notebook --port=P --NotebookApp.token=T ...   a token-protected notebook stand-in
//	bash [-c CMD]                           a tiny line shell for bash-mode tests
//	rm [-rf] PATH...                        removes files (modelhub predict cleans up cases)
//	python3 -c 'import os, signal; os.kill(PID, signal.SIGNAME)'   sends a signal (the stop
//	                                        hook `modelhub deploy` gives the model container)
//
// The model folder may hold contrib_src/demo_engine.json to make the engine
// misbehave on purpose (see behaviour), so tests can cover crashes and timeouts.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// behaviour is read from contrib_src/demo_engine.json (all fields optional).
type behaviour struct {
	// ExitCode, when non-zero, makes the API server print CrashMessage and exit
	// with this code before it ever listens.
	ExitCode     int    `json:"exit_code"`
	CrashMessage string `json:"crash_message"`
	// ReadyDelay (a Go duration) delays listening, e.g. "1h" for "never ready".
	ReadyDelay string `json:"ready_delay"`
	// IgnoreSIGTERM makes the engine ignore SIGTERM, so only SIGKILL stops it
	// (a model that does not shut down in its grace period).
	IgnoreSIGTERM bool `json:"ignore_sigterm"`
	// PredictDelay (a Go duration) makes every prediction take this long
	// (per-input timeouts, interrupting a batch).
	PredictDelay string `json:"predict_delay"`
	// DeclaredOutputs makes predictions return every output config.json
	// declares (masks saved under /api/output/), not one label_list.
	DeclaredOutputs bool `json:"declared_outputs"`
}

func loadBehaviour(root string) (behaviour, error) {
	var b behaviour
	data, err := os.ReadFile(filepath.Join(root, "demo_engine.json"))
	if os.IsNotExist(err) {
		return b, nil
	}
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, fmt.Errorf("demo_engine.json: %w", err)
	}
	return b, nil
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name := filepath.Base(args[0])
	rest := args[1:]
	if name != "bash" && name != "sh" && name != "jupyter" && name != "rm" && len(rest) > 0 {
		switch rest[0] {
		case "bash", "jupyter", "rm":
			name, rest = rest[0], rest[1:]
		}
	}
	if (name == "python3" || name == "python") && len(rest) == 2 && rest[0] == "-c" {
		return pythonKill(rest[1], stderr)
	}
	switch name {
	case "rm":
		return remove(rest, stderr)
	case "bash", "sh":
		return shell(rest, stdin, stdout, stderr)
	case "jupyter":
		return notebook(rest, stderr)
	}
	return serveAPI(env("DEMO_ENGINE_ROOT", "/contrib_src"), env("DEMO_ENGINE_ADDR", ":80"), stdout, stderr)
}

func serveAPI(root, addr string, stdout, stderr io.Writer) int {
	b, err := loadBehaviour(root)
	if err != nil {
		fmt.Fprintln(stderr, "engine:", err)
		return 1
	}
	fmt.Fprintf(stdout, "demo engine: loading model from %s\n", root)
	if b.ExitCode != 0 {
		msg := b.CrashMessage
		if msg == "" {
			msg = "model failed to load"
		}
		fmt.Fprintln(stderr, "engine: fatal:", msg)
		return b.ExitCode
	}
	if b.IgnoreSIGTERM {
		signal.Ignore(syscall.SIGTERM)
		fmt.Fprintln(stdout, "demo engine: ignoring SIGTERM")
	}
	if b.ReadyDelay != "" {
		d, err := time.ParseDuration(b.ReadyDelay)
		if err != nil {
			fmt.Fprintln(stderr, "engine: ready_delay:", err)
			return 1
		}
		fmt.Fprintf(stdout, "demo engine: warming up for %s\n", d)
		time.Sleep(d)
	}
	if st, err := os.Stat(filepath.Join(root, "model", "weights.bin")); err == nil {
		fmt.Fprintf(stdout, "demo engine: loaded weights.bin (%d bytes)\n", st.Size())
	}
	e := &engine{root: root, log: stdout, outDir: env("DEMO_ENGINE_OUTPUT", "/output"), declaredOutputs: b.DeclaredOutputs}
	if b.PredictDelay != "" {
		if e.predictDelay, err = time.ParseDuration(b.PredictDelay); err != nil {
			fmt.Fprintln(stderr, "engine: predict_delay:", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "demo engine: serving the REST API on %s\n", addr)
	if err := listenAndServe(addr, e.handler()); err != nil {
		fmt.Fprintln(stderr, "engine:", err)
		return 1
	}
	return 0
}

// splitArgs parses "--key=value" / "--key value" flags loosely, as jupyter does.
func splitArgs(args []string) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			continue
		}
		k, v, ok := strings.Cut(a[2:], "=")
		if !ok && i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			v = args[i+1]
			i++
		}
		m[k] = v
	}
	return m
}

// remove is a minimal rm: every argument not starting with "-" is removed
// with what it holds (rm -rf).
func remove(args []string, stderr io.Writer) int {
	status := 0
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if err := os.RemoveAll(a); err != nil {
			fmt.Fprintln(stderr, "rm:", err)
			status = 1
		}
	}
	return status
}
