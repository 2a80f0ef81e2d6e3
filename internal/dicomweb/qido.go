package dicomweb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Dataset is one DICOM JSON dataset (PS3.18 F.2): tag ("0020000D") -> element.
type Dataset map[string]Element

// Element is a DICOM JSON attribute.
type Element struct {
	VR    string            `json:"vr"`
	Value []json.RawMessage `json:"Value,omitempty"`
}

// String is the first value of tag as text ("" when absent): a string, a
// number, or a person name's alphabetic form.
func (d Dataset) String(tag string) string {
	e, ok := d[tag]
	if !ok || len(e.Value) == 0 {
		return ""
	}
	return valueString(e.Value[0])
}

// Strings are all values of tag as text.
func (d Dataset) Strings(tag string) []string {
	var out []string
	for _, v := range d[tag].Value {
		if s := valueString(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Int is the first value of tag as a number (0 when absent or not one).
func (d Dataset) Int(tag string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(d.String(tag)))
	return n
}

// Items are the datasets of a sequence.
func (d Dataset) Items(tag string) []Dataset {
	var out []Dataset
	for _, v := range d[tag].Value {
		var item Dataset
		if json.Unmarshal(v, &item) == nil {
			out = append(out, item)
		}
	}
	return out
}

func valueString(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	var pn struct{ Alphabetic string }
	if json.Unmarshal(v, &pn) == nil {
		return pn.Alphabetic
	}
	return ""
}

// Tags used here.
const (
	TagSOPInstanceUID    = "00080018"
	TagStudyDate         = "00080020"
	TagModalitiesInStudy = "00080061"
	TagModality          = "00080060"
	TagStudyDescription  = "00081030"
	TagSeriesDescription = "0008103E"
	TagPatientName       = "00100010"
	TagStudyInstanceUID  = "0020000D"
	TagSeriesInstanceUID = "0020000E"
	TagSeriesNumber      = "00200011"
	TagStudySeries       = "00201206"
	TagStudyInstances    = "00201208"
	TagSeriesInstances   = "00201209"
	TagFailureReason     = "00081197"
	TagFailedSOPSequence = "00081198"
	TagReferencedSOPSeq  = "00081199"
	TagReferencedSOPUID  = "00081155"
	TagReferencedSOPCls  = "00081150"
	TagRetrieveURL       = "00081190"
)

// Study is a study as QIDO-RS lists it. PatientName is filled only when
// asked for (Studies' phi).
type Study struct {
	UID         string   `json:"study_uid"`
	Date        string   `json:"date,omitempty"`
	Modalities  []string `json:"modalities,omitempty"`
	Description string   `json:"description,omitempty"`
	Series      int      `json:"series"`
	Instances   int      `json:"instances"`
	PatientName string   `json:"patient_name,omitempty"`
}

// Series is a series of a study as QIDO-RS lists it.
type Series struct {
	UID         string `json:"series_uid"`
	Number      int    `json:"number,omitempty"`
	Modality    string `json:"modality,omitempty"`
	Description string `json:"description,omitempty"`
	Instances   int    `json:"instances"`
}

// Studies lists the server's studies (with the patient's name only when phi
// is true: it is not even asked for otherwise). A list the server cut short
// comes with a *PartialError; Series and Instances fail on one instead (a
// study fetched from a partial list would be silently incomplete).
func (c *Client) Studies(ctx context.Context, phi bool) ([]Study, error) {
	q := url.Values{"includefield": {TagStudyDescription, TagModalitiesInStudy, TagStudySeries, TagStudyInstances, TagStudyDate}}
	ds, err := c.query(ctx, "/studies", q, TagStudyInstanceUID, "the list of studies")
	var partial *PartialError
	if err != nil && !errors.As(err, &partial) {
		return nil, err
	}
	var out []Study
	for _, d := range ds {
		s := Study{UID: d.String(TagStudyInstanceUID), Date: d.String(TagStudyDate), Modalities: d.Strings(TagModalitiesInStudy),
			Description: d.String(TagStudyDescription), Series: d.Int(TagStudySeries), Instances: d.Int(TagStudyInstances)}
		if phi {
			s.PatientName = d.String(TagPatientName)
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Date != out[j].Date {
			return out[i].Date < out[j].Date
		}
		return out[i].UID < out[j].UID
	})
	if partial != nil {
		return out, partial
	}
	return out, nil
}

// StudyWhat names a study in messages.
func StudyWhat(uid string) string { return "study " + uid }

// Series lists the series of a study; a study the server does not hold is
// an error matching ErrNotFound.
func (c *Client) Series(ctx context.Context, study string) ([]Series, error) {
	if !ValidUID(study) {
		return nil, fmt.Errorf("%q is not a study UID (digits and dots, at most 64)", sanitize(study))
	}
	q := url.Values{"includefield": {TagSeriesDescription, TagSeriesInstances, TagSeriesNumber, TagModality}}
	ds, err := c.query(ctx, "/studies/"+study+"/series", q, TagSeriesInstanceUID, StudyWhat(study))
	if err != nil {
		return nil, err
	}
	var out []Series
	for _, d := range ds {
		out = append(out, Series{UID: d.String(TagSeriesInstanceUID), Number: d.Int(TagSeriesNumber), Modality: d.String(TagModality),
			Description: d.String(TagSeriesDescription), Instances: d.Int(TagSeriesInstances)})
	}
	if len(out) == 0 {
		return nil, c.statusError(404, "404 Not Found", StudyWhat(study))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Number != out[j].Number {
			return out[i].Number < out[j].Number
		}
		return out[i].UID < out[j].UID
	})
	return out, nil
}

// Instances lists the SOP Instance UIDs of a series.
func (c *Client) Instances(ctx context.Context, study, series string) ([]string, error) {
	if !ValidUID(study) || !ValidUID(series) {
		return nil, fmt.Errorf("%q/%q is not a study and series UID", sanitize(study), sanitize(series))
	}
	what := "series " + series + " of study " + study
	ds, err := c.query(ctx, "/studies/"+study+"/series/"+series+"/instances", url.Values{"includefield": {TagSOPInstanceUID}}, TagSOPInstanceUID, what)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, d := range ds {
		uid := d.String(TagSOPInstanceUID)
		if !ValidUID(uid) {
			return nil, fmt.Errorf("the DICOMweb server %s listed an instance UID %q in %s: not a UID, refused", c.base.Host, c.safe(uid), what)
		}
		if !seen[uid] {
			seen[uid] = true
			out = append(out, uid)
		}
	}
	return out, nil
}
