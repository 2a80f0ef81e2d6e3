package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// The end-to-end tests run the real binary: testscript re-executes this test binary
// as "modelhub" through Main, as the installed command would run.
func TestMain(m *testing.M) {
	cmds := map[string]func(){
		"modelhub": func() { os.Exit(mainWith(testTimeouts())) },
		"tee-out":  func() { os.Exit(teeOutMain()) },
	}
	if _, asCommand := cmds[filepath.Base(os.Args[0])]; !asCommand {
		isolatedDir = isolateUserDirs()
		raiseScriptParallelism()
		noRaceExitSleep()
	}
	testscript.Main(dockerCleanup{m}, cmds)
}

// noRaceExitSleep: a -race binary sleeps 1 s when it exits (atexit_sleep_ms,
// so that late race reports arrive), and every modelhub this test binary runs
// is itself: the e2e tests (Test_run_earlySignal alone runs it 24 times)
// paid a second per run. Races are still reported. The scripts' setup hook
// sets the same for their environment.
func noRaceExitSleep() {
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
}

// isolateUserDirs points every folder modelhub writes to (and the index) into a
// temporary folder for this test process, so no test, and no binary a test runs
// with the process's environment, touches the user's real data, cache or the
// public index.
func isolateUserDirs() string {
	dir, err := os.MkdirTemp("", "modelhub-cli-test")
	if err != nil {
		panic(err)
	}
	// the Go build cache (the demo engine is built with `go build`) stays the
	// user's: under XDG_CACHE_HOME it would start cold and build the standard
	// library again, minutes on a loaded machine
	if c := testutil.GoCache(); c != "" {
		os.Setenv("GOCACHE", c)
	}
	for k, v := range map[string]string{
		"MODELHUB_HOME":   filepath.Join(dir, "home"),
		"MODELHUB_CACHE":  filepath.Join(dir, "cache"),
		"XDG_DATA_HOME":   filepath.Join(dir, "data"),
		"XDG_CACHE_HOME":  filepath.Join(dir, "cache-xdg"),
		"XDG_CONFIG_HOME": filepath.Join(dir, "config"),
		"MODELHUB_INDEX":  "http://127.0.0.1:9/no-index-set-in-this-test.json",
	} {
		os.Setenv(k, v)
	}
	return dir
}

// scriptParallelism is how many scripts run at once unless -parallel says
// otherwise. The scripts mostly wait (on Docker, git, servers, a model to
// answer), so Go's default, GOMAXPROCS (2 on a 2-core machine), left the
// cores idle (cmd/cli: 601 s of tests measured on the shared 2-core machine).
const scriptParallelism = 8

// raiseScriptParallelism sets -test.parallel to scriptParallelism when the
// command line does not set it (and GOMAXPROCS is lower).
func raiseScriptParallelism() {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && runtime.GOMAXPROCS(0) < scriptParallelism {
		_ = flag.Set("test.parallel", strconv.Itoa(scriptParallelism))
	}
}

// isolatedDir is removed when the tests end (see dockerCleanup.Run).
var isolatedDir string

// Other test files extend the harness from their init functions: setupHooks run for
// every script, scriptCmds are extra script commands, scriptConds extra conditions.
var (
	setupHooks  []func(env *testscript.Env) error
	scriptCmds  = map[string]func(ts *testscript.TestScript, neg bool, args []string){}
	scriptConds = map[string]func() (bool, error){}
)

func TestScripts(t *testing.T) {
	// parallel: the scripts run beside the other Docker-bound tests (the
	// run e2e tests), after the package's sequential unit tests
	t.Parallel()
	cmds := map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"serve-index": cmdServeIndex,
		"index-stats": cmdIndexStats,
		"stop-index":  cmdStopIndex,
		"exit-code":   cmdExitCode,
	}
	for k, v := range scriptCmds {
		cmds[k] = v
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("HOME", home)
			env.Setenv("USERPROFILE", home)
			env.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("MODELHUB_HOME", "")
			env.Setenv("MODELHUB_CACHE", "")
			env.Setenv("NO_COLOR", "1")
			// A script that forgets to set an index fails at once instead of
			// reaching the public index.
			env.Setenv("MODELHUB_INDEX", "http://127.0.0.1:9/no-index-set-in-this-test.json")
			for _, h := range setupHooks {
				if err := h(env); err != nil {
					return err
				}
			}
			return nil
		},
		Cmds: cmds,
		Condition: func(cond string) (bool, error) {
			if c, ok := scriptConds[cond]; ok {
				return c()
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// indexServer serves one models.json with an ETag and counts what it answers.
type indexServer struct {
	srv          *httptest.Server
	mu           sync.Mutex
	body         []byte
	full, notMod atomic.Int64
}

var indexServers sync.Map // *testscript.TestScript -> *indexServer

// serve-index FILE: serve FILE at $INDEX_URL (…/models.json) with ETag revalidation.
func cmdServeIndex(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: serve-index FILE")
	}
	body := []byte(ts.ReadFile(args[0]))
	if v, ok := indexServers.Load(ts); ok { // replace the content of a running server
		s := v.(*indexServer)
		s.mu.Lock()
		s.body = body
		s.mu.Unlock()
		return
	}
	s := &indexServer{body: body}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/models.json" {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		b := s.body
		s.mu.Unlock()
		etag := `"` + strconv.Itoa(len(b)) + "-" + strconv.Itoa(int(crc(b))) + `"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			s.notMod.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.full.Add(1)
		_, _ = w.Write(b)
	}))
	indexServers.Store(ts, s)
	ts.Defer(func() { s.srv.Close(); indexServers.Delete(ts) })
	ts.Setenv("INDEX_URL", s.srv.URL+"/models.json")
	ts.Setenv("MODELHUB_INDEX", s.srv.URL+"/models.json")
}

// index-stats: print "full=N notmodified=N" for the script's index server.
func cmdIndexStats(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := indexServers.Load(ts)
	if !ok {
		ts.Fatalf("index-stats: no serve-index in this script")
	}
	s := v.(*indexServer)
	fmt.Fprintf(ts.Stdout(), "full=%d notmodified=%d\n", s.full.Load(), s.notMod.Load())
}

// stop-index: close the script's index server, as if the network went away.
func cmdStopIndex(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := indexServers.Load(ts)
	if !ok {
		ts.Fatalf("stop-index: no serve-index in this script")
	}
	v.(*indexServer).srv.Close()
}

// exit-code N PROG ARGS...: run PROG (found on the script's PATH) and require exit code N;
// its stdout and stderr become the script's stdout and stderr.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exit-code N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exit-code: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

func crc(b []byte) uint32 {
	var h uint32 = 2166136261
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}
