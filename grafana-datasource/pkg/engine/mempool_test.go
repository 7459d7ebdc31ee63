package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitCharge charges in the background and reports the result.
func waitCharge(b *queryBudget, need int64) chan error {
	done := make(chan error, 1)
	go func() { done <- b.charge(context.Background(), need, "part", "advice") }()
	return done
}

func settled(t *testing.T, done chan error, want bool) {
	t.Helper()
	select {
	case err := <-done:
		if !want {
			t.Fatalf("the charge went through (%v) while the pool was full", err)
		}
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(200 * time.Millisecond):
		if want {
			t.Fatal("the charge is still waiting")
		}
	}
}

func TestMemPoolSharesTheBudget(t *testing.T) {
	p := newMemPool(100)
	a, b := &queryBudget{limit: 100, pool: p}, &queryBudget{limit: 100, pool: p}
	ctx := context.Background()
	if err := a.charge(ctx, 80, "a", ""); err != nil {
		t.Fatal(err)
	}
	// B fits alone but not beside A: it waits until A ends.
	done := waitCharge(b, 50)
	settled(t, done, false)
	a.done()
	settled(t, done, true)
	if used, _, over := p.stats(); used != 50 || over != 0 {
		t.Errorf("pool holds %d with %d overcommits, want 50 and 0", used, over)
	}

	// A query that alone exceeds the budget is refused, not queued.
	c := &queryBudget{limit: 100, pool: p}
	var be *BudgetError
	if err := c.charge(ctx, 101, "c", ""); !errors.As(err, &be) {
		t.Errorf("charge over the budget: %v, want a *BudgetError", err)
	}

	// A waiter whose query ends (timeout) leaves the queue.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.charge(cctx, 60, "c", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("charge past its deadline: %v", err)
	}
	if _, waiting, _ := p.stats(); waiting != 0 || c.used.Load() != 0 {
		t.Errorf("%d waiters, c charged %d after its deadline; want none", waiting, c.used.Load())
	}
	b.done()
}

// When every query holding memory waits for more, none would ever release:
// the oldest waiter is let through beyond the limit.
func TestMemPoolBreaksAWaitOfAllHolders(t *testing.T) {
	p := newMemPool(100)
	a, b := &queryBudget{limit: 100, pool: p}, &queryBudget{limit: 100, pool: p}
	ctx := context.Background()
	if err := a.charge(ctx, 60, "a", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.charge(ctx, 30, "b", ""); err != nil {
		t.Fatal(err)
	}
	da := waitCharge(a, 30) // waits: b still runs and may release
	settled(t, da, false)
	db := waitCharge(b, 30) // now both wait: a, the oldest, goes through
	settled(t, da, true)
	if _, _, over := p.stats(); over != 1 {
		t.Errorf("%d overcommits, want 1", over)
	}
	settled(t, db, false)
	a.done()
	settled(t, db, true)
	b.done()
	if used, waiting, _ := p.stats(); used != 0 || waiting != 0 {
		t.Errorf("after both ended the pool holds %d with %d waiting", used, waiting)
	}
}

// Cached forests count against the budget and give way to a running query.
func TestMemPoolEvictsTheCacheForQueries(t *testing.T) {
	e := New(nil, Options{MemoryBudget: 100, CacheMaxBytes: 80, CacheTTL: time.Hour})
	e.cache.Put("a", 1, 30)
	e.cache.Put("b", 2, 30)
	if used, _, _ := e.BudgetStats(); used != 60 {
		t.Fatalf("the pool counts %d bytes for 60 cached", used)
	}
	q := &queryBudget{limit: 100, pool: e.pool}
	if err := q.charge(context.Background(), 60, "q", ""); err != nil {
		t.Fatal(err)
	}
	// 60 + 60 > 100: the least recently used entry ("a") went.
	if _, ok := e.cache.Get("a"); ok {
		t.Error(`"a" is still cached`)
	}
	if _, ok := e.cache.Get("b"); !ok {
		t.Error(`"b" was evicted too, more than needed`)
	}
	if used, _, _ := e.BudgetStats(); used != 90 {
		t.Errorf("the pool counts %d bytes, want 60 charged + 30 cached", used)
	}
	q.done()
}

// The cache grows only into room the queries leave: a forest that does not
// fit beside them evicts older entries, or is not cached.
func TestMemPoolCacheStaysWithinTheBudget(t *testing.T) {
	e := New(nil, Options{MemoryBudget: 100, CacheMaxBytes: 1000, CacheTTL: time.Hour})
	q := &queryBudget{limit: 100, pool: e.pool}
	if err := q.charge(context.Background(), 50, "q", ""); err != nil {
		t.Fatal(err)
	}
	e.cache.Put("a", 1, 30)
	e.cache.Put("b", 2, 30) // 50 + 30 + 30 > 100: "a" makes room
	if _, ok := e.cache.Get("a"); ok {
		t.Error(`"a" is still cached beside "b" and the query`)
	}
	e.cache.Put("c", 3, 60) // does not fit beside the query even alone
	if _, ok := e.cache.Get("c"); ok {
		t.Error(`"c" was cached over the budget`)
	}
	if _, ok := e.cache.Get("b"); !ok {
		t.Error(`"b" was evicted for "c", which could not be cached anyway`)
	}
	if used, _, _ := e.BudgetStats(); used > 100 {
		t.Errorf("the pool holds %d, over its limit of 100", used)
	}
	q.done()
}
