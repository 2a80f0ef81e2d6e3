package engine

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Answer is the part of a prediction modelhub reads.
type Answer struct {
	Output []struct {
		Prediction FileRef `json:"prediction"`
		Shape      []int   `json:"shape"`
		Type       string  `json:"type"`
		Name       string  `json:"name"`
	} `json:"output"`
}

// FileRef is an output's prediction when it is a string (the URL of a file
// the engine saved); any other prediction (a list, a mask) is skipped
// without being copied.
type FileRef string

// UnmarshalJSON keeps a JSON string and ignores anything else.
func (f *FileRef) UnmarshalJSON(b []byte) error {
	*f = ""
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FileRef(s)
	}
	return nil
}

// ParseAnswer decodes the outputs of a prediction.
func ParseAnswer(raw json.RawMessage) (*Answer, error) {
	var a Answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("the answer is not a prediction: %w", err)
	}
	return &a, nil
}

// OutputURL is an output the engine saved to a file: its index in the answer's
// output list, its name and where to fetch it.
type OutputURL struct {
	Index int
	Name  string
	URL   string
}

// Files lists the outputs whose prediction is a URL under /api/output/,
// rewritten onto the client's base URL (the engine builds them from the Host
// it was asked on, which is ours; a proxy in between could differ).
func (c *Client) Files(a *Answer) []OutputURL {
	var out []OutputURL
	for i, o := range a.Output {
		s := string(o.Prediction)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || !strings.HasPrefix(u.Path, OutputPrefix) {
			continue
		}
		out = append(out, OutputURL{Index: i, Name: o.Name, URL: c.URL(u.EscapedPath())})
	}
	return out
}
