package writers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/stateward/stateward/tenants"
)

// finishTimeout bounds recording a job's outcome, also during shutdown.
const finishTimeout = 10 * time.Second

// runJob builds the job's Batch, applies it and records the outcome. On shutdown
// an Apply in flight gets ShutdownGrace to finish; if it does not, the job is
// released for the next start. When the store refuses the Batch for its content,
// the job narrows it down to the placement(s) refused and writes the others.
func (r *Runner) runJob(ctx context.Context, job *tenants.Job) {
	start := time.Now()
	log := r.Log.With("tenant_id", job.TenantID, "job_id", job.ID, "kind", job.Store.Kind, "store", job.Store.Name)
	defer r.Metrics.started()()
	jw := &jobWrite{r: r, job: job, log: log}
	res, jb, err := jw.run(ctx)
	if errors.Is(err, errShutdown) || errors.Is(err, errTakenOver) {
		r.release(job, err, log)
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := r.DB.FinishJob(fctx, job, res); err != nil {
		log.Error("record job outcome", "err", err)
		return
	}
	r.Metrics.finished(job.Store.Kind, res, time.Since(start))
	r.logOutcome(log, jb, res, time.Since(start))
}

func (r *Runner) logOutcome(log *slog.Logger, jb *jobBatch, res tenants.JobResult, took time.Duration) {
	if res.Err != "" {
		log.Warn("write failed; retrying with backoff", "err", res.Err, "placements", len(jb.outcomes))
		return
	}
	log.Info("write done", "placements", len(jb.outcomes), "canaries", len(jb.canaries), "changed", res.Changed,
		"puts", res.Puts, "deletes", res.Deletes, "version", res.Version, "took", took)
}

// storeGone settles a job whose store was deleted: removals are done (nothing is
// left to remove), writes fail with msg and are retried.
func storeGone(res *tenants.JobResult, msg string) {
	failed := false
	for i, o := range res.Placements {
		if !o.Delete && o.Error == "" {
			res.Placements[i].Error, failed = msg, true
		}
	}
	for i, o := range res.Canaries {
		if !o.Delete && o.Error == "" {
			res.Canaries[i].Error, failed = msg, true
		}
	}
	if failed {
		res.Err = msg
	}
}

// failAll marks every outcome not already refused as failed with msg.
func failAll(res *tenants.JobResult, msg string) {
	res.Err = msg
	for i := range res.Placements {
		if res.Placements[i].Error == "" {
			res.Placements[i].Error = msg
		}
	}
	for i := range res.Canaries {
		if res.Canaries[i].Error == "" {
			res.Canaries[i].Error = msg
		}
	}
}

// errTakenOver cancels an Apply whose job was taken over by another worker (the
// lease expired); the outcome is left to the new owner.
var errTakenOver = errors.New("job taken over by another worker")

// applyJob applies b to the job's store, heart-beating the lease meanwhile. The
// Apply runs on a context that survives ctx by ShutdownGrace.
func (r *Runner) applyJob(ctx context.Context, job *tenants.Job, b Batch) (Result, error) {
	backend, err := r.backend(ctx, job.Store)
	if err != nil {
		return Result{}, err
	}
	actx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go r.keepLease(ctx, job, cancel, done)
	b.Guard = func(gctx context.Context) error { return r.confirmLease(gctx, job) }
	res, err := backend.Apply(actx, b)
	if err != nil && !rejectedContent(err) {
		r.forget(job.Store) // the next attempt starts from a freshly opened clone
	}
	if cause := context.Cause(actx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return res, cause
	}
	return res, err
}

// keepLease heart-beats the job until done; it cancels the Apply when the lease
// is lost or when the shutdown grace period after ctx ends has passed.
func (r *Runner) keepLease(ctx context.Context, job *tenants.Job, cancel context.CancelCauseFunc, done <-chan struct{}) {
	tick := time.NewTicker(max(r.Lease/3, 10*time.Millisecond))
	defer tick.Stop()
	lastOK := time.Now()
	var grace <-chan time.Time
	stopping := ctx.Done()
	for {
		select {
		case <-done:
			return
		case <-stopping:
			stopping = nil
			grace = time.After(r.ShutdownGrace)
		case <-grace:
			cancel(errShutdown)
			return
		case <-tick.C:
			hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), r.Lease/3+time.Second)
			err := r.DB.Heartbeat(hctx, job, r.Lease)
			hcancel()
			switch {
			case errors.Is(err, tenants.ErrLeaseLost):
				r.Log.Warn("job lease lost; stopping the write before it changes the store", "tenant_id", job.TenantID, "job_id", job.ID)
				cancel(errTakenOver)
				return
			case err != nil && time.Since(lastOK) >= r.Lease/2:
				// Cut off from the database: stop writing well before the lease can
				// run out and another replica take the job over (buckets have no
				// compare-and-swap to fence a late write).
				r.Log.Error("lost contact with the database for half the lease; stopping the write", "tenant_id", job.TenantID,
					"job_id", job.ID, "err", err)
				cancel(errTakenOver)
				return
			case err != nil:
				r.Log.Warn("job heartbeat failed; the write stops if this goes on for half the lease", "tenant_id", job.TenantID,
					"job_id", job.ID, "err", err)
			default:
				lastOK = time.Now()
			}
		}
	}
}

// confirmLease extends the job's lease right before the store is changed and
// fails with errTakenOver when this claim no longer holds it, so a worker whose
// lease was lost never pushes over the newer owner's write.
func (r *Runner) confirmLease(ctx context.Context, job *tenants.Job) error {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	err := r.DB.Heartbeat(hctx, job, r.Lease)
	if errors.Is(err, tenants.ErrLeaseLost) {
		return errTakenOver
	}
	if err != nil {
		return fmt.Errorf("confirm job lease: %w", err)
	}
	if err := r.DB.MarkPushing(hctx, job); err != nil {
		return fmt.Errorf("record the push: %w", err)
	}
	return nil
}

// release gives the job back (shutdown) or leaves it (lease lost).
func (r *Runner) release(job *tenants.Job, cause error, log *slog.Logger) {
	if errors.Is(cause, errTakenOver) {
		log.Info("job taken over by another worker")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	if err := r.DB.ReleaseJob(ctx, job); err != nil {
		r.Log.Error("release job", "tenant_id", job.TenantID, "job_id", job.ID, "err", err)
		return
	}
	log.Info("job released for the next start")
}
