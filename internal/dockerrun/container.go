package dockerrun

import (
	"context"
	"errors"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Labels put on every container we create, so ps/stop/logs find them.
const (
	LabelModel       = "ai.modelhub.model"
	LabelMode        = "ai.modelhub.mode"
	LabelAPIURL      = "ai.modelhub.api-url"
	LabelNotebookURL = "ai.modelhub.notebook-url"
)

// Container mount points of the modelhub engine.
const (
	ContribSrcTarget = "/contrib_src"
	DataTarget       = "/data"
	FrameworkTarget  = "/framework"
)

// Run modes, the values of LabelMode.
const (
	ModeAPI    = "api"
	ModeExpert = "expert"
	ModeBash   = "bash"
)

// Port maps a container TCP port to a host port.
type Port struct {
	Container int
	Host      int
}

// Spec describes a model container to create.
type Spec struct {
	Name     string   // container name, e.g. modelhub-squeezenet
	Image    string   // image reference
	Platform string   // e.g. linux/amd64; empty = the image's own
	Model    string   // model name (label)
	Mode     string   // ModeAPI, ModeExpert or ModeBash (label)
	Cmd      []string // nil keeps the image's command
	TTY      bool     // allocate a TTY and keep stdin open (bash mode)

	ContribSrc string // absolute host path mounted at /contrib_src
	// ContribVolume, when set, is a volume of the engine mounted at
	// /contrib_src instead of ContribSrc (remote engines: see SyncVolume).
	ContribVolume string
	DataDir       string // optional absolute host path mounted at /data
	FrameworkDir  string // optional absolute host path mounted at /framework

	HostIP string // address the ports bind to, e.g. 127.0.0.1
	Ports  []Port
	GPU    bool // request all GPUs (the API form of --gpus all)
	// GPUs, when set, says which GPUs (Docker's --gpus, see ParseGPUs);
	// it implies GPU.
	GPUs string

	// APIURL and NotebookURL are recorded in LabelAPIURL and
	// LabelNotebookURL for people reading `docker inspect`; modelhub never
	// reads a URL back from a label (an image's own LABEL shows through as
	// the container's), see containerURLs.
	APIURL      string
	NotebookURL string
}

// ParsePlatform parses os/arch[/variant].
func ParsePlatform(s string) (*ocispec.Platform, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("invalid platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	p := &ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// EngineEnv is the environment of every model container. Without a TTY,
// Python block-buffers print(): the engine's messages (e.g. why a prediction
// failed) would reach the log late, or never when the container is killed.
// And the container runs as root: Python would write root-owned
// __pycache__/*.pyc into the mounted contrib_src, in the user's model folder.
var EngineEnv = []string{"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"}

// Stopping a model container quickly (every path: stop, Ctrl-C of run, test's
// cleanup). The engine's image runs `python3 run.py` as PID 1, and PID 1
// ignores a signal it installs no handler for: Python installs none for
// SIGTERM, so `docker stop` waited its whole grace period and killed the
// engine (10 s, exit 137). Measured with the real engine image
// (../shared/realengine, API mode, `docker stop`, a loaded 2-core machine):
//
//	SIGTERM, PID 1 (before):    10.6 s, killed (137)
//	StopSignal SIGINT:          0.9-2.0 s, KeyboardInterrupt, clean exit 0
//	Init (docker-init as PID 1): 0.4-1.0 s, exit 143
//	both:                       1.0-1.8 s, exit 0
//
// We run Docker's init (tini) as PID 1 and keep SIGTERM: the engine is then
// an ordinary process, which SIGTERM's default action ends at once — also in
// the middle of a long prediction in C code (numpy, torch), where a
// KeyboardInterrupt would wait for the call to return — and the init reaps
// the zombies a model's subprocesses leave. Nothing is lost at the kill: the
// output is unbuffered (EngineEnv). Jupyter (expert mode) handles SIGTERM
// and shuts down cleanly (about 2 s under the same load, as with SIGINT).
// An interactive bash (bash mode) ignores both SIGTERM and SIGINT, so its
// stop signal is SIGHUP, a terminal hang-up (0.4 s, exit 129).
var runInit = true

func stopSignal(s Spec) string {
	if s.TTY {
		return "SIGHUP"
	}
	return "" // the image's, SIGTERM by default
}

// containerConfig turns a Spec into the engine's create request.
func containerConfig(s Spec) (*container.Config, *container.HostConfig, *ocispec.Platform, error) {
	if s.Image == "" || s.Name == "" || (s.ContribSrc == "" && s.ContribVolume == "") {
		return nil, nil, nil, errors.New("container spec needs a name, an image and a contrib_src folder")
	}
	platform, err := ParsePlatform(s.Platform)
	if err != nil {
		return nil, nil, nil, err
	}
	// Every label modelhub reads is set, empty when it does not apply: an
	// image's own LABEL of the same key would otherwise show through as the
	// container's (Docker merges the image's labels under ours).
	labels := map[string]string{LabelModel: s.Model, LabelMode: s.Mode,
		LabelAPIURL: s.APIURL, LabelNotebookURL: s.NotebookURL, LabelGPUs: ""}
	cfg := &container.Config{
		Image:        s.Image,
		Cmd:          s.Cmd,
		Env:          EngineEnv,
		StopSignal:   stopSignal(s),
		Labels:       labels,
		Tty:          s.TTY,
		OpenStdin:    s.TTY,
		StdinOnce:    s.TTY,
		AttachStdin:  s.TTY,
		AttachStdout: s.TTY,
		AttachStderr: s.TTY,
		ExposedPorts: nat.PortSet{},
	}
	hc := &container.HostConfig{PortBindings: nat.PortMap{}, Init: &runInit}
	for _, p := range s.Ports {
		port := nat.Port(strconv.Itoa(p.Container) + "/tcp")
		cfg.ExposedPorts[port] = struct{}{}
		hostPort := "" // 0: the engine picks a free port (see Inspect)
		if p.Host != 0 {
			hostPort = strconv.Itoa(p.Host)
		}
		hc.PortBindings[port] = []nat.PortBinding{{HostIP: s.HostIP, HostPort: hostPort}}
	}
	bind := func(src, dst string) {
		if src != "" {
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: src, Target: dst})
		}
	}
	if s.ContribVolume != "" {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: s.ContribVolume, Target: ContribSrcTarget})
	} else {
		bind(s.ContribSrc, ContribSrcTarget)
	}
	bind(s.DataDir, DataTarget)
	bind(s.FrameworkDir, FrameworkTarget)
	if s.GPU || s.GPUs != "" {
		g := GPURequest{Count: -1}
		if s.GPUs != "" {
			if g, err = ParseGPUs(s.GPUs); err != nil {
				return nil, nil, nil, err
			}
		}
		hc.DeviceRequests = []container.DeviceRequest{g.deviceRequest()}
		labels[LabelGPUs] = g.String()
	}
	return cfg, hc, platform, nil
}

// Create creates (does not start) the container and returns its ID.
func (c *Client) Create(ctx context.Context, s Spec) (string, error) {
	cfg, hc, platform, err := containerConfig(s)
	if err != nil {
		return "", err
	}
	resp, err := c.api.ContainerCreate(ctx, cfg, hc, nil, platform, s.Name)
	if err != nil {
		if s.Name != "" && (cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "is already in use")) {
			return "", fmt.Errorf("create container %s: %w", s.Name, ErrNameInUse)
		}
		return "", fmt.Errorf("create container %s: %w", s.Name, c.wrap(err))
	}
	return resp.ID, nil
}

// Start starts a created container. A host port that is taken gives an error
// matching ErrPortBusy.
func (c *Client) Start(ctx context.Context, id string) error {
	err := c.api.ContainerStart(ctx, id, container.StartOptions{})
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use") {
		return fmt.Errorf("start container: %w (%s)", ErrPortBusy, engineReason(err))
	}
	if gerr := gpuStartError(err, c.ep); gerr != nil {
		return gerr
	}
	return fmt.Errorf("start container: %w", c.wrap(err))
}

// ErrNoSuchGPU matches a start that failed because a GPU asked for with
// --gpus does not exist on the engine's machine.
var ErrNoSuchGPU = errors.New("no such GPU")

// gpuStartError turns the NVIDIA runtime's refusal of a device into an error
// that says what to do; nil when err is something else.
func gpuStartError(err error, ep Endpoint) error {
	msg := strings.ToLower(err.Error())
	if !strings.Contains(msg, "unknown device") && !strings.Contains(msg, "invalid device") && !strings.Contains(msg, "device not found") {
		return nil
	}
	return fmt.Errorf("start container: %w on %s (%s): list its GPUs with `nvidia-smi -L` on that machine and pass --gpus device=ID, or --gpus all", ErrNoSuchGPU, ep.Describe(), engineReason(err))
}

// Wait blocks until the container is not running and returns its exit code.
func (c *Client) Wait(ctx context.Context, id string) (int, error) {
	resC, errC := c.api.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case r := <-resC:
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), fmt.Errorf("wait for container: %s", r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-errC:
		return -1, fmt.Errorf("wait for container: %w", c.wrap(err))
	}
}

// LogsOptions select container logs.
type LogsOptions struct {
	Follow bool
	Tail   string // number of lines from the end, or "" / "all"
}

// Logs copies the container's logs, stdout and stderr demultiplexed, until
// they end (or ctx ends when following).
func (c *Client) Logs(ctx context.Context, id string, opts LogsOptions, stdout, stderr io.Writer) error {
	info, err := c.api.ContainerInspect(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("container %s: %w", id, ErrContainerNotFound)
		}
		return c.wrap(err)
	}
	tail := opts.Tail
	if tail == "" {
		tail = "all"
	}
	rc, err := c.api.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Tail: tail})
	if err != nil {
		return fmt.Errorf("logs: %w", c.wrap(err))
	}
	defer rc.Close()
	if info.Config != nil && info.Config.Tty {
		_, err = io.Copy(stdout, rc)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, rc)
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs: %w", err)
	}
	return nil
}

// Stop stops the container: SIGTERM, then SIGKILL after grace.
func (c *Client) Stop(ctx context.Context, id string, grace time.Duration) error {
	secs := int(grace.Round(time.Second) / time.Second)
	if err := c.api.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}); err != nil {
		if isNotFound(err) {
			return fmt.Errorf("stop %s: %w", id, ErrContainerNotFound)
		}
		return fmt.Errorf("stop %s: %w", id, c.wrap(err))
	}
	return nil
}

// Kill sends SIGKILL.
func (c *Client) Kill(ctx context.Context, id string) error {
	if err := c.api.ContainerKill(ctx, id, "KILL"); err != nil {
		if isNotFound(err) {
			return fmt.Errorf("kill %s: %w", id, ErrContainerNotFound)
		}
		return fmt.Errorf("kill %s: %w", id, c.wrap(err))
	}
	return nil
}

// Remove removes the container, killing it if it still runs.
func (c *Client) Remove(ctx context.Context, id string) error {
	err := c.api.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("remove %s: %w", id, ErrContainerNotFound)
		}
		if strings.Contains(err.Error(), "already in progress") {
			return nil
		}
		return fmt.Errorf("remove %s: %w", id, c.wrap(err))
	}
	return nil
}

// Container is a container we created, as found by Inspect or List.
type Container struct {
	ID          string
	Name        string // without the leading slash
	Image       string
	Model       string
	Mode        string
	APIURL      string
	NotebookURL string
	State       string // created, running, exited, ...
	Running     bool
	ExitCode    int
	Error       string // the engine's reason when the container could not run
	OOMKilled   bool
	Created     time.Time
	StartedAt   time.Time
	HostIP      string
	Ports       []Port
	ContribSrc  string // host folder mounted at /contrib_src
	// ContribVolume is the volume mounted at /contrib_src (remote engines)
	ContribVolume string
	GPUs          string // the GPU request in --gpus syntax; empty for none
}

// Inspect finds a container by name or ID; ErrContainerNotFound if absent.
func (c *Client) Inspect(ctx context.Context, nameOrID string) (Container, error) {
	r, err := c.api.ContainerInspect(ctx, nameOrID)
	if err != nil {
		if isNotFound(err) {
			return Container{}, fmt.Errorf("container %s: %w", nameOrID, ErrContainerNotFound)
		}
		return Container{}, c.wrap(err)
	}
	ct := Container{ID: r.ID, Name: strings.TrimPrefix(r.Name, "/")}
	ct.Created, _ = time.Parse(time.RFC3339Nano, r.Created)
	if r.Config != nil {
		ct.Image = r.Config.Image
		ct.Model = r.Config.Labels[LabelModel]
		ct.Mode = r.Config.Labels[LabelMode]
		ct.GPUs = r.Config.Labels[LabelGPUs]
	}
	if r.State != nil {
		ct.State, ct.Running, ct.ExitCode = r.State.Status, r.State.Running, r.State.ExitCode
		ct.Error, ct.OOMKilled = r.State.Error, r.State.OOMKilled
		ct.StartedAt, _ = time.Parse(time.RFC3339Nano, r.State.StartedAt)
	}
	for _, m := range r.Mounts {
		if m.Destination == ContribSrcTarget {
			if m.Type == mount.TypeVolume {
				ct.ContribVolume = m.Name
			} else {
				ct.ContribSrc = m.Source
			}
		}
	}
	if r.HostConfig != nil {
		for port, bs := range r.HostConfig.PortBindings {
			for _, b := range bs {
				h, _ := strconv.Atoi(b.HostPort)
				if h == 0 && r.NetworkSettings != nil {
					// the engine picked the port: it is known once started
					for _, nb := range r.NetworkSettings.Ports[port] {
						if n, _ := strconv.Atoi(nb.HostPort); n != 0 {
							h = n
							break
						}
					}
				}
				ct.HostIP = b.HostIP
				ct.Ports = append(ct.Ports, Port{Container: port.Int(), Host: h})
			}
		}
	}
	ct.APIURL, ct.NotebookURL = containerURLs(ct, labels(r.Config), c.ep.Kind() == EngineSSH)
	return ct, nil
}

func labels(c *container.Config) map[string]string {
	if c == nil {
		return nil
	}
	return c.Labels
}

// containerURLs builds a model container's URLs from what modelhub chose
// when it created it: the bind address and the published ports (80: the
// REST API in API and bash mode, 8080: the notebook in expert mode). The
// labels are never used as URLs: an image's LABEL ai.modelhub.notebook-url
// (or api-url) is a container label too, and would put any link in `ps`,
// the web UI and "already running at". Only the notebook's token is taken
// from the label, and only when it is one modelhub makes (hex); the host,
// port and path around it are ours.
//
// On an ssh engine the ports answer on this machine through the forwards
// `run -d` started from the local ports it picked, which only the labels
// record: there only the port number is read from the label, and the URL is
// http://127.0.0.1:PORT.
func containerURLs(ct Container, lbl map[string]string, ssh bool) (apiURL, notebookURL string) {
	host := "127.0.0.1"
	if ip := net.ParseIP(ct.HostIP); ip != nil && !ip.IsUnspecified() && !ssh {
		host = ip.String()
	}
	base := func(container int) string {
		if ssh {
			key := LabelAPIURL
			if container == 8080 {
				key = LabelNotebookURL
			}
			u, err := url.Parse(lbl[key])
			if err != nil {
				return ""
			}
			if p, err := strconv.Atoi(u.Port()); err == nil && p > 0 && p <= 65535 {
				return "http://" + net.JoinHostPort(host, strconv.Itoa(p))
			}
			return ""
		}
		for _, p := range ct.Ports {
			if p.Container == container && p.Host > 0 && p.Host <= 65535 {
				return "http://" + net.JoinHostPort(host, strconv.Itoa(p.Host))
			}
		}
		return ""
	}
	switch ct.Mode {
	case ModeAPI, ModeBash:
		apiURL = base(80)
	case ModeExpert:
		if b, tok := base(8080), NotebookToken(lbl[LabelNotebookURL]); b != "" && tok != "" {
			notebookURL = b + "/notebooks/sandbox.ipynb?token=" + tok
		}
	}
	return apiURL, notebookURL
}

// NotebookToken is the token in a notebook URL modelhub made (16 to 128 hex
// digits), or "" for anything else.
func NotebookToken(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	tok := pu.Query().Get("token")
	if len(tok) < 16 || len(tok) > 128 {
		return ""
	}
	for _, c := range tok {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
	}
	return tok
}

// List returns the containers labelled as modelhub models (running only
// unless all), ordered by name.
func (c *Client) List(ctx context.Context, all bool) ([]Container, error) {
	sums, err := c.api.ContainerList(ctx, container.ListOptions{All: all, Filters: filters.NewArgs(filters.Arg("label", LabelModel))})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", c.wrap(err))
	}
	var out []Container
	for _, s := range sums {
		ct, err := c.Inspect(ctx, s.ID)
		if errors.Is(err, ErrContainerNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ct)
	}
	sortContainers(out)
	return out, nil
}

func sortContainers(cs []Container) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Name < cs[j-1].Name; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// Attachment is the stdin/stdout stream of a TTY container.
type Attachment struct {
	r    io.Reader
	conn interface {
		io.WriteCloser
	}
	closeWrite func() error
}

func (a *Attachment) Read(p []byte) (int, error)  { return a.r.Read(p) }
func (a *Attachment) Write(p []byte) (int, error) { return a.conn.Write(p) }

// CloseWrite signals the end of stdin.
func (a *Attachment) CloseWrite() error { return a.closeWrite() }

// Close ends the attachment.
func (a *Attachment) Close() error { return a.conn.Close() }

// Attach attaches to the stdin and (TTY) output of a created container;
// call it before Start so no output is lost.
func (c *Client) Attach(ctx context.Context, id string) (*Attachment, error) {
	hr, err := c.api.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, fmt.Errorf("attach: %w", c.wrap(err))
	}
	return &Attachment{r: hr.Reader, conn: hr.Conn, closeWrite: hr.CloseWrite}, nil
}

// Resize sets the container TTY size.
func (c *Client) Resize(ctx context.Context, id string, rows, cols uint) error {
	if err := c.api.ContainerResize(ctx, id, container.ResizeOptions{Height: rows, Width: cols}); err != nil {
		return fmt.Errorf("resize: %w", c.wrap(err))
	}
	return nil
}
