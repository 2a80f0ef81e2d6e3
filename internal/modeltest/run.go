package modeltest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/engine"
)

// Check names, in the order Run adds them.
const (
	CheckConfig  = "get_config validates against the schema"
	CheckName    = "get_config meta.name equals the local config.json's"
	CheckLegal   = "get_legal has model and sample-data licenses"
	CheckSamples = "get_samples is non-empty"
	CheckFirst   = "predict_sample on the first sample"
	CheckAll     = "predict_sample on the other samples"
	CheckLatency = "prediction latency"
)

// Options configure Run.
type Options struct {
	// BaseURL of the engine, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Local is the model's local contrib_src/model/config.json. Its meta.name and outputs
	// are what the engine must match; nil compares against get_config's own outputs.
	Local *config.ModelConfig
	// Schema validates get_config; nil means config.DefaultSchema().
	Schema *config.Schema
	// Samples is how many samples to predict on; 0 means all of them.
	Samples int
	// RequestTimeout bounds each request (predictions included); 0 means 5 minutes.
	RequestTimeout time.Duration
}

// Run performs the engine checks in order and adds them to rep.
func Run(ctx context.Context, opts Options, rep *Report) {
	// a test reads answers up to 256 MiB (predict refuses more than
	// engine.MaxAnswer; the test reports what the model does)
	r := &runner{opts: opts, rep: rep, engine: &engine.Client{Base: opts.BaseURL, MaxAnswer: 256 << 20}}
	if r.opts.Schema == nil {
		r.opts.Schema = config.DefaultSchema()
	}
	if r.opts.RequestTimeout == 0 {
		r.opts.RequestTimeout = 5 * time.Minute
	}
	r.run(ctx)
}

type runner struct {
	opts   Options
	rep    *Report
	engine *engine.Client
}

func (r *runner) run(ctx context.Context) {
	remote := r.checkConfig(ctx)
	r.checkName(remote)
	r.checkLegal(ctx)
	samples := r.checkSamples(ctx)

	declared := []config.Output(nil)
	switch {
	case r.opts.Local != nil:
		declared = r.opts.Local.Outputs
	case remote != nil:
		declared = remote.Outputs
	}
	if len(samples) == 0 {
		r.rep.Add(CheckFirst, Skip, "no samples to predict on")
		return
	}
	n := len(samples)
	if r.opts.Samples > 0 && r.opts.Samples < n {
		n = r.opts.Samples
	}
	for i, s := range samples[:n] {
		if ctx.Err() != nil {
			break
		}
		res := r.predict(ctx, s, declared)
		r.rep.Samples = append(r.rep.Samples, res)
		if i == 0 {
			if res.Error != "" {
				r.rep.Add(CheckFirst, Fail, "%s: %s", s, res.Error)
			} else {
				r.rep.Add(CheckFirst, Pass, "%s: %d output(s) as declared (%.0f ms)", s, len(declared), res.LatencyMS)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		r.rep.Add(CheckAll, Fail, "interrupted after %d of %d sample(s)", len(r.rep.Samples), n)
		return
	}
	if n > 1 {
		var bad []string
		for _, s := range r.rep.Samples[1:] {
			if s.Error != "" {
				bad = append(bad, s.Sample+": "+s.Error)
			}
		}
		scope := fmt.Sprintf("%d more sample(s)", n-1)
		if n < len(samples) {
			scope += fmt.Sprintf(" (--samples %d of %d)", n, len(samples))
		}
		if len(bad) > 0 {
			r.rep.Add(CheckAll, Fail, "%d of %s failed: %s", len(bad), scope, strings.Join(bad, "; "))
		} else {
			r.rep.Add(CheckAll, Pass, "%s predicted as declared", scope)
		}
	}
	lat := latency(r.rep.Samples)
	r.rep.Latency = &lat
	r.rep.Add(CheckLatency, Pass, "%s", lat)
}

func latency(rs []SampleResult) Latency {
	var v []float64
	for _, r := range rs {
		v = append(v, r.LatencyMS)
	}
	slices.Sort(v)
	l := Latency{Samples: len(v)}
	if len(v) == 0 {
		return l
	}
	l.MinMS, l.MaxMS = v[0], v[len(v)-1]
	if len(v)%2 == 1 {
		l.MedianMS = v[len(v)/2]
	} else {
		l.MedianMS = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return l
}

// get fetches route and decodes its JSON. An engine error ({"error": "..."}) or a
// non-200 status is returned as an error.
func (r *runner) get(ctx context.Context, route string, q url.Values) (any, error) {
	doc, status, err := r.getJSON(ctx, route, q)
	if err != nil {
		return nil, err
	}
	if m, ok := doc.(map[string]any); ok {
		if e, ok := m["error"]; ok {
			return nil, fmt.Errorf("GET %s: engine error (status %d): %v", route, status, e)
		}
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", route, status)
	}
	return doc, nil
}

// getJSON fetches route and decodes its JSON whatever the status; it fails only
// when the engine cannot be reached or does not answer JSON.
func (r *runner) getJSON(ctx context.Context, route string, q url.Values) (any, int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.RequestTimeout)
	defer cancel()
	a, err := r.engine.Get(ctx, route, q)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, 0, fmt.Errorf("GET %s: %w", route, err)
	}
	doc, err := config.DecodeJSON(a.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: status %s, not JSON: %s", route, a.StatusLine, snippet(a.Body))
	}
	return doc, a.Status, nil
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

func (r *runner) checkConfig(ctx context.Context) *config.ModelConfig {
	doc, err := r.get(ctx, engine.RouteConfig, nil)
	if err != nil {
		r.rep.Add(CheckConfig, Fail, "%v", err)
		return nil
	}
	remote, err := config.ModelConfigFromDoc(doc)
	if err != nil {
		r.rep.Add(CheckConfig, Fail, "%v", err)
		return nil
	}
	if vs := r.opts.Schema.Validate(doc); len(vs) > 0 {
		var parts []string
		for _, v := range vs {
			parts = append(parts, v.String())
		}
		r.rep.Add(CheckConfig, Fail, "%d violation(s) of %s: %s", len(vs), r.opts.Schema.Source, strings.Join(parts, "; "))
		return remote
	}
	r.rep.Add(CheckConfig, Pass, "valid against %s", r.opts.Schema.Source)
	return remote
}

func (r *runner) checkName(remote *config.ModelConfig) {
	switch {
	case remote == nil:
		r.rep.Add(CheckName, Skip, "get_config returned no config")
	case r.opts.Local == nil:
		r.rep.Add(CheckName, Skip, "no local config.json to compare with")
	case remote.Name != r.opts.Local.Name:
		r.rep.Add(CheckName, Fail, "engine serves %q, local config.json says %q: is the container running another model's folder?", remote.Name, r.opts.Local.Name)
	default:
		r.rep.Add(CheckName, Pass, "%s", remote.Name)
	}
}

func (r *runner) checkLegal(ctx context.Context) {
	// The engine answers 400 with an "error" key next to the licenses it found when a
	// license file is missing: that is a missing license (WARN), not a broken route.
	doc, _, err := r.getJSON(ctx, engine.RouteLegal, nil)
	if err != nil {
		r.rep.Add(CheckLegal, Fail, "%v", err)
		return
	}
	m, ok := doc.(map[string]any)
	if !ok {
		r.rep.Add(CheckLegal, Fail, "get_legal returned %s, want an object", kind(doc))
		return
	}
	var missing []string
	for _, k := range []string{"model_license", "sample_data_license"} {
		if s, _ := m[k].(string); strings.TrimSpace(s) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		detail := fmt.Sprintf("missing or empty: %s (add contrib_src/license/model and contrib_src/license/sample_data)", strings.Join(missing, ", "))
		if e, ok := m["error"]; ok {
			detail += fmt.Sprintf("; the engine says: %v", e)
		}
		r.rep.Add(CheckLegal, Warn, "%s", detail)
		return
	}
	r.rep.Add(CheckLegal, Pass, "model and sample-data licenses present")
}

// checkSamples returns the sample file names (relative to engine.SamplesPrefix).
func (r *runner) checkSamples(ctx context.Context) []string {
	doc, err := r.get(ctx, engine.RouteSamples, nil)
	if err != nil {
		// The engine fails get_samples when contrib_src/sample_data is missing.
		r.rep.Add(CheckSamples, Warn, "%v (does contrib_src/sample_data exist?)", err)
		return nil
	}
	list, ok := doc.([]any)
	if !ok {
		r.rep.Add(CheckSamples, Fail, "get_samples returned %s, want a list of URLs", kind(doc))
		return nil
	}
	var names []string
	for _, v := range list {
		s, _ := v.(string)
		name := engine.SampleName(s)
		if name == "" {
			r.rep.Add(CheckSamples, Fail, "get_samples entry %v is not a URL under /api/samples/", v)
			return nil
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		r.rep.Add(CheckSamples, Warn, "the model has no sample data: add files to contrib_src/sample_data")
		return nil
	}
	r.rep.Add(CheckSamples, Pass, "%d sample(s)", len(names))
	return names
}

func (r *runner) predict(ctx context.Context, sample string, declared []config.Output) SampleResult {
	start := time.Now()
	doc, err := r.get(ctx, engine.RoutePredictSample, url.Values{"filename": {sample}})
	res := SampleResult{Sample: sample, LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
	if err == nil {
		err = CheckPrediction(doc, declared)
	}
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// CheckPrediction checks one decoded prediction response against the declared outputs:
// as many outputs as declared, each of the declared type, label_list entries with label
// and probability, vectors 1-d, and every array's shape equal to its "shape".
func CheckPrediction(doc any, declared []config.Output) error {
	m, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("prediction is %s, want an object", kind(doc))
	}
	outs, ok := m["output"].([]any)
	if !ok {
		return fmt.Errorf("prediction has no \"output\" list")
	}
	if len(outs) != len(declared) {
		return fmt.Errorf("%d output(s) returned, config declares %d", len(outs), len(declared))
	}
	for i, o := range outs {
		if err := checkOutput(o, declared[i]); err != nil {
			return fmt.Errorf("output %d (%s): %w", i, declared[i].Name, err)
		}
	}
	return nil
}

func checkOutput(o any, want config.Output) error {
	m, ok := o.(map[string]any)
	if !ok {
		return fmt.Errorf("is %s, want an object", kind(o))
	}
	typ, _ := m["type"].(string)
	if typ != want.Type {
		return fmt.Errorf("type %q, config declares %q", typ, want.Type)
	}
	pred, ok := m["prediction"]
	if !ok {
		return errors.New("no \"prediction\"")
	}
	if s, ok := pred.(string); ok {
		// An array saved to a file by the engine: its shape cannot be checked here.
		if typ == "label_list" || !engine.IsOutputURL(s) {
			return fmt.Errorf("prediction is the string %q, want a list or a URL under %s", snippet([]byte(s)), engine.OutputPrefix)
		}
		return nil
	}
	if typ == "label_list" {
		return checkLabelList(pred, m["shape"])
	}
	got, err := shapeOf(pred)
	if err != nil {
		return err
	}
	if typ == "vector" && len(got) != 1 {
		return fmt.Errorf("vector prediction has %d dimensions %v, want 1", len(got), got)
	}
	decl, err := declaredShape(m["shape"])
	if err != nil {
		return err
	}
	if !slices.Equal(got, decl) {
		return fmt.Errorf("prediction has shape %v, declared shape is %v", got, decl)
	}
	return nil
}

func checkLabelList(pred, shape any) error {
	list, ok := pred.([]any)
	if !ok {
		return fmt.Errorf("label_list prediction is %s, want a list of {label, probability}", kind(pred))
	}
	for i, e := range list {
		em, _ := e.(map[string]any)
		if _, ok := em["label"]; !ok {
			return fmt.Errorf("label_list entry %d has no \"label\"", i)
		}
		if _, ok := em["probability"].(json.Number); !ok {
			return fmt.Errorf("label_list entry %d has no numeric \"probability\"", i)
		}
	}
	if shape == nil {
		return nil
	}
	decl, err := declaredShape(shape)
	if err != nil {
		return err
	}
	if !slices.Equal(decl, []int{len(list)}) {
		return fmt.Errorf("label_list has %d entries, declared shape is %v", len(list), decl)
	}
	return nil
}

func declaredShape(v any) ([]int, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("no \"shape\" list")
	}
	out := make([]int, 0, len(list))
	for _, e := range list {
		n, ok := e.(json.Number)
		if !ok {
			return nil, fmt.Errorf("shape %v is not a list of integers", v)
		}
		i, err := n.Int64()
		if err != nil {
			return nil, fmt.Errorf("shape %v is not a list of integers", v)
		}
		out = append(out, int(i))
	}
	return out, nil
}

// shapeOf returns the shape of a nested, rectangular list of scalars.
func shapeOf(v any) ([]int, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, nil // a scalar
	}
	if len(list) == 0 {
		return []int{0}, nil
	}
	inner, err := shapeOf(list[0])
	if err != nil {
		return nil, err
	}
	for _, e := range list[1:] {
		s, err := shapeOf(e)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(s, inner) {
			return nil, fmt.Errorf("prediction is a ragged list (%v vs %v)", inner, s)
		}
	}
	return append([]int{len(list)}, inner...), nil
}

func kind(v any) string { return config.KindOf(v) }
