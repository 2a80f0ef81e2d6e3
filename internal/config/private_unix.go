//go:build unix

package config

import (
	"fmt"
	"os"
)

// privateFile refuses a file holding credentials that others may read.
func privateFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("settings %s holds a PACS password or token but others may read it (mode %04o): run `chmod 600 %s`", path, perm, path)
	}
	return nil
}
