// Package modelinfo describes one model for `modelhub info`: what it is, its
// inputs and outputs, whether it needs a GPU, where it is and what it runs,
// from its index entry and, once it is downloaded (or a local folder), from its
// manifest, init/init.json and contrib_src/model/config.json. It never prints
// and never uses the network.
package modelinfo

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/config"
	"github.com/modelhub-ai/modelhub/internal/registry"
	"github.com/modelhub-ai/modelhub/internal/store"
)

// ConfigPath is the model's config.json, relative to its folder.
const ConfigPath = config.ConfigPath

// Info is what `modelhub info --json` prints. Its keys are stable: new ones
// may be added, existing ones keep their meaning. Text from the model's files
// is given as written (the CLI sanitises it for a terminal, never for JSON).
type Info struct {
	Name string `json:"name"`
	// Source is where this description comes from: "installed" (a downloaded
	// model: its manifest and files), "folder" (a model folder used in
	// place) or "index" (only its index entry: not downloaded).
	Source string `json:"source"`
	// Installed is true for a downloaded model or a model folder.
	Installed bool `json:"installed"`
	// Path is the model folder; empty when it is not downloaded.
	Path string `json:"path"`
	// Index is the index the model came from (URL or absolute path of a
	// models.json); empty for a folder, and for a model downloaded by an
	// older modelhub or loaded from a bundle.
	Index string `json:"index"`

	ID              string   `json:"id"`
	Task            string   `json:"task"` // the index's task_extended, else config.json's meta.task_extended
	ApplicationArea string   `json:"application_area"`
	DataType        string   `json:"data_type"`
	Description     string   `json:"description"`
	Architecture    string   `json:"architecture"`
	LearningType    string   `json:"learning_type"`
	WeightsFormat   string   `json:"weights_format"` // config.json's model.format, e.g. ".onnx"
	Backend         []string `json:"backend"`
	// GPU: the index marks the model as needing an NVIDIA GPU (run requests
	// one automatically; --cpu tries without).
	GPU bool `json:"gpu"`

	Repository string `json:"repository"` // the git repository (the index's github)
	Branch     string `json:"branch"`
	Commit     string `json:"commit"`    // the commit downloaded; empty when not downloaded
	Image      string `json:"image"`     // init.json's docker_id
	PulledAt   string `json:"pulled_at"` // RFC 3339, UTC; empty when unknown
	Notebook   bool   `json:"notebook"`  // a Google Colab notebook, not a Docker model

	// Inputs and Outputs come from config.json: empty when the model is not
	// downloaded (ConfigError then says so) or its config.json is unreadable.
	Inputs      []Input  `json:"inputs"`
	Outputs     []Output `json:"outputs"`
	ConfigError string   `json:"config_error,omitempty"`
}

// Input is one input of the model: the single input (Name empty) or one named
// input of a multi-input model (given together as one JSON file naming a
// file per input).
type Input struct {
	Name        string   `json:"name"`
	Formats     []string `json:"formats"` // MIME types, e.g. image/png, application/nii-gzip
	Description string   `json:"description"`
	// Dimensions are model.io.input.dim_limits in order: per axis a minimum
	// and a maximum size, either missing when the config gives none.
	Dimensions []Dim `json:"dimensions"`
}

// Dim is the allowed size of one axis; nil means unbounded.
type Dim struct {
	Min *float64 `json:"min"`
	Max *float64 `json:"max"`
}

// Output is one output the model declares.
type Output struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // label_list, vector, mask_image, heatmap, image, custom, contour
	Description string `json:"description"`
}

// Describe builds the Info of a resolved model.
func Describe(m *store.Model) *Info {
	in := &Info{Name: m.Name, Backend: []string{}, Inputs: []Input{}, Outputs: []Output{}}
	var entry *registry.Entry
	switch {
	case m.Local:
		in.Source, in.Installed, in.Path = "folder", true, m.Dir
	case m.Manifest != nil && m.Manifest.Complete:
		man := m.Manifest
		in.Source, in.Installed, in.Path = "installed", true, m.Dir
		e := man.Entry
		entry = &e
		in.Index, in.Commit, in.Branch, in.Image, in.Notebook = man.Index, man.Commit, man.Branch, man.DockerID, man.Notebook
		if !man.PulledAt.IsZero() {
			in.PulledAt = man.PulledAt.UTC().Format("2006-01-02T15:04:05Z")
		}
	default:
		in.Source = "index"
		entry, in.Index = m.Entry, m.Index
	}
	if entry != nil {
		in.ID, in.Task, in.Repository, in.GPU = entry.ID, entry.TaskExtended, entry.GitHub, entry.GPU
		if in.Branch == "" {
			in.Branch = entry.Branch()
		}
		if entry.Backend != nil {
			in.Backend = append([]string{}, entry.Backend...)
		}
		for _, b := range entry.Backend {
			if strings.EqualFold(b, "colab") {
				in.Notebook = true
			}
		}
	}
	if !in.Installed {
		in.ConfigError = "not downloaded: its inputs and outputs are in its config.json (modelhub pull " + m.Name + ")"
		return in
	}
	if in.Image == "" {
		if init, err := config.LoadInit(m.Dir); err == nil {
			in.Image = init.DockerID
		}
	}
	data, err := config.ReadRegularFile(filepath.Join(m.Dir, filepath.FromSlash(ConfigPath)))
	if err != nil {
		in.ConfigError = err.Error()
		return in
	}
	doc, err := config.DecodeJSON(data)
	if err != nil {
		in.ConfigError = fmt.Sprintf("%s: %v", ConfigPath, err)
		return in
	}
	fromConfig(in, doc)
	return in
}

// fromConfig fills what config.json says, leniently: a field of the wrong
// type is left empty (`modelhub validate` reports it).
func fromConfig(in *Info, doc any) {
	root, _ := doc.(map[string]any)
	meta, _ := root["meta"].(map[string]any)
	model, _ := root["model"].(map[string]any)
	if in.ID == "" {
		in.ID = str(root["id"])
	}
	if in.Task == "" {
		in.Task = str(meta["task_extended"])
	}
	in.ApplicationArea = str(meta["application_area"])
	in.DataType = str(meta["data_type"])
	in.Description = str(model["description"])
	in.Architecture = str(model["architecture"])
	in.LearningType = str(model["learning_type"])
	in.WeightsFormat = str(model["format"])
	io, _ := model["io"].(map[string]any)
	input, _ := io["input"].(map[string]any)
	if input != nil {
		var named []string
		for k, v := range input {
			if _, ok := v.(map[string]any); ok && k != "format" && k != "description" && k != "dim_limits" {
				named = append(named, k)
			}
		}
		if len(named) == 0 {
			in.Inputs = append(in.Inputs, inputOf("", input))
		} else {
			sort.Strings(named)
			for _, k := range named {
				in.Inputs = append(in.Inputs, inputOf(k, input[k].(map[string]any)))
			}
		}
	}
	outs, _ := io["output"].([]any)
	for _, o := range outs {
		om, _ := o.(map[string]any)
		if om == nil {
			continue
		}
		in.Outputs = append(in.Outputs, Output{Name: str(om["name"]), Type: str(om["type"]), Description: str(om["description"])})
	}
}

func inputOf(name string, m map[string]any) Input {
	in := Input{Name: name, Formats: []string{}, Description: str(m["description"]), Dimensions: []Dim{}}
	if fs, ok := m["format"].([]any); ok {
		for _, f := range fs {
			if s := str(f); s != "" {
				in.Formats = append(in.Formats, s)
			}
		}
	}
	if ds, ok := m["dim_limits"].([]any); ok {
		for _, d := range ds {
			dm, _ := d.(map[string]any)
			in.Dimensions = append(in.Dimensions, Dim{Min: num(dm["min"]), Max: num(dm["max"])})
		}
	}
	return in
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) *float64 {
	switch n := v.(type) {
	case json.Number:
		if f, err := n.Float64(); err == nil {
			return &f
		}
	case float64:
		return &n
	}
	return nil
}

// DimsText is the dimensions in words: "3 dimensions: 1–4 × ≥32 × ≥32".
func DimsText(ds []Dim) string {
	if len(ds) == 0 {
		return ""
	}
	var parts []string
	for _, d := range ds {
		switch {
		case d.Min != nil && d.Max != nil && *d.Min == *d.Max:
			parts = append(parts, fmt.Sprint(*d.Min))
		case d.Min != nil && d.Max != nil:
			parts = append(parts, fmt.Sprintf("%v–%v", *d.Min, *d.Max))
		case d.Min != nil:
			parts = append(parts, fmt.Sprintf("≥%v", *d.Min))
		case d.Max != nil:
			parts = append(parts, fmt.Sprintf("≤%v", *d.Max))
		default:
			parts = append(parts, "any")
		}
	}
	unit := "dimensions"
	if len(ds) == 1 {
		unit = "dimension"
	}
	return fmt.Sprintf("%d %s: %s", len(ds), unit, strings.Join(parts, " × "))
}
