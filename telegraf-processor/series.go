package anomaly

import (
	"github.com/hazewatch/hazewatch/pkg/anomaly/hst"
	"github.com/hazewatch/hazewatch/pkg/impute"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// series is the mutable model of one series: tree masses (on the shared structure) and imputers.
type series struct {
	key      string // key tag values joined by NUL; "" for the global model
	state    *hst.State
	imputers impute.Record // one per field
	lastSeen int64         // wall clock, Unix ns, for series_ttl

	// preset = "purpleair" (state and imputers are nil; the qa detector keeps the sensor's models)
	carried  qa.Fields // the fields any metric of this sensor has carried (see preset.go)
	lastTime int64     // metric time of the last reading observed, Unix ns

	newer, older *series // recency list
}

// seriesTable holds the per-series models with least-recently-seen eviction: a map for lookup and an
// intrusive doubly linked list ordered by recency (newest at head), so touch, insert and evict are O(1).
type seriesTable struct {
	global *series // the single model when key_tags is empty

	max   int
	index map[string]*series
	head  *series // most recently seen
	tail  *series // least recently seen
}

func (t *seriesTable) init(max int) {
	t.max = max
	t.index = make(map[string]*series)
	t.head, t.tail, t.global = nil, nil, nil
}

func (t *seriesTable) len() int { return len(t.index) }

// get looks key up without allocating (the compiler elides the string conversion in a map index).
func (t *seriesTable) get(key []byte) *series { return t.index[string(key)] }

func (t *seriesTable) oldest() *series { return t.tail }

// insert adds s as the most recently seen series, evicting the least recently seen one if that makes
// more than max, and returns the evicted series (nil if none).
func (t *seriesTable) insert(s *series) (evicted *series) {
	t.index[s.key] = s
	t.pushFront(s)
	if len(t.index) > t.max {
		evicted = t.tail
		t.remove(evicted)
	}
	return evicted
}

// append adds s as the least recently seen series (used when loading a state saved newest first).
func (t *seriesTable) append(s *series) {
	t.index[s.key] = s
	s.newer, s.older = t.tail, nil
	if t.tail != nil {
		t.tail.older = s
	} else {
		t.head = s
	}
	t.tail = s
}

// touch marks s as the most recently seen.
func (t *seriesTable) touch(s *series) {
	if t.head == s {
		return
	}
	t.unlink(s)
	t.pushFront(s)
}

func (t *seriesTable) remove(s *series) {
	t.unlink(s)
	delete(t.index, s.key)
}

func (t *seriesTable) pushFront(s *series) {
	s.newer, s.older = nil, t.head
	if t.head != nil {
		t.head.newer = s
	} else {
		t.tail = s
	}
	t.head = s
}

func (t *seriesTable) unlink(s *series) {
	if s.newer != nil {
		s.newer.older = s.older
	} else {
		t.head = s.older
	}
	if s.older != nil {
		s.older.newer = s.newer
	} else {
		t.tail = s.newer
	}
	s.newer, s.older = nil, nil
}

// each visits the series newest first (the global model alone when there is one).
func (t *seriesTable) each(f func(*series)) {
	if t.global != nil {
		f(t.global)
		return
	}
	for s := t.head; s != nil; s = s.older {
		f(s)
	}
}
