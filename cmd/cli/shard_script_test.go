package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["same-results"] = cmdSameResults
}

// same-results WANT PART...: the "ok" results of the PART results.jsonl files
// together answer every input of WANT exactly once, each with the same
// predictions (the engine answer's "output"; its timestamp and processing
// time differ from run to run) as in WANT.
func cmdSameResults(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: same-results WANT PART...")
	}
	want := okOutputs(ts, args[0])
	got := map[string]string{}
	for _, p := range args[1:] {
		for in, out := range okOutputs(ts, p) {
			if _, dup := got[in]; dup {
				ts.Fatalf("%s is answered by two parts", in)
			}
			got[in] = out
		}
	}
	var names []string
	for in := range want {
		names = append(names, in)
	}
	sort.Strings(names)
	for _, in := range names {
		if got[in] != want[in] {
			ts.Fatalf("%s: parts answered %q, want %q", in, got[in], want[in])
		}
	}
	if len(got) != len(want) {
		ts.Fatalf("parts answered %d inputs, want %d", len(got), len(want))
	}
	ts.Logf("%d inputs answered alike: %s", len(names), strings.Join(names, " "))
}

// okOutputs maps each input with an "ok" line of a results.jsonl to its
// predictions (the answer's "output", compacted JSON).
func okOutputs(ts *testscript.TestScript, file string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(ts.ReadFile(file)))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r struct {
			Input  string `json:"input"`
			Status string `json:"status"`
			Output struct {
				Output json.RawMessage `json:"output"`
			} `json:"output"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			ts.Fatalf("%s: %v", file, err)
		}
		if r.Status != "ok" {
			continue
		}
		var b bytes.Buffer
		if len(r.Output.Output) == 0 {
			ts.Fatalf("%s: %s has no predictions", file, r.Input)
		}
		ts.Check(json.Compact(&b, r.Output.Output))
		out[r.Input] = b.String()
	}
	return out
}
