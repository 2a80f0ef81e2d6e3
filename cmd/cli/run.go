package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/store"
	"github.com/modelhub-ai/modelhub/internal/webui"
)

// RunOptions are the inputs of `modelhub run`.
type RunOptions struct {
	IO     *IOStreams
	Store  func() (*store.Store, error)
	Docker func(ctx context.Context) (dockerrun.API, error)
	Forced <-chan struct{} // the second Ctrl-C: kill at once

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
	GPUs           string
	CPU            bool
	Expert         bool
	Bash           bool
	Detach         bool
	JSON           bool
	Timeout        time.Duration
	UIPort         int  // the web UI's port on 127.0.0.1
	UIPortSet      bool // --ui-port given: a busy port is an error, not skipped
	NoUI           bool
}

// Defaults of `modelhub run`.
const (
	defaultAPIPort     = 8000
	defaultJupyterPort = 8888
)

// NewCmdRun builds `modelhub run`.
func NewCmdRun(f *Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IO, Store: f.Store, Docker: f.Docker, Forced: f.Forced}
	cmd := &cobra.Command{
		Use:   "run MODEL",
		Short: "Download a model if needed and start it in Docker",
		Long: `Download MODEL if needed (see pull), make sure its Docker image is present, start
it and print the URLs of its REST API and web UI. The container is named modelhub-MODEL;
its ports are bound to 127.0.0.1 unless --host says otherwise. Ctrl-C stops and removes it.

The web UI (the model's card, samples, and a form to run it on your files) is served
by modelhub itself on 127.0.0.1:--ui-port while run runs; a model started with
--detach has its page on ` + "`modelhub ui`" + `.

With --expert the container runs a Jupyter notebook protected by a fresh random token;
with --bash you get a shell in the container (the REST API and notebook ports are
published too, for servers you start from the shell); with --detach it keeps running
in the background (see ps, logs and stop).`,
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
			opts.UIPortSet = cmd.Flags().Changed("ui-port")
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
	fl.BoolVar(&opts.UpdateImage, "update-image", false, "pull the Docker image again (the old one is removed once the new one is in place)")
	fl.StringVar(&opts.Platform, "platform", "", "image platform to pull and run, e.g. linux/amd64 (default: the engine's own)")
	fl.StringVar(&opts.MountData, "mount-data", "", "mount folder `DIR` at /data in the container")
	fl.StringVar(&opts.MountFramework, "mount-framework", "", "mount a local engine checkout `DIR` at /framework")
	fl.IntVar(&opts.APIPort, "api-port", defaultAPIPort, "host port of the REST API (a busy default takes the next free port)")
	fl.IntVar(&opts.UIPort, "ui-port", defaultUIPort, "`PORT` on 127.0.0.1 of the web UI (a busy default takes the next free port); with -d, where to look for a running modelhub ui")
	fl.BoolVar(&opts.NoUI, "no-ui", false, "do not serve the web UI")
	fl.IntVar(&opts.JupyterPort, "jupyter-port", defaultJupyterPort, "host port of the notebook with --expert (and --bash)")
	fl.StringVar(&opts.Host, "host", launch.DefaultHost, "host address the ports bind to (0.0.0.0 exposes the model to your network)")
	fl.BoolVarP(&opts.GPU, "gpu", "g", false, "give the container all NVIDIA GPUs (automatic for models the index marks gpu)")
	fl.StringVar(&opts.GPUs, "gpus", "", "which GPUs, in Docker's syntax: all, a number (2) or device=ID[,ID] (device=0,2)")
	fl.BoolVar(&opts.CPU, "cpu", false, "never request GPUs, even for a GPU model")
	fl.BoolVarP(&opts.Expert, "expert", "e", false, "start a Jupyter notebook (with a random token) instead of the REST API")
	fl.BoolVarP(&opts.Bash, "bash", "b", false, "open a shell in the container (needs a terminal)")
	fl.BoolVarP(&opts.Detach, "detach", "d", false, "leave the model running in the background once it is ready")
	fl.BoolVar(&opts.JSON, "json", false, "with --detach: print {name, container, mode, api_url, notebook_url, web_ui_url, engine, uploaded_bytes} as JSON")
	fl.DurationVar(&opts.Timeout, "timeout", launch.DefaultTimeout, "how long to wait for the model to answer")
	cmd.MarkFlagsMutuallyExclusive("gpu", "cpu")
	cmd.MarkFlagsMutuallyExclusive("gpus", "cpu")
	cmd.MarkFlagsMutuallyExclusive("expert", "bash")
	cmd.MarkFlagsMutuallyExclusive("bash", "detach")
	return cmd
}

func (o *RunOptions) validate() error {
	if o.JSON && !o.Detach {
		return usageErrorf("--json needs --detach")
	}
	if o.GPUs != "" {
		if _, err := dockerrun.ParseGPUs(o.GPUs); err != nil {
			return &UsageError{Err: err}
		}
	}
	for _, p := range []struct {
		flag string
		port int
	}{{"--api-port", o.APIPort}, {"--jupyter-port", o.JupyterPort}, {"--ui-port", o.UIPort}} {
		if p.port < 1 || p.port > 65535 {
			return usageErrorf("%s %d: a port is a number from 1 to 65535", p.flag, p.port)
		}
	}
	if (o.Expert || o.Bash) && o.APIPort == o.JupyterPort {
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
	WebUIURL    string `json:"web_ui_url"`
	// Engine is the Docker engine's address, e.g. ssh://me@gpu-server.
	Engine string `json:"engine"`
	// UploadedBytes is what was copied to a remote engine's volume (0: none).
	UploadedBytes int64 `json:"uploaded_bytes"`
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
	s, m, err := resolveModel(ctx, opts.Store, opts.Model)
	if err != nil {
		return err
	}
	if m.IsNotebook() {
		return runNotebook(ctx, ios, s, m, "run") // a Colab notebook: no container
	}
	lo := runLaunchOptions(opts, m, dataDir, frameworkDir)
	// the web UI's port is taken first: a busy --ui-port fails before anything starts
	uiListener, uiNote, err := listenRunUI(opts)
	if err != nil {
		return err
	}
	h, err := launch.Start(ctx, launch.Deps{Docker: opts.Docker, Store: s}, lo, runEvents(opts))
	if err != nil {
		if uiListener != nil {
			uiListener.Close()
		}
		var gpuErr *launch.NoGPUError
		if errors.As(err, &gpuErr) {
			return fmt.Errorf("%w, %s", err, noGPUHint(opts.GPUs, "run with"))
		}
		fprintf(ios.ErrOut, "%s", launch.LogTailOf(err))
		return err
	}
	if opts.Bash {
		return runBash(ctx, ios, h)
	}
	if err := ctx.Err(); err != nil && opts.Detach {
		// Ctrl-C before run -d finished: it leaves nothing running.
		h.Stop(ctx)
		return err
	}
	if ep, remote := h.Remote(); remote && opts.Detach && ep.Kind() == dockerrun.EngineSSH {
		// This process ends: a forward of its own keeps the URLs answering.
		if err := forwardInBackground(ctx, h, ep, forwardLogPath(h.Container)); err != nil {
			return err
		}
	}
	webUI, stopUI := runWebUI(ctx, opts, h, uiListener, uiNote)
	defer stopUI()
	printReady(ios, h, webUI, opts.Detach, opts.JSON)
	if opts.Detach {
		return nil
	}
	return waitRunning(ctx, ios, h)
}

// runLaunchOptions is what launch needs to start the resolved model m as the
// run flags ask, with the checked mount folders; the container's log streams
// to the terminal unless detached, quiet or in bash mode.
func runLaunchOptions(opts *RunOptions, m *store.Model, dataDir, frameworkDir string) launch.Options {
	lo := launch.Options{
		Resolved: m, Update: opts.Update, UpdateImage: opts.UpdateImage, Platform: opts.Platform,
		Mode: opts.mode(), Host: opts.Host, GPU: launch.GPUChoice(opts.GPU, opts.CPU), GPUs: opts.GPUs, DataDir: dataDir, FrameworkDir: frameworkDir,
		APIPort: opts.APIPort, JupyterPort: opts.JupyterPort, APIPortFixed: opts.APIPortSet, JupyterPortFixed: opts.JupyterPortSet,
		Timeout: opts.Timeout, Kill: opts.Forced,
	}
	if !opts.Detach && !opts.IO.Quiet && !opts.Bash {
		lo.Logs, _ = termStream(opts.IO.ErrOut, opts.IO.ErrTTY)
	}
	return lo
}

// runEvents are the notes run prints while the model starts and stops
// (no "starting" note in bash mode).
func runEvents(opts *RunOptions) launch.Events {
	ios := opts.IO
	ev := launchEvents(ios)
	ev.Stopping = func(h *launch.Handle) { ios.Notef("stopping %s (press Ctrl+C again to kill it now)…", h.Model) }
	ev.Stopped = func(h *launch.Handle) { ios.Notef("%s stopped and removed", h.Model) }
	if !opts.Bash {
		ev.Starting = func(h *launch.Handle) {
			ios.Notef("starting %s (container %s); waiting for it to answer…", h.Model, h.Container)
		}
	}
	return ev
}

// runWebUI serves the web UI on uiListener when run took one (after its note),
// else for run -d finds the URL of one already serving the model; it returns
// the URL ("" for none) and the function that stops a served UI.
func runWebUI(ctx context.Context, opts *RunOptions, h *launch.Handle, uiListener net.Listener, uiNote string) (string, func()) {
	if uiListener != nil {
		if uiNote != "" {
			opts.IO.Notef("%s", uiNote)
		}
		return serveRunUI(ctx, uiListener, webui.Model{Name: h.Model, Mode: h.Mode, APIURL: h.APIURL, ContribSrc: filepath.Join(h.Dir, config.ContribSrc)})
	}
	if opts.Detach {
		return detachedUIURL(ctx, opts, h.Model), func() {}
	}
	return "", func() {}
}

// waitRunning keeps a foreground model running until Ctrl-C, which stops and
// removes it, or until it exits by itself (its container is then removed).
func waitRunning(ctx context.Context, ios *IOStreams, h *launch.Handle) error {
	select {
	case <-ctx.Done():
		if err := h.Stop(ctx); err != nil {
			ios.Warnf("could not stop %s: %v (remove it with `modelhub stop %s`)", h.Model, err, h.Model)
			return ErrInterrupted
		}
		return errStoppedByUser // "stopped and removed" said it, calmly
	case <-h.Exited():
		code, _ := h.Wait(ctx)
		_ = h.Remove(ctx)
		if code == 0 {
			ios.Notef("%s stopped (exit code 0); its container was removed", h.Model)
			return nil
		}
		return fmt.Errorf("%s stopped with exit code %d; its container was removed", h.Model, code)
	}
}

// printReady prints the URLs: a box on a terminal, bare lines otherwise, JSON
// with --json. webUI is the page modelhub serves for the model ("" for none;
// the engine's own page, if any, is not shown: today's engine has none).
func printReady(ios *IOStreams, h *launch.Handle, webUI string, detach, asJSON bool) {
	u := h.URLs()
	if asJSON {
		_ = writeJSON(ios.Out, runResult{Name: h.Model, Container: h.Container, Mode: h.Mode, APIURL: u.API, NotebookURL: u.Notebook, WebUIURL: webUI,
			Engine: h.Engine, UploadedBytes: h.Uploaded})
		return
	}
	var lines [][2]string
	for _, l := range [][2]string{{"REST API", u.Config}, {"Web UI", webUI}, {"Notebook", u.Notebook}} {
		if l[1] != "" {
			lines = append(lines, l)
		}
	}
	if ios.OutTTY && !detach {
		body := []string{"✓ " + h.Model + " is ready", ""}
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
	if detach {
		ios.Notef("%s runs in the background: `modelhub logs %s`, `modelhub stop %s`", h.Model, h.Model, h.Model)
	} else {
		ios.Notef("Press Ctrl+C to stop")
	}
}
