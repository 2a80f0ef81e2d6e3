package dicom

import (
	"fmt"
	"os"
)

// ReadStrings reads a file's header and the raw values of the given
// top-level string elements (tag -> its VR: CS, DA, LO, PN, SH, TM, UI…).
// It exists for one caller: a DICOM SEG copies its source's patient and
// study modules (internal/dicomseg), because a SEG goes back to the same
// study. Nothing else in modelhub may use it for patient data: Header has
// no field for it on purpose.
func ReadStrings(path string, tags map[uint32]string) (*Header, map[uint32][]byte, error) {
	for t, vr := range tags {
		switch vr {
		case "AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT":
		default:
			return nil, nil, fmt.Errorf("ReadStrings: tag %08X has VR %s, not a string", t, vr)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	rd, err := readHeader(f, tags)
	if err != nil {
		return nil, nil, err
	}
	return rd.Header(), rd.got, nil
}
