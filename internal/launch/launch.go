// Package launch starts a model in Docker and stops it again. It owns the
// whole lifecycle that `modelhub run`, `modelhub test` (and predict and the
// web UI) share, and it never prints: progress goes to Events, the container's
// log to Options.Logs, and failures come back as errors.
//
// Start runs these steps, in order, and stops at the first failure:
//
//  1. resolve: Options.Model through the store (a downloaded model from its
//     manifest, a local model folder, or an index entry), unless the caller
//     passes an already resolved Options.Resolved;
//  2. checks, before anything is downloaded or created: the Docker daemon
//     answers; the GPU decision (the model's "gpu" flag, or Options.GPU) and,
//     when a GPU is wanted, an NVIDIA runtime (*NoGPUError); no container of
//     the model runs already (a stopped leftover is removed);
//  3. pull: a model that is not complete is cloned and downloaded, one with
//     Options.Update is updated, and one whose weight file changed size on
//     disk is repaired (the store's pull, with Events.ModelPull's progress);
//  4. image: pulled when missing or for another platform; with
//     Options.UpdateImage pulled again, and the old image dropped only once
//     the new one is in place (a failed pull keeps it);
//  5. ports: the wanted host ports, the next free ones for a port that was not
//     fixed, or any free port for 0;
//  6. create and start: the container is created with a context that
//     cancellation does not cut short, so its ID is always known and a
//     cancelled Start removes it (no Created leftover after an early Ctrl-C);
//  7. readiness (API and expert modes): its URL is polled (Poller) until it
//     answers, the container exits (*CrashError) or Options.Timeout passes
//     (*TimeoutError); a cancelled ctx stops and removes it (Events.Stopping,
//     Options.Kill) and Start returns ctx's error;
//  8. the *Handle: URLs, Exited, Wait, Stop, Remove; in bash mode the
//     container's terminal (Attachment).
//
// On any error from Start nothing of the container is left.
//
// FindRunning returns a Handle for a model someone already started.
package launch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// GPU is the caller's choice about GPUs.
type GPU int

// GPUChoice maps the --gpu and --cpu flags (never both) to a GPU choice.
func GPUChoice(gpu, cpu bool) GPU {
	switch {
	case gpu:
		return GPUOn
	case cpu:
		return GPUOff
	}
	return GPUAuto
}

const (
	// GPUAuto gives a GPU to models whose index entry says "gpu": true.
	GPUAuto GPU = iota
	// GPUOn always asks for all GPUs (run --gpu).
	GPUOn
	// GPUOff never asks for one (run --cpu).
	GPUOff
)

// Defaults.
const (
	DefaultHost          = "127.0.0.1"
	DefaultReadyInterval = 50 * time.Millisecond
	DefaultPortSpan      = 100
	DefaultTimeout       = 5 * time.Minute
	// StopGrace is how long a stopped container gets before it is killed.
	StopGrace = 10 * time.Second
	// LogTail is how many log lines a CrashError or TimeoutError carries.
	LogTail = 30
	// cleanupWait bounds every removal done after a cancellation.
	cleanupWait = 30 * time.Second
)

// Options say what to start and how. The zero value (plus Model) starts the
// REST API of a model on 127.0.0.1:any free port.
type Options struct {
	// Model is the MODEL argument: a name (any case) or a model folder.
	Model string
	// Resolved, when set, is used instead of resolving Model (e.g. `test`,
	// which resolves a model folder itself).
	Resolved *store.Model
	// Update brings a downloaded model to its branch tip first.
	Update bool
	// UpdateImage pulls the image again even when it is present.
	UpdateImage bool
	// Platform is the image platform, e.g. linux/amd64 ("": the engine's).
	Platform string
	// Mode is dockerrun.ModeAPI ("" too), ModeExpert or ModeBash.
	Mode string
	// Host is the address the ports bind to ("": 127.0.0.1).
	Host string
	// APIPort and JupyterPort are the wanted host ports of the REST API
	// (container port 80) and of the notebook (8080, expert and bash modes);
	// 0 takes any free port. A busy port is skipped for the next free one
	// unless it is fixed (given by the user), then it is an error.
	APIPort, JupyterPort           int
	APIPortFixed, JupyterPortFixed bool
	// GPU overrides the model's GPU flag.
	GPU GPU
	// GPUs chooses GPUs in Docker's --gpus syntax ("all", "2",
	// "device=0,2"); "" is all of them when a GPU is wanted.
	GPUs string
	// DataDir and FrameworkDir are absolute host folders mounted at /data and
	// /framework ("": none).
	DataDir, FrameworkDir string
	// Container is the container name; "" is the model's own,
	// ContainerName(model), which is also checked for a running copy.
	Container string
	// Timeout bounds the wait for the model to answer (0: DefaultTimeout).
	Timeout time.Duration
	// Logs receives the container's log from its start until it is ready and
	// after, until Wait or Stop (nil: not streamed; errors then carry the
	// log's end).
	Logs io.Writer
	// Kill, when closed during a stop, kills the container at once instead of
	// waiting for StopGrace (a second Ctrl-C).
	Kill <-chan struct{}
	// Step, when set, is called as Start reaches each of its steps (the
	// Step* names); tests cancel there to check that no step leaves a
	// container behind.
	Step func(step string)
}

// Steps of Start, as Options.Step reports them.
const (
	StepEngine  = "engine"  // connected to the engine
	StepModel   = "model"   // the model is complete on disk
	StepImage   = "image"   // the image is present
	StepCreate  = "create"  // about to create the container
	StepCreated = "created" // the container exists
	StepStarted = "started" // the container runs
	StepReady   = "ready"   // the model answers
)

func (o Options) step(s string) {
	if o.Step != nil {
		o.Step(s)
	}
}

// Deps are what Start works with.
type Deps struct {
	// Docker connects to the engine; it is called after the model is resolved.
	Docker func(ctx context.Context) (dockerrun.API, error)
	// Store resolves and pulls models (not needed with Options.Resolved of a
	// local model).
	Store *store.Store
	// Poller polls readiness; its zero value is the default.
	Poller Poller
	// PortSpan is how many ports after a busy one are tried (0: DefaultPortSpan).
	PortSpan int
	// Home is the store's home ("": Store.Home). A model downloaded under it
	// is started under its lock (store.LockModel), from the checks until its
	// container runs or the start failed, so rm, load --force or a pull
	// cannot change its folder while it starts.
	Home string
	// LockTimeout is how long to wait for another process holding the
	// model's lock (0: store.DefaultLockTimeout).
	LockTimeout time.Duration
}

// Events receive progress; any field may be nil.
type Events struct {
	// Note and Warn receive one-line messages for people.
	Note, Warn func(msg string)
	// ModelPull is called before the model is cloned, downloaded, updated or
	// repaired; it returns the store's progress callbacks and a function
	// called when the pull ends.
	ModelPull func(name string) (progress store.PullOptions, done func())
	// ImagePull is called before the image is pulled; it returns a function
	// for the pull's progress and one called when the pull ends (err nil on
	// success).
	ImagePull func(ref string) (progress func(dockerrun.PullProgress), done func(last dockerrun.PullProgress, err error))
	// Starting is called once an API or expert container started, before
	// the wait for it to answer.
	Starting func(h *Handle)
	// Stopping is called when a cancelled Start (or Handle.Stop) begins to
	// stop the container, Stopped once it is removed.
	Stopping, Stopped func(h *Handle)
}

func (e Events) note(format string, args ...any) {
	if e.Note != nil {
		e.Note(fmt.Sprintf(format, args...))
	}
}

func (e Events) warn(format string, args ...any) {
	if e.Warn != nil {
		e.Warn(fmt.Sprintf(format, args...))
	}
}

// Start starts a model as opts say and returns once it answers (API and
// expert modes) or runs (bash mode). See the package comment for the steps.
func Start(ctx context.Context, deps Deps, opts Options, ev Events) (*Handle, error) {
	if opts.Mode == "" {
		opts.Mode = dockerrun.ModeAPI
	}
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	m := opts.Resolved
	if m == nil {
		if deps.Store == nil {
			return nil, errors.New("launch: no store to resolve " + opts.Model)
		}
		var err error
		if m, err = deps.Store.Resolve(ctx, opts.Model); err != nil {
			return nil, err
		}
	}
	d, err := deps.Docker(ctx)
	if err != nil {
		return nil, err
	}
	opts.step(StepEngine)
	if err := checkRemote(d.Endpoint(), opts); err != nil {
		return nil, err
	}
	gpu, why := DecideGPU(m, opts.GPU, opts.GPUs)
	var info dockerrun.EngineInfo
	if gpu || opts.Platform == "" {
		if info, err = d.Info(ctx); err != nil {
			return nil, err
		}
	}
	if gpu && !info.NVIDIA {
		return nil, &NoGPUError{Model: m.Name, Why: why}
	}
	unlock, locked, err := lockModel(ctx, deps, m, ev)
	if err != nil {
		return nil, err
	}
	defer unlock() // on every failure before the container runs
	if locked && !m.Local {
		// what the folder holds now, under the lock (an rm or load may have
		// changed it since it was resolved)
		mm := *m
		mm.Manifest = nil
		if man, err := store.ReadManifest(m.Dir); err == nil && man.Complete {
			mm.Manifest = man
		}
		m = &mm
	}
	name := opts.Container
	if name == "" {
		// A running container of the model is refused before its files change.
		name = ContainerName(m.Name)
		if err := clearLeftover(ctx, d, name, m.Name); err != nil {
			return nil, err
		}
	}
	if m, err = acquire(ctx, deps.Store, m, opts.Update, locked, ev); err != nil {
		return nil, err
	}
	opts.step(StepModel)
	image, err := m.Image()
	if err != nil {
		return nil, err
	}
	if err := ensureImage(ctx, d, image, opts, info, ev); err != nil {
		return nil, err
	}
	opts.step(StepImage)
	h, spec, err := plan(deps, opts, m, name, image, gpu, ev)
	if err != nil {
		return nil, err
	}
	h.d, h.kill, h.ev, h.Engine, h.step = d, opts.Kill, ev, d.Endpoint().Host, opts.step
	if ep := d.Endpoint(); ep.Remote() {
		if err := h.planRemote(ctx, d, ep, m, &spec, ev); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts.step(StepCreate)
	if err := h.create(ctx, spec); err != nil {
		return nil, err
	}
	h.unlock = unlock // released once the container runs (or failed to start)
	if opts.Mode == dockerrun.ModeBash {
		return h, h.startAttached(ctx)
	}
	return h, h.serve(ctx, deps.Poller, opts)
}

// DecideGPU is the one GPU decision (run, test, deploy): a device list
// (--gpus) or the choice, else the model's flag (from the manifest of a
// downloaded model, recorded at pull time, else from the index entry). why
// says what asked for the GPU.
func DecideGPU(m *store.Model, choice GPU, gpus string) (want bool, why string) {
	if gpus != "" && choice != GPUOff {
		return true, "--gpus " + gpus + " asks for GPUs"
	}
	switch choice {
	case GPUOn:
		return true, "--gpu asks for a GPU"
	case GPUOff:
		return false, ""
	}
	flag := m.Entry != nil && m.Entry.GPU
	if m.Manifest != nil {
		flag = m.Manifest.Entry.GPU
	}
	return flag, "the index marks " + m.Name + " as a GPU model"
}

// NoGPUError: a GPU is wanted and the engine has no NVIDIA runtime.
type NoGPUError struct {
	Model string
	Why   string // what asked for the GPU
}

func (e *NoGPUError) Error() string {
	return fmt.Sprintf("%s needs an NVIDIA GPU (%s), but this Docker engine has no NVIDIA runtime or CDI devices: install the NVIDIA Container Toolkit (https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html) and restart Docker", e.Model, e.Why)
}

// ContainerName is the name of a model's container: modelhub-MODEL, with
// characters Docker refuses in names (a local folder's name may have any)
// replaced by "-" and then a hash of the real name, so "a b" and "a-b" do not
// share a container.
func ContainerName(model string) string {
	b := []byte("modelhub-" + model)
	changed := false
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			b[i] = '-'
			changed = true
		}
	}
	if changed {
		return fmt.Sprintf("%s-%08x", b, crc32.ChecksumIEEE([]byte(model)))
	}
	return string(b)
}

// UniqueContainerName is ContainerName(model)-PURPOSE-XXXXXXXX, for a
// container beside the model's own (e.g. `modelhub test`'s).
func UniqueContainerName(model, purpose string) string {
	return ContainerName(model) + "-" + purpose + "-" + randomHex(4)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clearLeftover removes a stopped container of the same name and refuses a running one.
func clearLeftover(ctx context.Context, d dockerrun.API, name, model string) error {
	ct, err := d.Inspect(ctx, name)
	if errors.Is(err, dockerrun.ErrContainerNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ct.Running {
		return alreadyRunning(ct, name, model)
	}
	if err := d.Remove(ctx, ct.ID); err != nil && !errors.Is(err, dockerrun.ErrContainerNotFound) {
		return fmt.Errorf("remove the stopped container %s: %w", name, err)
	}
	return nil
}

// alreadyRunning is the error for a model whose container ct runs.
func alreadyRunning(ct dockerrun.Container, name, model string) error {
	where := ct.APIURL
	if ct.NotebookURL != "" {
		where = ct.NotebookURL
	}
	if where == "" {
		where = "container " + name
	}
	return fmt.Errorf("%s is already running at %s; `modelhub stop %s` first", model, where, model)
}

// nameTaken words a create refused because the container name is taken:
// another modelhub started the model since clearLeftover looked.
func nameTaken(ctx context.Context, d dockerrun.API, name, model string) error {
	if ct, err := d.Inspect(ctx, name); err == nil && ct.Running {
		return alreadyRunning(ct, name, model)
	}
	return fmt.Errorf("%s is already running: another modelhub is starting it (container %s); `modelhub stop %s` first", model, name, model)
}

// acquire makes the model complete on disk (the store's Ensure, repairing
// changed files, with Events.ModelPull's progress) and warns about the files
// a local folder lacks.
func acquire(ctx context.Context, s *store.Store, m *store.Model, update, locked bool, ev Events) (*store.Model, error) {
	o := store.EnsureOptions{Repair: true, PullOptions: store.PullOptions{Update: update, Locked: locked}}
	if ev.ModelPull != nil {
		o.Pulling = func() (store.PullOptions, func()) { return ev.ModelPull(m.Name) }
	}
	m, _, err := s.Ensure(ctx, m, o)
	if err != nil {
		return nil, err
	}
	if m.Local {
		for _, w := range store.MissingFiles(m.Dir) {
			ev.warn("%s", w)
		}
	}
	return m, nil
}

// lockModel takes the lock of a model downloaded under the store's home
// (see Deps.Home) and returns its release, safe to call more than once; a
// local model folder is not locked (rm and load never touch one): locked
// is false then.
func lockModel(ctx context.Context, deps Deps, m *store.Model, ev Events) (unlock func(), locked bool, err error) {
	noUnlock := func() {}
	home := deps.Home
	if home == "" && deps.Store != nil {
		home = deps.Store.Home
	}
	if home == "" {
		return noUnlock, false, nil
	}
	models := filepath.Join(home, "models")
	if abs, err := filepath.Abs(m.Dir); err != nil || filepath.Dir(abs) != filepath.Clean(models) {
		return noUnlock, false, nil
	}
	if err := os.MkdirAll(models, 0o755); err != nil {
		return nil, false, err
	}
	l, err := store.LockModel(ctx, home, filepath.Base(m.Dir), deps.LockTimeout, ev.Note)
	if err != nil {
		return nil, false, err
	}
	return sync.OnceFunc(func() { _ = l.Unlock() }), true, nil
}

// plan chooses the ports and URLs and builds the container spec.
func plan(deps Deps, opts Options, m *store.Model, name, image string, gpu bool, ev Events) (*Handle, dockerrun.Spec, error) {
	if ip := net.ParseIP(opts.Host); ip == nil {
		return nil, dockerrun.Spec{}, fmt.Errorf("host %q is not an IP address", opts.Host)
	} else if !ip.IsLoopback() {
		ev.warn("binding to %s: %s will be reachable from your network, not only from this computer", opts.Host, m.Name)
	}
	// Checked again right before the mount: contrib_src must be the real
	// folder inside the model folder, never a link Docker would follow.
	contrib, err := dockerrun.ModelMount(m.Dir, config.ContribSrc)
	if err != nil {
		return nil, dockerrun.Spec{}, err
	}
	h := &Handle{Model: m.Name, Dir: m.Dir, Container: name, Mode: opts.Mode}
	spec := dockerrun.Spec{
		Name: name, Image: image, Platform: opts.Platform, Model: m.Name, Mode: opts.Mode,
		ContribSrc: contrib, DataDir: opts.DataDir, FrameworkDir: opts.FrameworkDir, HostIP: opts.Host, GPU: gpu,
	}
	if gpu {
		spec.GPUs = opts.GPUs
	}
	pk := portPicker{host: opts.Host, span: deps.PortSpan, taken: map[int]bool{}, ev: ev}
	apiPort, err := pk.pick(opts.APIPort, opts.APIPortFixed, "--api-port")
	if err != nil {
		return nil, spec, err
	}
	spec.Ports = []dockerrun.Port{{Container: 80, Host: apiPort}}
	urlHost := URLHost(opts.Host)
	h.APIURL, h.APIPort = "http://"+net.JoinHostPort(urlHost, strconv.Itoa(apiPort)), apiPort
	switch opts.Mode {
	case dockerrun.ModeAPI:
		spec.APIURL = h.APIURL
		h.readyURL = engine.ReadyURL(h.APIURL)
	case dockerrun.ModeExpert, dockerrun.ModeBash:
		jp, err := pk.pick(opts.JupyterPort, opts.JupyterPortFixed, "--jupyter-port")
		if err != nil {
			return nil, spec, err
		}
		spec.Ports = append(spec.Ports, dockerrun.Port{Container: 8080, Host: jp})
		h.JupyterURL = "http://" + net.JoinHostPort(urlHost, strconv.Itoa(jp))
		if opts.Mode == dockerrun.ModeBash {
			spec.Cmd = []string{"/bin/bash"}
			spec.TTY = true
			spec.APIURL = h.APIURL
			break
		}
		token := randomHex(24)
		spec.Cmd = []string{"jupyter", "notebook", "--ip=0.0.0.0", "--port=8080", "--no-browser", "--allow-root", "--NotebookApp.token=" + token}
		h.NotebookURL = h.JupyterURL + "/notebooks/sandbox.ipynb?token=" + token
		h.readyURL = h.JupyterURL + "/api/status?token=" + token
		spec.NotebookURL = h.NotebookURL
	default:
		return nil, spec, fmt.Errorf("launch: unknown mode %q", opts.Mode)
	}
	return h, spec, nil
}

// URLHost is the address to put in URLs for a bind address: a wildcard
// bind is reached on loopback.
func URLHost(host string) string {
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return DefaultHost
	}
	return host
}
