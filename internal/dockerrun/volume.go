package dockerrun

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
)

// Labels of the volumes that hold a model's files on a remote engine.
const (
	LabelVolumeModel = "ai.modelhub.model"
	LabelVolumeKey   = "ai.modelhub.volume-key"
)

// volumeMarker is written last into a filled volume: a volume without it was
// interrupted while filling and is filled again from scratch.
const volumeMarker = ".modelhub-volume-complete"

// syncMount is where a helper container (created, never started) sees the
// volume while modelhub copies files into it.
const syncMount = "/modelhub-volume"

// VolumeSync asks for a volume on the engine holding a copy of a folder of
// this machine.
type VolumeSync struct {
	Name   string // volume name, e.g. modelhub-squeezenet-1a2b3c4d5e6f
	Model  string // model name (label)
	Key    string // what the content is (a commit, a fingerprint) (label)
	Image  string // an image present on the engine; its container is created, never started
	Source string // the folder of this machine to copy
}

// SyncResult says what SyncVolume did.
type SyncResult struct {
	Created  bool  // the volume was made (or remade) and filled
	Uploaded int64 // bytes of the tar stream sent to the engine; 0 when reused
}

// SyncVolume makes sure the volume exists and holds Source: a complete
// volume is reused as it is (nothing is sent), an incomplete one is removed
// and filled again. The files travel through the Docker API (a tar stream
// into a created container that mounts the volume), so this works for any
// engine, local or remote.
func (c *Client) SyncVolume(ctx context.Context, v VolumeSync) (SyncResult, error) {
	var res SyncResult
	if v.Name == "" || v.Image == "" || v.Source == "" {
		return res, errors.New("volume sync needs a name, an image and a source folder")
	}
	helper, err := c.volumeHelper(ctx, v)
	if err != nil {
		return res, err
	}
	defer func() { c.removeQuietly(helper) }()
	if _, err := c.api.ContainerStatPath(ctx, helper, syncMount+"/"+volumeMarker); err == nil {
		return res, nil
	} else if !isNotFound(err) {
		return res, fmt.Errorf("inspect volume %s: %w", v.Name, c.wrap(err))
	}
	// Not complete: start again from an empty volume (a partial copy may hold
	// files the new one lacks).
	c.removeQuietly(helper)
	helper = ""
	if err := c.api.VolumeRemove(ctx, v.Name, true); err != nil && !isNotFound(err) {
		return res, fmt.Errorf("remove incomplete volume %s: %w", v.Name, c.wrap(err))
	}
	if helper, err = c.volumeHelper(ctx, v); err != nil {
		return res, err
	}
	res.Created = true
	pr, pw := io.Pipe()
	counter := &countingReader{r: pr}
	go func() { pw.CloseWithError(tarFolder(pw, v.Source)) }()
	err = c.api.CopyToContainer(ctx, helper, syncMount, counter, container.CopyToContainerOptions{})
	pr.CloseWithError(errors.New("copy ended"))
	res.Uploaded = counter.n
	if err != nil {
		return res, fmt.Errorf("copy %s into volume %s on %s: %w", v.Source, v.Name, c.ep.Describe(), c.wrap(err))
	}
	pr2, pw2 := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw2)
		err := tw.WriteHeader(&tar.Header{Name: volumeMarker, Mode: 0o644, Size: int64(len(v.Key)), ModTime: time.Now()})
		if err == nil {
			_, err = io.WriteString(tw, v.Key)
		}
		if err == nil {
			err = tw.Close()
		}
		pw2.CloseWithError(err)
	}()
	if err := c.api.CopyToContainer(ctx, helper, syncMount, pr2, container.CopyToContainerOptions{}); err != nil {
		return res, fmt.Errorf("finish volume %s: %w", v.Name, c.wrap(err))
	}
	return res, nil
}

// volumeHelper creates the volume if needed and a container (never started)
// of v.Image that mounts it.
func (c *Client) volumeHelper(ctx context.Context, v VolumeSync) (string, error) {
	labels := map[string]string{LabelVolumeModel: v.Model, LabelVolumeKey: v.Key}
	if _, err := c.api.VolumeInspect(ctx, v.Name); isNotFound(err) {
		if _, err := c.api.VolumeCreate(ctx, volume.CreateOptions{Name: v.Name, Labels: labels}); err != nil {
			return "", fmt.Errorf("create volume %s on %s: %w", v.Name, c.ep.Describe(), c.wrap(err))
		}
	} else if err != nil {
		return "", fmt.Errorf("inspect volume %s: %w", v.Name, c.wrap(err))
	}
	cfg := &container.Config{
		Image:      v.Image,
		Entrypoint: []string{"/modelhub-volume-helper-never-started"},
		Labels:     map[string]string{"ai.modelhub.volume-helper": v.Name},
	}
	hc := &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: v.Name, Target: syncMount}}}
	resp, err := c.api.ContainerCreate(ctx, cfg, hc, nil, nil, "")
	if err != nil {
		return "", fmt.Errorf("prepare volume %s: %w", v.Name, c.wrap(err))
	}
	return resp.ID, nil
}

// removeQuietly removes a helper container even when ctx was cancelled.
func (c *Client) removeQuietly(id string) {
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.api.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
}

// ModelVolumes lists the names of the volumes holding a model's files.
func (c *Client) ModelVolumes(ctx context.Context, model string) ([]string, error) {
	resp, err := c.api.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelVolumeModel+"="+model), filters.Arg("label", LabelVolumeKey))})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", c.wrap(err))
	}
	var names []string
	for _, v := range resp.Volumes {
		names = append(names, v.Name)
	}
	return names, nil
}

// RemoveVolume removes a volume; a missing one is not an error, one in use
// by a container is (the engine refuses).
func (c *Client) RemoveVolume(ctx context.Context, name string) error {
	if err := c.api.VolumeRemove(ctx, name, false); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove volume %s: %w", name, c.wrap(err))
	}
	return nil
}

// tarFolder writes dir as a tar stream: regular files, folders and symbolic
// links as they are (links are not followed), owned by root.
func tarFolder(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		} else if !info.Mode().IsRegular() && !info.IsDir() {
			return nil // sockets, pipes, devices: nothing a model needs
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// VolumeName is the name of the volume holding a model's files for a key
// (a commit or a fingerprint): modelhub-NAME-KEY12, in the characters Docker
// allows.
func VolumeName(model, key string) string {
	if len(key) > 12 {
		key = key[:12]
	}
	var b strings.Builder
	for _, r := range "modelhub-" + strings.ToLower(model) + "-" + key {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}
