// Package stacktest checks the deployable stack as shipped: docker-compose.yml (loaded with the
// compose-spec loader), the Telegraf and Prometheus configurations it mounts (run with the real
// Telegraf and Prometheus binaries), and Grafana's provisioning (datasources, the "PurpleAir anomalies"
// dashboard, alert rules) cross-checked against each other and against the Hazewatch datasource's
// query model. Unlike e2e (which measures detection on labelled faults and drives the datasource binary
// over the plugin protocol), it runs every provisioned PromQL expression against the live stack and
// checks the files without running them; DEVELOPERS.md, "Tests: where each kind lives", has the split.
// It holds tests only; there is no code to import.
package stacktest
