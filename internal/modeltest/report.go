// Package modeltest holds the contributor checks: the static checks of `modelhub
// validate` on a model folder and the integration checks of `modelhub test` against the
// REST API of a running modelhub engine. It never prints: results are collected in a
// Report and each finished check is passed to an optional callback.
package modeltest

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status is the outcome of one check.
type Status string

const (
	Pass Status = "PASS"
	Warn Status = "WARN"
	Fail Status = "FAIL"
	// Skip marks a check that could not run because one it depends on failed; it is
	// not counted in the summary (the failure it depends on is).
	Skip Status = "SKIP"
)

// Check is one line of the report.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	// File is the file the check is about, relative to the model folder (validate).
	File string `json:"file,omitempty"`
}

// SampleResult is the prediction on one sample.
type SampleResult struct {
	Sample    string  `json:"sample"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// Latency summarizes the per-sample prediction latency in milliseconds.
type Latency struct {
	Samples  int     `json:"samples"`
	MinMS    float64 `json:"min_ms"`
	MedianMS float64 `json:"median_ms"`
	MaxMS    float64 `json:"max_ms"`
}

func (l Latency) String() string {
	return fmt.Sprintf("min %s, median %s, max %s over %d sample(s)",
		ms(l.MinMS), ms(l.MedianMS), ms(l.MaxMS), l.Samples)
}

func ms(v float64) string {
	return time.Duration(v * float64(time.Millisecond)).Round(time.Millisecond / 10).String()
}

// Report is the ordered list of checks of one test run plus the per-sample results.
type Report struct {
	// Model and Path name the model checked.
	Model string `json:"model,omitempty"`
	Path  string `json:"path,omitempty"`

	Checks  []Check        `json:"checks"`
	Samples []SampleResult `json:"samples,omitempty"`
	Latency *Latency       `json:"latency,omitempty"`

	// OnCheck, when set, is called with every check as it is added (progress).
	OnCheck func(Check) `json:"-"`
}

// Add appends a check and reports it to OnCheck.
func (r *Report) Add(name string, st Status, format string, args ...any) Check {
	return r.AddCheck(Check{Name: name, Status: st, Detail: fmt.Sprintf(format, args...)})
}

// AddCheck appends c and reports it to OnCheck.
func (r *Report) AddCheck(c Check) Check {
	r.Checks = append(r.Checks, c)
	if r.OnCheck != nil {
		r.OnCheck(c)
	}
	return c
}

// Count returns how many checks have status st.
func (r *Report) Count(st Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == st {
			n++
		}
	}
	return n
}

// Passed reports whether no check failed.
func (r *Report) Passed() bool { return r.Count(Fail) == 0 }

// Summary is "PASSED", "PASSED with N warning(s)" or "FAILED (N)".
func (r *Report) Summary() string {
	if f := r.Count(Fail); f > 0 {
		return fmt.Sprintf("FAILED (%d)", f)
	}
	switch w := r.Count(Warn); w {
	case 0:
		return "PASSED"
	case 1:
		return "PASSED with 1 warning"
	default:
		return fmt.Sprintf("PASSED with %d warnings", w)
	}
}

// MarshalJSON gives the stable --json form: summary, passed, failures, warnings,
// checks, samples and latency.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		Summary  string `json:"summary"`
		Passed   bool   `json:"passed"`
		Failures int    `json:"failures"`
		Warnings int    `json:"warnings"`
		*plain
	}{r.Summary(), r.Passed(), r.Count(Fail), r.Count(Warn), (*plain)(r)})
}
