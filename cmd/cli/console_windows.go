//go:build windows

package cli

import "golang.org/x/sys/windows"

// prepareConsoleOutput turns on VT escape processing of the Windows console
// on fd, so the container shell's colours and cursor moves render, and
// returns what restores the previous mode.
func prepareConsoleOutput(fd int) (restore func()) {
	h := windows.Handle(fd)
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return func() {}
	}
	if err := windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING|windows.DISABLE_NEWLINE_AUTO_RETURN); err != nil {
		return func() {}
	}
	return func() { _ = windows.SetConsoleMode(h, mode) }
}
