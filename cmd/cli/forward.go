package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/launch"
)

// ForwardOptions are the inputs of `modelhub forward`.
type ForwardOptions struct {
	IO     *IOStreams
	Docker func(ctx context.Context) (dockerrun.API, error)

	Model       string
	APIPort     int
	JupyterPort int
}

// NewCmdForward builds `modelhub forward`.
func NewCmdForward(f *Factory, runF func(context.Context, *ForwardOptions) error) *cobra.Command {
	opts := &ForwardOptions{IO: f.IO, Docker: f.Docker}
	cmd := &cobra.Command{
		Use:   "forward MODEL",
		Short: "Reach a model running on a remote (ssh) Docker engine from this machine",
		Long: `Forward the ports of a model that runs on a Docker engine reached over ssh
(DOCKER_HOST=ssh://user@server, or a Docker context) to 127.0.0.1 of this machine,
through the system ssh, and print its URLs. It runs until Ctrl-C or until the model
stops. ` + "`modelhub run -d`" + ` on an ssh engine starts one in the background for you;
use this one after a reboot, or to choose other ports.`,
		Example: `  DOCKER_HOST=ssh://me@gpu-server modelhub run -d squeezenet
  DOCKER_HOST=ssh://me@gpu-server modelhub forward squeezenet --api-port 9000`,
		GroupID: "use",
		Args:    exactArgs(1, "a MODEL name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			for _, p := range []struct {
				flag string
				v    int
			}{{"--api-port", opts.APIPort}, {"--jupyter-port", opts.JupyterPort}} {
				if p.v < 0 || p.v > 65535 {
					return usageErrorf("%s %d: a port is a number from 0 (any free port) to 65535", p.flag, p.v)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return forwardRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.APIPort, "api-port", 0, "port of this machine for the REST API (default: any free port)")
	cmd.Flags().IntVar(&opts.JupyterPort, "jupyter-port", 0, "port of this machine for the notebook (default: any free port)")
	return cmd
}

func forwardRun(ctx context.Context, opts *ForwardOptions) error {
	d, err := opts.Docker(ctx)
	if err != nil {
		return err
	}
	h, err := launch.Forward(ctx, d, opts.Model, opts.APIPort, opts.JupyterPort)
	if errors.Is(err, launch.ErrLocalEngine) {
		opts.IO.Notef("%s runs on this machine's Docker engine: nothing to forward", h.Model)
		printURLLines(opts.IO, h)
		return nil
	}
	if err != nil {
		return err
	}
	defer h.Close()
	printURLLines(opts.IO, h)
	opts.IO.Notef("forwarding %s from %s over ssh; press Ctrl+C to stop (the model keeps running)", h.Model, d.Endpoint().Host)
	select {
	case <-ctx.Done():
		return ErrInterrupted
	case <-h.Exited():
		opts.IO.Notef("%s stopped; forwarding ended", h.Model)
		return nil
	}
}

// printURLLines prints a model's URLs one a line, NAME: URL.
func printURLLines(ios *IOStreams, h *launch.Handle) {
	u := h.URLs()
	for _, l := range [][2]string{{"REST API", u.Config}, {"Notebook", u.Notebook}, {"API port", u.APIPort}, {"Jupyter", u.Jupyter}} {
		if l[1] != "" {
			fprintf(ios.Out, "%s: %s\n", l[0], l[1])
		}
	}
}

// forwardInBackground starts `modelhub forward` for a detached model of an
// ssh engine, as a process of its own that outlives this one (it ends when
// the model stops), and waits until the model answers through it. Its output
// goes to logPath.
func forwardInBackground(ctx context.Context, h *launch.Handle, ep dockerrun.Endpoint, logPath string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start the port forward: %w", err)
	}
	args := []string{"forward", h.Model, "--api-port", strconv.Itoa(h.APIPort)}
	if h.JupyterURL != "" {
		args = append(args, "--jupyter-port", portOf(h.JupyterURL))
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return fmt.Errorf("start the port forward: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("start the port forward: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(self, args...)
	// The child talks to exactly this engine, whatever chose it here.
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+ep.Host, "DOCKER_CONTEXT=")
	cmd.Stdout, cmd.Stderr = logf, logf
	detachProcess(cmd)
	h.Close() // free the ports for the child
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the port forward: %w", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	readyURL := engine.ReadyURL(h.APIURL)
	if h.Mode == dockerrun.ModeExpert {
		readyURL = h.JupyterURL + "/"
	}
	err = launch.Poller{Interval: 100 * time.Millisecond}.Wait(ctx, readyURL, forwardReadyWait, exited)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, launch.ErrExited):
		b, _ := os.ReadFile(logPath)
		return fmt.Errorf("the port forward of %s ended (%v): %s; retry with `modelhub forward %s`", h.Model, waitErr, lastLine(b), h.Model)
	case ctx.Err() != nil:
		_ = cmd.Process.Kill()
		return ErrInterrupted
	}
	_ = cmd.Process.Kill()
	return fmt.Errorf("%s did not answer through the ssh forward within %s (log: %s); retry with `modelhub forward %s`", h.Model, forwardReadyWait, logPath, h.Model)
}

// forwardReadyWait bounds the wait for a model to answer through a new forward.
const forwardReadyWait = 60 * time.Second

// forwardLogPath is where a background forward writes: the cache folder.
func forwardLogPath(container string) string {
	if cache, err := config.DefaultCache(); err == nil {
		return filepath.Join(cache, "forward", container+".log")
	}
	return filepath.Join(os.TempDir(), "modelhub-forward-"+container+".log")
}

func portOf(u string) string {
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] == ':' {
			return u[i+1:]
		}
	}
	return "0"
}

func lastLine(b []byte) string {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	if s == "" {
		return "no output"
	}
	return s
}
