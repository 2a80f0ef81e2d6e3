package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxName is the length limit of a DNS label (and of a label value).
const maxName = 63

// ObjectName turns a model name into a name every object kind accepts: a
// DNS-1035 label (lower-case letters, digits and '-', starting with a letter,
// ending with a letter or digit, at most 63 characters). Upper case is
// lowered: index names are unique regardless of case. Any other change
// (characters replaced, a prefix added, the name shortened) appends '-' and
// six hex digits of the name's SHA-256, so two names that differ only in a
// replaced character still get different object names; renamed reports it.
func ObjectName(model string) (name string, renamed bool) {
	lower := strings.ToLower(model)
	var b strings.Builder
	dash := false
	for _, r := range lower {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	name = strings.Trim(b.String(), "-")
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = strings.TrimSuffix("model-"+name, "-")
	}
	if name == lower && len(name) <= maxName {
		return name, false
	}
	sum := sha256.Sum256([]byte(model))
	suffix := "-" + hex.EncodeToString(sum[:3])
	if len(name) > maxName-len(suffix) {
		name = strings.TrimRight(name[:maxName-len(suffix)], "-")
	}
	return name + suffix, true
}
