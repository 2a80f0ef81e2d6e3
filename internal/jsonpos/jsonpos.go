// Package jsonpos turns a byte offset in a JSON document into the line and
// column people look for; the index parser and the init.json/config.json
// checks share it.
package jsonpos

// LineCol converts a byte offset in data to a 1-based line and column (an
// offset past the end is the end).
func LineCol(data []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(data))))
	line, col = 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
