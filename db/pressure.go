package db

import (
	"sync/atomic"
	"time"
)

// Accept pressure: how hard the accept path is being driven right now, so that
// background writers can give it the machine. Submits are counted in 100 ms
// windows; the path counts as busy while the current or the previous window
// holds at least busySubmits of them (a sustained 100 Works/s and more: a bulk
// import or a burst of webhooks, never a person at the dashboard).
type pressure struct {
	window atomic.Int64 // the current window, in 100 ms since the epoch
	cur    atomic.Int64 // submits in it
	prev   atomic.Int64 // submits in the one before (0 if older)
}

const (
	pressureWindow = 100 * time.Millisecond
	busySubmits    = 10
)

func (p *pressure) note(now time.Time) {
	w := now.UnixNano() / int64(pressureWindow)
	if old := p.window.Load(); old != w && p.window.CompareAndSwap(old, w) {
		last := p.cur.Swap(0)
		if w-old == 1 {
			p.prev.Store(last)
		} else {
			p.prev.Store(0)
		}
	}
	p.cur.Add(1)
}

func (p *pressure) busy(now time.Time) bool {
	switch p.window.Load() {
	case now.UnixNano() / int64(pressureWindow):
		return p.cur.Load() >= busySubmits || p.prev.Load() >= busySubmits
	case now.UnixNano()/int64(pressureWindow) - 1:
		return p.cur.Load() >= busySubmits
	}
	return false
}

// AcceptBusy reports whether Works are being submitted to this process at a
// sustained rate right now (see pressure). Writers that can wait — bucket PUTs —
// slow down while it holds, so that accepting keeps its latency.
func (d *DB) AcceptBusy() bool { return d.pressure.busy(time.Now()) }
