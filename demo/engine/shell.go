package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// shell is a tiny line shell: echo, pwd, size, true, false, exit [N].
// It prints a prompt only when stdin is a terminal, like bash.
func shell(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) >= 2 && args[0] == "-c" {
		status, _ := execLine(args[1], 0, stdin, stdout, stderr)
		return status
	}
	tty := false
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	sc := bufio.NewScanner(stdin)
	status := 0
	for {
		if tty {
			fmt.Fprint(stdout, "demo$ ")
		}
		if !sc.Scan() {
			if tty {
				fmt.Fprintln(stdout, "exit")
			}
			return status
		}
		var exit bool
		status, exit = execLine(sc.Text(), status, stdin, stdout, stderr)
		if exit {
			return status
		}
	}
}

// execLine runs one command line; last is the previous status (for `exit`).
func execLine(line string, last int, stdin io.Reader, stdout, stderr io.Writer) (status int, exit bool) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return last, false
	}
	switch fields[0] {
	case "echo":
		fmt.Fprintln(stdout, strings.Join(fields[1:], " "))
	case "pwd":
		wd, _ := os.Getwd()
		fmt.Fprintln(stdout, wd)
	case "size":
		f, ok := stdin.(*os.File)
		if !ok {
			fmt.Fprintln(stderr, "size: not a terminal")
			return 1, false
		}
		w, h, err := term.GetSize(int(f.Fd()))
		if err != nil {
			fmt.Fprintln(stderr, "size: not a terminal")
			return 1, false
		}
		fmt.Fprintf(stdout, "%d %d\n", h, w)
	case "true":
	case "false":
		return 1, false
	case "exit":
		if len(fields) == 1 {
			return last, true
		}
		n, err := strconv.Atoi(fields[1])
		if err != nil {
			fmt.Fprintf(stderr, "bash: exit: %s: numeric argument required\n", fields[1])
			return 2, true
		}
		return n & 0xff, true
	default:
		fmt.Fprintf(stderr, "bash: %s: command not found\n", fields[0])
		return 127, false
	}
	return 0, false
}
