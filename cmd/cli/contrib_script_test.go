package cli

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

// Script commands and setup for validate, new and test.
func init() {
	setupHooks = append(setupHooks, func(env *testscript.Env) error {
		// `modelhub new` never reaches the public template repository from a test.
		env.Setenv(EnvTemplate, "http://127.0.0.1:9/no-template-set-in-this-test.git")
		// The real upstream data, for scripts under the [modelhub-data] condition.
		if d, err := testutil.FindModelhubData(); err == nil {
			env.Setenv("MODELHUB_DATA", d)
		}
		return nil
	})
	scriptCmds["fake-engine"] = cmdFakeEngine
	scriptCmds["wait-container"] = cmdWaitContainer
	scriptConds["modelhub-data"] = func() (bool, error) {
		_, err := testutil.FindModelhubData()
		return err == nil, nil
	}
}

// fake-engine CONFIG [MODE]: serve the modelhub REST API for the config.json file CONFIG
// on 127.0.0.1 and set $ENGINE_PORT and $ENGINE_URL. MODE is good (default),
// wrong-count, wrong-type, wrong-shape, error, no-samples, no-licenses or
// starting (get_config answers 503, as an engine still loading its model).
func cmdFakeEngine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: fake-engine CONFIG [MODE]")
	}
	cfg := []byte(ts.ReadFile(args[0]))
	e := testutil.NewFakeEngine(cfg)
	mode := "good"
	if len(args) == 2 {
		mode = args[1]
	}
	mutate := func(fn func(outs []any)) func(string) (int, any) {
		return func(string) (int, any) {
			p, err := testutil.GoodPrediction(cfg)
			if err != nil {
				return 400, map[string]string{"error": err.Error()}
			}
			outs, _ := p["output"].([]any)
			fn(outs)
			p["output"] = outs
			return 200, p
		}
	}
	switch mode {
	case "good":
	case "wrong-count":
		e.Predict = func(s string) (int, any) {
			code, p := mutate(func([]any) {})(s)
			m := p.(map[string]any)
			m["output"] = append(m["output"].([]any), m["output"].([]any)[0])
			return code, m
		}
	case "wrong-type":
		e.Predict = mutate(func(outs []any) { outs[0].(map[string]any)["type"] = "heatmap" })
	case "wrong-shape":
		e.Predict = mutate(func(outs []any) {
			o := outs[len(outs)-1].(map[string]any)
			o["shape"] = []int{7, 7}
		})
	case "error":
		e.Predict = func(string) (int, any) { return 400, map[string]string{"error": "could not read the sample"} }
	case "no-samples":
		e.Samples = nil
	case "starting":
		e.ConfigStatus = http.StatusServiceUnavailable
	case "no-licenses": // as the engine answers when contrib_src/license/* are missing
		e.Legal = map[string]string{"modelhub_license": "MIT", "error": "[Errno 2] No such file or directory: '/contrib_src/license/sample_data'"}
		e.LegalStatus = 400
	default:
		ts.Fatalf("fake-engine: unknown mode %q", mode)
	}
	base := e.Start()
	ts.Defer(e.Close)
	u, _ := url.Parse(base)
	ts.Setenv("ENGINE_URL", base)
	ts.Setenv("ENGINE_PORT", u.Port())
}

// wait-container: wait (up to a minute) until a container of $MODEL runs.
func cmdWaitContainer(ts *testscript.TestScript, neg bool, args []string) {
	c := mustDocker(ts)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cs, err := c.List(ctx, false)
		cancel()
		ts.Check(err)
		for _, ct := range cs {
			if ct.Model == ts.Getenv("MODEL") && ct.Running {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, _ := c.List(ctx, true)
	for _, ct := range cs {
		ts.Logf("container %s model=%s state=%s", ct.Name, ct.Model, ct.State)
	}
	ts.Fatalf("no container of %s runs after a minute", ts.Getenv("MODEL"))
}
