package termsafe

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":                      "plain text",
		"Résumé 画像 🧠 – ok":                "Résumé 画像 🧠 – ok",
		"\x1b]52;c;ZXZpbA==\x07":          `\x1b]52;c;ZXZpbA==\x07`,
		"\x1b[31mred\x1b[0m":              `\x1b[31mred\x1b[0m`,
		"\x1bP1$r\x1b\\":                  `\x1bP1$r\x1b\`,
		"a\nb":                            `a\nb`,
		"a\r\nb\tc":                       `a\r\nb\tc`,
		"del\x7f":                         `del\x7f`,
		"c1 \u009b31m \u009d0;t\u009c":    `c1 \x9b31m \x9d0;t\x9c`,
		"raw \x9b31m":                     `raw \x9b31m`,
		"bidi \u202egnp.exe":              `bidi \u202egnp.exe`,
		"iso \u2066x\u2069 \u200f \u061c": `iso \u2066x\u2069 \u200f \u061c`,
		"sep \u2028 \u2029 \ufeff":        `sep \u2028 \u2029 \ufeff`,
		"bell\a back\b nul\x00":           `bell\x07 back\x08 nul\x00`,
		"":                                "",
		"\xff\xfe":                        `\xff\xfe`,
	} {
		if got := Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText_keepsLines(t *testing.T) {
	in := "first line\n\tsecond \x1b[2J\r\n"
	want := "first line\n\tsecond \\x1b[2J\\r\n"
	if got := Text(in); got != want {
		t.Errorf("Text(%q) = %q, want %q", in, got, want)
	}
	if !Safe("name-1.2_x") || Safe("a\nb") || Safe("\x1b") {
		t.Error("Safe is wrong")
	}
}

// checkClean fails when out could act on a terminal.
func checkClean(t *testing.T, in, out string, multiline bool) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("%q -> %q: invalid UTF-8", in, out)
	}
	for _, r := range out {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unsafeRune(r) {
			t.Fatalf("%q -> %q: keeps %U", in, out, r)
		}
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b]52;c;aGk=\x07", "\x1b[31m", "a\nb", "\u202e", "\xc2\x9b", "\x9b", "日本\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line, text := Line(s), Text(s)
		checkClean(t, s, line, false)
		checkClean(t, s, text, true)
		if strings.ContainsAny(line, "\n\r\t") {
			t.Fatalf("Line(%q) = %q spans lines", s, line)
		}
		// idempotent: a clean string is left as it is
		if Line(line) != line || Text(text) != text {
			t.Fatalf("not idempotent on %q", s)
		}
		// nothing printable is lost: a valid string without controls is kept
		if Safe(s) && line != s {
			t.Fatalf("Line changed the safe %q", s)
		}
		// only escapes are added: removing none, the printable runes stay in order
		var kept []rune
		for _, r := range s {
			if r != utf8.RuneError && !unsafeRune(r) {
				kept = append(kept, r)
			}
		}
		i := 0
		for _, r := range line {
			if i < len(kept) && r == kept[i] {
				i++
			}
		}
		if i != len(kept) {
			t.Fatalf("Line(%q) = %q lost printable text", s, line)
		}
	})
}

func TestWriter_splitRunes(t *testing.T) {
	var out strings.Builder
	w := NewWriter(&out)
	in := "画像 \x1b]52;c;aGk=\x07 ok\n🧠\xe7"
	for i := 0; i < len(in); i++ { // one byte per Write: every rune is cut
		if n, err := w.Write([]byte{in[i]}); n != 1 || err != nil {
			t.Fatal(n, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "画像 \\x1b]52;c;aGk=\\x07 ok\n🧠\\xe7"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestJSON(t *testing.T) {
	v := map[string]string{"s": "a\u009b2J\x7f\u202e\u2028\ufeff\x1b[1m é\n"}
	b, _ := json.MarshalIndent(v, "", "  ")
	got := JSON(b)
	if !Safe(strings.ReplaceAll(string(got), "\n", " ")) {
		t.Fatalf("unsafe: %q", got)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["s"] != v["s"] {
		t.Fatalf("not the same value: %q %v", got, err)
	}
	if plain := []byte(`{"a": "é"}`); &JSON(plain)[0] != &plain[0] {
		t.Fatal("copied a safe text")
	}
}
