package webui

import (
	"os"
	"testing"

	"github.com/modelhub-ai/modelhub/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveDemoImages()
	os.Exit(code)
}
