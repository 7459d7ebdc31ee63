//go:build !unix

package anomaly

import "time"

// processCPUTime is unknown here; benchmarks then report wall-clock throughput only.
func processCPUTime() time.Duration { return 0 }
