package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/engine"
)

// Handle is a started model container.
type Handle struct {
	Model     string // the model's name
	Dir       string // the model folder
	Container string // the container's name
	ID        string // the container's ID
	Mode      string // dockerrun.ModeAPI, ModeExpert or ModeBash
	Engine    string // the Docker engine's address, e.g. unix:///var/run/docker.sock

	// APIURL is the REST API's base URL, e.g. http://127.0.0.1:8000
	// (published in every mode; it answers in API mode).
	APIURL string
	// APIPort is the host port of the REST API (container port 80).
	APIPort int
	// JupyterURL is the base URL of the notebook port (expert and bash modes).
	JupyterURL string
	// NotebookURL is the notebook with its token (expert mode).
	NotebookURL string
	// WebUI is true when the engine serves a web UI at APIURL/ (API mode).
	WebUI bool
	// Attachment is the container's terminal in bash mode, attached before
	// it started; the caller closes it.
	Attachment *dockerrun.Attachment
	// Volume is the engine's volume holding the model's files (remote
	// engines), Uploaded the bytes copied into it by this Start (0: reused).
	Volume   string
	Uploaded int64

	remote      *remote // nil on a local engine
	unreachable bool    // the URLs cannot be polled from here (tcp engine, loopback ports)

	d        dockerrun.API
	step     func(string)
	kill     <-chan struct{}
	ev       Events
	readyURL string

	exited   chan struct{} // closed when the container stops
	exitCode int           // valid once exited is closed; -1 unknown
	waitErr  error

	// unlock releases the model's lock (launch.Start holds it until the
	// container runs); nil when none is held.
	unlock func()

	stopWatch func()
	logsDone  chan struct{} // nil when the log is not streamed
	stopLogs  func()
	logsOnce  sync.Once
}

// URLs are the addresses of a started model; empty when absent.
type URLs struct {
	API      string // REST API base, e.g. http://127.0.0.1:8000 (API mode)
	Config   string // API + engine.RouteConfig
	WebUI    string // API + / when the engine serves one
	Notebook string // expert mode: the notebook with its token
	Jupyter  string // bash mode: the published notebook port
	APIPort  string // bash mode: the published REST API port
}

// URLs returns the model's addresses for its mode.
func (h *Handle) URLs() URLs {
	switch h.Mode {
	case dockerrun.ModeExpert:
		return URLs{Notebook: h.NotebookURL}
	case dockerrun.ModeBash:
		return URLs{APIPort: h.APIURL, Jupyter: h.JupyterURL}
	}
	u := URLs{API: h.APIURL, Config: engine.ConfigURL(h.APIURL)}
	if h.WebUI {
		u.WebUI = h.APIURL + "/"
	}
	return u
}

// cleanupContext keeps ctx's values, not its cancellation, for removing a
// container after a Ctrl-C.
func cleanupContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// create creates the container with a context that cancellation does not cut
// short: a Ctrl-C during the request must not leave a container whose ID we
// never learnt. A cancelled ctx then removes it at once.
func (h *Handle) create(ctx context.Context, spec dockerrun.Spec) error {
	cctx, cancel := cleanupContext(ctx, cleanupWait)
	id, err := h.d.Create(cctx, spec)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			h.removeByName(ctx)
			return ctx.Err()
		}
		if errors.Is(err, dockerrun.ErrNameInUse) {
			return nameTaken(ctx, h.d, h.Container, h.Model)
		}
		return err
	}
	h.ID = id
	h.reach(StepCreated)
	if err := ctx.Err(); err != nil {
		h.Remove(ctx)
		return err
	}
	return nil
}

// removeByName removes the container named h.Container when it is one this
// Start created (labelled with the model, never started), in case a create
// request failed after the engine made the container.
func (h *Handle) removeByName(ctx context.Context) {
	cctx, cancel := cleanupContext(ctx, cleanupWait)
	defer cancel()
	ct, err := h.d.Inspect(cctx, h.Container)
	if err == nil && ct.State == "created" && ct.Model == h.Model {
		_ = h.d.Remove(cctx, ct.ID)
	}
}

// Remove removes the container (killing it if it runs), even after ctx was
// cancelled; a container already gone is fine. It makes sure the container
// is gone: a removal the engine answers while it is still busy with the
// container (starting it, after a request of ours was cut short) is tried
// again, within cleanupWait.
func (h *Handle) Remove(ctx context.Context) error {
	h.closeRemote()
	cctx, cancel := cleanupContext(ctx, cleanupWait)
	defer cancel()
	var err error
	for try := range removeTries {
		if try > 0 {
			select {
			case <-cctx.Done():
				return errors.Join(err, cctx.Err())
			case <-time.After(time.Duration(try) * removeBackoff):
			}
		}
		err = h.d.Remove(cctx, h.ID)
		if errors.Is(err, dockerrun.ErrContainerNotFound) {
			return nil
		}
		if err != nil {
			continue
		}
		if _, ierr := h.d.Inspect(cctx, h.ID); errors.Is(ierr, dockerrun.ErrContainerNotFound) {
			return nil
		}
		err = fmt.Errorf("container %s is still there after its removal", h.Container)
	}
	return err
}

// removeTries and removeBackoff bound Remove's retries.
const (
	removeTries   = 5
	removeBackoff = 100 * time.Millisecond
)

// start starts the created container; on an error it is removed. The
// request runs to its end even after a cancellation (the engine would
// start the container anyway, after we stopped listening); the container
// is then removed.
func (h *Handle) start(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		cctx, cancel := cleanupContext(ctx, cleanupWait)
		err = h.d.Start(cctx, h.ID)
		cancel()
		if err == nil {
			err = ctx.Err()
		}
	}
	if err == nil && h.unlock != nil {
		// The container runs: from now on rm and load see it in use. A
		// failed start keeps the lock until the container is removed.
		h.unlock()
	}
	if err != nil {
		h.Remove(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, dockerrun.ErrPortBusy) {
			return fmt.Errorf("%w: another program took the port; try again or choose ports with --api-port/--jupyter-port", err)
		}
		return err
	}
	h.reach(StepStarted)
	return nil
}

// startAttached attaches the terminal and starts a bash-mode container.
func (h *Handle) startAttached(ctx context.Context) error {
	att, err := h.d.Attach(ctx, h.ID)
	if err != nil {
		h.Remove(ctx)
		return err
	}
	if err := h.start(ctx); err != nil {
		att.Close()
		return err
	}
	if h.remote != nil {
		if err := h.connectRemote(ctx, h.ev); err != nil {
			att.Close()
			h.Remove(ctx)
			return err
		}
	}
	h.Attachment = att
	h.watch(ctx)
	return nil
}

// watch follows the container until it stops: Exited and Wait see it.
func (h *Handle) watch(ctx context.Context) {
	h.exited = make(chan struct{})
	h.exitCode = -1
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.stopWatch = cancel
	go func() {
		code, err := h.d.Wait(wctx, h.ID)
		if wctx.Err() != nil {
			return // we stopped watching; the container may run on
		}
		h.exitCode, h.waitErr = code, err
		if err != nil {
			h.exitCode = -1
		}
		close(h.exited)
	}()
}

// streamLogs copies the container's log to w until it ends or stopLogs.
func (h *Handle) streamLogs(ctx context.Context, w io.Writer) {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.stopLogs = cancel
	h.logsDone = make(chan struct{})
	go func() {
		defer close(h.logsDone)
		_ = h.d.Logs(lctx, h.ID, dockerrun.LogsOptions{Follow: true}, w, w)
	}()
}

// endLogs ends the log stream: after an exit it lets the stream finish by
// itself first (bounded), so nothing printed after it interleaves.
func (h *Handle) endLogs(exited bool) {
	h.logsOnce.Do(func() {
		if h.logsDone == nil {
			return
		}
		if exited {
			select {
			case <-h.logsDone:
			case <-time.After(2 * time.Second):
			}
		}
		h.stopLogs()
		<-h.logsDone
	})
}

// serve starts an API or expert container and waits until it answers.
func (h *Handle) serve(ctx context.Context, p Poller, opts Options) error {
	if err := h.start(ctx); err != nil {
		return err
	}
	if h.remote != nil {
		if err := h.connectRemote(ctx, h.ev); err != nil {
			h.Remove(ctx)
			return err
		}
	}
	h.watch(ctx)
	if opts.Logs != nil {
		h.streamLogs(ctx, opts.Logs)
	}
	if h.ev.Starting != nil {
		h.ev.Starting(h)
	}
	var err error
	if !h.unreachable {
		err = p.Wait(ctx, h.readyURL, opts.Timeout, h.exited)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrExited):
		h.endLogs(true)
		return h.crashed(ctx, opts.Logs != nil)
	case ctx.Err() != nil:
		h.Stop(ctx)
		return ctx.Err()
	default: // the timeout
		cctx, cancel := cleanupContext(ctx, StopGrace+cleanupWait)
		defer cancel()
		h.endLogs(false)
		te := &TimeoutError{Model: h.Model, Container: h.Container, URL: h.readyURL, Timeout: opts.Timeout, LogShown: opts.Logs != nil}
		if !te.LogShown {
			te.Log = h.tail(cctx)
		}
		h.stopWatch()
		_ = h.d.Stop(cctx, h.ID, 0)
		h.Remove(cctx)
		return te
	}
	h.reach(StepReady)
	if h.Mode == dockerrun.ModeAPI && !h.unreachable {
		h.WebUI = p.Answers(ctx, h.APIURL+"/") == nil
	}
	// A Ctrl-C that came as the model got ready still stops it.
	if err := ctx.Err(); err != nil {
		h.Stop(ctx)
		return err
	}
	return nil
}

// crashed describes a container that exited before it was ready, and removes it.
func (h *Handle) crashed(ctx context.Context, logShown bool) error {
	cctx, cancel := cleanupContext(ctx, cleanupWait)
	defer cancel()
	ce := &CrashError{Model: h.Model, Container: h.Container, Code: h.exitCode, LogShown: logShown}
	if ct, err := h.d.Inspect(cctx, h.ID); err == nil {
		if ce.Code < 0 {
			ce.Code = ct.ExitCode
		}
		switch {
		case ct.OOMKilled:
			ce.Reason = "killed: out of memory; give Docker more memory"
		case ct.Error != "":
			ce.Reason = ct.Error
		}
	}
	if !logShown {
		ce.Log = h.tail(cctx)
	}
	h.Remove(cctx)
	return ce
}

// tail is the end of the container's log.
func (h *Handle) tail(ctx context.Context) []byte {
	var b bytes.Buffer
	_ = h.d.Logs(ctx, h.ID, dockerrun.LogsOptions{Tail: strconv.Itoa(LogTail)}, &b, &b)
	return b.Bytes()
}

// Resize sets the size of the container's terminal (bash mode).
func (h *Handle) Resize(ctx context.Context, rows, cols uint) error {
	return h.d.Resize(ctx, h.ID, rows, cols)
}

// Exited is closed when the container stops by itself.
func (h *Handle) Exited() <-chan struct{} { return h.exited }

// Wait waits until the container stops (or ctx ends) and returns its exit
// code; the log stream, if any, has ended when it returns. It does not
// remove the container.
func (h *Handle) Wait(ctx context.Context) (int, error) {
	select {
	case <-h.exited:
		h.endLogs(true)
		return h.exitCode, h.waitErr
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// Stop stops the container (SIGTERM, then SIGKILL after StopGrace, at once
// when Options.Kill closes) and removes it, also after ctx was cancelled.
// Events.Stopping and Stopped are called around it.
func (h *Handle) Stop(ctx context.Context) error {
	return h.StopWithin(ctx, StopGrace)
}

// StopWithin is Stop with another grace period.
func (h *Handle) StopWithin(ctx context.Context, grace time.Duration) error {
	if h.ev.Stopping != nil {
		h.ev.Stopping(h)
	}
	cctx, cancel := cleanupContext(ctx, grace+cleanupWait)
	defer cancel()
	if h.stopWatch != nil {
		defer h.stopWatch()
	}
	stopCtx, stopCancel := context.WithCancel(cctx)
	done := make(chan error, 1)
	go func() { done <- h.d.Stop(stopCtx, h.ID, grace) }()
	var err error
	select {
	case err = <-done:
	case <-h.kill:
		stopCancel()
		_ = h.d.Kill(cctx, h.ID)
		<-done
	}
	stopCancel()
	h.endLogs(false)
	rerr := h.Remove(cctx)
	if h.ev.Stopped != nil {
		h.ev.Stopped(h)
	}
	if errors.Is(err, dockerrun.ErrContainerNotFound) || ctx.Err() != nil {
		err = nil
	}
	return errors.Join(err, rerr)
}

// CrashError: the container exited before the model answered; it was removed.
type CrashError struct {
	Model, Container string
	Code             int
	Reason           string // the engine's reason, e.g. out of memory
	Log              []byte // the end of its log, when it was not streamed
	LogShown         bool   // the log was streamed to Options.Logs
}

func (e *CrashError) Error() string {
	reason := ""
	if e.Reason != "" {
		reason = " (" + e.Reason + ")"
	}
	where := "(its log is above)"
	if !e.LogShown {
		where = "(the end of its log is above)"
	}
	return fmt.Sprintf("%s exited with code %d%s before it was ready %s; the container was removed. Check the model's files and image (`modelhub run -u %s` updates the model)", e.Model, e.Code, reason, where, e.Model)
}

// TimeoutError: the model did not answer in time; it was stopped and removed.
type TimeoutError struct {
	Model, Container, URL string
	Timeout               time.Duration
	Log                   []byte // the end of its log, when it was not streamed
	LogShown              bool
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s did not answer at %s within %s; it was stopped and removed (its log is above; raise --timeout if it needs longer)", e.Model, e.URL, e.Timeout)
}

// ErrNotRunning: no container of the model runs.
var ErrNotRunning = errors.New("no container of the model is running")

type notRunningError struct{ model string }

func (e *notRunningError) Error() string        { return "no container of " + e.model + " is running" }
func (e *notRunningError) Is(target error) bool { return target == ErrNotRunning }

// ModelContainers is the one rule for finding a model's containers: those
// labelled with the model name, ignoring case, (only the running ones with
// running), the model's own container (ContainerName) first, then those whose
// label has the name's exact case, then the others in the engine's order.
func ModelContainers(ctx context.Context, d dockerrun.API, name string, running bool) ([]dockerrun.Container, error) {
	cs, err := d.List(ctx, !running)
	if err != nil {
		return nil, err
	}
	rank := func(c dockerrun.Container) int {
		switch {
		case c.Name == ContainerName(c.Model):
			return 0
		case c.Model == name:
			return 1
		}
		return 2
	}
	var out []dockerrun.Container
	for _, c := range cs {
		if (running && !c.Running) || !strings.EqualFold(c.Model, name) {
			continue
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b dockerrun.Container) int { return rank(a) - rank(b) })
	return out, nil
}

// FindRunning returns a Handle for the running container of the model name
// (ModelContainers' first), such as one started with `run -d`; an error
// matching ErrNotRunning when there is none.
func FindRunning(ctx context.Context, d dockerrun.API, name string) (*Handle, error) {
	cs, err := ModelContainers(ctx, d, name, true)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, &notRunningError{name}
	}
	found := &cs[0]
	h := &Handle{Model: found.Model, Container: found.Name, ID: found.ID, Mode: found.Mode, NotebookURL: found.NotebookURL, d: d}
	host := URLHost(found.HostIP)
	for _, p := range found.Ports {
		u := "http://" + net.JoinHostPort(host, strconv.Itoa(p.Host))
		switch p.Container {
		case 80:
			h.APIURL, h.APIPort = u, p.Host
		case 8080:
			h.JupyterURL = u
		}
	}
	if found.ContribSrc != "" {
		h.Dir = filepath.Dir(found.ContribSrc)
	}
	return h, nil
}

// reach reports a step of Start (Options.Step).
func (h *Handle) reach(step string) {
	if h.step != nil {
		h.step(step)
	}
}
