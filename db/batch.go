package db

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// maxBatch bounds how many submits share one transaction.
const maxBatch = 128

// Group commit. The database has one writer, so many small transactions from the
// accept path (one per Work) queue behind each other and behind the writers'
// claims and finishes, each paying its own BEGIN, COMMIT and hand-over of the
// writer connection. A batcher goroutine instead runs every submit queued while
// the previous batch was committing in one transaction, each in its own
// SAVEPOINT (a refused submit rolls back alone), commits once, and only then
// answers each caller: a 202 still means durable. At low load a batch is one
// submit and nothing waits.
//
// An answer never contradicts the database. A submit admitted to a batch runs to
// its end on a context of its own (the caller's values, not its cancellation): a
// caller that goes away must not interrupt a statement of the transaction it
// shares with others (SQLite then rolls the whole transaction back under the
// batch). And a savepoint that cannot be rolled back or released means the
// transaction is gone: it is rolled back and the submits that ran in it run again,
// each in a transaction of its own.
type batcher struct {
	reqs     chan *batchReq
	stop     chan struct{}
	stopOnce sync.Once
	done     sync.WaitGroup
	// cur is the transaction of the batch being run, with what its submits
	// share (one tenant's plan context is read once per batch).
	cur atomic.Pointer[batchState]
}

type batchReq struct {
	// ctx is the caller's: only checked before the request is admitted.
	ctx  context.Context
	fn   func(ctx context.Context, tx *sqlx.Tx) error
	done chan error
}

// runCtx is the context an admitted request runs on: the caller's values
// without its cancellation, so that once it started it completes and its answer
// is what the database holds.
func (r *batchReq) runCtx() context.Context { return context.WithoutCancel(r.ctx) }

type batchState struct {
	tx  *sqlx.Tx
	pcs map[int64]*planContext
}

// errClosed answers a submit that arrives after Close.
var errClosed = errors.New("database closed")

func (d *DB) startBatcher() {
	d.b = &batcher{reqs: make(chan *batchReq, maxBatch*4), stop: make(chan struct{})}
	d.b.done.Add(1)
	go d.runBatches()
}

// stopBatcher finishes the batches queued and stops the batcher.
func (d *DB) stopBatcher() {
	if d.b == nil {
		return
	}
	d.b.stopOnce.Do(func() { close(d.b.stop) })
	d.b.done.Wait()
}

// batchTx runs fn in a shared write transaction (its own savepoint) and returns
// once that transaction committed or fn failed. fn must not depend on running
// alone in its transaction, must be safe to run again (as d.tx's), and must use
// the ctx it is given, not the caller's: once admitted, it runs to its end even
// if the caller gives up.
func (d *DB) batchTx(ctx context.Context, fn func(ctx context.Context, tx *sqlx.Tx) error) error {
	if d.b == nil {
		// PostgreSQL has many writers: each submit runs in its own transaction,
		// retried on a serialization failure or deadlock; admitted, it completes.
		if err := d.admit.acquire(ctx); err != nil {
			return err
		}
		defer func(start time.Time) { d.admit.release(time.Since(start)) }(time.Now())
		rctx := context.WithoutCancel(ctx)
		return d.tx(rctx, func(tx *sqlx.Tx) error { return fn(rctx, tx) })
	}
	r := &batchReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case d.b.reqs <- r:
	case <-d.b.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the submit may commit: wait for the outcome even if the caller
	// gave up, so that an answer never contradicts the database.
	return <-r.done
}

func (d *DB) runBatches() {
	defer d.b.done.Done()
	for {
		var first *batchReq
		select {
		case first = <-d.b.reqs:
		case <-d.b.stop:
			for { // answer what is still queued
				select {
				case r := <-d.b.reqs:
					d.runBatch([]*batchReq{r})
				default:
					return
				}
			}
		}
		reqs := []*batchReq{first}
	gather:
		for len(reqs) < maxBatch {
			select {
			case r := <-d.b.reqs:
				reqs = append(reqs, r)
			default:
				break gather
			}
		}
		d.runBatch(reqs)
	}
}

// runBatch runs reqs in one transaction, each in a savepoint, and answers them.
// A batch of one is its own transaction: no savepoint needed. A request whose
// caller gave up before its turn is answered with that and not run.
func (d *DB) runBatch(reqs []*batchReq) {
	if len(reqs) == 1 {
		r := reqs[0]
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			return
		}
		r.done <- d.soloTx(r)
		return
	}
	errs := d.sharedTx(reqs)
	for i, r := range reqs {
		r.done <- errs[i]
	}
}

// sharedTx runs reqs in one transaction and returns their answers.
func (d *DB) sharedTx(reqs []*batchReq) []error {
	errs := make([]error, len(reqs))
	tx, err := d.w.BeginTxx(context.Background(), nil)
	if err != nil {
		for i := range reqs {
			errs[i] = fmt.Errorf("begin: %w", err)
		}
		return errs
	}
	d.b.cur.Store(&batchState{tx: tx, pcs: map[int64]*planContext{}})
	defer d.b.cur.Store(nil)
	ok := 0
	for i, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err // not admitted: never ran
			continue
		}
		var dead bool
		if dead, errs[i] = d.inSavepoint(tx, i, r); dead {
			_ = tx.Rollback()
			d.rerunAlone(reqs, errs, i)
			return errs
		}
		if errs[i] == nil {
			ok++
		}
	}
	var cerr error
	if ok == 0 {
		cerr = tx.Rollback()
	} else if cerr = tx.Commit(); cerr != nil {
		cerr = fmt.Errorf("commit: %w", cerr)
	}
	for i := range reqs {
		if errs[i] == nil && cerr != nil {
			errs[i] = cerr
		}
	}
	return errs
}

// rerunAlone settles a batch whose transaction died at request i and was rolled
// back: what had run in it is undone, so every admitted request that was not
// refused runs again in a transaction of its own, and so do those not run yet.
// A request refused before (or at) i keeps its answer: nothing of it is kept.
func (d *DB) rerunAlone(reqs []*batchReq, errs []error, i int) {
	for j, r := range reqs {
		switch {
		case j <= i && errs[j] != nil:
		case j > i && r.ctx.Err() != nil:
			errs[j] = r.ctx.Err()
		default:
			errs[j] = d.soloTx(r)
		}
	}
}

// soloTx runs one admitted request in a transaction of its own.
func (d *DB) soloTx(r *batchReq) (err error) {
	tx, err := d.w.BeginTxx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	d.b.cur.Store(&batchState{tx: tx, pcs: map[int64]*planContext{}})
	defer d.b.cur.Store(nil)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("submit panicked: %v", p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := r.fn(r.runCtx(), tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// inSavepoint runs one admitted request's fn; on error its changes are rolled
// back alone. dead reports that the transaction is gone (a savepoint could not
// be set, rolled back or released: SQLite rolled the transaction back, and what
// follows would run outside it); err is then fn's error, or nil if fn did not
// fail and must run again.
func (d *DB) inSavepoint(tx *sqlx.Tx, i int, r *batchReq) (dead bool, err error) {
	ctx := r.runCtx()
	sp := fmt.Sprintf("submit_%d", i)
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
		return true, nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("submit panicked: %v", p)
		}
		if err != nil {
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO "+sp); rerr != nil {
				dead = true
				return
			}
		}
		if _, rerr := tx.ExecContext(ctx, "RELEASE "+sp); rerr != nil {
			dead = true
		}
	}()
	return false, r.fn(ctx, tx)
}

// sharedPlanContext returns the plan context of tenantID already read in the
// batch that tx belongs to, or nil.
func (d *DB) sharedPlanContext(tx *sqlx.Tx, tenantID int64) *planContext {
	if d.b == nil {
		return nil
	}
	if s := d.b.cur.Load(); s != nil && s.tx == tx {
		return s.pcs[tenantID]
	}
	return nil
}

// sharePlanContext keeps pc for the other submits of tx's batch.
func (d *DB) sharePlanContext(tx *sqlx.Tx, tenantID int64, pc *planContext) {
	if d.b == nil {
		return
	}
	if s := d.b.cur.Load(); s != nil && s.tx == tx {
		s.pcs[tenantID] = pc
	}
}
