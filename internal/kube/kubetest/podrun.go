// Package kubetest runs a Kubernetes pod spec on the local Docker engine the
// way the kubelet would, for tests of the objects `modelhub deploy` writes
// when no cluster is available. It is for tests only.
//
// What it does like the kubelet: pod volumes (emptyDir, and
// persistentVolumeClaim as a volume that outlives the pod) become Docker
// volumes; init containers run one after the other, each to completion, and a
// failing one fails the pod; then the containers start, with the pod's
// command/args, env, user and groups (runAsUser/runAsGroup, fsGroup), volume
// mounts (a subPath is bound from the volume's folder on the daemon's host,
// as the kubelet binds it from the node), read-only root filesystem,
// no-new-privileges and dropped capabilities; probes are run against the
// containers' ports; Stop runs the preStop exec hook, then SIGTERM, then
// SIGKILL at the end of the grace period.
//
// Where it differs, and why: init containers use the host's network so they
// reach the test's servers on 127.0.0.1 (in a cluster they reach the index
// through the pod network); the other containers get their own network with
// each containerPort published on a free 127.0.0.1 port (in a pod all
// containers share one network namespace). The kubelet creates an emptyDir
// world-writable; a fresh Docker volume instead takes the owner of the folder
// the first container's image has at the mount point (the modelhub image's
// /models belongs to its non-root user), which gives that user the same
// access. Resources, GPUs, postStart and non-exec hooks, restarts and $(VAR) expansion are
// not emulated: a spec that needs expansion or an unsupported volume is an
// error, never silently ignored.
package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// LabelPod is put on every container and volume of a pod run here.
const LabelPod = "ai.modelhub.test-pod"

// Runner runs pods on one engine.
type Runner struct {
	Docker *dockerrun.Client
	// Prefix names the pod's containers and volumes (unique per test).
	Prefix string
	// Claims are the volumes standing in for PersistentVolumeClaims, by
	// claim name; they outlive a pod, so a second pod finds what the first
	// wrote. RemoveClaims removes them.
	Claims map[string]dockerrun.Volume
	// InitTimeout bounds each init container (0: 5 minutes).
	InitTimeout time.Duration
}

// Pod is a started pod.
type Pod struct {
	r       *Runner
	spec    corev1.PodSpec
	volumes map[string]dockerrun.Volume
	owned   []string // emptyDir volumes, removed with the pod
	ids     map[string]string
	order   []string
	// Ports maps container name -> containerPort -> host port on 127.0.0.1.
	Ports map[string]map[int]int
	// InitLogs holds each init container's output, by name.
	InitLogs map[string]string
}

// Start creates the pod's volumes, runs its init containers to completion
// in order and starts its containers. On error, what was created is
// removed, and the error carries the failing container's output.
func (r *Runner) Start(ctx context.Context, spec corev1.PodSpec) (p *Pod, err error) {
	p = &Pod{r: r, spec: spec, volumes: map[string]dockerrun.Volume{}, ids: map[string]string{},
		Ports: map[string]map[int]int{}, InitLogs: map[string]string{}}
	defer func() {
		if err != nil {
			p.Remove()
			p = nil
		}
	}()
	if r.Claims == nil {
		r.Claims = map[string]dockerrun.Volume{}
	}
	labels := map[string]string{LabelPod: r.Prefix}
	for _, v := range spec.Volumes {
		switch {
		case v.EmptyDir != nil:
			vol, err := r.Docker.VolumeCreate(ctx, r.Prefix+"-"+v.Name, labels)
			if err != nil {
				return p, err
			}
			p.volumes[v.Name] = vol
			p.owned = append(p.owned, vol.Name)
		case v.PersistentVolumeClaim != nil:
			claim := v.PersistentVolumeClaim.ClaimName
			vol, ok := r.Claims[claim]
			if !ok {
				if vol, err = r.Docker.VolumeCreate(ctx, r.Prefix+"-claim-"+claim, labels); err != nil {
					return p, err
				}
				r.Claims[claim] = vol
			}
			p.volumes[v.Name] = vol
		default:
			return p, fmt.Errorf("volume %s: only emptyDir and persistentVolumeClaim volumes are supported", v.Name)
		}
	}
	timeout := r.InitTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	for _, c := range spec.InitContainers {
		if err := p.runInit(ctx, c, timeout); err != nil {
			return p, err
		}
	}
	for _, c := range spec.Containers {
		cs, err := p.containerSpec(c, false)
		if err != nil {
			return p, err
		}
		id, err := r.Docker.CreateContainer(ctx, cs)
		if err != nil {
			return p, err
		}
		p.track(c.Name, id)
		if err := r.Docker.Start(ctx, id); err != nil {
			return p, fmt.Errorf("container %s: %w", c.Name, err)
		}
	}
	return p, nil
}

func (p *Pod) track(name, id string) {
	p.ids[name] = id
	p.order = append(p.order, name)
}

func (p *Pod) runInit(ctx context.Context, c corev1.Container, timeout time.Duration) error {
	cs, err := p.containerSpec(c, true)
	if err != nil {
		return err
	}
	id, err := p.r.Docker.CreateContainer(ctx, cs)
	if err != nil {
		return err
	}
	p.track(c.Name, id)
	if err := p.r.Docker.Start(ctx, id); err != nil {
		return fmt.Errorf("init container %s: %w", c.Name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, err := p.r.Docker.Wait(wctx, id)
	p.InitLogs[c.Name] = p.Logs(c.Name)
	if err != nil {
		return fmt.Errorf("init container %s did not finish within %s: %w\n%s", c.Name, timeout, err, p.InitLogs[c.Name])
	}
	if code != 0 {
		return fmt.Errorf("init container %s exited with %d:\n%s", c.Name, code, p.InitLogs[c.Name])
	}
	return nil
}

// containerSpec translates a container of the pod into a Docker container:
// its process (command, args, env), its user and groups, its volume mounts
// and, for a container that is not an init container, its published ports.
func (p *Pod) containerSpec(c corev1.Container, init bool) (dockerrun.ContainerSpec, error) {
	cs := dockerrun.ContainerSpec{
		Name: p.r.Prefix + "-" + c.Name, Image: c.Image, HostNetwork: init, HostIP: "127.0.0.1",
		Labels: map[string]string{LabelPod: p.r.Prefix},
	}
	if err := setProcess(&cs, c); err != nil {
		return dockerrun.ContainerSpec{}, err
	}
	if err := p.setSecurity(&cs, c); err != nil {
		return dockerrun.ContainerSpec{}, err
	}
	if err := p.setMounts(&cs, c); err != nil {
		return dockerrun.ContainerSpec{}, err
	}
	if !init {
		if err := p.publishPorts(&cs, c); err != nil {
			return dockerrun.ContainerSpec{}, err
		}
	}
	return cs, nil
}

// specErrorf is the error for what a container's spec asks that this runner
// does not emulate or that is invalid.
func specErrorf(c corev1.Container, format string, args ...any) error {
	return fmt.Errorf("container %s: %s", c.Name, fmt.Sprintf(format, args...))
}

// setProcess sets the container's entrypoint, command and environment.
func setProcess(cs *dockerrun.ContainerSpec, c corev1.Container) error {
	for _, s := range append(append([]string{}, c.Command...), c.Args...) {
		if strings.Contains(s, "$(") {
			return specErrorf(c, "$(VAR) expansion in %q is not emulated", s)
		}
	}
	if len(c.Command) > 0 {
		cs.Entrypoint = c.Command
	}
	if len(c.Args) > 0 {
		cs.Cmd = c.Args
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			return specErrorf(c, "env %s: valueFrom is not emulated", e.Name)
		}
		cs.Env = append(cs.Env, e.Name+"="+e.Value)
	}
	if len(c.EnvFrom) > 0 {
		return specErrorf(c, "envFrom is not emulated")
	}
	return nil
}

// setSecurity sets the user, groups and restrictions of the pod's and the
// container's securityContext; the container's overrides the pod's.
func (p *Pod) setSecurity(cs *dockerrun.ContainerSpec, c corev1.Container) error {
	var uid, gid *int64
	var nonRoot *bool
	if psc := p.spec.SecurityContext; psc != nil {
		uid, gid, nonRoot = psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot
		if psc.FSGroup != nil {
			cs.GroupAdd = append(cs.GroupAdd, strconv.FormatInt(*psc.FSGroup, 10))
		}
		for _, g := range psc.SupplementalGroups {
			cs.GroupAdd = append(cs.GroupAdd, strconv.FormatInt(g, 10))
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
		if sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
		cs.ReadOnlyRootfs = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
		cs.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
		if sc.Capabilities != nil {
			for _, d := range sc.Capabilities.Drop {
				cs.CapDrop = append(cs.CapDrop, string(d))
			}
		}
		if sc.Privileged != nil && *sc.Privileged {
			return specErrorf(c, "privileged containers are not emulated")
		}
	}
	if nonRoot != nil && *nonRoot && (uid == nil || *uid == 0) {
		// the kubelet would check the image's USER; this runner needs the UID in the spec
		return specErrorf(c, "runAsNonRoot needs a non-zero runAsUser here")
	}
	if uid != nil {
		cs.User = strconv.FormatInt(*uid, 10)
		if gid != nil {
			cs.User += ":" + strconv.FormatInt(*gid, 10)
		}
	}
	return nil
}

// setMounts mounts the container's pod volumes, a subPath bound from the
// volume's folder on the daemon's host.
func (p *Pod) setMounts(cs *dockerrun.ContainerSpec, c corev1.Container) error {
	for _, m := range c.VolumeMounts {
		vol, ok := p.volumes[m.Name]
		if !ok {
			return specErrorf(c, "volume mount %s: no such pod volume", m.Name)
		}
		if m.SubPathExpr != "" {
			return specErrorf(c, "subPathExpr is not emulated")
		}
		if m.SubPath == "" {
			cs.Mounts = append(cs.Mounts, dockerrun.Mount{Volume: vol.Name, Target: m.MountPath, ReadOnly: m.ReadOnly})
			continue
		}
		if path.IsAbs(m.SubPath) || strings.Contains("/"+m.SubPath+"/", "/../") {
			return specErrorf(c, "subPath %q must be a relative path inside the volume", m.SubPath)
		}
		cs.Mounts = append(cs.Mounts, dockerrun.Mount{HostPath: path.Join(vol.Mountpoint, m.SubPath), Target: m.MountPath, ReadOnly: m.ReadOnly})
	}
	return nil
}

// publishPorts publishes each containerPort on a free port of 127.0.0.1 and
// records it in p.Ports.
func (p *Pod) publishPorts(cs *dockerrun.ContainerSpec, c corev1.Container) error {
	p.Ports[c.Name] = map[int]int{}
	for _, port := range c.Ports {
		if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
			return specErrorf(c, "port %d: only TCP is emulated", port.ContainerPort)
		}
		hp, err := freePort()
		if err != nil {
			return err
		}
		cs.Ports = append(cs.Ports, dockerrun.Port{Container: int(port.ContainerPort), Host: hp})
		p.Ports[c.Name][int(port.ContainerPort)] = hp
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ErrProbe: a probe did not succeed before its deadline.
var ErrProbe = errors.New("probe failed")

// Probe runs probe against the container until it succeeds (HTTP status
// 200-399, or a TCP connection) or timeout passes, and returns the HTTP
// body. Exec probes are not emulated.
func (p *Pod) Probe(ctx context.Context, container string, probe *corev1.Probe, timeout time.Duration) ([]byte, error) {
	if probe == nil {
		return nil, fmt.Errorf("container %s has no such probe", container)
	}
	c := p.container(container)
	if c == nil {
		return nil, fmt.Errorf("no container %s", container)
	}
	var port corev1.ContainerPort
	var target string
	switch {
	case probe.HTTPGet != nil:
		target = probe.HTTPGet.Port.String()
	case probe.TCPSocket != nil:
		target = probe.TCPSocket.Port.String()
	default:
		return nil, fmt.Errorf("container %s: only httpGet and tcpSocket probes are emulated", container)
	}
	for _, cp := range c.Ports {
		if cp.Name == target || strconv.Itoa(int(cp.ContainerPort)) == target {
			port = cp
		}
	}
	hp, ok := p.Ports[container][int(port.ContainerPort)]
	if !ok {
		return nil, fmt.Errorf("container %s: probe port %s is not a declared containerPort", container, target)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(hp))
	ptimeout := time.Duration(max(probe.TimeoutSeconds, 1)) * time.Second
	deadline := time.Now().Add(timeout)
	var last error
	for {
		var body []byte
		if probe.HTTPGet != nil {
			body, last = httpProbe(ctx, "http://"+addr+probe.HTTPGet.Path, ptimeout)
		} else {
			var conn net.Conn
			if conn, last = (&net.Dialer{Timeout: ptimeout}).DialContext(ctx, "tcp", addr); last == nil {
				conn.Close()
			}
		}
		if last == nil {
			return body, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("container %s: %w within %s: %v\n%s", container, ErrProbe, timeout, last, p.Logs(container))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func httpProbe(ctx context.Context, url string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return body, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return body, err
}

func (p *Pod) container(name string) *corev1.Container {
	for i := range p.spec.Containers {
		if p.spec.Containers[i].Name == name {
			return &p.spec.Containers[i]
		}
	}
	return nil
}

// Logs returns a container's output so far (stdout and stderr).
func (p *Pod) Logs(name string) string {
	id, ok := p.ids[name]
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	if err := p.r.Docker.Logs(ctx, id, dockerrun.LogsOptions{}, &b, &b); err != nil {
		fmt.Fprintf(&b, "(logs: %v)", err)
	}
	return b.String()
}

// Stopped is how a container ended when its pod was stopped.
type Stopped struct {
	// Hook is the preStop exec hook's result ("" without a hook): "exit N",
	// or the error that ended it, then its output.
	Hook string
	// ExitCode is the container's; 137 means it was killed at the end of
	// the grace period.
	ExitCode int
}

// Stop stops the containers as the kubelet does when the pod is deleted:
// the preStop exec hook first (bounded by the grace period), then SIGTERM,
// then SIGKILL when the rest of the grace period (at least 2 s) has passed.
func (p *Pod) Stop(ctx context.Context) (map[string]Stopped, error) {
	grace := 30 * time.Second
	if g := p.spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	out := map[string]Stopped{}
	var errs []error
	for _, c := range p.spec.Containers {
		id, ok := p.ids[c.Name]
		if !ok {
			continue
		}
		var st Stopped
		deadline := time.Now().Add(grace)
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			if h := c.Lifecycle.PreStop.Exec; h != nil {
				hctx, cancel := context.WithDeadline(ctx, deadline)
				code, output, err := p.r.Docker.Exec(hctx, id, h.Command)
				cancel()
				if err != nil {
					st.Hook = err.Error() + ": " + output
				} else {
					st.Hook = fmt.Sprintf("exit %d: %s", code, output)
				}
			} else {
				st.Hook = "only exec hooks are emulated"
			}
		}
		rest := max(time.Until(deadline), 2*time.Second)
		if err := p.r.Docker.Stop(ctx, id, rest); err != nil {
			errs = append(errs, err)
		}
		ct, err := p.r.Docker.Inspect(ctx, id)
		if err != nil {
			errs = append(errs, err)
		}
		st.ExitCode = ct.ExitCode
		out[c.Name] = st
	}
	return out, errors.Join(errs...)
}

// Remove removes the pod's containers and emptyDir volumes (claims stay:
// see RemoveClaims). It is safe to call more than once.
func (p *Pod) Remove() {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range p.order {
		_ = p.r.Docker.Remove(ctx, p.ids[name])
	}
	p.order = nil
	for _, v := range p.owned {
		_ = p.r.Docker.VolumeRemove(ctx, v)
	}
	p.owned = nil
}

// RemoveClaims removes the volumes that stood in for claims.
func (r *Runner) RemoveClaims() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for name, v := range r.Claims {
		_ = r.Docker.VolumeRemove(ctx, v.Name)
		delete(r.Claims, name)
	}
}
