// Package composetest reads docker-compose.yml for tests the way docker compose does, with
// compose-spec/compose-go's loader (the library docker compose is built on): it validates the file
// against the Compose Specification's schema, interpolates ${VAR:-default} exactly as compose does, and
// resolves bind-mount paths. e2e and stacktest both translate compose's services into local processes
// through it, so the compose file is read one way.
package composetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/loader"
	"github.com/compose-spec/compose-go/types"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// Load loads the repository's docker-compose.yml as `docker compose config` would, with env as the
// whole environment (no .env file, no process environment: nil is a user who set nothing), so results
// do not depend on the machine.
func Load(t testing.TB, env map[string]string) *types.Project {
	t.Helper()
	root := repotest.Root(t)
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: env,
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.ResolvePaths = true
		o.SetProjectName("hazewatch", true)
	})
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// Service returns the named service of p.
func Service(t testing.TB, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return s
}

// HostPath is the host file or directory s bind-mounts at containerPath.
func HostPath(t testing.TB, s types.ServiceConfig, containerPath string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == containerPath {
			return v.Source
		}
	}
	t.Fatalf("service %s bind-mounts nothing at %s", s.Name, containerPath)
	return ""
}
