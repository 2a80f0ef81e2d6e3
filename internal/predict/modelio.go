// Package predict runs a model's REST API on local files: it collects inputs
// (files, folders, URLs, multi-input cases), checks their types against the
// model's config.json, sends them to the engine with bounded concurrency,
// records results (results.jsonl, output files, provenance.json) and resumes
// an interrupted batch. It never prints: the caller gets events through
// callbacks.
package predict

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/filetype"
)

// Spec is what a model accepts, from config.json's model.io.input.
type Spec struct {
	// Formats are the MIME types of model.io.input.format.
	Formats []string
	// Inputs are the named inputs of a multi-input model (format holds
	// application/json), sorted by name; nil for a single-input model.
	Inputs []NamedInput
}

// NamedInput is one input of a multi-input model.
type NamedInput struct {
	Name    string
	Formats []string
}

// Multi reports whether the model takes several named inputs per case.
func (s *Spec) Multi() bool { return len(s.Inputs) > 0 }

// Input returns the named input (case-insensitive).
func (s *Spec) Input(name string) (NamedInput, bool) {
	for _, in := range s.Inputs {
		if strings.EqualFold(in.Name, name) {
			return in, true
		}
	}
	return NamedInput{}, false
}

// Names lists the input names.
func (s *Spec) Names() []string {
	var n []string
	for _, in := range s.Inputs {
		n = append(n, in.Name)
	}
	return n
}

// ErrNoInputSpec means config.json declares no input formats.
var ErrNoInputSpec = fmt.Errorf("config.json declares no input format (model.io.input.format)")

// SpecFromConfig reads model.io.input of a decoded config.json. Keys of
// model.io.input other than format, description and dim_limits whose value is
// an object with a format list are the named inputs of a multi-input model;
// they count only when format holds application/json.
func SpecFromConfig(c *config.ModelConfig) (*Spec, error) {
	v, ok := config.Lookup(c.Doc, "/model/io/input")
	if !ok {
		return nil, ErrNoInputSpec
	}
	in, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("config.json: model.io.input is %s, want an object", config.KindOf(v))
	}
	s := &Spec{Formats: stringList(in["format"])}
	if len(s.Formats) == 0 {
		return nil, ErrNoInputSpec
	}
	if !slices.Contains(s.Formats, filetype.JSON) {
		return s, nil
	}
	for k, v := range in {
		switch k {
		case "format", "description", "dim_limits":
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		f := stringList(m["format"])
		if len(f) == 0 {
			return nil, fmt.Errorf("config.json: input %q declares no format (model.io.input.%s.format)", k, k)
		}
		s.Inputs = append(s.Inputs, NamedInput{Name: k, Formats: f})
	}
	sort.Slice(s.Inputs, func(i, j int) bool { return s.Inputs[i].Name < s.Inputs[j].Name })
	return s, nil
}

func stringList(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok && strings.TrimSpace(s) != "" {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}
