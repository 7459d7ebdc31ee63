// Package purpleair is the PurpleAir API model used across Hazewatch: it
// decodes the column-oriented GET /v1/sensors response ("fields" plus "data"
// rows, null = missing reading), polls the live API with a budget-aware
// client, and simulates a fleet of sensors with labelled faults so that the
// whole stack runs — and anomaly detection can be measured — without an API
// key.
//
// The three parts share one representation, [Response], so a simulated
// snapshot, a replayed file and a live poll all turn into metrics the same
// way ([Response.Point], [WriteLineProtocol]).
package purpleair
