// Package pressure tells background writers how hard the accept path is being
// driven right now, so that they can give it the machine: web notes every
// submitted Work, and writers.Yielding asks Busy.
package pressure

import (
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
