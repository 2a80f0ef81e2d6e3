package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
)

// RunOptions are the inputs of `modelhub run`.
type RunOptions struct {
	IO      *IOStreams
	Factory *Factory

	Model          string
	Update         bool
	UpdateImage    bool
	Platform       string
	MountData      string
	MountFramework string
	APIPort        int
	JupyterPort    int
	APIPortSet     bool // --api-port given: a busy port is an error, not skipped
	JupyterPortSet bool
	Host           string
	GPU            bool
	CPU            bool
	Expert         bool
	Bash           bool
	Detach         bool
	JSON           bool
	Timeout        time.Duration
}

// Defaults of `modelhub run`.
const (
	defaultAPIPort     = 8000
	defaultJupyterPort = 8888
	defaultHost        = "127.0.0.1"
	stopGrace          = 10 * time.Second
	crashLogLines      = 30
)

// Tunables, variables so tests can shrink them.
var (
	readyInterval    = 50 * time.Millisecond
	readyRequestWait = 2 * time.Second
	portSearchSpan   = 100
)

// NewCmdRun builds `modelhub run`.
func NewCmdRun(f *Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "run MODEL",
		Short: "Download a model if needed and start it in Docker",
		Long: `Download MODEL if needed (see pull), make sure its Docker image is present, start
it and print the URLs of its REST API and web UI. The container is named modelhub-MODEL;
its ports are bound to 127.0.0.1 unless --host says otherwise. Ctrl-C stops and removes it.

With --expert the container runs a Jupyter notebook protected by a fresh random token;
with --bash you get a shell in the container; with --detach it keeps running in the
background (see ps, logs and stop).`,
		Example: `  modelhub run squeezenet
  modelhub run -d --json squeezenet
  modelhub run -e --mount-data ./images squeezenet
  modelhub run --api-port 9000 --host 0.0.0.0 squeezenet`,
		GroupID:           "use",
		Args:              exactArgs(1, "a MODEL name"),
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			opts.APIPortSet = cmd.Flags().Changed("api-port")
			opts.JupyterPortSet = cmd.Flags().Changed("jupyter-port")
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Update, "update", "u", false, "update the model (git pull and changed files) before starting it")
	fl.BoolVar(&opts.UpdateImage, "update-image", false, "remove the local Docker image and pull it again")
	fl.StringVar(&opts.Platform, "platform", "", "image platform to pull and run, e.g. linux/amd64 (default: the engine's own)")
	fl.StringVar(&opts.MountData, "mount-data", "", "mount folder `DIR` at /data in the container")
	fl.StringVar(&opts.MountFramework, "mount-framework", "", "mount a local engine checkout `DIR` at /framework")
	fl.IntVar(&opts.APIPort, "api-port", defaultAPIPort, "host port of the REST API and web UI (a busy default takes the next free port)")
	fl.IntVar(&opts.JupyterPort, "jupyter-port", defaultJupyterPort, "host port of the notebook with --expert")
	fl.StringVar(&opts.Host, "host", defaultHost, "host address the ports bind to (0.0.0.0 exposes the model to your network)")
	fl.BoolVarP(&opts.GPU, "gpu", "g", false, "give the container all NVIDIA GPUs (automatic for models the index marks gpu)")
	fl.BoolVar(&opts.CPU, "cpu", false, "never request GPUs, even for a GPU model")
	fl.BoolVarP(&opts.Expert, "expert", "e", false, "start a Jupyter notebook (with a random token) instead of the REST API")
	fl.BoolVarP(&opts.Bash, "bash", "b", false, "open a shell in the container (needs a terminal)")
	fl.BoolVarP(&opts.Detach, "detach", "d", false, "leave the model running in the background once it is ready")
	fl.BoolVar(&opts.JSON, "json", false, "with --detach: print {name, container, mode, api_url, notebook_url} as JSON")
	fl.DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "how long to wait for the model to answer")
	cmd.MarkFlagsMutuallyExclusive("gpu", "cpu")
	cmd.MarkFlagsMutuallyExclusive("expert", "bash")
	cmd.MarkFlagsMutuallyExclusive("bash", "detach")
	return cmd
}

func (o *RunOptions) validate() error {
	if o.JSON && !o.Detach {
		return usageErrorf("--json needs --detach")
	}
	for _, p := range []struct {
		flag string
		port int
	}{{"--api-port", o.APIPort}, {"--jupyter-port", o.JupyterPort}} {
		if p.port < 1 || p.port > 65535 {
			return usageErrorf("%s %d: a port is a number from 1 to 65535", p.flag, p.port)
		}
	}
	if o.Expert && o.APIPort == o.JupyterPort {
		return usageErrorf("--api-port and --jupyter-port are both %d: give them different ports", o.APIPort)
	}
	if net.ParseIP(o.Host) == nil {
		return usageErrorf("--host %q: want an IP address such as 127.0.0.1 or 0.0.0.0", o.Host)
	}
	if o.Timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	if o.Platform != "" {
		if _, err := dockerrun.ParsePlatform(o.Platform); err != nil {
			return &UsageError{Err: fmt.Errorf("--platform: %w", err)}
		}
	}
	return nil
}

func (o *RunOptions) mode() string {
	switch {
	case o.Expert:
		return dockerrun.ModeExpert
	case o.Bash:
		return dockerrun.ModeBash
	}
	return dockerrun.ModeAPI
}

// runResult is `run --detach --json`.
type runResult struct {
	Name        string `json:"name"`
	Container   string `json:"container"`
	Mode        string `json:"mode"`
	APIURL      string `json:"api_url"`
	NotebookURL string `json:"notebook_url"`
}

// started is a created container and what we know of it.
type started struct {
	id, name   string
	model      *runModel
	mode       string
	apiBase    string // http://127.0.0.1:8000
	notebook   string // full notebook URL with token (expert)
	readyURL   string
	webUI      bool
	hostForURL string
}

func runRun(ctx context.Context, opts *RunOptions) error {
	ios := opts.IO
	if opts.Bash && !(ios.InTTY && ios.OutTTY) {
		return errors.New("bash mode needs a terminal: run it from an interactive terminal (stdin and stdout must not be redirected)")
	}
	// Check the mount folders before any download.
	dataDir, err := absDir(opts.MountData, "--mount-data")
	if err != nil {
		return err
	}
	frameworkDir, err := absDir(opts.MountFramework, "--mount-framework")
	if err != nil {
		return err
	}
	models, ref, err := resolveModel(ctx, opts)
	if err != nil {
		return err
	}
	if ref.IsNotebook() {
		return runNotebook(ctx, ios, models, ref, "run")
	}
	// Docker and the GPU are checked before anything is downloaded.
	d, err := opts.Factory.Docker(ctx)
	if err != nil {
		return err
	}
	gpu := (needsGPU(ref) || opts.GPU) && !opts.CPU
	var info dockerrun.EngineInfo
	if gpu || opts.Platform == "" {
		if info, err = d.Info(ctx); err != nil {
			return err
		}
	}
	if gpu && !info.NVIDIA {
		why := "the index marks " + ref.Name + " as a GPU model"
		if opts.GPU {
			why = "--gpu asks for a GPU"
		}
		return fmt.Errorf("%s needs an NVIDIA GPU (%s), but this Docker engine has no NVIDIA runtime or CDI devices: install the NVIDIA Container Toolkit (https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html) and restart Docker, or run with --cpu to try without a GPU", ref.Name, why)
	}
	// A running container of the model is refused before its files change.
	name := containerName(ref.Name)
	if err := clearLeftover(ctx, d, name, ref.Name); err != nil {
		return err
	}
	model, err := acquireModel(ctx, opts, models, ref)
	if err != nil {
		return err
	}
	if err := ensureImage(ctx, d, opts, model.DockerID, info); err != nil {
		return err
	}
	st, spec, err := planContainer(opts, model, name, gpu, dataDir, frameworkDir)
	if err != nil {
		return err
	}
	st.id, err = d.Create(ctx, spec)
	if err != nil {
		return err
	}
	if opts.Bash {
		return runBash(ctx, opts, d, st)
	}
	return runServe(ctx, opts, d, st)
}

// absDir makes a --mount-* folder absolute and checks it exists.
func absDir(dir, flag string) (string, error) {
	if dir == "" {
		return "", nil
	}
	abs, err := dockerrun.HostPath(dir)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%s %s: no such folder; give an existing folder", flag, dir)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s %s: not a folder; give a folder to mount", flag, dir)
	}
	return abs, nil
}

// clearLeftover removes a stopped container of the same name and refuses a running one.
func clearLeftover(ctx context.Context, d dockerAPI, name, model string) error {
	ct, err := d.Inspect(ctx, name)
	if errors.Is(err, dockerrun.ErrContainerNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ct.Running {
		where := ct.APIURL
		if ct.NotebookURL != "" {
			where = ct.NotebookURL
		}
		if where == "" {
			where = "container " + name
		}
		return fmt.Errorf("%s is already running at %s; `modelhub stop %s` first", model, where, model)
	}
	if err := d.Remove(ctx, ct.ID); err != nil && !errors.Is(err, dockerrun.ErrContainerNotFound) {
		return fmt.Errorf("remove the stopped container %s: %w", name, err)
	}
	return nil
}

// pickPort returns the host port to bind: want if free; for a default port the
// next free one (with a note); for an explicit one an error.
func pickPort(ios *IOStreams, host string, want int, explicit bool, flag string, taken map[int]bool) (int, error) {
	for p := want; p < want+portSearchSpan && p <= 65535; p++ {
		if taken[p] {
			continue
		}
		if portFree(host, p) {
			if p != want {
				ios.Notef("port %d is busy; using %d instead (choose one with %s)", want, p, flag)
			}
			return p, nil
		}
		if explicit {
			return 0, fmt.Errorf("port %d on %s is already in use (%s): stop what uses it or choose another port with %s", want, host, flag, flag)
		}
	}
	return 0, fmt.Errorf("no free port on %s from %d to %d: free one or choose one with %s", host, want, want+portSearchSpan-1, flag)
}

func portFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// urlHost is the address to put in URLs: a wildcard bind is reached on loopback.
func urlHost(host string) string {
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return host
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// planContainer chooses ports and URLs and builds the container spec.
func planContainer(opts *RunOptions, model *runModel, name string, gpu bool, dataDir, frameworkDir string) (*started, dockerrun.Spec, error) {
	ios := opts.IO
	ip := net.ParseIP(opts.Host)
	if !ip.IsLoopback() {
		ios.Warnf("binding to %s: %s will be reachable from your network, not only from this computer", opts.Host, model.Name)
	}
	contrib, err := dockerrun.HostPath(filepath.Join(model.Dir, "contrib_src"))
	if err != nil {
		return nil, dockerrun.Spec{}, err
	}
	st := &started{name: name, model: model, mode: opts.mode(), hostForURL: urlHost(opts.Host)}
	spec := dockerrun.Spec{
		Name: name, Image: model.DockerID, Platform: opts.Platform, Model: model.Name, Mode: st.mode,
		ContribSrc: contrib, DataDir: dataDir, FrameworkDir: frameworkDir, HostIP: opts.Host, GPU: gpu,
	}
	taken := map[int]bool{}
	apiPort, err := pickPort(ios, opts.Host, opts.APIPort, opts.APIPortSet, "--api-port", taken)
	if err != nil {
		return nil, spec, err
	}
	taken[apiPort] = true
	spec.Ports = []dockerrun.Port{{Container: 80, Host: apiPort}}
	st.apiBase = fmt.Sprintf("http://%s", net.JoinHostPort(st.hostForURL, strconv.Itoa(apiPort)))
	switch st.mode {
	case dockerrun.ModeAPI:
		spec.APIURL = st.apiBase
		st.readyURL = st.apiBase + "/api/get_config"
	case dockerrun.ModeExpert:
		jp, err := pickPort(ios, opts.Host, opts.JupyterPort, opts.JupyterPortSet, "--jupyter-port", taken)
		if err != nil {
			return nil, spec, err
		}
		spec.Ports = append(spec.Ports, dockerrun.Port{Container: 8080, Host: jp})
		token := randomToken()
		spec.Cmd = []string{"jupyter", "notebook", "--ip=0.0.0.0", "--port=8080", "--no-browser", "--allow-root", "--NotebookApp.token=" + token}
		base := fmt.Sprintf("http://%s", net.JoinHostPort(st.hostForURL, strconv.Itoa(jp)))
		st.notebook = base + "/notebooks/sandbox.ipynb?token=" + token
		st.readyURL = base + "/api/status?token=" + token
		spec.NotebookURL = st.notebook
	case dockerrun.ModeBash:
		spec.Cmd = []string{"/bin/bash"}
		spec.TTY = true
		spec.APIURL = st.apiBase
	}
	return st, spec, nil
}

// errExitedEarly is a container that stopped before it answered.
type errExitedEarly struct{ code int }

func (e errExitedEarly) Error() string { return fmt.Sprintf("exited with code %d", e.code) }

// waitReady polls url every readyInterval until it answers 200, the
// container exits (exited is closed), or ctx ends.
func waitReady(ctx context.Context, client *http.Client, url string, exited <-chan struct{}) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errExitedEarly{}
		case <-t.C:
		}
		if answers(ctx, client, url) {
			return nil
		}
		t.Reset(readyInterval)
	}
}

func answers(ctx context.Context, client *http.Client, url string) bool {
	rctx, cancel := context.WithTimeout(ctx, readyRequestWait)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// localHTTP is the client for talking to the model on loopback: no proxy.
var localHTTP = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// runServe starts an API or expert container, waits until it answers, prints
// its URLs and then (unless detached) streams its logs until Ctrl-C.
func runServe(ctx context.Context, opts *RunOptions, d dockerAPI, st *started) error {
	ios := opts.IO
	if err := d.Start(ctx, st.id); err != nil {
		removeQuietly(ctx, d, st.id)
		if errors.Is(err, dockerrun.ErrPortBusy) {
			return fmt.Errorf("%w: another program took the port; try again or choose ports with --api-port/--jupyter-port", err)
		}
		return err
	}
	// Watch the container: exitCode is valid once exited is closed.
	exited := make(chan struct{})
	exitCode := -1
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	go func() {
		code, err := d.Wait(watchCtx, st.id)
		if err == nil {
			exitCode = code
		}
		if watchCtx.Err() == nil {
			close(exited)
		}
	}()
	streamLogs := !opts.Detach && !ios.Quiet
	logsDone := make(chan struct{})
	logCtx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		stopLogs()
		if streamLogs {
			<-logsDone
		}
	}()
	if streamLogs {
		go func() {
			defer close(logsDone)
			_ = d.Logs(logCtx, st.id, dockerrun.LogsOptions{Follow: true}, ios.ErrOut, ios.ErrOut)
		}()
	}
	// drainLogs lets the log stream of an exited container finish (it ends by
	// itself) before we print after it.
	drainLogs := func() {
		if streamLogs {
			select {
			case <-logsDone:
			case <-time.After(2 * time.Second):
			}
			stopLogs()
			<-logsDone
			streamLogs = false
		}
	}
	if !ios.Quiet {
		ios.Notef("starting %s (container %s); waiting for it to answer…", st.model.Name, st.name)
	}
	readyCtx, cancelReady := context.WithTimeout(ctx, opts.Timeout)
	err := waitReady(readyCtx, localHTTP, st.readyURL, exited)
	cancelReady()
	switch {
	case err == nil:
	case errors.As(err, new(errExitedEarly)):
		drainLogs()
		return crashed(ctx, opts, d, st, exitCode, !opts.Detach && !ios.Quiet)
	case ctx.Err() != nil:
		return stopAndRemove(ctx, opts, d, st)
	default: // timeout
		cctx, cancel := cleanupContext(ctx, stopGrace+20*time.Second)
		defer cancel()
		stopLogs()
		if streamLogs {
			<-logsDone
			streamLogs = false
		} else {
			lastLogLines(cctx, opts, d, st)
		}
		_ = d.Stop(cctx, st.id, 0)
		removeQuietly(cctx, d, st.id)
		return fmt.Errorf("%s did not answer at %s within %s; it was stopped and removed (its log is above; raise --timeout if it needs longer)", st.model.Name, st.readyURL, opts.Timeout)
	}
	if st.mode == dockerrun.ModeAPI {
		st.webUI = answers(ctx, localHTTP, st.apiBase+"/")
	}
	printReady(opts, st)
	if opts.Detach {
		return nil
	}
	select {
	case <-ctx.Done():
		err := stopAndRemove(ctx, opts, d, st)
		drainLogs()
		return err
	case <-exited:
		drainLogs()
		removeQuietly(ctx, d, st.id)
		if exitCode == 0 {
			ios.Notef("%s stopped (exit code 0); its container was removed", st.model.Name)
			return nil
		}
		return fmt.Errorf("%s stopped with exit code %d; its container was removed", st.model.Name, exitCode)
	}
}

// crashed reports a container that exited before it was ready and removes it.
func crashed(ctx context.Context, opts *RunOptions, d dockerAPI, st *started, code int, logShown bool) error {
	cctx, cancel := cleanupContext(ctx, 30*time.Second)
	defer cancel()
	var reason string
	if ct, err := d.Inspect(cctx, st.id); err == nil {
		if code < 0 {
			code = ct.ExitCode
		}
		switch {
		case ct.OOMKilled:
			reason = " (killed: out of memory; give Docker more memory)"
		case ct.Error != "":
			reason = " (" + ct.Error + ")"
		}
	}
	if !logShown {
		lastLogLines(cctx, opts, d, st)
	}
	removeQuietly(cctx, d, st.id)
	where := "(its log is above)"
	if !logShown {
		where = "(the end of its log is above)"
	}
	return fmt.Errorf("%s exited with code %d%s before it was ready %s; the container was removed. Check the model's files and image (`modelhub run -u %s` updates the model)", st.model.Name, code, reason, where, st.model.Name)
}

// lastLogLines prints the end of the container's log on stderr.
func lastLogLines(ctx context.Context, opts *RunOptions, d dockerAPI, st *started) {
	ios := opts.IO
	fprintf(ios.ErrOut, "--- last %d log lines of %s ---\n", crashLogLines, st.name)
	_ = d.Logs(ctx, st.id, dockerrun.LogsOptions{Tail: strconv.Itoa(crashLogLines)}, ios.ErrOut, ios.ErrOut)
	fprintf(ios.ErrOut, "---\n")
}

// stopAndRemove handles Ctrl-C: stop with a grace period (a second Ctrl-C
// kills at once), remove, and report the interruption.
func stopAndRemove(ctx context.Context, opts *RunOptions, d dockerAPI, st *started) error {
	ios := opts.IO
	ios.Notef("stopping %s (press Ctrl+C again to kill it now)…", st.model.Name)
	cctx, cancel := cleanupContext(ctx, stopGrace+30*time.Second)
	defer cancel()
	stopCtx, stopCancel := context.WithCancel(cctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Stop(stopCtx, st.id, stopGrace)
	}()
	select {
	case <-done:
	case <-opts.Factory.Forced:
		stopCancel()
		_ = d.Kill(cctx, st.id)
		<-done
	}
	stopCancel()
	removeQuietly(cctx, d, st.id)
	ios.Notef("%s stopped and removed", st.model.Name)
	return ErrInterrupted
}

func removeQuietly(ctx context.Context, d dockerAPI, id string) {
	cctx, cancel := cleanupContext(ctx, 30*time.Second)
	defer cancel()
	_ = d.Remove(cctx, id)
}

// printReady prints the URLs: a box on a terminal, bare lines otherwise, JSON
// with --json.
func printReady(opts *RunOptions, st *started) {
	ios := opts.IO
	res := runResult{Name: st.model.Name, Container: st.name, Mode: st.mode, NotebookURL: st.notebook}
	if st.mode == dockerrun.ModeAPI {
		res.APIURL = st.apiBase
	}
	if opts.JSON {
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return
	}
	var lines [][2]string
	if st.mode == dockerrun.ModeAPI {
		lines = append(lines, [2]string{"REST API", st.apiBase + "/api/get_config"})
		if st.webUI {
			lines = append(lines, [2]string{"Web UI", st.apiBase + "/"})
		}
	} else {
		lines = append(lines, [2]string{"Notebook", st.notebook})
	}
	if ios.OutTTY && !opts.Detach {
		var body []string
		body = append(body, "✓ "+st.model.Name+" is ready", "")
		for _, l := range lines {
			body = append(body, fmt.Sprintf("%-9s %s", l[0], l[1]))
		}
		body = append(body, "", "Press Ctrl+C to stop")
		fprintf(ios.Out, "%s", box(body))
		return
	}
	for _, l := range lines {
		fprintf(ios.Out, "%s: %s\n", l[0], l[1])
	}
	if opts.Detach {
		ios.Notef("%s runs in the background: `modelhub logs %s`, `modelhub stop %s`", st.model.Name, st.model.Name, st.model.Name)
	} else {
		ios.Notef("Press Ctrl+C to stop")
	}
}

// box draws lines in a rounded frame.
func box(lines []string) string {
	w := 0
	for _, l := range lines {
		w = max(w, len([]rune(l)))
	}
	bar := make([]rune, w+2)
	for i := range bar {
		bar[i] = '─'
	}
	s := "╭" + string(bar) + "╮\n"
	for _, l := range lines {
		s += "│ " + l + spaces(w-len([]rune(l))) + " │\n"
	}
	return s + "╰" + string(bar) + "╯\n"
}

func spaces(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	return string(b)
}
