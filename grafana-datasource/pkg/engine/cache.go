package engine

import (
	"container/list"
	"sync"
	"time"
)

// modelCache keeps fitted models so that dashboard refreshes and alert
// evaluations over the same training window do not refit. Keys are built from
// everything that determines a fit (resolved PromQL, entity labels, forest
// parameters, imputation, and the training window aligned to the step), so a
// hit is always the model a refit would produce. Memory is bounded by the sum
// of the models' SizeBytes (least recently used evicted first); entries also
// expire after a TTL so that a model never outlives data that was rewritten
// upstream (late samples, backfills) for long.
type modelCache struct {
	mu       sync.Mutex
	maxBytes int64
	ttl      time.Duration
	now      func() time.Time
	bytes    int64
	ll       *list.List // front = most recently used
	items    map[string]*list.Element
	hits     uint64
	misses   uint64
	// onResize, when set, is told of every change of bytes, with mu held:
	// the memory budget counts the cache's forests as held memory.
	onResize func(delta int64)
	// room, when set, says whether the memory budget has room for size more
	// bytes (called with mu held): entries are evicted until it does, and a
	// value is not cached if it never does.
	room func(size int64) bool
}

type cacheEntry struct {
	key     string
	value   any
	size    int64
	expires time.Time
}

func newModelCache(maxBytes int64, ttl time.Duration) *modelCache {
	return &modelCache{maxBytes: maxBytes, ttl: ttl, now: time.Now, ll: list.New(), items: map[string]*list.Element{}}
}

// Get returns the value stored under key if present and not expired.
func (c *modelCache) Get(key string) (any, bool) {
	if c == nil || c.maxBytes <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		c.misses++
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if c.now().After(e.expires) {
		c.remove(el)
		c.misses++
		return nil, false
	}
	c.ll.MoveToFront(el)
	c.hits++
	return e.value, true
}

// Put stores value; a value larger than the whole budget is not cached.
func (c *modelCache) Put(key string, value any, size int64) {
	if c == nil || c.maxBytes <= 0 || size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	if c.room != nil {
		if !c.room(size - c.bytes) {
			return // not even an empty cache would make room: keep what is cached
		}
		for !c.room(size) {
			if c.ll.Len() == 0 {
				return // the running queries need the memory more
			}
			c.remove(c.ll.Back())
		}
	}
	el := c.ll.PushFront(&cacheEntry{key: key, value: value, size: size, expires: c.now().Add(c.ttl)})
	c.items[key] = el
	c.bytes += size
	if c.onResize != nil {
		c.onResize(size)
	}
	for c.bytes > c.maxBytes {
		c.remove(c.ll.Back())
	}
}

func (c *modelCache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.ll.Remove(el)
	delete(c.items, e.key)
	c.bytes -= e.size
	if c.onResize != nil {
		c.onResize(-e.size)
	}
}

// shrink evicts least recently used entries until at least n bytes are
// freed or the cache is empty, and returns what it freed: running queries
// come before kept forests when the memory budget is short.
func (c *modelCache) shrink(n int64) int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var freed int64
	for freed < n && c.ll.Len() > 0 {
		el := c.ll.Back()
		freed += el.Value.(*cacheEntry).size
		c.remove(el)
	}
	return freed
}

// Stats reports the cache's size and counters.
func (c *modelCache) Stats() (entries int, bytes int64, hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.bytes, c.hits, c.misses
}
