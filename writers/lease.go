package writers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stateward/stateward/tenants"
)

// errLeaseRunningOut cancels a write whose lease was not extended for half of
// it: the database cannot be reached (or answers too slowly), and before the
// lease can run out and another replica take the job over, this one stops (a
// bucket has no compare-and-swap to fence a late write). The outcome is left to
// whoever holds the job next.
var errLeaseRunningOut = fmt.Errorf("the job's lease was not extended for half of it; stopping the write: %w", errTakenOver)

// clock is the time a job's lease is kept by; tests use a fake one.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) stopper
}

type stopper interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time                              { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

// jobLease keeps a claimed job's lease from the claim to the outcome. It
// heart-beats every Lease/6, and ctx — the context every change to the store
// runs on — is cancelled:
//   - with errLeaseRunningOut once Lease/2 has passed since the lease was last
//     extended (counted from when the extending claim or heartbeat was sent),
//     by a timer: whatever a heartbeat is doing, blocked or failing, the write
//     stops well before another replica may take the job over;
//   - with errTakenOver when a heartbeat finds the lease taken;
//   - with errShutdown when ShutdownGrace has passed since the runner's ctx ended.
type jobLease struct {
	r      *Runner
	job    *tenants.Job
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	extended time.Time // when the last successful extension was sent
	expiry   stopper   // fires at extended + Lease/2
	gen      int       // which arming of expiry is the current one

	beat     chan struct{}      // the next heartbeat is due
	stop     context.CancelFunc // ends the heart-beat, also one in flight
	finished chan struct{}
}

// holdLease starts keeping job's lease, which the claim sent at claimed
// extended; call end when the job's outcome is known.
func (r *Runner) holdLease(ctx context.Context, job *tenants.Job, claimed time.Time) *jobLease {
	l := &jobLease{r: r, job: job, beat: make(chan struct{}, 1), finished: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	l.extendedAt(claimed)
	bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stop = stop
	go l.keep(ctx, bctx, l.armBeat())
	return l
}

// armBeat makes the next heartbeat due after heartbeatEvery.
func (l *jobLease) armBeat() stopper {
	return l.r.clock.AfterFunc(l.r.heartbeatEvery(), func() {
		select {
		case l.beat <- struct{}{}:
		default:
		}
	})
}

// end stops the heart-beat and waits for it; ctx is cancelled.
func (l *jobLease) end() {
	l.stop()
	<-l.finished
	l.cancel(nil)
	l.mu.Lock()
	l.expiry.Stop()
	l.mu.Unlock()
}

// extendedAt records that an extension sent at sent succeeded, and moves the
// stop to sent + Lease/2.
func (l *jobLease) extendedAt(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !sent.After(l.extended) {
		return
	}
	l.extended = sent
	if l.expiry != nil {
		l.expiry.Stop()
	}
	l.gen++
	gen := l.gen
	l.expiry = l.r.clock.AfterFunc(sent.Add(l.r.Lease/2).Sub(l.r.clock.Now()), func() {
		l.mu.Lock()
		current := gen == l.gen
		l.mu.Unlock()
		if current {
			l.cancel(errLeaseRunningOut)
		}
	})
}

// lastExtended is when the last successful extension was sent.
func (l *jobLease) lastExtended() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.extended
}

// heartbeatEvery is how often a held lease is extended: twice before the write
// is stopped if neither succeeds.
func (r *Runner) heartbeatEvery() time.Duration { return max(r.Lease/6, 5*time.Millisecond) }

// keep heart-beats until end; runCtx is the runner's (its end starts the
// shutdown grace), bctx ends with end, next is the first heartbeat's timer.
func (l *jobLease) keep(runCtx, bctx context.Context, next stopper) {
	defer close(l.finished)
	r, job := l.r, l.job
	defer func() { next.Stop() }()
	var grace stopper
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	stopping := runCtx.Done()
	for {
		select {
		case <-bctx.Done():
			return
		case <-l.ctx.Done():
			return // stopped: nothing left to keep
		case <-stopping:
			stopping = nil
			grace = r.clock.AfterFunc(r.ShutdownGrace, func() { l.cancel(errShutdown) })
		case <-l.beat:
			sent := r.clock.Now()
			next = l.armBeat() // a heartbeat that hangs is followed by the next at once
			hctx, hcancel := context.WithTimeout(bctx, r.Lease/2)
			err := r.DB.Heartbeat(hctx, job, r.Lease)
			hcancel()
			switch {
			case bctx.Err() != nil:
				return
			case errors.Is(err, tenants.ErrLeaseLost):
				r.Log.Warn("job lease lost; stopping the write before it changes the store", "tenant_id", job.TenantID, "job_id", job.ID)
				l.cancel(errTakenOver)
				return
			case err != nil:
				r.Log.Warn("job heartbeat failed; the write stops if none succeeds within half the lease", "tenant_id", job.TenantID,
					"job_id", job.ID, "err", err, "stop_at", l.lastExtended().Add(r.Lease/2))
			default:
				l.extendedAt(sent)
			}
		}
	}
}

// confirm extends the lease right before the store is changed and fails with
// errTakenOver when this claim no longer holds it, so a worker whose lease was
// lost never pushes over the newer owner's write; it fails with the write's
// cause when the write was stopped meanwhile.
func (l *jobLease) confirm(ctx context.Context) error {
	r, job := l.r, l.job
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	sent := r.clock.Now()
	err := r.DB.Heartbeat(hctx, job, r.Lease)
	if errors.Is(err, tenants.ErrLeaseLost) {
		return errTakenOver
	}
	if err != nil {
		return fmt.Errorf("confirm job lease: %w", err)
	}
	l.extendedAt(sent)
	if err := r.DB.MarkPushing(hctx, job); err != nil {
		return fmt.Errorf("record the push: %w", err)
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}
