package config

import (
	"fmt"

	"github.com/modelhub-ai/modelhub/internal/jsonpos"
)

// MaxDepth is how deeply the JSON documents modelhub reads (config.json,
// get_config answers) may nest arrays and objects; a model config is a few
// levels deep. Deeper input is refused before any recursive processing,
// which it could otherwise drive into a stack overflow.
const MaxDepth = 64

// CheckDepth fails when data nests arrays and objects deeper than MaxDepth.
// It scans the bytes without recursion and ignores brackets inside strings.
func CheckDepth(data []byte) error {
	depth, inString, escaped := 0, false, false
	for i, b := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '[' || b == '{':
			depth++
			if depth > MaxDepth {
				line, col := jsonpos.LineCol(data, int64(i))
				return fmt.Errorf("the JSON nests deeper than %d levels (line %d, column %d): a model's config.json is a few levels deep", MaxDepth, line, col)
			}
		case b == ']' || b == '}':
			depth--
		}
	}
	return nil
}
