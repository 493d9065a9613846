// Package pressure tells background writers how hard the accept path is being
// driven right now, so that they can give it the machine: web notes every
// submitted Work, and writers.Yielding asks Busy; a Pacer carried in a
// context spreads a background task thin meanwhile, wherever it runs.
package pressure

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Meter counts submits in 100 ms windows; the accept path counts as busy while
// the current or the previous window holds at least busySubmits of them (a
// sustained 100 Works/s and more: a bulk import or a burst of webhooks, never a
// person at the dashboard), and for busyHold after a window reached that. The
// hold keeps a stream busy through its pauses: callers waiting on the database
// (a writer's claim or finish holding SQLite's write lock) submit nothing for
// a few hundred milliseconds, and writers that stopped yielding then ran two
// jobs at once, which made the next pause longer (swbench at a million Works:
// a re-assert's jobs overlapped in pairs beside a stream of 540 submits/s).
// The zero Meter is ready; a nil Meter is never busy.
type Meter struct {
	window    atomic.Int64 // the current window, in 100 ms since the epoch
	cur       atomic.Int64 // submits in it
	prev      atomic.Int64 // submits in the one before (0 if older)
	busyUntil atomic.Int64 // UnixNano: busy until then (busyHold after a busy window)
}

const (
	pressureWindow = 100 * time.Millisecond
	busySubmits    = 10
	busyHold       = time.Second
)

func (p *Meter) note(now time.Time) {
	w := now.UnixNano() / int64(pressureWindow)
	if old := p.window.Load(); old != w && p.window.CompareAndSwap(old, w) {
		last := p.cur.Swap(0)
		if w-old == 1 {
			p.prev.Store(last)
		} else {
			p.prev.Store(0)
		}
	}
	if p.cur.Add(1) >= busySubmits {
		p.busyUntil.Store(now.Add(busyHold).UnixNano())
	}
}

func (p *Meter) busy(now time.Time) bool {
	if now.UnixNano() < p.busyUntil.Load() {
		return true
	}
	switch p.window.Load() {
	case now.UnixNano() / int64(pressureWindow):
		return p.cur.Load() >= busySubmits || p.prev.Load() >= busySubmits
	case now.UnixNano()/int64(pressureWindow) - 1:
		return p.cur.Load() >= busySubmits
	}
	return false
}

// Note counts one submitted Work.
func (p *Meter) Note() {
	if p != nil {
		p.note(time.Now())
	}
}

// Busy reports whether Works are being submitted to this process at a sustained
// rate right now. Writers that can wait — bucket PUTs, jobs beyond the first —
// slow down while it holds, so that accepting keeps its latency.
func (p *Meter) Busy() bool { return p != nil && p.busy(time.Now()) }

// Pacer spreads a background task thin while the accept path is busy: at each
// Pace point, once the task has run for Slice since it last rested, it rests
// Rest times as long as it ran. Resting once after a whole task instead (a
// re-assert's job of 5,000 placements: 0.3 - 0.5 s of a core, then as long
// again idle) halved the accept path's share of the machine during the task:
// the submits that arrived then waited twice as long, a quarter of them and
// more, so its p99 beside a re-assert rose 80 - 160 % (swbench). In slices of a
// millisecond every submit sees a little of the task instead. Pace points go
// where the task holds no lock that a submit needs (never inside a write
// transaction). The zero Pacer never rests; a nil one neither.
type Pacer struct {
	Busy   func() bool
	Slice  time.Duration
	Rest   float64
	OnRest func(time.Duration) // if set, told of each rest (metrics, tests)

	mu   sync.Mutex
	from time.Time // when the task last rested (or began: WithPacer)
}

// maxRan bounds, in Slices, what one rest is in proportion to.
const maxRan = 20

type pacerKey struct{}

// WithPacer returns ctx carrying p: Pace(ctx) paces the task by p, which
// begins now.
func WithPacer(ctx context.Context, p *Pacer) context.Context {
	p.mu.Lock()
	if p.from.IsZero() {
		p.from = time.Now()
	}
	p.mu.Unlock()
	return context.WithValue(ctx, pacerKey{}, p)
}

// Pace is a point where the task of ctx may rest (see Pacer). Without a Pacer
// in ctx it returns at once.
func Pace(ctx context.Context) {
	p, _ := ctx.Value(pacerKey{}).(*Pacer)
	if p == nil || p.Busy == nil {
		return
	}
	p.mu.Lock()
	now := time.Now()
	ran := now.Sub(p.from)
	if ran < p.Slice {
		p.mu.Unlock()
		return
	}
	p.from = now
	p.mu.Unlock()
	if !p.Busy() {
		return
	}
	// What ran may include waits (the network, a lock, another goroutine of
	// the task resting): a rest in proportion to a long one is bounded, so
	// that rests never feed on each other.
	rest := time.Duration(float64(min(ran, maxRan*p.Slice)) * p.Rest)
	t := time.NewTimer(rest)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C: // the rest itself
	}
	if p.OnRest != nil {
		p.OnRest(rest)
	}
	p.mu.Lock()
	p.from = time.Now()
	p.mu.Unlock()
}
