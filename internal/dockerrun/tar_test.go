package dockerrun_test

import (
	"archive/tar"
	"io"
	"testing"
)

func writeTar(t *testing.T, w io.Writer, dockerfile string) {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile))}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(tw, dockerfile)
	tw.Close()
}
