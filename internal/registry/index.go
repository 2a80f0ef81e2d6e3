// Package registry reads the modelhub index (models.json) and looks models up in it.
package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"sort"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/jsonpos"
	"github.com/modelhub-ai/modelhub/internal/safepath"
)

// Entry is one model of the index.
type Entry struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	TaskExtended string   `json:"task_extended"`
	GitHub       string   `json:"github"`
	GitHubBranch string   `json:"github_branch"`
	Backend      []string `json:"backend"`
	GPU          bool     `json:"gpu,omitempty"`
}

// Branch is the branch to clone: github_branch, or "master" when the entry has none.
func (m *Entry) Branch() string {
	if m.GitHubBranch == "" {
		return "master"
	}
	return m.GitHubBranch
}

// Index is a parsed models.json.
type Index struct {
	// Source names where the index came from (a URL or a path), for messages:
	// "URL (cached)" when read from the cache.
	Source string
	// Location is the index's URL or path as given to Source.Load (empty for
	// an index parsed otherwise).
	Location string
	// Models are the usable entries, sorted by name (case-insensitive).
	Models []Entry
	// Warnings name entries that were skipped and why.
	Warnings []string
}

// SyntaxError is malformed JSON in an index.
type SyntaxError struct {
	Source       string
	Offset       int64
	Line, Column int
	Msg          string
	// NotList is set for valid JSON that is not a list of models (`{}`, `null`).
	NotList bool
}

func (e *SyntaxError) Error() string {
	what := "is not valid JSON"
	if e.NotList {
		what = "is not a list of models"
	}
	return fmt.Sprintf("index %s %s: line %d, column %d (byte %d): %s", e.Source, what, e.Line, e.Column, e.Offset, e.Msg)
}

// Parse decodes an index. Entries that cannot be used safely are skipped with a warning;
// malformed JSON is a *SyntaxError naming source and position.
func Parse(data []byte, source string) (*Index, error) {
	var raw []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, syntaxError(data, source, err, dec.InputOffset())
	}
	if end := dec.InputOffset(); len(bytes.TrimSpace(data[end:])) > 0 {
		extra := end + int64(len(data[end:])-len(bytes.TrimLeft(data[end:], " \t\r\n")))
		return nil, syntaxError(data, source, errors.New("extra data after the list of models"), extra)
	}
	if raw == nil { // the JSON literal null
		start := int64(len(data) - len(bytes.TrimLeft(data, " \t\r\n")))
		return nil, syntaxError(data, source, &json.UnmarshalTypeError{Value: "null", Type: reflect.TypeOf(raw), Offset: start + 1}, 0)
	}
	ix := &Index{Source: source}
	seen := map[string]bool{}
	for i, r := range raw {
		var m Entry
		if len(r) == 0 || r[0] != '{' {
			ix.Warnings = append(ix.Warnings, fmt.Sprintf("skipped entry %d: %s is not a model (want an object)", i+1, jsonKind(r)))
			continue
		}
		if err := json.Unmarshal(r, &m); err != nil {
			ix.Warnings = append(ix.Warnings, fmt.Sprintf("skipped entry %d%s: %s", i+1, quotedName(m.Name), fieldError(err)))
			continue
		}
		if err := CheckName(m.Name); err != nil {
			ix.Warnings = append(ix.Warnings, fmt.Sprintf("skipped entry %d (%q): %v", i+1, m.Name, err))
			continue
		}
		if err := checkRepoURL(m.GitHub); err != nil {
			ix.Warnings = append(ix.Warnings, fmt.Sprintf("skipped model %q: github %v", m.Name, err))
			continue
		}
		key := safepath.Key(m.Name) // one folder on Windows and macOS: case, Unicode normalisation
		if seen[key] {
			ix.Warnings = append(ix.Warnings, fmt.Sprintf("skipped model %q: the name appears twice in the index", m.Name))
			continue
		}
		seen[key] = true
		ix.Models = append(ix.Models, m)
	}
	sort.SliceStable(ix.Models, func(i, j int) bool {
		return strings.ToLower(ix.Models[i].Name) < strings.ToLower(ix.Models[j].Name)
	})
	return ix, nil
}

func syntaxError(data []byte, source string, err error, off int64) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	msg := err.Error()
	notList := false
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // point at the offending character
		if se.Offset == 0 {
			off = 0
		}
	case errors.As(err, &te):
		off = max(te.Offset-1, 0)
		msg = "expected a list of models, found " + te.Value
		notList = true
	case errors.Is(err, io.EOF):
		msg = "the file is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "unexpected end of the file"
		off = int64(len(data))
	}
	off = min(off, int64(len(data)))
	line, col := jsonpos.LineCol(data, off)
	return &SyntaxError{Source: source, Offset: off, Line: line, Column: col, Msg: msg, NotList: notList}
}

// jsonKind names the kind of a JSON value by its first byte.
func jsonKind(r json.RawMessage) string {
	switch {
	case len(r) == 0:
		return "nothing"
	case r[0] == '[':
		return "a list"
	case r[0] == '"':
		return "a string"
	case r[0] == 't' || r[0] == 'f':
		return "a boolean"
	case r[0] == 'n':
		return "null"
	}
	return "a number"
}

func quotedName(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", name)
}

// fieldError says which field of an entry has the wrong type, in the index's
// terms rather than Go's ("backend" is a string, want a list of strings).
func fieldError(err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Type == nil {
		return err.Error()
	}
	want := "a " + te.Type.Kind().String()
	switch te.Type.Kind() {
	case reflect.Slice:
		want = "a list of strings"
	case reflect.Bool:
		want = "true or false"
	case reflect.String:
		want = "a string"
	}
	return fmt.Sprintf("%q is %s, want %s", te.Field, article(te.Value), want)
}

// article turns encoding/json's name of a JSON value into a phrase.
func article(value string) string {
	switch {
	case value == "array":
		return "a list"
	case value == "object":
		return "an object"
	case value == "bool":
		return "a boolean"
	case value == "string":
		return "a string"
	case strings.HasPrefix(value, "number"):
		return "a number"
	}
	return value
}

// CheckName accepts a name that is safe as a single folder name on every OS
// (safepath.CheckSegment: no Windows device name, no trailing dot or space,
// no character Windows refuses), whatever OS runs the check.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("the name is empty")
	case name == "." || name == ".." || strings.Contains(name, ".."):
		return errors.New("the name contains \"..\"")
	case strings.HasPrefix(name, "."):
		// a hidden folder beside modelhub's own (.staging-NAME), and a MODEL
		// starting with "." is read as a local path: it could never be pulled
		return errors.New("the name starts with a dot")
	case strings.ContainsAny(name, `/\`):
		return errors.New("the name contains a path separator")
	case strings.TrimSpace(name) != name:
		return errors.New("the name starts or ends with a space")
	case len(name) > 128:
		return errors.New("the name is longer than 128 characters")
	}
	if err := safepath.CheckSegment(name); err != nil {
		return fmt.Errorf("the name %w", err)
	}
	return nil
}

func checkRepoURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}
