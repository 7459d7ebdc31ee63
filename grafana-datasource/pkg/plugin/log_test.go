package plugin

import "github.com/grafana/grafana-plugin-sdk-go/backend/log"

func nopLogger() log.Logger { return log.NewNullLogger() }
