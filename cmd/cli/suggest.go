package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// suggestionDistance is how far (in edits) a mistyped command or flag may be from
// a real one to be suggested: `lsit` is 2 from `list`.
const suggestionDistance = 2

// unknownCommandError says that name is not a subcommand of cmd, suggesting the
// nearest ones ("did you mean list?").
func unknownCommandError(cmd *cobra.Command, name string) error {
	cmd.SuggestionsMinimumDistance = suggestionDistance
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += " (did you mean " + orList(s) + "?)"
	}
	return usageErrorf("%s", msg)
}

// flagError turns pflag's "unknown flag: --jsn" into a usage error that suggests
// the nearest flags of the command ("did you mean --json?").
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	var typed string
	switch {
	case strings.HasPrefix(msg, "unknown flag: --"):
		typed = strings.TrimPrefix(msg, "unknown flag: --")
		typed, _, _ = strings.Cut(typed, "=")
	case strings.HasPrefix(msg, "unknown shorthand flag: ") && strings.Contains(msg, " in -"):
		// -json: one dash before a long name
		_, word, _ := strings.Cut(msg, " in -")
		word, _, _ = strings.Cut(word, "=")
		if len(word) < 2 {
			return &UsageError{Err: err}
		}
		typed = word
	default:
		return &UsageError{Err: err}
	}
	if s := suggestFlags(c, typed); len(s) > 0 {
		err = fmt.Errorf("%s (did you mean %s?)", msg, orList(s))
	}
	return &UsageError{Err: err}
}

// suggestFlags lists the visible flags of c (its own and inherited) within
// suggestionDistance edits of typed, or starting with it.
func suggestFlags(c *cobra.Command, typed string) []string {
	var out []string
	seen := map[string]bool{}
	visit := func(fl *pflag.Flag) {
		if fl.Hidden || seen[fl.Name] {
			return
		}
		seen[fl.Name] = true
		if levenshtein(strings.ToLower(typed), fl.Name) <= suggestionDistance || (len(typed) >= 2 && strings.HasPrefix(fl.Name, strings.ToLower(typed))) {
			out = append(out, "--"+fl.Name)
		}
	}
	c.LocalFlags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	sort.Strings(out)
	return out
}

// orList is "a", "a or b", "a, b or c".
func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// levenshtein is the edit distance between a and b (bytes; flag names are ASCII).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
