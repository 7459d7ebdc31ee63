// Command gpx_hazewatch_anomaly is the Hazewatch anomaly datasource's backend
// process. Grafana starts it (hashicorp/go-plugin over gRPC) and routes the
// datasource's queries, health checks and resource calls to it.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/plugin"
)

func main() {
	// Manage serves the plugin over gRPC, creating one plugin.Datasource per
	// configured datasource (and again when its settings change).
	if err := datasource.Manage(plugin.PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error("plugin exited", "error", err.Error())
		os.Exit(1)
	}
}
