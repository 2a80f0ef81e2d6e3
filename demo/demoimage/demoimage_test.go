package demoimage

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestContext(t *testing.T) {
	data, err := Context([]byte("ELF"), map[string]string{"/tmp/marker": "x"})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got[h.Name] = string(body) + h.Linkname
	}
	if !strings.Contains(got["Dockerfile"], "FROM scratch") {
		t.Errorf("Dockerfile = %q", got["Dockerfile"])
	}
	for name, want := range map[string]string{
		"rootfs/usr/local/bin/engine":  "ELF",
		"rootfs/bin/bash":              "/usr/local/bin/engine",
		"rootfs/usr/local/bin/jupyter": "engine",
		"rootfs/usr/bin/python3":       "/usr/local/bin/engine",
		"rootfs/tmp/marker":            "x",
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
}
