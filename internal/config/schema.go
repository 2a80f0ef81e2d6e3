package config

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// ourSchema is the config.json schema written for modelhub (see README, "validate").
//
//go:embed schema/config.schema.json
var ourSchema []byte

// OurSchemaJSON returns the embedded schema, for `modelhub validate --print-schema` style uses and tests.
func OurSchemaJSON() []byte { return bytes.Clone(ourSchema) }

// EmbeddedSchemaName is the Source of the default schema.
const EmbeddedSchemaName = "embedded modelhub schema"

// ErrSchema marks a schema that cannot be loaded or compiled.
var ErrSchema = errors.New("invalid schema")

// Violation is one schema violation: where in the instance (a JSON pointer, "" for the
// document root) and what is wrong.
type Violation struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

func (v Violation) String() string {
	p := v.Pointer
	if p == "" {
		p = "/"
	}
	return p + ": " + v.Message
}

// Schema is a compiled JSON schema for config.json.
type Schema struct {
	// Source names where the schema came from (a path, a URL or EmbeddedSchemaName).
	Source string
	sch    *jsonschema.Schema
}

var defaultSchema = sync.OnceValues(func() (*Schema, error) {
	return CompileSchema(ourSchema, EmbeddedSchemaName)
})

// DefaultSchema returns our embedded schema, compiled once.
func DefaultSchema() *Schema {
	s, err := defaultSchema()
	if err != nil {
		panic("embedded config schema does not compile: " + err.Error())
	}
	return s
}

// LoadSchema reads a draft-04 schema from a file path or an http(s) URL and compiles it
// with CompileSchema. client is used for URLs (nil means http.DefaultClient).
func LoadSchema(ctx context.Context, client *http.Client, loc string) (*Schema, error) {
	var data []byte
	if u, err := url.Parse(loc); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		if client == nil {
			client = http.DefaultClient
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
		if err != nil {
			return nil, fmt.Errorf("load schema %s: %w", loc, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("load schema %s: %w (check the URL or pass a local file to --schema)", loc, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("load schema %s: http status %s (check the URL or pass a local file to --schema)", loc, resp.Status)
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		if err != nil {
			return nil, fmt.Errorf("load schema %s: %w", loc, err)
		}
	} else {
		var err error
		data, err = ReadRegularFile(loc)
		if err != nil {
			return nil, fmt.Errorf("load schema: %w (pass an existing file or an http(s) URL to --schema)", err)
		}
	}
	return CompileSchema(data, loc)
}

// CompileSchema compiles a draft-04 JSON schema (draft-04 unless it declares another
// $schema), tolerating the defects of the upstream modelhub schema: empty "required"
// arrays are dropped, patterns are ECMAScript regular expressions (regexp2), and
// unknown keywords are ignored. References to other documents are not followed.
func CompileSchema(data []byte, source string) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w %s: not JSON: %v", ErrSchema, source, err)
	}
	doc = dropEmptyRequired(doc)
	const loc = "mem://modelhub/config-schema.json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.UseRegexpEngine(ecmaCompile)
	c.UseLoader(noRemoteLoader{})
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrSchema, source, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		msg := strings.ReplaceAll(oneLine(err.Error()), `"`+loc+`#"`, "it")
		return nil, fmt.Errorf("%w %s: %s", ErrSchema, source, strings.ReplaceAll(msg, loc, "the schema"))
	}
	return &Schema{Source: source, sch: sch}, nil
}

// Validate validates a decoded JSON document (as returned by DecodeJSON) and returns every
// violation, sorted by pointer; nil means valid.
func (s *Schema) Validate(doc any) []Violation {
	err := s.sch.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Message: err.Error()}}
	}
	var out []Violation
	collectLeaves(ve, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return dedupe(out)
}

// ValidateJSON decodes data and validates it. A decoding error is returned as an error.
func (s *Schema) ValidateJSON(data []byte) ([]Violation, error) {
	doc, err := DecodeJSON(data)
	if err != nil {
		return nil, err
	}
	return s.Validate(doc), nil
}

// DecodeJSON decodes one JSON document keeping numbers exact (json.Number), as the
// validator expects.
func DecodeJSON(data []byte) (any, error) {
	if err := CheckDepth(data); err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

var printer = message.NewPrinter(language.English)

func collectLeaves(e *jsonschema.ValidationError, out *[]Violation) {
	if len(e.Causes) == 0 {
		*out = append(*out, Violation{
			Pointer: jsonPointer(e.InstanceLocation),
			Message: e.ErrorKind.LocalizedString(printer),
		})
		return
	}
	for _, c := range e.Causes {
		collectLeaves(c, out)
	}
}

func dedupe(vs []Violation) []Violation {
	out := vs[:0]
	seen := map[Violation]bool{}
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func jsonPointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		sb.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return sb.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// dropEmptyRequired removes every `"required": []` (invalid in draft-04) from a schema
// document, recursively. Arrays and objects are walked in place.
func dropEmptyRequired(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if r, ok := t["required"].([]any); ok && len(r) == 0 {
			delete(t, "required")
		}
		for k, c := range t {
			t[k] = dropEmptyRequired(c)
		}
	case []any:
		for i, c := range t {
			t[i] = dropEmptyRequired(c)
		}
	}
	return v
}

type ecmaRegexp regexp2.Regexp

func (re *ecmaRegexp) MatchString(s string) bool {
	ok, err := (*regexp2.Regexp)(re).MatchString(s)
	return err == nil && ok
}

func (re *ecmaRegexp) String() string { return (*regexp2.Regexp)(re).String() }

func ecmaCompile(s string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(s, regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	return (*ecmaRegexp)(re), nil
}

type noRemoteLoader struct{}

func (noRemoteLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema references %s: references to other documents are not supported", u)
}
