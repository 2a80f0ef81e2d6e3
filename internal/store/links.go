package store

import (
	"fmt"

	"github.com/modelhub-ai/modelhub/internal/safepath"
)

// CheckFolder refuses a model folder carrying a symbolic link that could let
// it reach the host (safepath.CheckTree): a linked contrib_src, which Docker
// would mount as whatever it points to, or a link out of the folder or into
// .git/.modelhub. pull, run, test, predict, validate and deploy call it before
// they read, mount or send the folder. The error is one line naming the
// model, the link and its target.
func CheckFolder(m *Model) error {
	if err := safepath.CheckTree(m.Dir); err != nil {
		if m.Local {
			return fmt.Errorf("%s: %w", m.Dir, err)
		}
		return fmt.Errorf("model %s: %w; its repository is not safe to use (`modelhub rm %s` removes it)", m.Name, err, m.Name)
	}
	return nil
}
