package anomaly

import (
	"testing"

	"github.com/hazewatch/hazewatch/internal/telegraftest"
)

// The README passes Telegraf's own README linter (tools/readme_linter of the pinned Telegraf), with the
// rules of a processor plugin: the metadata lines, the allowed tags, the required sections.
func TestREADMETelegrafLinter(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Telegraf's readme_linter (go install, seconds warm); skipped with -short")
	}
	telegraftest.LintReadme(t, "README.md", "processors", "anomaly")
}
