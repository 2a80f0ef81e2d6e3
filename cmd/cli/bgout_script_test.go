package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// A background command's stdout is out of a script's reach until `wait`, so a
// script cannot tell when a background `modelhub logs -f` has attached. The
// pair below orders such scripts without sleeping:
//
//	exec tee-out logs.out modelhub logs -f $MODEL &
//	wait-output logs.out 'serving the REST API'
//
// tee-out copies the command's stdout into a file as it comes (the script's
// stdout after `wait` is unchanged) and wait-output waits, bounded, until the
// file matches.

func init() {
	scriptCmds["wait-output"] = cmdWaitOutput
}

// waitOutputLimit bounds wait-output: generous, the shared machine is slow
// under load, but a command that never prints fails the script.
const waitOutputLimit = 2 * time.Minute

// wait-output FILE REGEXP: wait (at most waitOutputLimit) until FILE, written by
// a background `exec tee-out FILE …`, matches REGEXP.
func cmdWaitOutput(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: wait-output FILE REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(waitOutputLimit)
	for {
		b, _ := os.ReadFile(path)
		if re.Match(b) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("wait-output: %s does not match %q after %s; it has:\n%s", args[0], args[1], waitOutputLimit, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// teeOutMain is the script command tee-out [-stderr] FILE PROG [ARGS...]: it
// runs PROG (from PATH) with its stdout (with -stderr: its stderr) copied to
// FILE as well, passes Ctrl-C and SIGTERM
// on to it and exits with its exit code, so `kill -INT` and `wait` work as on
// PROG itself.
func teeOutMain() int {
	args := os.Args[1:]
	stderr := len(args) > 0 && args[0] == "-stderr"
	if stderr {
		args = args[1:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tee-out [-stderr] FILE PROG [ARGS...]")
		return 2
	}
	f, err := os.Create(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tee-out:", err)
		return 2
	}
	defer f.Close()
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = io.MultiWriter(os.Stdout, f), os.Stderr
	if stderr {
		cmd.Stdout, cmd.Stderr = os.Stdout, io.MultiWriter(os.Stderr, f)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "tee-out:", err)
		return 2
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-done:
			var ee *exec.ExitError
			switch {
			case err == nil:
				return 0
			case errors.As(err, &ee) && ee.ExitCode() >= 0:
				return ee.ExitCode()
			case errors.As(err, &ee):
				fmt.Fprintln(os.Stderr, "tee-out:", err) // killed by a signal
				return 1
			default:
				fmt.Fprintln(os.Stderr, "tee-out:", err)
				return 2
			}
		}
	}
}
