package seriesset

import "github.com/kizashi-dev/kizashi/anomaly"

// modelPool keeps a query's models in blocks instead of one allocation each. A model is a few
// KiB of fixed size that Go's allocator would round up to its next size class (5,672 bytes
// took 6,144 before the profiles were stored in 16 bits); a block of them is
// rounded once, to whole pages. Models of series that leave are zeroed and reused. q.mu
// guards the pool (held for writing).
//
// A model handed back must no longer be used by anyone: the backfill updates the models of
// joining series without q.mu, so a joining series' model is handed back only once no
// backfill runs (see Query.releaseModel), and readers that copied q.list check that a series
// is still in q.series before they read its model (see Snapshot).
type modelPool struct {
	blocks int // models allocated in blocks so far
	next   []anomaly.Model
	free   []*anomaly.Model
}

// maxBlock is the largest block: about 490 KiB with models of 3.9 KiB.
const maxBlock = 128

// get returns a model of the pool holding a copy of m (fresh from Spec.New or Restore).
func (p *modelPool) get(m *anomaly.Model) *anomaly.Model {
	var slot *anomaly.Model
	if n := len(p.free); n > 0 {
		slot, p.free[n-1] = p.free[n-1], nil
		p.free = p.free[:n-1]
	} else {
		if len(p.next) == 0 {
			// Blocks grow with the query (8, 16, ... maxBlock), so that a query of a few
			// series does not hold a block of maxBlock.
			size := min(max(p.blocks, 8), maxBlock)
			p.next = make([]anomaly.Model, size)
			p.blocks += size
		}
		slot, p.next = &p.next[0], p.next[1:]
	}
	*slot = *m
	return slot
}

// put hands a model back for reuse; nothing may use it afterwards.
func (p *modelPool) put(m *anomaly.Model) {
	*m = anomaly.Model{}
	p.free = append(p.free, m)
}
