package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRejectsBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, conf, want string
	}{
		{"bad option value", "[[processors.anomaly]]\n  trees = 0\n", "E! configuration "},
		{"unknown plugin", "[[processors.dedup]]\n", "unknown processor dedup"},
		{"not TOML", "[[processors.anomaly]\n", "E! loading "},
		{"misspelt option", "[[processors.anomaly]]\n  window = 72\n", `unknown option "processors.anomaly.window"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".conf")
			if err := os.WriteFile(path, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			if code := run(path, false, &stderr); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), tt.want) || !strings.HasPrefix(stderr.String(), "E! ") {
				t.Errorf("stderr %q, want an E! line containing %q", stderr.String(), tt.want)
			}
		})
	}
	var stderr bytes.Buffer
	run(filepath.Join(dir, "bad_option_value.conf"), false, &stderr)
	if !strings.Contains(stderr.String(), "trees must be at least 1") {
		t.Errorf("configuration error does not name the option: %q", stderr.String())
	}
}
