//go:build windows

package main

import (
	"fmt"
	"io"
)

// pythonKill is for the Linux image only.
func pythonKill(code string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "demo python3: -c runs only in the Linux image")
	return 2
}
