package writers

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/stateward/stateward/pressure"
)

// Yielding lets background writes give the machine to a busy accept path. A
// bucket PUT costs the S3 server several times the CPU that accepting a Work
// costs, so eight of them in flight while Works pour in starve the accept path
// (on two cores: 765-902 accepted/s with p99 76-97 ms, against ~3,000/s with the
// writers idle). While Busy reports a sustained stream of submits, the PUTs and
// deletes of every bucket store go one at a time, and so do the jobs of this
// process: each job (a commit, a push, its database work) costs about the same
// whatever its size, so one at a time means fewer, larger ones. Three replicas on
// one PostgreSQL, each with its two workers free, made twice the commits of one
// replica and 0.71-0.77 of its Works/s; with one job at a time, 0.88-0.93 (and
// one replica itself was no slower). A full rewrite (a re-assert) is paced
// too, in slices (pacer). The queue keeps draining meanwhile, at full speed
// again as soon as the stream stops.
type Yielding struct {
	// Busy reports whether the accept path is under load (pressure.Meter.Busy).
	Busy   func() bool
	lane   sync.Mutex   // one PUT or delete at a time
	jobs   sync.Mutex   // one job at a time
	rested atomic.Int64 // nanoseconds full rewrites rested (pacer)
}

// enterJob waits, while the accept path is busy, until no other job of this
// process runs; the returned func leaves (after the job). A nil Yielding never
// waits.
func (y *Yielding) enterJob() func() {
	if y == nil || y.Busy == nil || !y.Busy() {
		return func() {}
	}
	y.jobs.Lock()
	return y.jobs.Unlock
}

// enter waits for the single lane while the accept path is busy; the returned
// func leaves it. A nil Yielding never waits.
func (y *Yielding) enter() func() {
	if y == nil || y.Busy == nil || !y.Busy() {
		return func() {}
	}
	y.lane.Lock()
	start := time.Now()
	return func() {
		// Rest as long as the request took: the S3 server gets at most half
		// of what one request at a time would take of the machine.
		time.Sleep(time.Since(start))
		y.lane.Unlock()
	}
}

// Pacing of a full rewrite (a re-assert) while the accept path is busy: it
// runs in slices of fullSlice, each followed by a rest fullRest times as long,
// so it gets an eighth of the core it would take. A re-assert rewrites every
// store while nothing drifted, as maintenance; beside a stream of submits it
// took a core of the machine's two for seconds (swbench: the stream fell from
// 1,275/s to 254/s). Resting as long as each job took, after it, gave it half
// a core but in bursts of 0.3 - 0.5 s that doubled the wait of the submits
// arriving meanwhile (p99 +80 - 160 %); in slices every submit sees a little of
// it. A rest three times as long (a quarter of the core) still slowed the
// stream beside it on two cores by a third: swbench -stores 20, stream p99
// against the stream alone before and after together +36 - +40 %, three runs,
// against +8 - +30 % with seven times as long (the re-assert beside the stream
// took 92 - 112 s instead of 43 - 50 s; alone 5.6 s either way). The writes of
// accepted Works wait behind a resting job (enterJob) at most 1 + fullRest
// times as long as it would take alone.
const (
	fullSlice = time.Millisecond
	fullRest  = 7.0
)

// pacer paces a full rewrite by the accept path's pressure (pressure.Pace
// points in the claim's reads, the tree's build and the claims' check), nil
// without a Busy signal. Rests are counted in rested.
func (y *Yielding) pacer() *pressure.Pacer {
	if y == nil || y.Busy == nil {
		return nil
	}
	return &pressure.Pacer{Busy: y.Busy, Slice: fullSlice, Rest: fullRest,
		OnRest: func(d time.Duration) { y.rested.Add(int64(d)) }}
}
