// Package demoimage makes the build context of the demo engine image: a
// FROM scratch image holding the static demo/engine binary, also reachable as
// /bin/bash, /bin/rm, /usr/local/bin/jupyter and /usr/bin/python3 (symlinks), so the
// image answers the modelhub engine's default command and the expert and
// bash modes. It builds the binary with the go command, so it is for tests
// and the demo, never for the modelhub binary itself.
package demoimage

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// EnginePackage is the import path of the demo engine.
const EnginePackage = "github.com/modelhub-ai/modelhub/demo/engine"

// Dockerfile of the demo image.
const Dockerfile = `FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /contrib_src
EXPOSE 80 8080
CMD ["python3", "run.py"]
`

// BuildEngine compiles the demo engine for linux/goarch (static, stripped)
// and returns the binary. It must run inside the module.
func BuildEngine(ctx context.Context, goarch string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "modelhub-demo-engine-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "engine")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, EnginePackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build demo engine: %v: %s", err, msg)
	}
	return os.ReadFile(out)
}

// Context returns the tar build context of the image holding engine, plus
// the extra files (path in the image -> content), if any.
func Context(engine []byte, extra map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Unix(0, 0)
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, ModTime: now, Typeflag: tar.TypeDir})
	}
	link := func(name, target string) error {
		return tw.WriteHeader(&tar.Header{Name: name, Linkname: target, Mode: 0o777, ModTime: now, Typeflag: tar.TypeSymlink})
	}
	steps := []func() error{
		func() error { return file("Dockerfile", 0o644, []byte(Dockerfile)) },
		func() error { return dir("rootfs/") },
		func() error { return dir("rootfs/bin/") },
		func() error { return dir("rootfs/usr/") },
		func() error { return dir("rootfs/usr/bin/") },
		func() error { return dir("rootfs/usr/local/") },
		func() error { return dir("rootfs/usr/local/bin/") },
		func() error { return dir("rootfs/tmp/") },
		func() error { return file("rootfs/usr/local/bin/engine", 0o755, engine) },
		func() error { return link("rootfs/usr/local/bin/jupyter", "engine") },
		func() error { return link("rootfs/bin/bash", "/usr/local/bin/engine") },
		func() error { return link("rootfs/bin/sh", "/usr/local/bin/engine") },
		func() error { return link("rootfs/bin/rm", "/usr/local/bin/engine") },
		func() error { return link("rootfs/usr/bin/python3", "/usr/local/bin/engine") },
	}
	for name, data := range extra {
		steps = append(steps, func() error { return file("rootfs/"+strings.TrimPrefix(name, "/"), 0o644, []byte(data)) })
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
