package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/modelhub-ai/modelhub/internal/termsafe"
)

// Output helpers shared by the commands: one place for tables, the URL box and sizes.

// writeJSON prints v as --json output: indented, one value, then a newline.
// Strings stay exact (the same JSON value), but the characters a terminal
// acts on that JSON allows raw — DEL, the C1 controls, bidirectional
// controls, the BOM — are written as \uXXXX escapes, so a script's output
// printed to a terminal cannot drive it.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(termsafe.JSON(b), '\n'))
	return err
}

// fprintf prints for people: every string, error or Stringer argument goes
// through termsafe.Text first, so text from outside (an index, a repository,
// a server, an engine, a file name) cannot send the terminal an escape
// sequence. The format is ours. JSON output never goes through here.
func fprintf(w interface{ Write([]byte) (int, error) }, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, safeArgs(args)...)
}

// fprintfRaw is fprintf for text that is already safe and carries our own
// escape sequences (colours).
func fprintfRaw(w interface{ Write([]byte) (int, error) }, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}

func safeArgs(args []any) []any {
	var out []any // a copy, made at the first change
	set := func(i int, v any) {
		if out == nil {
			out = append([]any(nil), args...)
		}
		out[i] = v
	}
	for i, a := range args {
		switch v := a.(type) {
		case string:
			if t := termsafe.Text(v); t != v {
				set(i, t)
			}
		case error:
			set(i, termsafe.Text(v.Error()))
		case fmt.Stringer:
			set(i, termsafe.Text(v.String()))
		case []string:
			safe := make([]string, len(v))
			for j, e := range v {
				safe[j] = termsafe.Text(e)
			}
			set(i, safe)
		}
	}
	if out == nil {
		return args
	}
	return out
}

// cell is s for one cell of a table: on one line, nothing a terminal acts on.
func cell(s string) string { return termsafe.Line(s) }

// writeTable prints rows in columns sized to their content, two spaces apart. When
// width > 0 (a terminal), column shrink is truncated with "…" to fit that width.
func writeTable(w interface{ Write([]byte) (int, error) }, rows [][]string, shrink, width int) {
	if len(rows) == 0 {
		return
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell(c)))
		}
	}
	if width > 0 {
		total := 2 * (len(widths) - 1)
		for _, cw := range widths {
			total += cw
		}
		if over := total - width; over > 0 {
			widths[shrink] = max(widths[shrink]-over, utf8.RuneCountInString(rows[0][shrink]), 8)
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.Reset()
		r = append([]string(nil), r...)
		for i := range r {
			r[i] = cell(r[i])
		}
		for i, c := range r {
			if n := utf8.RuneCountInString(c); n > widths[i] {
				c = string([]rune(c)[:widths[i]-1]) + "…"
			}
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteString("\n")
		_, _ = w.Write([]byte(strings.TrimRight(b.String(), " \n") + "\n")) // cells made safe above
	}
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

// humanDuration is a short uptime: 42s, 5m, 3h12m, 2d4h.
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// box draws lines in a rounded frame.
func box(lines []string) string {
	w := 0
	for _, l := range lines {
		w = max(w, utf8.RuneCountInString(l))
	}
	bar := strings.Repeat("─", w+2)
	var b strings.Builder
	b.WriteString("╭" + bar + "╮\n")
	for _, l := range lines {
		b.WriteString("│ " + l + strings.Repeat(" ", w-utf8.RuneCountInString(l)) + " │\n")
	}
	b.WriteString("╰" + bar + "╯\n")
	return b.String()
}
