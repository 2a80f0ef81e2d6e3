package dicomseg

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ParseLabels reads a labels document (a --labels FILE, or one output's entry
// of config.json's modelhub.segments): a JSON object from label value (1 to
// 255) to either a name or an object
//
//	{"label": NAME, "category": {"code": C, "scheme": S, "meaning": M}, "type": {…}}
//
// where category and type are the Segmented Property Category and Type
// codes (SNOMED CT "SCT", DICOM "DCM", …); a missing one is the generic
// SCT 85756007 Tissue / SCT 91723000 Anatomical structure.
func ParseLabels(data []byte) ([]Segment, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("labels: %v (want an object such as {\"1\": \"Liver\"})", err)
	}
	return labelsOf(doc)
}

func labelsOf(doc map[string]json.RawMessage) ([]Segment, error) {
	var out []Segment
	for k, raw := range doc {
		v, err := strconv.Atoi(strings.TrimSpace(k))
		if err != nil || v < 1 || v > 255 {
			return nil, fmt.Errorf("labels: key %q is not a label value from 1 to 255", k)
		}
		s := Segment{Value: v}
		var name string
		if json.Unmarshal(raw, &name) == nil {
			s.Label = name
		} else {
			var o struct {
				Label    string    `json:"label"`
				Category *codeJSON `json:"category"`
				Type     *codeJSON `json:"type"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				return nil, fmt.Errorf("labels: value %d: want a name or {\"label\": …, \"category\": {…}, \"type\": {…}}", v)
			}
			s.Label = o.Label
			for _, c := range []struct {
				in   *codeJSON
				out  *Code
				what string
			}{{o.Category, &s.Category, "category"}, {o.Type, &s.Type, "type"}} {
				if c.in == nil {
					continue
				}
				if c.in.Code == "" || c.in.Scheme == "" || c.in.Meaning == "" {
					return nil, fmt.Errorf("labels: value %d: %s needs code, scheme and meaning", v, c.what)
				}
				*c.out = Code{clip(c.in.Code, 16), clip(c.in.Scheme, 16), clip(c.in.Meaning, 64)}
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out, nil
}

type codeJSON struct {
	Code    string `json:"code"`
	Scheme  string `json:"scheme"`
	Meaning string `json:"meaning"`
}

// ConfigLabels reads config.json's modelhub.segments: output name -> a
// labels object as ParseLabels takes. A config without it has none.
func ConfigLabels(configJSON []byte) (map[string][]Segment, error) {
	var doc struct {
		Modelhub struct {
			Segments map[string]map[string]json.RawMessage `json:"segments"`
		} `json:"modelhub"`
	}
	if err := json.Unmarshal(configJSON, &doc); err != nil {
		return nil, nil // config.json's own checks report it
	}
	out := map[string][]Segment{}
	for name, l := range doc.Modelhub.Segments {
		segs, err := labelsOf(l)
		if err != nil {
			return nil, fmt.Errorf("config.json modelhub.segments.%s: %w", name, err)
		}
		out[name] = segs
	}
	return out, nil
}
