package testutil

import (
	"os"
	"os/exec"
	"strings"
	"sync"
)

var goCache = sync.OnceValue(func() string {
	if c := os.Getenv("GOCACHE"); c != "" {
		return c
	}
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
})

// GoCache is the user's Go build cache. A test that points XDG_CACHE_HOME (or
// HOME) at a temporary folder and runs something that calls `go build` (the
// demo builds its engine) passes GOCACHE=GoCache() along: under the temporary
// folder the cache would start cold and build the standard library again,
// minutes on a loaded machine. Empty when go cannot say.
func GoCache() string { return goCache() }
