package plugin

import (
	"math"
	"os"
	"runtime/debug"
	"sync"
)

// The memory budget bounds what queries and cached forests hold (their live
// data); Go's collector, left to its default, lets the heap grow to about
// twice the live data before it collects, so the process's resident memory
// would be up to twice the budget. The plugin therefore sets the runtime's
// soft memory limit to the sum of its instances' budgets: the collector
// works harder as the heap nears it, and the garbage stays within the
// budget too. An operator's GOMEMLIMIT wins.
var memLimit struct {
	sync.Mutex
	total int64
}

// reserveMemoryLimit adds budget bytes to the process's soft memory limit
// and returns the function that takes them back (when the instance is
// disposed).
func reserveMemoryLimit(budget int64) (release func()) {
	if budget <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	setMemoryLimit(budget)
	var once sync.Once
	return func() { once.Do(func() { setMemoryLimit(-budget) }) }
}

func setMemoryLimit(delta int64) {
	memLimit.Lock()
	defer memLimit.Unlock()
	memLimit.total += delta
	if memLimit.total > 0 {
		debug.SetMemoryLimit(memLimit.total)
	} else {
		memLimit.total = 0
		debug.SetMemoryLimit(math.MaxInt64) // the runtime's default: no limit
	}
}
