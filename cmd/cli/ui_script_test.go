package cli

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["free-port"] = cmdFreePort
	scriptCmds["http-wait"] = cmdHTTPWait
	scriptCmds["http-down"] = cmdHTTPDown
}

// http-down URL: nothing answers at URL.
func cmdHTTPDown(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: http-down URL")
	}
	c := &http.Client{Timeout: 5 * time.Second}
	if resp, err := c.Get(args[0]); err == nil {
		resp.Body.Close()
		ts.Fatalf("%s still answers (%s)", args[0], resp.Status)
	}
}

// free-port VAR: set $VAR to a port free on 127.0.0.1 now.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: free-port VAR")
	}
	ts.Setenv(args[0], strconv.Itoa(freePort(ts)))
}

// http-wait URL: wait (at most 30 s) until GET URL answers at all.
func cmdHTTPWait(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: http-wait URL")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(args[0])
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not answer within 30s: %v", args[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
