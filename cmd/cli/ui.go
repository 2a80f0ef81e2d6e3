package cli

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/dockerrun"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/webui"
)

// defaultUIPort is where `modelhub ui` and the web UI of `modelhub run` listen
// (a busy default takes the next free port).
const defaultUIPort = 8800

// UIOptions are the inputs of `modelhub ui`.
type UIOptions struct {
	IO     *IOStreams
	Docker func(ctx context.Context) (dockerrun.API, error)
	// OpenURL opens a URL in the user's browser; nil means the system's opener.
	OpenURL func(url string) error

	Port    int
	PortSet bool // --ui-port given: a busy port is an error, not skipped
	Open    bool
}

// NewCmdUI builds `modelhub ui`.
func NewCmdUI(f *Factory, runF func(context.Context, *UIOptions) error) *cobra.Command {
	opts := &UIOptions{IO: f.IO, Docker: f.Docker, OpenURL: f.OpenURL}
	var oldPort int
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Serve the web UI of every running model until Ctrl-C",
		Long: `Serve a web UI for the models running in Docker (started with modelhub run -d):
an index page listing them and, per model, a page with its card, its samples and a
form to run it on a sample or on your own file. It prints its URL and serves until
Ctrl-C. It listens on 127.0.0.1 only and answers only requests addressed to
127.0.0.1, localhost or [::1] at its port.`,
		Example: `  modelhub run -d squeezenet && modelhub ui --open
  modelhub ui --ui-port 9000`,
		GroupID: "use",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// --port is the old name of --ui-port (run's name for the same port)
			fl := cmd.Flags()
			if fl.Changed("port") {
				if fl.Changed("ui-port") && oldPort != opts.Port {
					return usageErrorf("--port %d and --ui-port %d disagree: --port is the old name of --ui-port; pass only --ui-port", oldPort, opts.Port)
				}
				opts.Port = oldPort
				opts.IO.Notef("--port is now called --ui-port (as in modelhub run); --port still works")
			}
			opts.PortSet = fl.Changed("ui-port") || fl.Changed("port")
			if opts.Port < 1 || opts.Port > 65535 {
				return usageErrorf("--ui-port %d: a port is a number from 1 to 65535", opts.Port)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return uiRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Port, "ui-port", "p", defaultUIPort, "`PORT` on 127.0.0.1 to serve on, as run's --ui-port (a busy default takes the next free port)")
	cmd.Flags().IntVar(&oldPort, "port", defaultUIPort, "old name of --ui-port")
	_ = cmd.Flags().MarkHidden("port") // pflag's MarkDeprecated would write its note to stdout
	cmd.Flags().BoolVar(&opts.Open, "open", false, "open the web UI in your browser")
	return cmd
}

func uiRun(ctx context.Context, opts *UIOptions) error {
	d, err := opts.Docker(ctx)
	if err != nil {
		return err
	}
	l, note, err := listenUI(opts.Port, opts.PortSet, "--ui-port")
	if err != nil {
		return err
	}
	if note != "" {
		opts.IO.Notef("%s", note)
	}
	live := runningModels(d)
	srv := &webui.Server{Models: webui.Cached(live, time.Second), Fresh: live, Preview: previewOutput, Convert: convertUpload}
	url := webui.URL(webui.Port(l), "")
	fprintf(opts.IO.Out, "Web UI: %s\n", url)
	opts.IO.Notef("serving the web UI of every running model; press Ctrl+C to stop")
	if opts.Open {
		openInBrowser(opts.OpenURL, opts.IO, url)
	}
	if err := srv.Serve(ctx, l); err != nil {
		return err
	}
	opts.IO.Notef("web UI stopped")
	return errStoppedByUser
}

// runningModels lists the running models from their containers' labels.
func runningModels(d dockerrun.API) webui.Lister {
	return func(ctx context.Context) ([]webui.Model, error) {
		cs, err := d.List(ctx, false)
		if err != nil {
			return nil, err
		}
		ms := make([]webui.Model, 0, len(cs))
		for _, c := range cs {
			ms = append(ms, uiModel(c))
		}
		return ms, nil
	}
}

func uiModel(c dockerrun.Container) webui.Model {
	m := webui.Model{Name: c.Model, Mode: c.Mode, NotebookURL: c.NotebookURL, ContribSrc: c.ContribSrc}
	if c.Mode == dockerrun.ModeAPI {
		m.APIURL = c.APIURL
	}
	return m
}

// listenUI binds the web UI's port on 127.0.0.1: the port asked for, or for a
// busy default the next free one (with a note).
func listenUI(want int, explicit bool, flag string) (l net.Listener, note string, err error) {
	for p := want; p < want+launch.DefaultPortSpan && p <= 65535; p++ {
		l, err := webui.Listen(p)
		if err == nil {
			if p != want {
				note = fmt.Sprintf("port %d is busy; the web UI uses %d instead (choose one with %s)", want, p, flag)
			}
			return l, note, nil
		}
		if explicit {
			return nil, "", fmt.Errorf("%w: choose another port with %s", err, flag)
		}
	}
	return nil, "", fmt.Errorf("no free port on 127.0.0.1 from %d to %d for the web UI: free one or choose one with %s", want, want+launch.DefaultPortSpan-1, flag)
}

// openInBrowser opens url with the system's opener; failing, it says to open it by hand.
func openInBrowser(open func(string) error, ios *IOStreams, url string) {
	if open == nil {
		open = systemOpenURL
	}
	if err := open(url); err != nil {
		ios.Warnf("could not open a browser (%v); open %s yourself", err, url)
	}
}

// systemOpenURL starts the desktop's handler for url and does not wait for it.
func systemOpenURL(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
