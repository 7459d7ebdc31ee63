package engine

import (
	"context"
	"sync"
)

// memPool is the memory budget shared by an Engine's concurrent queries. A
// per-query bound alone leaves the process unbounded: twenty panels each
// under the budget held twice the budget between them. Queries charge it as
// they go (budget.go) and give everything back when they end; a charge that
// does not fit first has cached forests evicted for it (they count against
// the same budget), then waits, first come first served, until enough is
// given back.
//
// Charges are incremental, so a waiting query may already hold memory, and
// if every query holding memory waits for more, none will ever give any
// back. The pool then grants the oldest waiter anyway, beyond the limit
// (overcommits counts it): the query finishes and releases, and the bound
// is exceeded only by one charge, only in that case, and never by a query
// that alone exceeds the budget — those are refused before they wait.
type memPool struct {
	limit int64

	mu    sync.Mutex
	used  int64
	held  map[*queryBudget]int64
	queue []*poolWaiter
	// overcommits counts grants beyond the limit (see above); waits, the
	// charges that had to wait.
	overcommits, waits int
	// The forest cache lives inside the same budget: its bytes count as
	// used (cached, reported by cacheResized), and a charge that does not
	// fit first has the cache evict (reclaim) before it waits.
	cached  int64
	reclaim func(n int64) int64
}

type poolWaiter struct {
	b       *queryBudget
	need    int64
	ready   chan struct{}
	granted bool
}

func newMemPool(limit int64) *memPool {
	if limit <= 0 {
		return nil
	}
	return &memPool{limit: limit, held: map[*queryBudget]int64{}}
}

// acquire takes need bytes for b's query, waiting while the pool is full.
func (p *memPool) acquire(ctx context.Context, b *queryBudget, need int64) error {
	p.mu.Lock()
	if len(p.queue) == 0 && p.used+need <= p.limit {
		p.take(b, need)
		p.mu.Unlock()
		return nil
	}
	w := &poolWaiter{b: b, need: need, ready: make(chan struct{})}
	p.queue = append(p.queue, w)
	p.waits++
	b.waiting++
	p.mu.Unlock()
	p.settle()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		if w.granted {
			p.mu.Unlock()
			return nil // granted as ctx ended: kept, and returned when the query ends
		}
		for i, x := range p.queue {
			if x == w {
				p.queue = append(p.queue[:i], p.queue[i+1:]...)
				break
			}
		}
		b.waiting--
		p.mu.Unlock()
		p.settle() // the next in line may fit now, or be the last one able to progress
		return ctx.Err()
	}
}

// release gives back everything b's query holds.
func (p *memPool) release(b *queryBudget) {
	p.mu.Lock()
	p.used -= p.held[b]
	delete(p.held, b)
	p.mu.Unlock()
	p.settle()
}

// cacheResized accounts for forests entering (delta > 0) or leaving the
// cache. It is called with the cache's lock held, so it must not call back
// into the cache: it only serves waiters that now fit.
func (p *memPool) cacheResized(delta int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.used += delta
	p.cached += delta
	if delta < 0 {
		p.grantWaiters()
	}
}

// room reports whether size more bytes fit beside what is held, for the
// cache (see modelCache.room); waiting queries come first.
func (p *memPool) room(size int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue) == 0 && p.used+size <= p.limit
}

// settle serves the queue after a change, oldest first: while the head
// fits; by evicting cached forests for it; and beyond the limit when no
// query holding memory can make progress. It is called without p.mu held,
// because eviction takes the cache's lock, which reports back here.
func (p *memPool) settle() {
	for {
		p.mu.Lock()
		p.grantWaiters()
		if len(p.queue) == 0 {
			p.mu.Unlock()
			return
		}
		short := p.used + p.queue[0].need - p.limit
		if p.cached > 0 && p.reclaim != nil {
			p.mu.Unlock()
			if p.reclaim(short) > 0 {
				continue
			}
			p.mu.Lock()
		}
		stuck := true
		for b := range p.held {
			if b.waiting == 0 {
				stuck = false // it will finish and release
				break
			}
		}
		if !stuck {
			p.mu.Unlock()
			return
		}
		p.overcommits++
		p.grant(p.queue[0])
		p.mu.Unlock()
	}
}

func (p *memPool) take(b *queryBudget, need int64) {
	p.used += need
	p.held[b] += need
}

func (p *memPool) grant(w *poolWaiter) {
	p.queue = p.queue[1:]
	p.take(w.b, w.need)
	w.b.waiting--
	w.granted = true
	close(w.ready)
}

// grantWaiters serves the queue in order while the head fits.
func (p *memPool) grantWaiters() {
	for len(p.queue) > 0 && p.used+p.queue[0].need <= p.limit {
		p.grant(p.queue[0])
	}
}

// stats reports what the pool holds and how often it went beyond its limit.
func (p *memPool) stats() (used int64, waiting, overcommits int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used, len(p.queue), p.overcommits
}

// BudgetStats reports the shared memory budget: bytes charged by the
// queries running now, how many charges wait for room, and how many times a
// wait in which every holder waited was broken by going over the budget.
func (e *Engine) BudgetStats() (used int64, waiting, overcommits int) {
	if e.pool == nil {
		return 0, 0, 0
	}
	return e.pool.stats()
}

// BudgetWaits is how many charges have had to wait for room in the shared
// memory budget.
func (e *Engine) BudgetWaits() int {
	if e.pool == nil {
		return 0
	}
	e.pool.mu.Lock()
	defer e.pool.mu.Unlock()
	return e.pool.waits
}
