package composetest

import (
	"strings"
	"testing"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// TestLoadInterpolatesAndResolves: a variable left unset takes its default, a set one wins, and a
// bind mount's source is the repository's file.
func TestLoadInterpolatesAndResolves(t *testing.T) {
	prom := Service(t, Load(t, nil), "prometheus")
	if got := HostPath(t, prom, "/etc/prometheus/prometheus.yml"); got != repotest.Path(t, "deploy/prometheus/prometheus.yml") {
		t.Errorf("prometheus.yml mounted from %s", got)
	}
	retention := func(p []string) string {
		for _, a := range p {
			if v, ok := strings.CutPrefix(a, "--storage.tsdb.retention.time="); ok {
				return v
			}
		}
		return ""
	}
	if got := retention(prom.Command); got != "30d" {
		t.Errorf("default retention %q, want 30d", got)
	}
	if got := retention(Service(t, Load(t, map[string]string{"PROMETHEUS_RETENTION": "2d"}), "prometheus").Command); got != "2d" {
		t.Errorf("PROMETHEUS_RETENTION=2d gave retention %q", got)
	}
}
