package launch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"path/filepath"
	"strconv"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/humanize"
	"github.com/modelhub-ai/modelhub/internal/sshfwd"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// A remote engine (ssh://, or tcp:// to another machine) cannot see this
// machine's folders, and its 127.0.0.1 is not ours:
//   - the model's contrib_src is copied into a volume on the engine, named
//     after the model and its commit, filled once and reused;
//   - the container's ports are published on the server (the engine picks
//     free ones) and, for an ssh engine, forwarded from the ports plan picked
//     on this machine's 127.0.0.1, so the URLs printed answer here;
//   - for a tcp engine nothing can be forwarded: the URLs name the server,
//     and a note says how to reach ports bound to its loopback.

// ErrRemoteMount: a folder of this machine was asked to be mounted into a
// container on another machine.
var ErrRemoteMount = errors.New("a remote Docker engine cannot mount this machine's folders")

// checkRemote refuses what cannot work on a remote engine, before anything
// is downloaded.
func checkRemote(ep dockerrun.Endpoint, opts Options) error {
	if !ep.Remote() {
		return nil
	}
	for _, m := range []struct{ flag, dir string }{{"--mount-data", opts.DataDir}, {"--mount-framework", opts.FrameworkDir}} {
		if m.dir != "" {
			return fmt.Errorf("%s %s: %w: %s runs on another machine and would mount an empty folder; copy the folder to that machine and run there, use `modelhub predict` (it uploads input files), or use a local engine (--context default)", m.flag, m.dir, ErrRemoteMount, ep.Describe())
		}
	}
	return nil
}

// remote is what a Handle keeps of a remote engine.
type remote struct {
	ep    dockerrun.Endpoint
	local map[int]int // container port -> port on this machine (ssh)
	fwd   *sshfwd.Forwarder
}

// planRemote turns a local spec into one for a remote engine: the model's
// files in a volume (copied now, unless a complete one is there), the ports
// the engine's pick on the server.
func (h *Handle) planRemote(ctx context.Context, d dockerrun.API, ep dockerrun.Endpoint, m *store.Model, spec *dockerrun.Spec, ev Events) error {
	key, err := volumeKey(m)
	if err != nil {
		return err
	}
	name := dockerrun.VolumeName(m.Name, key)
	res, err := d.SyncVolume(ctx, dockerrun.VolumeSync{Name: name, Model: m.Name, Key: key, Image: spec.Image, Source: spec.ContribSrc})
	if err != nil {
		return err
	}
	h.Volume, h.Uploaded = name, res.Uploaded
	if res.Created {
		ev.note("copied %s of %s's files to volume %s on %s", humanize.Bytes(res.Uploaded), m.Name, name, ep.Describe())
		h.pruneVolumes(ctx, d, m.Name, name)
	} else {
		ev.note("using volume %s on %s (nothing to copy)", name, ep.Describe())
	}
	spec.ContribSrc, spec.ContribVolume = "", name
	h.remote = &remote{ep: ep, local: map[int]int{}}
	for i, p := range spec.Ports {
		h.remote.local[p.Container] = p.Host
		spec.Ports[i].Host = 0
	}
	if ep.Kind() == dockerrun.EngineSSH {
		// Only the forward is reached from here: keep the server's side on
		// its loopback whatever --host says of this machine.
		spec.HostIP = DefaultHost
	}
	return nil
}

// pruneVolumes removes the model's other volumes (older commits) that no
// container uses; one in use is kept (the engine refuses).
func (h *Handle) pruneVolumes(ctx context.Context, d dockerrun.API, model, keep string) {
	names, err := d.ModelVolumes(ctx, model)
	if err != nil {
		return
	}
	for _, n := range names {
		if n != keep {
			_ = d.RemoveVolume(ctx, n)
		}
	}
}

// volumeKey names the content of a model's files: the commit of a
// downloaded model, else (a local folder) a fingerprint of its contrib_src
// (paths, sizes, modification times), so an edited folder gets a new volume.
func volumeKey(m *store.Model) (string, error) {
	if m.Manifest != nil && m.Manifest.Commit != "" {
		return m.Manifest.Commit, nil
	}
	h := sha256.New()
	root := m.ContribSrc()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%v\n", filepath.ToSlash(rel), info.Size(), info.ModTime().UnixNano(), info.Mode())
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", root, err)
	}
	return "local" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// connectRemote, once the container started on a remote engine, learns the
// ports the engine picked and makes the URLs answer: through ssh forwards
// from this machine's ports, or (tcp) by naming the server.
func (h *Handle) connectRemote(ctx context.Context, ev Events) error {
	r := h.remote
	ct, err := h.d.Inspect(ctx, h.ID)
	if err != nil {
		return err
	}
	server := map[int]int{}
	for _, p := range ct.Ports {
		if p.Host == 0 {
			return fmt.Errorf("%s did not publish port %d of %s; see `modelhub logs %s`", r.ep.Describe(), p.Container, h.Container, h.Model)
		}
		server[p.Container] = p.Host
	}
	if r.ep.Kind() == dockerrun.EngineSSH {
		var ports []sshfwd.Port
		var order []int
		for c, local := range r.local {
			if _, ok := server[c]; ok {
				ports = append(ports, sshfwd.Port{Local: local, Remote: server[c]})
				order = append(order, c)
			}
		}
		fwd, err := sshfwd.Start(r.ep.Host, ports)
		if err != nil {
			return err
		}
		r.fwd = fwd
		local := map[int]int{}
		for i, p := range fwd.Ports() {
			local[order[i]] = p.Local
		}
		h.rewrite(func(c int) string { return "http://" + net.JoinHostPort(DefaultHost, strconv.Itoa(local[c])) }, local)
		ev.note("%s runs on %s; its ports are forwarded to this machine over ssh", h.Model, r.ep.Describe())
		return nil
	}
	// tcp: the server's ports, reached by its name when published on its
	// network, else only from the server itself.
	u, _ := url.Parse(r.ep.Host)
	host := u.Hostname()
	ip := net.ParseIP(ct.HostIP)
	if ip != nil && ip.IsLoopback() {
		p := server[80]
		ev.warn("%s runs on %s, whose ports are on that machine's loopback (127.0.0.1:%d there): reach them with `ssh -L %d:127.0.0.1:%d %s`, or use an ssh:// engine (DOCKER_HOST=ssh://user@%s) and modelhub forwards them for you", h.Model, r.ep.Describe(), p, r.local[80], p, host, host)
		h.unreachable = true
	}
	h.rewrite(func(c int) string { return "http://" + net.JoinHostPort(host, strconv.Itoa(server[c])) }, server)
	return nil
}

// rewrite points the URLs at new bases: base(containerPort) for the ports
// in ports (80: the REST API, 8080: the notebook), keeping paths and tokens.
func (h *Handle) rewrite(base func(containerPort int) string, ports map[int]int) {
	if _, ok := ports[80]; ok {
		b := base(80)
		if h.readyURL != "" && h.Mode == dockerrun.ModeAPI {
			h.readyURL = rebase(h.readyURL, b)
		}
		h.APIURL, h.APIPort = b, ports[80]
	}
	if _, ok := ports[8080]; ok {
		b := base(8080)
		if h.readyURL != "" && h.Mode == dockerrun.ModeExpert {
			h.readyURL = rebase(h.readyURL, b)
		}
		h.JupyterURL, h.NotebookURL = b, rebase(h.NotebookURL, b)
	}
}

// rebase is u with the scheme and host of base.
func rebase(u, base string) string {
	pu, err := url.Parse(u)
	pb, err2 := url.Parse(base)
	if u == "" || err != nil || err2 != nil {
		return u
	}
	pu.Scheme, pu.Host = pb.Scheme, pb.Host
	return pu.String()
}

// ErrLocalEngine: Forward was asked for a model whose engine is on this
// machine (its URLs answer already).
var ErrLocalEngine = errors.New("the model runs on this machine's Docker engine")

// Forward makes a running model of an ssh engine (one started with
// `run -d`, say) answer on this machine: its published ports are forwarded
// from apiPort and jupyterPort of 127.0.0.1 (0: any free port) until the
// Handle's Remove or Close. Exited is closed when the container stops.
func Forward(ctx context.Context, d dockerrun.API, name string, apiPort, jupyterPort int) (*Handle, error) {
	ep := d.Endpoint()
	h, err := FindRunning(ctx, d, name)
	if err != nil {
		return nil, err
	}
	switch ep.Kind() {
	case dockerrun.EngineLocal:
		return h, fmt.Errorf("%s: %w (%s); its URLs answer as they are", h.Model, ErrLocalEngine, ep.Describe())
	case dockerrun.EngineTCP:
		u, _ := url.Parse(ep.Host)
		return nil, fmt.Errorf("%s runs on %s, reached over tcp: modelhub forwards ports only through ssh; use `ssh -L PORT:127.0.0.1:PORT %s`, or DOCKER_HOST=ssh://user@%s", h.Model, ep.Describe(), u.Hostname(), u.Hostname())
	}
	h.remote = &remote{ep: ep, local: map[int]int{80: apiPort}}
	if h.JupyterURL != "" {
		h.remote.local[8080] = jupyterPort
	}
	if err := h.connectRemote(ctx, Events{}); err != nil {
		return nil, err
	}
	h.watch(ctx)
	return h, nil
}

// Close ends what the Handle holds on this machine (ssh forwards) and leaves
// the container running.
func (h *Handle) Close() {
	if h.stopWatch != nil {
		h.stopWatch()
	}
	h.closeRemote()
}

// closeRemote ends the forwards, if any.
func (h *Handle) closeRemote() {
	if h.remote != nil && h.remote.fwd != nil {
		h.remote.fwd.Close()
	}
}

// Remote reports whether the model runs on another machine, and which.
func (h *Handle) Remote() (dockerrun.Endpoint, bool) {
	if h.remote == nil {
		return dockerrun.Endpoint{}, false
	}
	return h.remote.ep, true
}

// ServerPorts are the ports of the container published on the engine's
// machine (container port -> server port); nil for a local engine.
func (h *Handle) ServerPorts(ctx context.Context) (map[int]int, error) {
	if h.remote == nil {
		return nil, nil
	}
	ct, err := h.d.Inspect(ctx, h.ID)
	if err != nil {
		return nil, err
	}
	out := map[int]int{}
	for _, p := range ct.Ports {
		out[p.Container] = p.Host
	}
	return out, nil
}
