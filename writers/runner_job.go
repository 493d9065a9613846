package writers

import (
	"context"
	"errors"
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
// The lease, which the claim sent at claimed extended, is kept until the
// outcome is known; the store is changed only while it holds.
func (r *Runner) runJob(ctx context.Context, job *tenants.Job, claimed time.Time) {
	start := time.Now()
	log := r.Log.With("tenant_id", job.TenantID, "job_id", job.ID, "kind", job.Store.Kind, "store", job.Store.Name)
	defer r.Metrics.started()()
	lease := r.holdLease(ctx, job, claimed)
	jw := &jobWrite{r: r, job: job, log: log, lease: lease}
	res, jb, err := jw.run(ctx)
	lease.end()
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
	if job.Store.Kind == tenants.KindGit {
		r.noteWrite(r.cloneDir(job.Store))
	}
	if job.PullRequest != nil {
		r.PokePR(job.Store)
	}
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

// applyJob applies b to the job's store on the lease's context, which outlives
// ctx by ShutdownGrace and ends when the lease is lost or running out (see
// jobLease).
func (r *Runner) applyJob(ctx context.Context, l *jobLease, b Batch) (Result, error) {
	backend, err := r.backend(ctx, l.job.Store)
	if err != nil {
		return Result{}, err
	}
	b.Guard = l.confirm
	res, err := backend.Apply(l.ctx, b)
	if err != nil && !rejectedContent(err) {
		r.forget(l.job.Store) // the next attempt starts from a freshly opened clone
	}
	if cause := context.Cause(l.ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return res, cause
	}
	return res, err
}

// release gives the job back (shutdown) or leaves it (lease lost).
func (r *Runner) release(job *tenants.Job, cause error, log *slog.Logger) {
	if errors.Is(cause, errLeaseRunningOut) {
		log.Warn("write stopped: the job's lease could not be extended for half of it; the job is left to be taken over")
		return
	}
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
