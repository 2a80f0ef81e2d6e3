package predict

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/modelhub-ai/modelhub/internal/dicom"
)

// Cases of DICOM series for a model with several volume inputs (BraTS' t1,
// t1c, t2, flair): a folder whose sub-folders are the cases, or one case
// folder, each holding several series. Each input takes the one
// series its rules select (--match NAME=RULES, after --series); an input
// without rules takes the series whose description holds its name as a word.
// A case where an input finds no series, or several, or where one series
// would feed two inputs, fails with one line naming the input and the
// candidates (description and series ID, never patient data).

// CheckMatch checks --match rules against the model: only for models with
// several named inputs, and only for inputs it has.
func CheckMatch(spec *Spec, match map[string][]dicom.Rule) error {
	if len(match) == 0 {
		return nil
	}
	if !spec.Multi() || len(spec.Inputs) < 2 {
		return fmt.Errorf("--match picks a series for each input of a model with several inputs; this model takes one: select its series with --series")
	}
	for _, name := range sortedNames(match) {
		if _, ok := spec.Input(name); !ok {
			return fmt.Errorf("--match %s=…: the model has no input %q; its inputs are %s", name, name, strings.Join(spec.Names(), ", "))
		}
	}
	return nil
}

func sortedNames[V any](m map[string]V) []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// DefaultMatch is the rule an input without --match gets: its name as a word
// of the series description, ignoring case.
func DefaultMatch(input string) dicom.Rule {
	return dicom.DescriptionMatches(regexp.MustCompile(`(?i)(^|[^a-z0-9])` + regexp.QuoteMeta(input) + `($|[^a-z0-9])`))
}

// matchRules are the rules of an input: its --match, else the default (and
// how to say them).
func (c *collector) matchRules(input string) ([]dicom.Rule, string) {
	for name, r := range c.dicom.Match {
		if strings.EqualFold(name, input) {
			var t []string
			for _, x := range r {
				t = append(t, x.Text)
			}
			return r, "--match " + input + "=" + strings.Join(t, ",")
		}
	}
	return []dicom.Rule{DefaultMatch(input)}, "no description with the word " + input
}

// dicomCases reads the folder abs (given as arg) as cases of DICOM series:
// one per sub-folder, or abs itself when it has none or when its sub-folders
// hold the series of one and the same study (a case exported as one folder
// per series). It reports false when no case holds DICOM images (the folder
// is then read by file names).
func (c *collector) dicomCases(arg, abs string) (bool, error) {
	fi, err := os.Stat(abs)
	if err != nil || !fi.IsDir() {
		return false, err
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return false, err
	}
	type caseDir struct {
		dir, name, src string
		res            *dicom.ScanResult
	}
	var cases []caseDir
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			cases = append(cases, caseDir{dir: filepath.Join(abs, e.Name()), name: e.Name(), src: filepath.Join(arg, e.Name())})
		}
	}
	cohort := len(cases) > 0
	if !cohort {
		cases = []caseDir{{dir: abs, name: filepath.Base(abs), src: arg}}
	}
	files, bytes := c.out.DICOMFiles, c.out.HeaderBytes
	withDICOM := 0
	studies := map[string]bool{}
	for i := range cases {
		res, ok, err := c.scanDICOM(cases[i].dir)
		if err != nil {
			return true, err
		}
		if ok {
			cases[i].res = res
			withDICOM++
			for _, s := range res.Series {
				studies[s.StudyInstanceUID] = true
			}
		}
	}
	if withDICOM == 0 {
		return false, nil
	}
	if cohort && withDICOM > 1 && len(studies) == 1 {
		// the sub-folders hold the series of one study: the folder is one case
		c.out.DICOMFiles, c.out.HeaderBytes = files, bytes
		res, _, err := c.scanDICOM(abs)
		if err != nil {
			return true, err
		}
		cohort = false
		cases = []caseDir{{dir: abs, name: filepath.Base(abs), src: arg, res: res}}
	}
	if cohort {
		for _, e := range entries {
			if !e.IsDir() {
				c.skip(filepath.Join(abs, e.Name()), "not in a case folder")
			} else if strings.HasPrefix(e.Name(), ".") {
				c.skip(filepath.Join(abs, e.Name()), "hidden folder")
			}
		}
	}
	for _, cd := range cases {
		if c.seen[cd.dir] {
			continue
		}
		c.seen[cd.dir] = true
		if cd.res == nil {
			c.add(c.folderCase(cd.dir, cd.name))
			continue
		}
		it, err := c.matchCase(cd.src, cd.name, cd.res)
		if err != nil {
			return true, err
		}
		c.add(it)
	}
	return true, nil
}

// matchCase matches the series of one case to the inputs and converts them.
// A case that cannot be matched is an item with Err (one line); err is for
// an interruption.
func (c *collector) matchCase(src, name string, res *dicom.ScanResult) (Item, error) {
	it := CaseItem(name, nil)
	it.SourceArg = src
	picked := map[*dicom.Series]string{} // series -> input
	chosen := map[string]*dicom.Series{}
	why := map[*dicom.Series]string{} // why a series was left out
	var problems []string
	for _, in := range c.spec.Inputs {
		to := dicomTarget(in.Formats)
		if to == "" {
			problems = append(problems, fmt.Sprintf("input %s takes %s, not a DICOM series", in.Name, strings.Join(in.Formats, ", ")))
			continue
		}
		// the series this input could take at all (--series and its target),
		// then those its own rules pick
		var cands []*dicom.Series
		for _, d := range dicom.Select(res.Series, c.dicom.Rules, usableFor(to)) {
			if d.Selected {
				cands = append(cands, d.Series)
			} else if why[d.Series] == "" {
				why[d.Series] = d.Reason
			}
		}
		rules, said := c.matchRules(in.Name)
		var hits []*dicom.Series
		for _, d := range dicom.Select(cands, rules, nil) {
			if d.Selected {
				hits = append(hits, d.Series)
			}
		}
		switch len(hits) {
		case 0:
			problems = append(problems, fmt.Sprintf("no series for input %s (%s; candidates: %s): give --match %s=RULES",
				in.Name, said, candidates(cands), in.Name))
			continue
		case 1:
		default:
			problems = append(problems, fmt.Sprintf("input %s matches %d series (%s): narrow it with --match %s=RULES",
				in.Name, len(hits), candidates(hits), in.Name))
			continue
		}
		s := hits[0]
		if other, dup := picked[s]; dup {
			problems = append(problems, fmt.Sprintf("inputs %s and %s both match series %s: tell them apart with --match", other, in.Name, shortLabel(s)))
			continue
		}
		picked[s], chosen[in.Name] = in.Name, s
	}
	for _, s := range res.Series {
		switch {
		case picked[s] != "":
			c.out.Series = append(c.out.Series, decision(src, s, true, ""))
		case why[s] != "":
			c.out.Series = append(c.out.Series, decision(src, s, false, why[s]))
		default:
			c.out.Series = append(c.out.Series, decision(src, s, false, "matches no input"))
		}
	}
	for _, u := range res.Unreadable {
		c.skip(u, "unreadable DICOM file")
	}
	if len(problems) > 0 {
		it.Err = fmt.Errorf("case %s: %s", name, strings.Join(problems, "; "))
		return it, nil
	}
	files := map[string]CaseFile{}
	for _, in := range c.spec.Inputs {
		s := chosen[in.Name]
		to := dicomTarget(in.Formats)
		p, o, err := c.convertSeries(src, s, to, in.Name)
		if err != nil {
			if ctx := c.dicom.Ctx; ctx != nil && ctx.Err() != nil {
				return it, ctx.Err()
			}
			it.Err = fmt.Errorf("case %s: input %s: convert %s: %w", name, in.Name, shortLabel(s), err)
			return it, nil
		}
		dirs := make([]string, len(s.Files))
		for i, f := range s.Files {
			dirs[i] = filepath.Dir(f.Path)
		}
		files[in.Name] = CaseFile{Input: in.Name, Path: p, Type: convertedType(to), Source: commonDir(dirs)}
		it.Origins = append(it.Origins, o)
	}
	it.Case = c.ordered(files)
	return it, nil
}

// shortLabel names a series by description and ID.
func shortLabel(s *dicom.Series) string {
	desc := s.Description
	if desc == "" {
		desc = "(no description)"
	}
	return fmt.Sprintf("%q %s", desc, s.ID())
}

func candidates(ss []*dicom.Series) string {
	if len(ss) == 0 {
		return "none"
	}
	var l []string
	for _, s := range ss {
		l = append(l, shortLabel(s))
	}
	return strings.Join(l, ", ")
}
