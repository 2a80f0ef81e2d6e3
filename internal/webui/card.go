package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/modelhub-ai/modelhub/internal/engine"
	"github.com/modelhub-ai/modelhub/internal/filetype"
)

// modelConfig is the part of config.json the page shows.
type modelConfig struct {
	ID   string `json:"id"`
	Meta struct {
		Name            string `json:"name"`
		ApplicationArea string `json:"application_area"`
		Task            string `json:"task"`
		TaskExtended    string `json:"task_extended"`
		DataType        string `json:"data_type"`
		DataSource      string `json:"data_source"`
	} `json:"meta"`
	Publication struct {
		Title    string `json:"title"`
		Source   string `json:"source"`
		Year     any    `json:"year"`
		Authors  any    `json:"authors"`
		URL      string `json:"url"`
		Abstract string `json:"abstract"`
	} `json:"publication"`
	Model struct {
		Description  string `json:"description"`
		Provenance   string `json:"provenance"`
		Architecture string `json:"architecture"`
		LearningType string `json:"learning_type"`
		Format       string `json:"format"`
	} `json:"model"`
}

// modelIO is the engine's get_model_io.
type modelIO struct {
	Input  map[string]json.RawMessage `json:"input"`
	Output []struct {
		Name        string `json:"name"`
		Type        string `json:"type"`
		Description string `json:"description"`
	} `json:"output"`
}

// ioSpec is one input: the single input of a model, or a named one.
type ioSpec struct {
	Format      []string `json:"format"`
	Description string   `json:"description"`
	DimLimits   []struct {
		Min *float64 `json:"min"`
		Max *float64 `json:"max"`
	} `json:"dim_limits"`
}

// engineData is what the page needs from the engine; each part may fail on
// its own, and the page says which and why.
type engineData struct {
	Config     modelConfig
	ConfigErr  error
	Legal      map[string]string
	LegalErr   error
	IO         modelIO
	IOErr      error
	Samples    []string
	SamplesErr error
}

// fetchEngine asks the engine for the card, legal texts, io and samples at once.
func (s *Server) fetchEngine(ctx context.Context, m Model) engineData {
	var d engineData
	var wg sync.WaitGroup
	get := func(p string, v any, errp *error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*errp = s.getJSON(ctx, m, p, v)
		}()
	}
	get(engine.RouteConfig, &d.Config, &d.ConfigErr)
	get(engine.RouteLegal, &d.Legal, &d.LegalErr)
	get(engine.RouteModelIO, &d.IO, &d.IOErr)
	get(engine.RouteSamples, &d.Samples, &d.SamplesErr)
	wg.Wait()
	return d
}

// getJSON GETs the engine's path into v. An engine error ({"error": ...},
// whatever the status) is returned as the engine worded it.
func (s *Server) getJSON(ctx context.Context, m Model, p string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, s.engineTimeout())
	defer cancel()
	a, err := s.engine(m).Get(ctx, p, nil)
	switch {
	case errors.Is(err, engine.ErrAnswerTooLarge):
		return fmt.Errorf("%s: %v", p, err)
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("%s: the engine did not answer within %s", p, s.engineTimeout())
	case err != nil:
		return fmt.Errorf("%s: the engine did not answer: %v", p, err)
	}
	var ee *engine.EngineError
	if _, err := a.JSON(); errors.As(err, &ee) {
		return fmt.Errorf("%s: the engine says: %s", p, ee.Msg)
	}
	if a.Status != http.StatusOK {
		return fmt.Errorf("%s: the engine answered %s", p, a.StatusLine)
	}
	if err := json.Unmarshal(a.Body, v); err != nil {
		return fmt.Errorf("%s: the engine's answer is not the expected JSON: %v", p, err)
	}
	return nil
}

// text renders a config value that may be a string, a number or a list.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, text(e))
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// inputView is one input described in words.
type inputView struct {
	Name        string // empty for a single-input model
	Formats     string
	Dims        string
	Description string
	Accept      string
	MIME        []string // the formats as the model declares them
	// Convert: a DICOM file or zipped series is converted for this input.
	Convert bool
}

// outputView is one output described in words.
type outputView struct {
	Name, Type, Words, Description string
}

// inputs describes the model's inputs; multi is true for a multi-input model
// (its input names each an object with its own format).
func inputs(in map[string]json.RawMessage) (views []inputView, multi bool) {
	var names []string
	for k, raw := range in {
		if k == "format" || k == "description" || k == "dim_limits" {
			continue
		}
		if t := strings.TrimSpace(string(raw)); strings.HasPrefix(t, "{") {
			names = append(names, k)
		}
	}
	if len(names) == 0 || len(names) == 1 && names[0] == "single" {
		// a single input: the keys at the top, or (the newer template) its
		// spec under "single", with the formats the API accepts at the top
		var top, single ioSpec
		b, _ := json.Marshal(in)
		_ = json.Unmarshal(b, &top)
		if raw, ok := in["single"]; ok {
			_ = json.Unmarshal(raw, &single)
			if len(top.Format) == 0 {
				top.Format = single.Format
			}
			if len(top.DimLimits) == 0 {
				top.DimLimits = single.DimLimits
			}
			if top.Description == "" {
				top.Description = single.Description
			}
		}
		return []inputView{describeInput("", top)}, false
	}
	sort.Strings(names)
	for _, n := range names {
		var sp ioSpec
		_ = json.Unmarshal(in[n], &sp)
		views = append(views, describeInput(n, sp))
	}
	return views, true
}

func describeInput(name string, sp ioSpec) inputView {
	v := inputView{Name: name, Description: sp.Description, MIME: sp.Format}
	var words, accept []string
	for _, f := range sp.Format {
		words = append(words, filetype.DisplayName(f))
		accept = append(accept, f)
		accept = append(accept, filetype.Exts(f)...)
	}
	v.Formats = strings.Join(dedupe(words), ", ")
	if v.Formats == "" {
		v.Formats = "any file (the model names no format)"
	}
	v.Accept = strings.Join(dedupe(accept), ",")
	var dims []string
	for _, d := range sp.DimLimits {
		switch {
		case d.Min != nil && d.Max != nil && *d.Min == *d.Max:
			dims = append(dims, fmt.Sprint(*d.Min))
		case d.Min != nil && d.Max != nil:
			dims = append(dims, fmt.Sprintf("%v–%v", *d.Min, *d.Max))
		case d.Min != nil:
			dims = append(dims, fmt.Sprintf("≥%v", *d.Min))
		case d.Max != nil:
			dims = append(dims, fmt.Sprintf("≤%v", *d.Max))
		default:
			dims = append(dims, "any")
		}
	}
	if len(dims) > 0 {
		unit := "dimensions"
		if len(dims) == 1 {
			unit = "dimension"
		}
		v.Dims = fmt.Sprintf("%d %s: %s", len(dims), unit, strings.Join(dims, " × "))
	}
	return v
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

var typeWords = map[string]string{
	"label_list": "labels with their probabilities",
	"vector":     "a vector of numbers",
	"mask_image": "a segmentation mask",
	"heatmap":    "a heatmap",
	"image":      "an image",
	"custom":     "custom data (shown as JSON)",
	"contour":    "a contour",
}

func outputs(io modelIO) []outputView {
	var out []outputView
	for _, o := range io.Output {
		w := typeWords[o.Type]
		if w == "" {
			w = "data of type " + o.Type
		}
		out = append(out, outputView{Name: o.Name, Type: o.Type, Words: w, Description: o.Description})
	}
	return out
}

// sampleView is one sample file, reached through the UI's proxy.
type sampleView struct {
	Name  string
	URL   string // relative to the model's page
	Image bool   // a browser can show it
	Ext   string
}

// samples maps the engine's absolute sample URLs (which name the engine's own
// address) to paths through the proxy. URLs not under the engine's samples
// route are dropped.
func samples(urls []string) []sampleView {
	var out []sampleView
	for _, u := range urls {
		name := engine.SampleName(u)
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		out = append(out, sampleView{
			Name:  name,
			URL:   "api/samples/" + url.PathEscape(name),
			Image: filetype.Browsable(name),
			Ext:   strings.TrimPrefix(strings.ToLower(filetype.Ext(name)), "."),
		})
	}
	return out
}
