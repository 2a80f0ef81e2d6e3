package dockerrun

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// CopyFile is a file of this machine to put into a container.
type CopyFile struct {
	Host string // path on this machine
	Name string // slash-separated path under the destination folder
}

// CopyFiles copies files into the running (or created) container id, under
// the folder dest, which must exist there (e.g. /tmp); folders in the files'
// names are created. The tar archive the API takes is written on the fly
// from the files: nothing is held in memory. It works for a remote engine
// too, where the container cannot see this machine's paths.
func (c *Client) CopyFiles(ctx context.Context, id, dest string, files []CopyFile) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, files)) }()
	err := c.api.CopyToContainer(ctx, id, dest, pr, container.CopyToContainerOptions{})
	pr.CloseWithError(io.ErrClosedPipe) // stop the writer if the engine stopped reading
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("copy into container %s: %w", id, ErrContainerNotFound)
		}
		return fmt.Errorf("copy into container %s: %w", id, c.wrap(err))
	}
	return nil
}

func writeTar(w io.Writer, files []CopyFile) error {
	tw := tar.NewWriter(w)
	now := time.Now()
	dirs := map[string]bool{}
	for _, f := range files {
		name := path.Clean(strings.TrimPrefix(f.Name, "/"))
		if name == "." || strings.HasPrefix(name, "../") || name == ".." {
			return fmt.Errorf("copy %s: bad name %q", f.Host, f.Name)
		}
		var parents []string
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if dirs[d+"/"] {
				continue
			}
			dirs[d+"/"] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}); err != nil {
				return err
			}
		}
		if err := addFile(tw, f.Host, name, now); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addFile(tw *tar.Writer, host, name string, now time.Time) error {
	fh, err := os.Open(host)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("copy %s: not a regular file", host)
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: st.Size(), ModTime: now}); err != nil {
		return err
	}
	n, err := io.Copy(tw, io.LimitReader(fh, st.Size()))
	if err != nil {
		return err
	}
	if n != st.Size() {
		return fmt.Errorf("copy %s: the file shrank while it was copied", host)
	}
	return nil
}
