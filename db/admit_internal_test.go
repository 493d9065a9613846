package db

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// queuedLen is how many callers wait at g.
func (g *admitGate) queuedLen() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiters.Len()
}

// waitQueued returns once n callers wait at g.
func waitQueued(t *testing.T, g *admitGate, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.queuedLen() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers queued, want %d", g.queuedLen(), n)
		}
		runtime.Gosched()
	}
}

// TestAdmitGateServesInArrivalOrder: a freed place goes to the caller that has
// waited longest (database/sql's pool hands it to a random one).
func TestAdmitGateServesInArrivalOrder(t *testing.T) {
	g := newAdmitGate(1, 1)
	if err := g.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 20
	admitted := make(chan int, n)
	for i := range n {
		go func() {
			if err := g.acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			admitted <- i
		}()
		waitQueued(t, g, i+1) // i arrives after i-1
	}
	for want := range n {
		g.release(time.Millisecond)
		if got := <-admitted; got != want {
			t.Fatalf("admitted caller %d, want %d (the longest waiting)", got, want)
		}
	}
	g.release(time.Millisecond)
	if g.inUse != 0 {
		t.Errorf("%d places in use after every release", g.inUse)
	}
}

// TestAdmitGateCancelledWaiterHoldsNothing: a caller whose context ends while
// it waits leaves the queue, and a place given to it as it gave up passes on.
func TestAdmitGateCancelledWaiterHoldsNothing(t *testing.T) {
	g := newAdmitGate(1, 1)
	if err := g.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error)
	go func() { gaveUp <- g.acquire(ctx) }()
	waitQueued(t, g, 1)
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	if g.queuedLen() != 0 {
		t.Fatal("the cancelled waiter is still queued")
	}
	g.release(time.Millisecond)
	if err := g.acquire(context.Background()); err != nil { // not left held by the one that gave up
		t.Fatal(err)
	}

	// Given the place and cancelled at once: whichever wins, the place is not lost.
	for range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- g.acquire(ctx) }()
		waitQueued(t, g, 1)
		go cancel()
		g.release(time.Millisecond)
		if err := <-done; err == nil {
			g.release(time.Millisecond) // it got the place: give it back
		}
		if err := g.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	if g.inUse != 1 {
		t.Errorf("%d places in use, want 1", g.inUse)
	}
}

// TestAdmitGateLimitFollowsTheQueue drives the limit with submit times as a
// distant database and a busy one would give them.
func TestAdmitGateLimitFollowsTheQueue(t *testing.T) {
	rounds := func(g *admitGate, n int, d func() time.Duration, waiting bool) {
		for range n {
			for range g.limit {
				g.queued = g.queued || waiting
				g.observe(d())
			}
		}
	}
	const floor, ceil = 4, 16

	// Far away, nothing queued: every submit takes its round trips, 5 ms, and
	// callers wait. The limit grows to the pool.
	g := newAdmitGate(floor, ceil)
	rounds(g, 50, func() time.Duration { return 5 * time.Millisecond }, true)
	if g.limit != ceil {
		t.Errorf("far and idle: limit %d, want %d", g.limit, ceil)
	}

	// The same with nobody waiting: no reason to admit more.
	g = newAdmitGate(floor, ceil)
	rounds(g, 50, func() time.Duration { return 5 * time.Millisecond }, false)
	if g.limit != floor {
		t.Errorf("far, nobody waiting: limit %d, want %d", g.limit, floor)
	}

	// A replica whose submits the CPU bounds to 600 a second, a submit alone
	// taking dMin (its round trips): admitted L at a time, each takes
	// max(dMin, L/600 s). Near the database (1 ms) the limit settles low; 5 ms
	// away it admits more, to cover the round trips; from the pool's size it
	// comes down to where beta submits queue, never below the floor.
	settle := func(dMin time.Duration, from int) int {
		g := newAdmitGate(floor, ceil)
		g.limit = from
		g.observe(dMin) // one submit that ran alone
		rounds(g, 200, func() time.Duration {
			return max(dMin, time.Duration(float64(g.limit)/600*float64(time.Second)))
		}, true)
		return g.limit
	}
	near, far, fromCeil := settle(time.Millisecond, floor), settle(5*time.Millisecond, floor), settle(time.Millisecond, ceil)
	t.Logf("limit near %d, far %d, near from the pool's size %d (alpha %.0f, beta %.0f)", near, far, fromCeil, g.alpha, g.beta)
	if far <= near {
		t.Errorf("far limit %d, near %d: a distant database must admit more", far, near)
	}
	if near < floor || fromCeil < floor || far > ceil {
		t.Errorf("limits %d, %d, %d out of [%d, %d]", near, fromCeil, far, floor, ceil)
	}
	if fromCeil > int(g.beta)+1 {
		t.Errorf("from the pool's size the limit came down to %d only (beta %.0f)", fromCeil, g.beta)
	}
	// Each settled where the queue it estimates is between alpha and beta (or
	// at a bound).
	for _, c := range []struct {
		dMin  time.Duration
		limit int
	}{{time.Millisecond, near}, {5 * time.Millisecond, far}} {
		d := max(c.dMin, time.Duration(float64(c.limit)/600*float64(time.Second)))
		q := float64(c.limit) * (1 - float64(c.dMin)/float64(d))
		if (q < g.alpha-1 && c.limit < ceil) || (q > g.beta+1 && c.limit > floor) {
			t.Errorf("dMin %v: limit %d leaves %.1f queued, outside [%.0f, %.0f]", c.dMin, c.limit, q, g.alpha, g.beta)
		}
	}
}
