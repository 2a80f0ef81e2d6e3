package registry

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrNotFound is matched (errors.Is) by a *NotFoundError.
var ErrNotFound = errors.New("model not found")

// NotFoundError is a lookup that found no model; Suggestions are close names.
type NotFoundError struct {
	Name        string
	Suggestions []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("model %q not found in the index", e.Name)
	switch len(e.Suggestions) {
	case 0:
	case 1:
		msg += fmt.Sprintf("; did you mean %q?", e.Suggestions[0])
	default:
		q := make([]string, len(e.Suggestions))
		for i, s := range e.Suggestions {
			q[i] = fmt.Sprintf("%q", s)
		}
		msg += "; did you mean " + strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1] + "?"
	}
	return msg + " (run `modelhub list` to see all models)"
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Lookup finds a model by name, ignoring case.
func (ix *Index) Lookup(name string) (*Entry, error) {
	for i := range ix.Models {
		if strings.EqualFold(ix.Models[i].Name, name) {
			return &ix.Models[i], nil
		}
	}
	return nil, &NotFoundError{Name: name, Suggestions: ix.Suggest(name, 3)}
}

// Names lists the model names in index order.
func (ix *Index) Names() []string {
	out := make([]string, len(ix.Models))
	for i, m := range ix.Models {
		out[i] = m.Name
	}
	return out
}

// Suggest returns up to n names close to name: by edit distance, or sharing a prefix
// or substring, closest first.
func (ix *Index) Suggest(name string, n int) []string {
	q := strings.ToLower(name)
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, m := range ix.Models {
		c := strings.ToLower(m.Name)
		d := Distance(q, c)
		limit := max(2, len(q)/3)
		switch {
		case d <= limit:
		case len(q) >= 3 && (strings.Contains(c, q) || strings.Contains(q, c)):
			d = limit + 1
		default:
			continue
		}
		cs = append(cs, cand{m.Name, d})
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// Distance is the Levenshtein distance between a and b (in runes).
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Filter keeps the models matching every word (case-insensitive, at the start of a
// word of the name or task: "CT" finds "CT scan" and "CTA", not "Detection"), the
// backend (if not empty) and, when gpu is set, only GPU models.
func (ix *Index) Filter(words []string, backend string, gpu bool) []Entry {
	var out []Entry
next:
	for _, m := range ix.Models {
		hay := strings.ToLower(m.Name + " " + m.TaskExtended)
		for _, w := range words {
			if !StartsWord(hay, strings.ToLower(w)) {
				continue next
			}
		}
		if backend != "" {
			ok := false
			for _, b := range m.Backend {
				if strings.EqualFold(b, backend) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		if gpu && !m.GPU {
			continue
		}
		out = append(out, m)
	}
	return out
}

// StartsWord reports whether w occurs in hay at the start of a word: at the
// beginning or after a character that is neither a letter nor a digit.
func StartsWord(hay, w string) bool {
	if w == "" {
		return true
	}
	for i := 0; ; {
		j := strings.Index(hay[i:], w)
		if j < 0 {
			return false
		}
		at := i + j
		if at == 0 {
			return true
		}
		r, _ := utf8.DecodeLastRuneInString(hay[:at])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return true
		}
		_, size := utf8.DecodeRuneInString(hay[at:])
		i = at + size
	}
}
