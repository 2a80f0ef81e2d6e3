//go:build unix

package config

import "syscall"

// openNonBlock: opening a FIFO for reading returns at once instead of
// waiting for a writer.
const openNonBlock = syscall.O_NONBLOCK
