package dicom

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Rule is one series selection rule, such as modality=CT, description~'(?i)lung',
// orientation=axial, min-slices=50 or largest.
type Rule struct {
	Text  string // as the user wrote it
	key   string
	op    string // "=", "~" or "" (largest)
	value string
	re    *regexp.Regexp
	n     int
}

// RuleHelp lists the rule forms, for flag help and errors.
const RuleHelp = "modality=CT, description=TEXT, description~REGEXP, orientation=axial|coronal|sagittal, " +
	"min-slices=N, max-slices=N, series-number=N, uid=SERIES_UID, largest"

// ParseRules parses --series values. One value may hold several rules separated
// by commas; a value in single quotes is taken literally (commas included).
// All rules must hold for a series to be selected.
func ParseRules(values []string) ([]Rule, error) {
	var rules []Rule
	for _, v := range values {
		parts, err := splitRules(v)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			r, err := parseRule(p)
			if err != nil {
				return nil, err
			}
			rules = append(rules, r)
		}
	}
	return rules, nil
}

func splitRules(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, c := range s {
		switch {
		case c == '\'':
			quoted = !quoted
			cur.WriteRune(c)
		case c == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(c)
		}
	}
	if quoted {
		return nil, fmt.Errorf("series rule %q: unclosed quote", s)
	}
	out = append(out, cur.String())
	var res []string
	for _, p := range out {
		if p = strings.TrimSpace(p); p != "" {
			res = append(res, p)
		}
	}
	return res, nil
}

func parseRule(s string) (Rule, error) {
	r := Rule{Text: s}
	if strings.EqualFold(s, "largest") {
		r.key = "largest"
		return r, nil
	}
	i := strings.IndexAny(s, "=~")
	if i <= 0 {
		return r, fmt.Errorf("series rule %q: expected one of %s", s, RuleHelp)
	}
	r.key, r.op = strings.ToLower(strings.TrimSpace(s[:i])), s[i:i+1]
	r.value = strings.TrimSpace(s[i+1:])
	if len(r.value) >= 2 && r.value[0] == '\'' && r.value[len(r.value)-1] == '\'' {
		r.value = r.value[1 : len(r.value)-1]
	}
	bad := func(why string) (Rule, error) {
		return r, fmt.Errorf("series rule %q: %s (rules: %s)", s, why, RuleHelp)
	}
	switch r.key {
	case "modality", "uid":
		if r.op != "=" {
			return bad(r.key + " takes =")
		}
	case "description":
		if r.op == "~" {
			re, err := regexp.Compile(r.value)
			if err != nil {
				return bad("bad regular expression: " + err.Error())
			}
			r.re = re
		}
	case "orientation":
		r.value = strings.ToLower(r.value)
		if r.op != "=" || (r.value != "axial" && r.value != "coronal" && r.value != "sagittal") {
			return bad("orientation is axial, coronal or sagittal")
		}
	case "min-slices", "max-slices", "series-number":
		n, err := strconv.Atoi(r.value)
		if r.op != "=" || err != nil || n < 0 {
			return bad(r.key + " takes a number")
		}
		r.n = n
	default:
		return bad("unknown key " + strconv.Quote(r.key))
	}
	return r, nil
}

// DescriptionMatches is the rule description~RE for an expression built by
// the caller (no quoting to get wrong).
func DescriptionMatches(re *regexp.Regexp) Rule {
	return Rule{Text: "description~" + re.String(), key: "description", op: "~", value: re.String(), re: re}
}

// reject returns why s fails the rule ("" when it passes). largest is decided
// by Select.
func (r Rule) reject(s *Series) string {
	switch r.key {
	case "modality":
		if !strings.EqualFold(s.Modality, r.value) {
			return fmt.Sprintf("modality is %q, not %s", s.Modality, r.value)
		}
	case "uid":
		if s.SeriesInstanceUID != r.value {
			return "series UID is not " + r.value
		}
	case "description":
		if r.re != nil && !r.re.MatchString(s.Description) {
			return fmt.Sprintf("description %q does not match %s", s.Description, r.value)
		}
		if r.re == nil && !strings.EqualFold(s.Description, r.value) {
			return fmt.Sprintf("description %q is not %q", s.Description, r.value)
		}
	case "orientation":
		if s.Orientation != r.value {
			o := s.Orientation
			if o == "" {
				o = "unknown"
			}
			return fmt.Sprintf("orientation is %s, not %s", o, r.value)
		}
	case "min-slices":
		if s.Slices() < r.n {
			return fmt.Sprintf("%d slices, fewer than %d", s.Slices(), r.n)
		}
	case "max-slices":
		if s.Slices() > r.n {
			return fmt.Sprintf("%d slices, more than %d", s.Slices(), r.n)
		}
	case "series-number":
		if s.SeriesNumber != strconv.Itoa(r.n) {
			return fmt.Sprintf("series number is %q, not %d", s.SeriesNumber, r.n)
		}
	}
	return ""
}

// Decision says whether a series was selected and, if not, why.
type Decision struct {
	Series   *Series
	Selected bool
	Reason   string // why it was left out ("" when selected)
}

// ErrNoSeries is returned (wrapped) when no series is selected.
var ErrNoSeries = errors.New("no series selected")

// Select applies the rules (all must hold) to the scanned series. usable, when
// not nil, says why the model cannot take a series ("" when it can). A series
// that cannot be converted is never selected. Every series gets one Decision,
// in scan order.
func Select(series []*Series, rules []Rule, usable func(*Series) string) []Decision {
	out := make([]Decision, len(series))
	largest := false
	for _, r := range rules {
		if r.key == "largest" {
			largest = true
		}
	}
	for i, s := range series {
		d := Decision{Series: s, Selected: true}
		switch {
		case s.Err != nil:
			d.Selected, d.Reason = false, "cannot be converted: "+s.Err.Error()
		case usable != nil && usable(s) != "":
			d.Selected, d.Reason = false, usable(s)
		default:
			for _, r := range rules {
				if why := r.reject(s); why != "" {
					d.Selected, d.Reason = false, why
					break
				}
			}
		}
		out[i] = d
	}
	if largest {
		best := map[string]*Series{}
		for _, d := range out {
			if d.Selected {
				if b := best[d.Series.StudyInstanceUID]; b == nil || d.Series.Slices() > b.Slices() {
					best[d.Series.StudyInstanceUID] = d.Series
				}
			}
		}
		for i := range out {
			d := &out[i]
			if b := best[d.Series.StudyInstanceUID]; d.Selected && b != d.Series {
				d.Selected = false
				d.Reason = fmt.Sprintf("not the largest series of its study (%d slices; series %s has %d)", d.Series.Slices(), b.ID(), b.Slices())
			}
		}
	}
	return out
}
