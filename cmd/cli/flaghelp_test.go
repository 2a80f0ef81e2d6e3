package cli

import (
	"regexp"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// pflag names a flag's value after the first `backticked` word of its help, else
// after its type. A backticked command in the help (`modelhub ui`) becomes the
// value name ("--ui-port modelhub ui"). Every flag of every command must show a
// value name that is either its type or one chosen word in capitals (DIR, PORT).
var goodValueName = regexp.MustCompile(`^([A-Z][A-Z0-9_=,./\[\]]*|string|strings|stringArray|int|int64|uint|duration|float|float64)$`)

func Test_flagValueNames(t *testing.T) {
	f, _, _ := testFactory(t, "[]", false, 0)
	root := NewCmdRoot(f)
	n := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		check := func(fl *pflag.Flag) {
			n++
			name, _ := pflag.UnquoteUsage(fl)
			if name == "" { // a bool: no value
				return
			}
			if !goodValueName.MatchString(name) {
				t.Errorf("%s --%s: value name %q in its help (backticks in the help text name the value: use a word in capitals, or no backticks)", c.CommandPath(), fl.Name, name)
			}
		}
		c.LocalFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 50 {
		t.Fatalf("walked only %d flags: the walk is broken", n)
	}
}
