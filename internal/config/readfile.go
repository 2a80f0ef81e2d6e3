package config

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNotRegular: a file modelhub reads (init.json, config.json, a license,
// a schema) is a FIFO, a device, a socket or a folder. Reading a FIFO would
// wait forever for a writer.
var ErrNotRegular = errors.New("is not a regular file")

// MaxFileSize bounds what ReadRegularFile reads: model metadata is small.
const MaxFileSize = 64 << 20

// ReadRegularFile reads path, refusing anything but a regular file of at
// most MaxFileSize bytes without blocking on it (a FIFO is opened
// non-blocking where the OS allows, then refused).
func ReadRegularFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %w (it is a %s): replace it with the file itself", path, ErrNotRegular, fileKind(fi.Mode()))
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d MiB a model's metadata file may have", path, fi.Size(), MaxFileSize>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s grew past the %d MiB a model's metadata file may have", path, MaxFileSize>>20)
	}
	return data, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "folder"
	case m&os.ModeNamedPipe != 0:
		return "FIFO (named pipe)"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
