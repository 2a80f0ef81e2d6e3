package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// OutputTypes are the output types of the config schema (model.io.output[].type).
var OutputTypes = []string{"label_list", "contour", "vector", "mask_image", "heatmap", "image", "custom"}

// EngineOutputTypes are the output types the modelhub engine produces and renders;
// "contour" is in the schema but no engine code produces it.
var EngineOutputTypes = []string{"label_list", "vector", "mask_image", "heatmap", "image", "custom"}

// Output is one declared output of a model (model.io.output[i]).
type Output struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

// ModelConfig holds what modelhub reads from contrib_src/model/config.json. It is
// extracted leniently: fields of the wrong type are left empty (the schema reports them).
type ModelConfig struct {
	ID      string
	Name    string   // meta.name
	Outputs []Output // model.io.output
	// Doc is the whole decoded document (numbers as json.Number), for schema validation.
	Doc any
}

// ParseModelConfig decodes config.json. It fails only when data is not a JSON object.
func ParseModelConfig(data []byte) (*ModelConfig, error) {
	doc, err := DecodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("parse config.json: %w", describeJSONError(data, err))
	}
	return ModelConfigFromDoc(doc)
}

// ModelConfigFromDoc extracts a ModelConfig from a decoded JSON document (e.g. the
// engine's /api/get_config).
func ModelConfigFromDoc(doc any) (*ModelConfig, error) {
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse config.json: top level is %s, want an object", KindOf(doc))
	}
	c := &ModelConfig{Doc: doc}
	c.ID, _ = root["id"].(string)
	if meta, ok := root["meta"].(map[string]any); ok {
		c.Name, _ = meta["name"].(string)
	}
	model, _ := root["model"].(map[string]any)
	io, _ := model["io"].(map[string]any)
	outs, _ := io["output"].([]any)
	for _, o := range outs {
		m, _ := o.(map[string]any)
		var out Output
		out.Name, _ = m["name"].(string)
		out.Type, _ = m["type"].(string)
		out.Description, _ = m["description"].(string)
		c.Outputs = append(c.Outputs, out)
	}
	return c, nil
}

// IsEngineOutputType reports whether t is an output type the engine produces.
func IsEngineOutputType(t string) bool { return slices.Contains(EngineOutputTypes, t) }

// KindOf names the JSON type of a decoded value for messages ("an object", "a string", ...).
func KindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// Lookup returns the value at a JSON pointer ("" is the whole document) in a decoded document.
func Lookup(doc any, pointer string) (any, bool) {
	if pointer == "" {
		return doc, true
	}
	if !strings.HasPrefix(pointer, "/") {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// IsEmptyValue reports whether v is an empty string or an empty list: what the model
// template leaves for the contributor to fill in.
func IsEmptyValue(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t) == ""
	case []any:
		return len(t) == 0
	}
	return false
}
