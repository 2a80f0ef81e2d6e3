package dockerrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
)

// ContainerSpec describes any container (not a model's: see Spec), for
// callers that run other images the way a container runtime would, e.g. the
// test that runs a generated Kubernetes pod.
type ContainerSpec struct {
	Name  string
	Image string
	// Entrypoint replaces the image's ENTRYPOINT when not nil (its CMD is
	// then dropped too, as with Kubernetes' command); Cmd replaces CMD when not nil.
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=value
	User       string   // uid[:gid]; "" keeps the image's USER
	GroupAdd   []string // supplementary groups
	Labels     map[string]string
	Mounts     []Mount
	// HostNetwork runs the container in the host's network namespace.
	HostNetwork bool
	// Ports are published on HostIP (ignored with HostNetwork).
	HostIP string
	Ports  []Port
	// ReadOnlyRootfs, NoNewPrivileges and CapDrop harden the container.
	ReadOnlyRootfs  bool
	NoNewPrivileges bool
	CapDrop         []string
}

// Mount is a named volume (Volume) or a folder of the daemon's host (HostPath)
// mounted at Target.
type Mount struct {
	Volume   string
	HostPath string
	Target   string
	ReadOnly bool
}

func genericConfig(s ContainerSpec) (*container.Config, *container.HostConfig, error) {
	if s.Name == "" || s.Image == "" {
		return nil, nil, errors.New("container spec needs a name and an image")
	}
	cfg := &container.Config{Image: s.Image, Entrypoint: s.Entrypoint, Cmd: s.Cmd, Env: s.Env, User: s.User, Labels: s.Labels, ExposedPorts: nat.PortSet{}}
	hc := &container.HostConfig{GroupAdd: s.GroupAdd, ReadonlyRootfs: s.ReadOnlyRootfs, CapDrop: s.CapDrop, PortBindings: nat.PortMap{}}
	if s.NoNewPrivileges {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
	}
	if s.HostNetwork {
		hc.NetworkMode = "host"
	} else {
		for _, p := range s.Ports {
			port := nat.Port(strconv.Itoa(p.Container) + "/tcp")
			cfg.ExposedPorts[port] = struct{}{}
			hc.PortBindings[port] = []nat.PortBinding{{HostIP: s.HostIP, HostPort: strconv.Itoa(p.Host)}}
		}
	}
	for _, m := range s.Mounts {
		switch {
		case m.Target == "" || (m.Volume == "") == (m.HostPath == ""):
			return nil, nil, fmt.Errorf("mount %+v: want a target and either a volume or a host path", m)
		case m.Volume != "":
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Volume, Target: m.Target, ReadOnly: m.ReadOnly})
		default:
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.HostPath, Target: m.Target, ReadOnly: m.ReadOnly})
		}
	}
	return cfg, hc, nil
}

// CreateContainer creates (does not start) the container and returns its ID.
func (c *Client) CreateContainer(ctx context.Context, s ContainerSpec) (string, error) {
	cfg, hc, err := genericConfig(s)
	if err != nil {
		return "", err
	}
	resp, err := c.api.ContainerCreate(ctx, cfg, hc, nil, nil, s.Name)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", s.Name, c.wrap(err))
	}
	return resp.ID, nil
}

// Volume is a named volume; Mountpoint is its folder on the daemon's host.
type Volume struct {
	Name       string
	Mountpoint string
}

// VolumeCreate creates a named local volume.
func (c *Client) VolumeCreate(ctx context.Context, name string, labels map[string]string) (Volume, error) {
	v, err := c.api.VolumeCreate(ctx, volume.CreateOptions{Name: name, Driver: "local", Labels: labels})
	if err != nil {
		return Volume{}, fmt.Errorf("create volume %s: %w", name, c.wrap(err))
	}
	return Volume{Name: v.Name, Mountpoint: v.Mountpoint}, nil
}

// VolumeRemove removes a volume; a missing one is not an error.
func (c *Client) VolumeRemove(ctx context.Context, name string) error {
	if err := c.api.VolumeRemove(ctx, name, true); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove volume %s: %w", name, c.wrap(err))
	}
	return nil
}

// Exec runs cmd in the running container id (as its user) until it ends or
// ctx ends, and returns its exit code and its output (stdout and stderr).
func (c *Client) Exec(ctx context.Context, id string, cmd []string) (int, string, error) {
	resp, err := c.api.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return -1, "", fmt.Errorf("exec in %s: %w", id, c.wrap(err))
	}
	att, err := c.api.ContainerExecAttach(ctx, resp.ID, container.ExecAttachOptions{})
	if err != nil {
		return -1, "", fmt.Errorf("exec in %s: %w", id, c.wrap(err))
	}
	defer att.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&out, &out, att.Reader)
		done <- err
	}()
	select {
	case <-ctx.Done():
		att.Close()
		<-done
		return -1, out.String(), ctx.Err()
	case <-done:
	}
	insp, err := c.api.ContainerExecInspect(ctx, resp.ID)
	if err != nil {
		return -1, out.String(), fmt.Errorf("exec in %s: %w", id, c.wrap(err))
	}
	return insp.ExitCode, out.String(), nil
}
