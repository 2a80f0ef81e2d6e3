//go:build !windows

package cli

// prepareConsoleOutput readies the terminal on fd for a container's TTY
// output; Unix terminals need nothing.
func prepareConsoleOutput(fd int) (restore func()) { return func() {} }
