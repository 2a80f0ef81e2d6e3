package cli

import (
	"os"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["count-files"] = cmdCountFiles
}

// count-files DIR N: DIR holds exactly N entries.
func cmdCountFiles(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: count-files DIR N")
	}
	ents, err := os.ReadDir(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	if (len(ents) == want) == neg {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		ts.Fatalf("%s holds %d entries %v, want %d", args[0], len(ents), names, want)
	}
}
