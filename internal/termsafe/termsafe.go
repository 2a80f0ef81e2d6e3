// Package termsafe makes text from outside (an index, a model repository, a
// server, an engine, a Docker image, a file name) harmless to print on a
// terminal. A terminal acts on the control characters in what it prints:
// ESC starts sequences that recolour, move the cursor, rename the window,
// write the clipboard (OSC 52) or, in some terminals, answer back as typed
// input; CR and BS overwrite what was printed; bidirectional overrides
// reorder it; a newline splits a table row. Line and Text show every such
// character as a visible escape (\x1b, \r, \u202e) instead, so a sequence
// arrives as plain, inert text and the reader sees that something was there.
//
// Printable Unicode is kept as it is. JSON output (--json) is never passed
// through here: it stays exact (encoding/json escapes what it must).
//
// The package is a leaf: it imports nothing of modelhub.
package termsafe

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Line returns s for a single-line field (a table cell, a name inside a
// sentence): every control character, newlines and tabs included, is
// escaped.
func Line(s string) string { return clean(s, false) }

// Text returns s for free text that may span lines (an error, a log line):
// as Line, but newlines and tabs are kept.
func Text(s string) string { return clean(s, true) }

// Safe reports whether s prints as it is in a single-line field.
func Safe(s string) bool { return Line(s) == s }

func clean(s string, multiline bool) string {
	if fine(s, multiline) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			// an invalid byte: 0x9b alone is CSI to an 8-bit terminal
			b.WriteString(`\x`)
			b.WriteString(hex2(s[i]))
		case multiline && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case unsafeRune(r):
			b.WriteString(escape(r))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// fine reports, quickly, that s needs no change.
func fine(s string, multiline bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return fineSlow(s[i:], multiline)
		}
		if c < 0x20 || c == 0x7f {
			if multiline && (c == '\n' || c == '\t') {
				continue
			}
			return false
		}
	}
	return true
}

func fineSlow(s string, multiline bool) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return false
		}
		if unsafeRune(r) && !(multiline && (r == '\n' || r == '\t')) {
			return false
		}
		i += size
	}
	return true
}

// unsafeRune: C0 controls, DEL, C1 controls (U+0080–U+009F: CSI, OSC, DCS,
// ST... as 8-bit codes), the bidirectional controls, the line and paragraph
// separators, and the byte order mark.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, // ALM, LRM, RLM
		r >= 0x202a && r <= 0x202e, // LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069, // LRI, RLI, FSI, PDI
		r == 0x2028, r == 0x2029, r == 0xfeff:
		return true
	}
	return false
}

func escape(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	}
	if r < 0x100 {
		return `\x` + hex2(byte(r))
	}
	q := strconv.QuoteRuneToASCII(r) // '\u202e'
	return q[1 : len(q)-1]
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// Writer passes a stream (a container's log, say) to W through Text: each
// Write is cleaned; a UTF-8 sequence cut between two Writes is held until
// the rest arrives. Flush writes what is held (an incomplete sequence at
// the end of the stream, escaped).
type Writer struct {
	W    io.Writer
	held []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{W: w} }

// Write cleans p and writes it; it reports len(p) written when W took
// everything.
func (w *Writer) Write(p []byte) (int, error) {
	buf := append(w.held, p...)
	w.held = nil
	// hold back an incomplete UTF-8 sequence at the end
	cut := len(buf)
	for i := len(buf) - 1; i >= 0 && i >= len(buf)-utf8.UTFMax; i-- {
		if utf8.RuneStart(buf[i]) {
			if !utf8.FullRune(buf[i:]) {
				cut = i
			}
			break
		}
	}
	w.held = append([]byte(nil), buf[cut:]...)
	if _, err := io.WriteString(w.W, Text(string(buf[:cut]))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what Write held back.
func (w *Writer) Flush() error {
	if len(w.held) == 0 {
		return nil
	}
	s := Text(string(w.held))
	w.held = nil
	_, err := io.WriteString(w.W, s)
	return err
}

// JSON is JSON text (as encoding/json writes it) with the characters a
// terminal acts on that encoding/json leaves raw — DEL, the C1 controls,
// the bidirectional controls, U+2028/U+2029 (escaped already) and the BOM —
// written as \uXXXX escapes: the same JSON value, safe to print. Those
// characters can only be inside strings, where the escape means the same.
func JSON(b []byte) []byte {
	var out []byte // a copy, made at the first change
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x7f && unsafeRune(r) {
			if out == nil {
				out = append(make([]byte, 0, len(b)+16), b[:i]...)
			}
			out = fmt.Appendf(out, `\u%04x`, r)
		} else if out != nil {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	if out == nil {
		return b
	}
	return out
}
