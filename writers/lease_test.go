package writers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// fakeClock is a clock that moves only when told; due timers run in Advance,
// in time order, before it returns.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves the clock to now+d, running every timer due on the way.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		i := -1 // the earliest timer due
		for j, t := range c.timers {
			if !t.stopped && !t.at.After(end) && (i < 0 || t.at.Before(c.timers[i].at)) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		t := c.timers[i]
		t.stopped = true
		c.now = t.at
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// stuckHeartbeat is a JobStore whose first heartbeat succeeds at once and
// whose later ones hang (the database is cut off) until their context ends.
type stuckHeartbeat struct {
	JobStore
	mu    sync.Mutex
	beats int
	hung  chan struct{} // closed when a heartbeat hangs
}

func (s *stuckHeartbeat) Heartbeat(ctx context.Context, _ *tenants.Job, _ time.Duration) error {
	s.mu.Lock()
	s.beats++
	n := s.beats
	s.mu.Unlock()
	if n == 1 {
		return nil
	}
	if n == 2 {
		close(s.hung)
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestLeaseStopsTheWriteWhileTheHeartbeatHangs: with a heartbeat that hangs, the
// write's context is cancelled when Lease/2 has passed since the last successful
// extension was sent — not a moment later, whatever the heartbeat's own timeout
// — and not before. Before, the write went on until 2·Lease/3 + 1s.
func TestLeaseStopsTheWriteWhileTheHeartbeatHangs(t *testing.T) {
	for _, lease := range []time.Duration{time.Second, 2 * time.Second, 30 * time.Second, 10 * time.Minute} {
		t.Run(lease.String(), func(t *testing.T) {
			clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			db := &stuckHeartbeat{hung: make(chan struct{})}
			r := &Runner{DB: db, Lease: lease, clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			r.init()
			claimed := clk.Now()
			l := r.holdLease(context.Background(), &tenants.Job{ID: 1, TenantID: 1}, claimed)
			defer l.end()
			every := r.heartbeatEvery()
			clk.Advance(every) // first heartbeat: succeeds
			extended := claimed.Add(every)
			testpeers.WaitFor(t, 10*time.Second, func() (bool, string) {
				return l.lastExtended().Equal(extended), "the first heartbeat did not extend the lease"
			})
			clk.Advance(every) // second heartbeat: hangs
			select {
			case <-db.hung:
			case <-time.After(10 * time.Second):
				t.Fatal("the second heartbeat was never sent")
			}
			stopAt := extended.Add(lease / 2)
			clk.Advance(stopAt.Sub(clk.Now()) - time.Nanosecond)
			if err := l.ctx.Err(); err != nil {
				t.Fatalf("write cancelled at %v after the last extension (%v), before half the lease %v", clk.Now().Sub(extended), context.Cause(l.ctx), lease/2)
			}
			clk.Advance(time.Nanosecond)
			if l.ctx.Err() == nil {
				t.Fatalf("write still running %v after the last extension, lease %v, heartbeat hanging", clk.Now().Sub(extended), lease)
			}
			if cause := context.Cause(l.ctx); !errors.Is(cause, errLeaseRunningOut) || !errors.Is(cause, errTakenOver) {
				t.Errorf("cause %v, want the lease running out (a take-over: the job is left to its next owner)", cause)
			}
		})
	}
}

// TestLeaseFollowsTheConfirm: an extension by the confirm before a change moves
// the stop as a heartbeat does.
func TestLeaseFollowsTheConfirm(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	db := &confirmOnly{}
	r := &Runner{DB: db, Lease: time.Second, clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r.init()
	claimed := clk.Now()
	l := r.holdLease(context.Background(), &tenants.Job{ID: 1, TenantID: 1}, claimed)
	defer l.end()
	// The heartbeats hang from the start; the confirm before the first change
	// succeeds at claimed+100ms.
	clk.Advance(100 * time.Millisecond)
	if err := l.confirm(l.ctx); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	clk.Advance(500*time.Millisecond - time.Nanosecond)
	if l.ctx.Err() != nil {
		t.Fatalf("write stopped at %v; the confirm at 100ms extended the lease to 600ms", clk.Now().Sub(claimed))
	}
	clk.Advance(time.Nanosecond)
	if l.ctx.Err() == nil {
		t.Fatal("write not stopped 600ms after the claim, half a lease after the confirm")
	}
}

// confirmOnly is a JobStore whose heartbeats hang, except the confirm's (the
// one given finishTimeout, not a part of the lease).
type confirmOnly struct{ JobStore }

func (c *confirmOnly) Heartbeat(ctx context.Context, _ *tenants.Job, lease time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) > lease {
		return nil // the confirm
	}
	<-ctx.Done()
	return ctx.Err()
}

func (c *confirmOnly) MarkPushing(context.Context, *tenants.Job) error { return nil }
