// Package humanize writes quantities for people: sizes in binary units.
// It is a leaf: it imports nothing of modelhub.
package humanize

import "fmt"

// Bytes is n bytes in binary units with one decimal: 512 B, 1.5 KiB,
// 3.2 GiB; a negative n is an unknown size.
func Bytes(n int64) string {
	if n < 0 {
		return "unknown size"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
