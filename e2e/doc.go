// Package e2e runs the Hazewatch stack end to end on this machine, without Docker: what
// docker-compose.yml starts, started as plain processes on loopback ports.
//
//   - Prometheus from the Debian package, with the compose service's flags and
//     deploy/prometheus/prometheus.yml (remote-write receiver, out-of-order window);
//   - the real Telegraf (internal/telegraftest) with deploy/telegraf/telegraf.conf and
//     deploy/telegraf/anomaly.conf as shipped, our PurpleAir input simulating a fleet with labelled
//     faults at accelerated time (deploy/telegraf/purpleair.conf with test overrides), our anomaly
//     processor through processors.execd, remote write into Prometheus, and an outputs.file copy of
//     everything Telegraf sent;
//   - the datasource backend binary (gpx_hazewatch_anomaly) driven over Grafana's plugin protocol
//     (hashicorp/go-plugin, gRPC) with the provisioned dashboard's and alert rules' queries.
//
// TestStackEndToEnd then measures how well the streaming path (Half-Space Trees in Telegraf) and the
// batch path (Isolation Forest in the datasource) find the planted faults, checks that nothing was lost
// between Telegraf and Prometheus, and that the processor's state survives a Telegraf restart.
// The simulated day is the same on every run: a fixed seed, the fleet placed (bounding_box) so that the
// day starts at the same local solar time, readings on the step's grid and the dashboard evaluated as
// of the end of the history. So the measured figures repeat and are held to floors near them.
//
// Unlike stacktest (which checks the shipped files against each other and that every provisioned
// PromQL expression runs), e2e measures detection on labelled faults, compares every sample Telegraf
// sent, and drives the datasource binary over the plugin protocol; DEVELOPERS.md, "Tests: where each
// kind lives", has the full split.
//
// The package holds tests only. Run it with
//
//	go test -count=1 -run '^TestStackEndToEnd$' -v -timeout 10m ./e2e
//
// HAZEWATCH_E2E_OUT names a directory for the measured figures (e2e-results.json); without it they go
// to the test's temporary directory. HAZEWATCH_TELEGRAF names a prebuilt Telegraf (see internal/telegraftest).
package e2e
