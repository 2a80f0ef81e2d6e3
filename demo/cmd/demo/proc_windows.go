//go:build windows

package main

import "os/exec"

// isolate does nothing on Windows: the console delivers Ctrl-C to modelhub
// itself.
func isolate(cmd *exec.Cmd) {}

// forward does nothing on Windows, where modelhub got the console's Ctrl-C.
func forward(cmd *exec.Cmd) {}
