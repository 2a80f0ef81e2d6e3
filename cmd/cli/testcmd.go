package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/launch"
	"github.com/modelhub-ai/modelhub/internal/modeltest"
	"github.com/modelhub-ai/modelhub/internal/safepath"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// TestOptions are the inputs of `modelhub test`.
type TestOptions struct {
	IO    *IOStreams
	Store func() (*store.Store, error)

	Model   string
	Manual  bool
	Port    int
	Samples int
	Timeout time.Duration
	JSON    bool

	// Engine gives access to the model containers; built lazily, only when needed.
	Engine func(ctx context.Context) (TestEngine, error)
}

// TestEngine is what `modelhub test` needs from Docker.
type TestEngine interface {
	// Start starts the model in dir like `run -d`, but on a free host port and under a
	// unique container name, waits up to timeout until its REST API answers, and returns
	// the API's base URL and a function that stops and removes the container. On an
	// error nothing is left running.
	Start(ctx context.Context, dir, name string, timeout time.Duration) (baseURL string, stop func(context.Context) error, err error)
	// Running counts the running containers of the model.
	Running(ctx context.Context, name string) (int, error)
	// Port returns the host port of the REST API of the model's running container.
	Port(ctx context.Context, name string) (int, error)
}

// NewCmdTest builds `modelhub test`.
func NewCmdTest(f *Factory, runF func(context.Context, *TestOptions) error) *cobra.Command {
	opts := &TestOptions{IO: f.IO, Store: f.Store, Engine: testEngineFor(f.IO, f.Docker, f.Forced, f.Store)}
	cmd := &cobra.Command{
		Use:   "test MODEL",
		Short: "Start a model and run the integration test against its REST API",
		Long: `Start the model like ` + "`modelhub run -d`" + ` (on a free port, under its own container
name), wait until its REST API answers, run the integration checks, and always
stop and remove the container again, also on failure and Ctrl-C.

The checks, in order, each PASS, WARN or FAIL: the model folder and init.json
exist; exactly one container of the model runs; get_config validates against the
schema; its meta.name equals the local config.json's; get_legal has the model and
sample-data licenses (WARN); get_samples is non-empty (WARN); predict_sample on the
first sample returns the declared outputs (count, types, label_list entries, 1-d
vectors, shapes); the same on every other sample (or --samples N), with the
per-sample latency. The last line is PASSED, PASSED with N warnings or FAILED (N);
the exit status is 1 when a check FAILs.

With -m/--manual, test a model you started yourself (e.g. with ` + "`modelhub run -d`" + `)
on --port, by default the port of its running container.`,
		Example: `  modelhub test ./my-model
  modelhub test -m -p 8080 ./my-model
  modelhub test squeezenet --samples 1 --json`,
		GroupID:           "contrib",
		Args:              exactArgs(1, "a MODEL (a model folder)"),
		ValidArgsFunction: completeModels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			if opts.Port < 0 || opts.Port > 65535 {
				return usageErrorf("--port %d is not a TCP port", opts.Port)
			}
			if opts.Port != 0 && !opts.Manual {
				return usageErrorf("--port needs -m/--manual: without it, modelhub test starts the model on a free port itself")
			}
			if opts.Samples < 0 {
				return usageErrorf("--samples must be 0 (all) or more, got %d", opts.Samples)
			}
			if opts.Timeout <= 0 {
				return usageErrorf("--timeout must be positive, got %s", opts.Timeout)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return testRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Manual, "manual", "m", false, "test a model you already started instead of starting it")
	fl.IntVarP(&opts.Port, "port", "p", 0, "with -m: port of the model's REST API (default: the port of its running container)")
	fl.IntVar(&opts.Samples, "samples", 0, "predict on the first N samples only (default: all)")
	fl.DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "how long to wait for the model's REST API to answer")
	fl.BoolVar(&opts.JSON, "json", false, "print the checks, per-sample results and latency as JSON")
	return cmd
}

const checkFolder = "model folder and init.json exist"
const checkContainer = "exactly one container of the model runs"

func testRun(ctx context.Context, opts *TestOptions) error {
	ios := opts.IO
	rep := &modeltest.Report{}
	if !opts.JSON {
		rep.OnCheck = checkPrinter(ios)
	}
	hint := "see the lines marked FAIL above"
	if opts.JSON {
		hint = "see the checks with status FAIL"
	}
	dir, name, err := modelFolder(ctx, opts.Store, opts.Model)
	if err != nil {
		rep.Add(checkFolder, modeltest.Fail, "%v", err)
		return finishReport(ios, rep, opts.JSON, hint)
	}
	rep.Model, rep.Path = name, dir
	// a link that could reach the host is refused before anything is read or mounted
	if err := safepath.CheckTree(dir); err != nil {
		rep.Add(checkFolder, modeltest.Fail, "%s: %v", dir, err)
		return finishReport(ios, rep, opts.JSON, hint)
	}
	if err := notebookFolder(ios, dir, name, opts.JSON); err != nil {
		rep.Add(checkFolder, modeltest.Fail, "%v", err)
		return finishReport(ios, rep, opts.JSON, hint)
	}
	if _, err := config.LoadInit(dir); err != nil {
		rep.Add(checkFolder, modeltest.Fail, "%v", err)
		return finishReport(ios, rep, opts.JSON, hint)
	}
	rep.Add(checkFolder, modeltest.Pass, "%s", dir)

	var local *config.ModelConfig
	cfgPath := filepath.Join(dir, filepath.FromSlash(modeltest.ConfigFile))
	if data, err := config.ReadRegularFile(cfgPath); err != nil {
		rep.Add("local config.json", modeltest.Fail, "%v", err)
	} else if local, err = config.ParseModelConfig(data); err != nil {
		rep.Add("local config.json", modeltest.Fail, "%s: %v", cfgPath, err)
	}

	var baseURL string
	var engine TestEngine
	if opts.Manual {
		engine, _ = opts.Engine(ctx) // without Docker the container check is a WARN
		port := opts.Port
		if port == 0 {
			if engine == nil {
				return usageErrorf("Docker does not answer, so the port of %s is unknown: pass the port of its REST API with -p PORT", name)
			}
			if port, err = engine.Port(ctx, name); err != nil {
				return fmt.Errorf("find the port of %s: %w (start it with `modelhub run -d %s`, or pass -p PORT)", name, err, opts.Model)
			}
		}
		baseURL = "http://127.0.0.1:" + strconv.Itoa(port)
		if err := waitManual(ctx, opts, engine, name, port, baseURL); err != nil {
			return err
		}
	} else {
		engine, err = opts.Engine(ctx)
		if err != nil {
			return err
		}
		ios.Notef("starting %s and waiting up to %s for it to answer", name, opts.Timeout)
		var stop func(context.Context) error
		baseURL, stop, err = engine.Start(ctx, dir, name, opts.Timeout)
		if err != nil {
			return err
		}
		defer func() {
			cctx, cancel := cleanupContext(ctx, launch.StopGrace+30*time.Second)
			defer cancel()
			if err := stop(cctx); err != nil {
				ios.Warnf("could not remove the test container of %s: %v (remove it with `docker rm -f`)", name, err)
			} else {
				ios.Notef("stopped and removed the test container of %s", name)
			}
		}()
		ios.Notef("%s answers at %s", name, baseURL)
	}
	if engine == nil {
		rep.Add(checkContainer, modeltest.Warn, "cannot count the model's containers without Docker")
	} else if n, err := engine.Running(ctx, name); err != nil {
		rep.Add(checkContainer, modeltest.Warn, "cannot count the model's containers: %v", err)
	} else if n == 0 && opts.Manual {
		rep.Add(checkContainer, modeltest.Warn, "no container of %s started by modelhub runs: the model answering at %s was started some other way", name, baseURL)
	} else if n == 0 {
		rep.Add(checkContainer, modeltest.Fail, "no container of %s runs any more: the test container stopped during the test", name)
	} else if n > 1 {
		rep.Add(checkContainer, modeltest.Fail, "%d containers of %s run: stop the others with `modelhub stop %s`", n, name, name)
	} else {
		rep.Add(checkContainer, modeltest.Pass, "")
	}
	modeltest.Run(ctx, modeltest.Options{BaseURL: baseURL, Local: local, Samples: opts.Samples}, rep)
	if err := ctx.Err(); err != nil {
		return err
	}
	return finishReport(ios, rep, opts.JSON, hint)
}

// waitManual waits for a model the user started to answer at baseURL. Nothing
// listening there (connection refused) fails at once, unless a container of the
// model publishes that port: then it is starting, and is waited for up to
// --timeout while it runs.
func waitManual(ctx context.Context, opts *TestOptions, te TestEngine, name string, port int, baseURL string) error {
	url := engine.ReadyURL(baseURL)
	notAnswering := func(err error) error {
		return fmt.Errorf("%s does not answer at %s: %w (start it with `modelhub run -d %s`, or pass the right -p PORT)", name, baseURL, err, opts.Model)
	}
	err := (launch.Poller{}).Answers(ctx, url)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	starting := false
	if te != nil {
		if p, perr := te.Port(ctx, name); perr == nil && p == port {
			starting = true
		}
	}
	if !starting && errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("nothing listens at %s (connection refused) and no container of %s publishes port %d: start it with `modelhub run -d %s`, or pass the right -p PORT", baseURL, name, port, opts.Model)
	}
	// a model that does not answer yet is waited for: say so, or a wrong
	// -p looks like a hang for the whole --timeout
	ios := opts.IO
	ios.Notef("waiting up to %s for %s to answer at %s", opts.Timeout, name, baseURL)
	var exited chan struct{}
	if starting {
		// stop waiting when the container goes away
		exited = make(chan struct{})
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-wctx.Done():
					return
				case <-t.C:
				}
				if n, err := te.Running(wctx, name); err == nil && n == 0 {
					close(exited)
					return
				}
			}
		}()
	}
	if err := (launch.Poller{}).Wait(ctx, url, opts.Timeout, exited); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, launch.ErrExited) {
			return fmt.Errorf("the container of %s stopped before it answered at %s (see `modelhub logs %s`)", name, baseURL, opts.Model)
		}
		return notAnswering(err)
	}
	return nil
}
