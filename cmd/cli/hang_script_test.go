package cli

import (
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/fetch"
	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// Scripts about hung servers get:
//
//	silent-listener unix|tcp VAR [SCHEME]
//	                      listen on a unix socket or 127.0.0.1, accept and never
//	                      answer; set VAR to SCHEME://ADDRESS (SCHEME defaults to
//	                      the network: unix:///path, tcp://127.0.0.1:port)
//	wait-accept VAR N     wait until the listener of VAR accepted N connections
//	git-silent on|off     make the script's git server accept and never answer
//
// and env MODELHUB_TEST_TIMEOUT=DURATION, which the modelhub binary of the tests
// (never the real one) uses for its Docker ping, connect and stall timeouts.

// silentListeners holds each script's listeners: *TestScript -> map[VAR]*SilentListener.
var silentListeners sync.Map

func init() {
	scriptCmds["silent-listener"] = cmdSilentListener
	scriptCmds["wait-accept"] = cmdWaitAccept
	scriptCmds["git-silent"] = cmdGitSilent
}

// testTimeouts are the network bounds of the test binary run as modelhub:
// the defaults, or MODELHUB_TEST_TIMEOUT when the script sets it.
func testTimeouts() Timeouts {
	v := os.Getenv("MODELHUB_TEST_TIMEOUT")
	if v == "" {
		return Timeouts{}
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		panic("MODELHUB_TEST_TIMEOUT: " + err.Error())
	}
	return Timeouts{DockerPing: d, Net: fetch.Timeouts{Stall: d, Connect: d}}
}

func cmdSilentListener(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 || (args[0] != "unix" && args[0] != "tcp") {
		ts.Fatalf("usage: silent-listener unix|tcp VAR [SCHEME]")
	}
	l := testutil.NewSilentListener(tsAdapter(ts), args[0])
	scheme := args[0]
	if len(args) == 3 {
		scheme = args[2]
	}
	ts.Setenv(args[1], scheme+"://"+l.Addr)
	m, _ := silentListeners.LoadOrStore(ts, &sync.Map{})
	m.(*sync.Map).Store(args[1], l)
	ts.Defer(func() { silentListeners.Delete(ts) })
}

func cmdWaitAccept(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: wait-accept VAR N")
	}
	var l *testutil.SilentListener
	if m, ok := silentListeners.Load(ts); ok {
		v, _ := m.(*sync.Map).Load(args[0])
		l, _ = v.(*testutil.SilentListener)
	}
	if l == nil {
		ts.Fatalf("wait-accept: no silent-listener set %s", args[0])
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	deadline := time.Now().Add(30 * time.Second)
	for l.Accepted() < n {
		if time.Now().After(deadline) {
			ts.Fatalf("wait-accept: %d connection(s) in 30s, want %d", l.Accepted(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func cmdGitSilent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || (args[0] != "on" && args[0] != "off") {
		ts.Fatalf("usage: git-silent on|off")
	}
	s := servers(ts)
	if s.git == nil {
		ts.Fatalf("git http-backend not available: guard the script with [!git] skip")
	}
	s.git.SetSilent(args[0] == "on")
}
