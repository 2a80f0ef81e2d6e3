package config

import (
	"strings"
	"testing"
)

func TestCheckDepth(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	ok := strings.Repeat(`{"a":`, MaxDepth-1) + "[]" + strings.Repeat("}", MaxDepth-1)
	if err := CheckDepth([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	if err := CheckDepth([]byte(`{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"\\"}`)); err != nil {
		t.Errorf("brackets inside a string counted: %v", err)
	}
	err := CheckDepth([]byte(deep))
	if err == nil || !strings.Contains(err.Error(), "deeper than 64 levels (line 1, column 65)") {
		t.Errorf("depth %d: %v", MaxDepth+1, err)
	}
	// A config.json nested a million levels deep is refused, not a stack overflow.
	huge := strings.Repeat(`{"a":`, 1_000_000)
	if _, err := ParseModelConfig([]byte(huge)); err == nil || !strings.Contains(err.Error(), "parse config.json: the JSON nests deeper than 64 levels") {
		t.Errorf("ParseModelConfig: %v", err)
	}
}
