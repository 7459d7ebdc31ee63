package engine

import (
	"testing"
	"time"
)

func TestCacheEvictsBySizeAndTTL(t *testing.T) {
	c := newModelCache(100, time.Minute)
	now := t0
	c.now = func() time.Time { return now }
	c.Put("a", 1, 60)
	c.Put("b", 2, 30)
	if _, ok := c.Get("a"); !ok { // a becomes most recently used
		t.Fatal("a missing")
	}
	c.Put("c", 3, 30) // 120 > 100: evicts b, the least recently used
	if _, ok := c.Get("b"); ok {
		t.Error("b should have been evicted")
	}
	if _, ok := c.Get("a"); !ok {
		t.Error("a evicted although recently used")
	}
	c.Put("huge", 4, 101)
	if _, ok := c.Get("huge"); ok {
		t.Error("an entry above the whole budget was cached")
	}
	now = now.Add(2 * time.Minute)
	if _, ok := c.Get("a"); ok {
		t.Error("a outlived its TTL")
	}
	if n, b, _, _ := c.Stats(); n != 1 || b != 30 {
		t.Errorf("entries %d bytes %d, want 1, 30", n, b)
	}
}
