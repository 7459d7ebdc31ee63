//go:build race

package plugin

// raceEnabled: the race detector slows the CPU work several times and adds
// shadow memory the plugin does not allocate; the stress test allows for both.
const raceEnabled = true
