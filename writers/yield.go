package writers

import (
	"context"
	"sync"
	"time"
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
// one replica itself was no slower). The queue keeps draining meanwhile, at full
// speed again as soon as the stream stops.
type Yielding struct {
	// Busy reports whether the accept path is under load (pressure.Meter.Busy).
	Busy func() bool
	lane sync.Mutex // one PUT or delete at a time
	jobs sync.Mutex // one job at a time
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

// paceFull rests, while the accept path is busy, as long as a full rewrite
// (a re-assert) took, before the worker leaves the one-job lane (enterJob):
// no job of this process runs meanwhile. A re-assert
// rewrites every store while nothing drifted, as maintenance; when it runs
// beside a stream of submits it takes a core of the machine's two for
// seconds (swbench: the stream fell from 1,275/s to 254/s), so it gets half
// of one instead, and its jobs take twice as long; the writes of accepted
// Works wait at most as long as the re-assert's job took. A nil Yielding
// never rests.
func (y *Yielding) paceFull(ctx context.Context, took time.Duration) {
	if y == nil || y.Busy == nil || !y.Busy() {
		return
	}
	t := time.NewTimer(took)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C: // the pacing itself
	}
}
