// Package registry reads the modelhub index (models.json) and looks models up in it.
package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"unicode"
)

// Model is one entry of the index.
type Model struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	TaskExtended string   `json:"task_extended"`
	GitHub       string   `json:"github"`
	GitHubBranch string   `json:"github_branch"`
	Backend      []string `json:"backend"`
	GPU          bool     `json:"gpu,omitempty"`
}

// Branch is the branch to clone: github_branch, or "master" when the entry has none.
func (m *Model) Branch() string {
	if m.GitHubBranch == "" {
		return "master"
	}
	return m.GitHubBranch
}

// Index is a parsed models.json.
type Index struct {
	// Source names where the index came from (a URL or a path).
	Source string
	// Models are the usable entries, sorted by name (case-insensitive).
	Models []Model
	// Warnings name entries that were skipped and why.
	Warnings []string
}

// SyntaxError is malformed JSON in an index.
type SyntaxError struct {
	Source       string
	Offset       int64
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("index %s is not valid JSON: line %d, column %d (byte %d): %s", e.Source, e.Line, e.Column, e.Offset, e.Msg)
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
	ix := &Index{Source: source}
	seen := map[string]bool{}
	for i, r := range raw {
		var m Model
		if err := json.Unmarshal(r, &m); err != nil {
			ix.Warnings = append(ix.Warnings, fmt.Sprintf("skipped entry %d: %v", i+1, err))
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
		key := strings.ToLower(m.Name)
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
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // point at the offending character
		if se.Offset == 0 {
			off = 0
		}
	case errors.As(err, &te):
		off = max(te.Offset-1, 0)
		msg = "expected a list of models, found " + te.Value
	case errors.Is(err, io.EOF):
		msg = "the file is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "unexpected end of the file"
		off = int64(len(data))
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &SyntaxError{Source: source, Offset: off, Line: line, Column: col, Msg: msg}
}

// CheckName accepts a name that is safe as a single folder name on every OS.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("the name is empty")
	case name == "." || name == ".." || strings.Contains(name, ".."):
		return errors.New("the name contains \"..\"")
	case strings.ContainsAny(name, `/\:*?"<>|`):
		return errors.New("the name contains a path separator or a character not allowed in folder names")
	case strings.TrimSpace(name) != name || strings.HasSuffix(name, "."):
		return errors.New("the name starts or ends with a space or ends with a dot")
	case len(name) > 128:
		return errors.New("the name is longer than 128 characters")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errors.New("the name contains control characters")
		}
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
