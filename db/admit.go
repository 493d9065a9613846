package db

import (
	"container/list"
	"context"
	"runtime"
	"sync"
	"time"
)

// admitGate stands in front of PostgreSQL's pool for submits: it admits up to
// limit of them at a time, hands each freed place to the submit that has waited
// longest, and moves limit to what the database and this replica can serve.
//
// Arrival order: database/sql gives a freed connection to a random waiter
// (connRequestSet.TakeRandom), so under a steady stream a few submits lose that
// draw many times in a row. With 32 callers on 4 connections the median submit
// waited 30 ms and the slowest hundredth 170 ms and more; queued here, every
// submit waits about as long as the others.
//
// The limit. A submit holds its connection for two round trips: 0.2 ms on
// loopback, 5 ms to a database 1 ms away, where 4 places left the database and
// the replica's CPU mostly idle. More places are no answer everywhere: three
// replicas of 8 or 16 on the same database wait on each other's locks and CPU
// and serve fewer submits than three of 4. So the limit follows what the
// submits themselves measure, as TCP Vegas does: d, a submit's time from
// admission to its end, against dMin, the shortest one lately (the cost of a
// submit with nothing queued before it). limit·(1−dMin/avg(d)) estimates how
// many of the admitted submits are queued (for CPU, a lock, the database)
// rather than served. Once per round (limit completions) the limit grows by one
// if fewer than alpha were queued and callers waited, and shrinks by one if
// more than beta were, between floor and ceil. alpha and beta scale with the
// cores (GOMAXPROCS+1 and 3·GOMAXPROCS: 3 and 6 on two), since a queue of about
// that length keeps them busy; 2 and 4 kept one replica 1 ms away at 431–442
// submits a second where 3 and 6 made 506–559, with the same p99 (< 100 ms).
// Near the database the limit settles within a few of floor; 1 ms away it
// grows until the round trips are covered; beside busy replicas it shrinks.
type admitGate struct {
	mu                 sync.Mutex
	inUse              int
	limit, floor, ceil int
	alpha, beta        float64
	waiters            list.List // of chan struct{}, oldest first

	// This round's completions (a round is limit of them) and whether a
	// submit queued during it.
	n      int
	sum    time.Duration
	queued bool
	// dMin is the smaller of the minima of the current and the previous
	// window of minWindow completions: a floor that follows a database that
	// moved farther away within two windows.
	minCur, minPrev time.Duration
	minN            int
}

// minWindow is the number of completions over which dMin is kept.
const minWindow = 1000

func newAdmitGate(floor, ceil int) *admitGate {
	cores := float64(runtime.GOMAXPROCS(0))
	return &admitGate{limit: floor, floor: floor, ceil: max(floor, ceil), alpha: cores + 1, beta: 3 * cores}
}

// acquire takes a place, waiting for one in arrival order; it fails only when
// ctx ends first, and then holds nothing.
func (g *admitGate) acquire(ctx context.Context) error {
	g.mu.Lock()
	if g.inUse < g.limit && g.waiters.Len() == 0 {
		g.inUse++
		g.mu.Unlock()
		return nil
	}
	g.queued = true
	ch := make(chan struct{})
	e := g.waiters.PushBack(ch)
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		select {
		case <-ch: // given a place meanwhile: pass it on
			g.inUse--
			g.wake()
		default:
			g.waiters.Remove(e)
		}
		return ctx.Err()
	}
}

// release gives a place back after a submit that took d from admission.
func (g *admitGate) release(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.observe(d)
	g.inUse--
	g.wake()
}

// wake admits the oldest waiters while there is room.
func (g *admitGate) wake() {
	for g.inUse < g.limit {
		front := g.waiters.Front()
		if front == nil {
			return
		}
		g.waiters.Remove(front)
		g.inUse++
		close(front.Value.(chan struct{}))
	}
}

func (g *admitGate) observe(d time.Duration) {
	d = max(d, time.Microsecond)
	if g.minCur == 0 || d < g.minCur {
		g.minCur = d
	}
	if g.minN++; g.minN == minWindow {
		g.minPrev, g.minCur, g.minN = g.minCur, 0, 0
	}
	dMin := g.minCur
	if dMin == 0 || g.minPrev != 0 && g.minPrev < dMin {
		dMin = g.minPrev
	}
	g.n++
	g.sum += d
	if g.n < g.limit {
		return
	}
	avg := g.sum / time.Duration(g.n)
	queued := float64(g.limit) * (1 - float64(dMin)/float64(avg))
	switch {
	case queued < g.alpha && g.queued && g.limit < g.ceil:
		g.limit++
	case queued > g.beta && g.limit > g.floor:
		g.limit--
	}
	g.n, g.sum, g.queued = 0, 0, false
}

// Limit is the number of submits admitted at a time now.
func (g *admitGate) Limit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}
