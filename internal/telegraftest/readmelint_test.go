package telegraftest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The linter runs with a plugin type's rules and its findings name the original file: a README that
// breaks an input's rules gives those findings, and a conforming one none.
func TestLintReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Telegraf's readme_linter (go install, seconds warm); skipped with -short")
	}
	linter := ReadmeLinter(t)
	dir := t.TempDir()
	good := `# Example Input Plugin

This plugin gathers nothing at all, for the linter's own test.

⭐ Telegraf v1.37.2
🏷️ iot
💻 all

## Global configuration options <!-- @/docs/includes/plugin_config.md -->

Plugins support additional global and plugin configuration settings.

## Configuration

` + "```toml @sample.conf\n[[inputs.example]]\n```" + `

## Metrics

- example

## Example Output

` + "```text\nexample value=1 1\n```\n"
	bad := strings.NewReplacer("⭐ Telegraf v1.37.2", "⭐ hazewatch", "🏷️ iot", "🏷️ iot, ml", "## Metrics", "## Fields").Replace(good)
	for _, c := range []struct {
		name, md string
		want     []string
	}{
		{"good.md", good, nil},
		{"bad.md", bad, []string{
			"invalid introduction version format",
			`unknown tag " ml"`,
			`missing required section "Metrics"`,
		}},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.md), 0o644); err != nil {
			t.Fatal(err)
		}
		findings, err := lintReadme(linter, t.TempDir(), path, "inputs", "example")
		if err != nil {
			t.Fatal(err)
		}
		if len(findings) != len(c.want) {
			t.Errorf("%s: findings %q, want %d", c.name, findings, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.HasPrefix(findings[i], path+":") || !strings.Contains(findings[i], w) {
				t.Errorf("%s: finding %q, want %s:<line>: ...%s", c.name, findings[i], path, w)
			}
		}
	}
}
