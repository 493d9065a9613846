package db

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/planner"
	"github.com/stateward/stateward/pressure"
	"github.com/stateward/stateward/tenants"
)

// loadJob reads, inside the claiming transaction, the placements and canary files
// the job writes (marking them writing) and the peers its Batch must respect (on
// aggregatedYAML, none and legacy Destinations, where placements share a file or a
// directory).
func (d *DB) loadJob(ctx context.Context, tx *sqlx.Tx, job *tenants.Job) error {
	if job.Store.Kind == tenants.KindGit {
		var g struct {
			InDoubt  bool   `db:"push_in_doubt"`
			PR       bool   `db:"pr"`
			Reset    bool   `db:"pr_reset"`
			Message  string `db:"commit_message"`
			Author   bool   `db:"author_from_requester"`
			URL      string `db:"url"`
			Auth     string `db:"auth_method"`
			Interval string `db:"push_interval"`
		}
		err := tx.GetContext(ctx, &g, `SELECT push_in_doubt, pull_request <> '' AS pr, pr_reset, commit_message, author_from_requester,
			url, auth_method, push_interval FROM git_stores WHERE tenant_id = ? AND name = ?`, job.TenantID, job.Store.Name)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		job.InDoubt = g.InDoubt
		job.CommitMessage, job.AuthorFromRequester = g.Message, g.Author
		job.PushInterval = tenants.GitStateStore{URL: g.URL, AuthMethod: g.Auth, PushInterval: g.Interval}.EffectivePushInterval()
		if g.PR {
			job.PullRequest = &tenants.JobPR{ResetHead: g.Reset}
		}
	}
	rows, err := d.jobPlacements(ctx, tx, job, job.Full && !keptLater(job))
	if err != nil {
		return err
	}
	if job.Store.Kind == tenants.KindBucket {
		// Never written: what it may hold is exactly its keys (one statement).
		if _, err := tx.ExecContext(deferred(ctx), `UPDATE placements SET written_keys = paths WHERE tenant_id = ? AND store_kind = ?
			AND store_name = ? AND job_id = ? AND state = 'writing' AND intent = 'write' AND mode <> 'aggregatedYAML' AND written_keys = '[]'`,
			job.TenantID, job.Store.Kind, job.Store.Name, job.ID); err != nil {
			return err
		}
	}
	dests := map[int64]bool{}
	for _, r := range rows {
		w, err := r.write()
		if err != nil {
			return err
		}
		if job.Store.Kind == tenants.KindBucket && !w.Delete && w.Mode != tenants.ModeAggregated && len(w.WrittenKeys) > 0 {
			if err := d.mayHold(ctx, tx, job.TenantID, w); err != nil {
				return err
			}
		}
		job.Writes = append(job.Writes, w)
		if r.Mode != tenants.ModeNested {
			dests[r.DestinationID] = true // nestedByMetadata placements never share a key
		}
	}
	if job.Peers, err = d.peerPlacements(ctx, tx, job, dests); err != nil {
		return err
	}
	if !keptLater(job) {
		if err := d.jobWorks(ctx, tx, job); err != nil {
			return err
		}
	}
	job.Canaries, err = d.jobCanaries(ctx, tx, job)
	return err
}

// keptLater says the claim of job reads only the placements it marks writing,
// and loadKept the others after the claim's commit: a full rewrite (a
// re-assert) otherwise read every placement of the store, plans and all,
// inside the claiming transaction — on SQLite holding the one write lock that
// every submit waits for (0.3 s for 5,000 placements). A bucket's rewrite
// records what it may hold (mayHold) before it writes: loadKept does that for
// the few kept placements that need it (holdKept).
func keptLater(job *tenants.Job) bool { return job.Full }

// keptChunk is how many placements one statement of loadKept reads: on SQLite
// a millisecond or two of a core, about the slice a full rewrite runs for
// between its rests beside a stream of submits (writers.fullSlice). A distant
// PostgreSQL reads more a statement, each a round trip.
const (
	keptChunk       = 100
	keptChunkRemote = 1000
)

// loadKept completes the claim of a keptLater job, after its commit: the
// store's placements the claim did not take — written (or proposed) ones, and
// any changed since — with the Works of all its writes. Nothing marks them
// writing, and no other job of the store can run: a submit changing one
// meanwhile queues a job of its own, and the finish marks a placement written
// only at the generation its read found (FinishJob), so what the write keeps is
// as fresh as the read, never staler. What it reads as written and recorded is
// Settled, for the finish to skip if nothing changed.
//
// The read goes in short statements of keptChunk placements, by id, and the
// job rests (pressure.Pace) only between them, never with a statement open.
// It read them in one statement, resting between rows: beside a stream of
// submits that held one SQLite snapshot open for seconds, during which no
// checkpoint could copy the write-ahead log past it nor start it over: the log
// the submits append to grew to twice its length and more (swbench -stores 20,
// frames in the log beside a re-assert: mean 4,610 - 5,230, p90 10,700 - 12,640;
// read in short statements, 2,620 - 3,110 and 4,810 - 5,630, as with the stream
// alone; BENCHMARKS.md).
func (d *DB) loadKept(ctx context.Context, job *tenants.Job) error {
	took := make(map[int64]bool, len(job.Writes))
	for _, w := range job.Writes {
		took[w.ID] = true
	}
	var ids []int64
	if err := d.r.SelectContext(ctx, &ids, `SELECT id FROM placements
		WHERE tenant_id = ? AND store_kind = ? AND store_name = ?`,
		job.TenantID, job.Store.Kind, job.Store.Name); err != nil {
		return err
	}
	ids = slices.DeleteFunc(ids, func(id int64) bool { return took[id] })
	size := keptChunk
	if d.isPostgres() {
		size = keptChunkRemote
	}
	for chunk := range slices.Chunk(ids, size) {
		pressure.Pace(ctx) // paced while submits pour in, with no statement open
		q, args, err := sqlx.In(`SELECT `+placementCols+`, `+versionedCol+` FROM placements
			WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND NOT stuck AND id IN (?)`,
			job.TenantID, job.Store.Kind, job.Store.Name, chunk)
		if err != nil {
			return err
		}
		var rows []placementRow
		if err := d.r.SelectContext(ctx, &rows, q, args...); err != nil {
			return err
		}
		for _, r := range rows {
			pressure.Pace(ctx)
			w, err := r.write()
			if err != nil {
				return err
			}
			job.Writes = append(job.Writes, w)
		}
	}
	if err := d.holdKept(ctx, job, took); err != nil {
		return err
	}
	slices.SortFunc(job.Writes, func(a, b tenants.PlacementWrite) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	if job.PullRequest == nil {
		// The Works' trails only serve a commit or a bucket's objects' metadata,
		// which a re-assert rarely writes: the writer reads them then
		// (JobTrails). A pull request's head is described whatever changes.
		job.TrailsLater = true
		return nil
	}
	return d.jobWorks(ctx, d.r, job)
}

// holdKept records, for a bucket's full rewrite, what the kept placements it is
// about to put may hold (mayHold) where their keys are not all recorded yet: a
// placement submitted since the claim (its read is not the claim's). Inside one
// write transaction each such placement is read again, so the keys recorded
// are those of the plan the job then writes; one gone from the store meanwhile
// is left out. Placements as written hold their keys already: none for a
// re-assert that found nothing changed.
func (d *DB) holdKept(ctx context.Context, job *tenants.Job, took map[int64]bool) error {
	if job.Store.Kind != tenants.KindBucket {
		return nil
	}
	var ids []int64
	need := map[int64]bool{}
	for _, w := range job.Writes {
		if !took[w.ID] && unheld(w) {
			ids = append(ids, w.ID)
			need[w.ID] = true
		}
	}
	if len(ids) == 0 {
		return nil
	}
	fresh := map[int64]tenants.PlacementWrite{} // of need, read again
	err := d.tx(ctx, func(tx *sqlx.Tx) error {
		clear(fresh)
		for chunk := range slices.Chunk(ids, 500) {
			q, args, err := sqlx.In(`SELECT `+placementCols+`, `+versionedCol+` FROM placements
				WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND NOT stuck AND id IN (?)`,
				job.TenantID, job.Store.Kind, job.Store.Name, chunk)
			if err != nil {
				return err
			}
			var rows []placementRow
			if err := tx.SelectContext(ctx, &rows, q, args...); err != nil {
				return err
			}
			for _, r := range rows {
				w, err := r.write()
				if err != nil {
					return err
				}
				if err := d.mayHold(ctx, tx, job.TenantID, w); err != nil {
					return err
				}
				fresh[w.ID] = w
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	job.Writes = slices.DeleteFunc(job.Writes, func(w tenants.PlacementWrite) bool {
		_, read := fresh[w.ID]
		return need[w.ID] && !read
	})
	for i, w := range job.Writes {
		if f, ok := fresh[w.ID]; ok {
			job.Writes[i] = f
		}
	}
	return nil
}

// unheld says a bucket write w would put keys its placement's row does not
// record as keys it may hold (mayHold; an aggregatedYAML placement's file is
// its Destination's).
func unheld(w tenants.PlacementWrite) bool {
	if w.Delete || w.Mode == tenants.ModeAggregated {
		return false
	}
	for _, k := range w.Plan.Keys() {
		if !slices.Contains(w.WrittenKeys, k) {
			return true
		}
	}
	return false
}

// JobTrails fills in what the Works of a TrailsLater job's writes say of who
// asked for them (jobWorks), read when its write changes the store.
func (d *DB) JobTrails(ctx context.Context, job *tenants.Job) error {
	if err := d.jobWorks(ctx, d.r, job); err != nil {
		return err
	}
	job.TrailsLater = false
	return nil
}

// jobPlacements selects the store's placements not yet written (all of them
// with all) and marks the unwritten ones writing. On PostgreSQL it skips rows
// another transaction holds (see ClaimJob).
func (d *DB) jobPlacements(ctx context.Context, tx *sqlx.Tx, job *tenants.Job, all bool) ([]placementRow, error) {
	var rows []placementRow
	err := tx.SelectContext(ctx, &rows, `SELECT `+placementCols+` FROM placements
		WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND (state NOT IN ('written', 'proposed') OR ?) AND NOT stuck ORDER BY name, id`+d.dialect.skipHeld,
		job.TenantID, job.Store.Kind, job.Store.Name, all)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, r := range rows {
		if r.State != tenants.StateWritten && r.State != tenants.StateProposed {
			ids = append(ids, r.ID)
		}
	}
	return rows, d.markWriting(ctx, tx, "placements", job.ID, ids)
}

// markWriting marks rows ids of table (placements or canaries) writing for job.
func (d *DB) markWriting(ctx context.Context, tx *sqlx.Tx, table string, job int64, ids []int64) error {
	for chunk := range slices.Chunk(ids, 500) {
		q, args, err := sqlx.In(`UPDATE `+table+` SET state = 'writing', job_id = ? WHERE id IN (?)`, job, chunk)
		if err != nil {
			return err
		}
		// Held back (pipeline.go): it goes out with the claim's next read.
		if _, err := tx.ExecContext(deferred(ctx), q, args...); err != nil {
			return err
		}
	}
	return nil
}

// mayHold records, before a bucket write starts, the keys it is about to put as
// keys the placement may hold: a bucket write that dies half way (kill -9, a lost
// connection) leaves some of them in the store, and a later write must know them
// to remove those no longer wanted. Git pushes are atomic and need no such record.
func (d *DB) mayHold(ctx context.Context, tx *sqlx.Tx, tenantID int64, w tenants.PlacementWrite) error {
	all := slices.Clone(w.WrittenKeys)
	for _, k := range w.Plan.Keys() {
		if !slices.Contains(all, k) {
			all = append(all, k)
		}
	}
	if len(all) == len(w.WrittenKeys) {
		return nil
	}
	slices.Sort(all)
	_, err := tx.ExecContext(deferred(ctx), `UPDATE placements SET written_keys = ? WHERE tenant_id = ? AND id = ?`, toJSON(all), tenantID, w.ID)
	return err
}

// peerPlacements returns the live placements on the given Destinations that the
// job does not write itself.
func (d *DB) peerPlacements(ctx context.Context, tx *sqlx.Tx, job *tenants.Job, dests map[int64]bool) ([]tenants.PlacementWrite, error) {
	if job.Full || len(dests) == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, len(dests))
	for id := range dests {
		ids = append(ids, id)
	}
	q, args, err := sqlx.In(`SELECT `+placementCols+` FROM placements WHERE tenant_id = ? AND store_kind = ? AND store_name = ?
		AND state IN ('written', 'proposed') AND intent = 'write' AND destination_id IN (?) ORDER BY name, id`,
		job.TenantID, job.Store.Kind, job.Store.Name, ids)
	if err != nil {
		return nil, err
	}
	var rows []placementRow
	if err := tx.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, err
	}
	peers := make([]tenants.PlacementWrite, 0, len(rows))
	for _, r := range rows {
		w, err := r.write()
		if err != nil {
			return nil, err
		}
		peers = append(peers, w)
	}
	return peers, nil
}

type canaryRow struct {
	ID              int64     `db:"id"`
	TenantID        int64     `db:"tenant_id"`
	DestinationID   int64     `db:"destination_id"`
	DestinationName string    `db:"destination_name"`
	StoreKind       string    `db:"store_kind"`
	StoreName       string    `db:"store_name"`
	Files           string    `db:"files"`
	Intent          string    `db:"intent"`
	State           string    `db:"state"`
	Generation      int64     `db:"generation"`
	JobID           *int64    `db:"job_id"`
	Error           string    `db:"error"`
	WrittenKeys     string    `db:"written_keys"`
	UpdatedAt       time.Time `db:"updated_at"`
}

const canaryCols = `id, tenant_id, destination_id, destination_name, store_kind, store_name, files, intent, state,
	generation, job_id, error, written_keys, updated_at`

func (r canaryRow) write() tenants.CanaryWrite {
	files, _ := planner.DecodeFiles(r.Files) // written by canaryFiles: always valid
	return tenants.CanaryWrite{ID: r.ID, Destination: r.DestinationName, Files: files,
		Delete: r.Intent == intentDelete, WrittenKeys: jsonStrings(r.WrittenKeys), Generation: r.Generation}
}

// jobCanaries selects the store's canary files to write and marks them writing.
// On PostgreSQL it skips rows another transaction holds (see ClaimJob).
func (d *DB) jobCanaries(ctx context.Context, tx *sqlx.Tx, job *tenants.Job) ([]tenants.CanaryWrite, error) {
	var rows []canaryRow
	err := tx.SelectContext(ctx, &rows, `SELECT `+canaryCols+` FROM canaries
		WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND (state NOT IN ('written', 'proposed') OR ?) ORDER BY destination_name`+d.dialect.skipHeld,
		job.TenantID, job.Store.Kind, job.Store.Name, job.Full)
	if err != nil {
		return nil, err
	}
	var ids []int64
	out := make([]tenants.CanaryWrite, len(rows))
	for i, r := range rows {
		out[i] = r.write()
		if r.State != tenants.StateWritten && r.State != tenants.StateProposed {
			ids = append(ids, r.ID)
		}
	}
	return out, d.markWriting(ctx, tx, "canaries", job.ID, ids)
}

// resetWriting puts the job's placements and canaries that are still writing back
// to pending (a released job), or, with msg, to retrying (canaries: failed) with
// msg as their error (a job whose worker vanished, retried after a backoff).
func (d *DB) resetWriting(ctx context.Context, tx *sqlx.Tx, job *tenants.Job, msg string) error {
	for _, table := range []string{"placements", "canaries"} {
		state := tenants.StatePending
		switch {
		case msg != "" && table == "placements":
			state = tenants.StateRetrying
		case msg != "":
			state = tenants.StateFailed // canary files are never refused for good
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET state = ?, error = ?, updated_at = ?
			WHERE tenant_id = ? AND job_id = ? AND state = 'writing'`, state, msg, d.now(), job.TenantID, job.ID); err != nil {
			return err
		}
	}
	return nil
}

// canaryFiles returns the canary files of dest as stored JSON, or the layout error.
func canaryFiles(storePath string, dest tenants.Destination) (string, []string, error) {
	files, err := planner.Canary(storePath, dest)
	if err != nil {
		return "", nil, err
	}
	keys := make([]string, len(files))
	for i, f := range files {
		keys[i] = f.Path
	}
	return planner.EncodeFiles(files), keys, nil
}
