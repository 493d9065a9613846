package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// storeMove is what a store update changes about where its placements live.
type storeMove struct {
	// location: another repository, branch, bucket or endpoint. Everything is
	// written there; nothing is removed from the old one (it may belong to
	// someone else, and Stateward may no longer reach it).
	location bool
	// path: the same repository or bucket, another spec.path. Everything is
	// written at the new keys and removed from the old ones.
	path bool
}

func gitMove(old, s tenants.GitStateStore) storeMove {
	return storeMove{location: old.URL != s.URL || old.Branch != s.Branch || prRoute(old) != prRoute(s), path: old.Path != s.Path}
}

// prRoute is how a Git store's writes reach its branch: pushed ("" for a store
// without spec.pullRequest), or through a pull request from a head branch on a
// provider. Changing it moves the store: what was proposed on the old route is
// not on the branch, so every placement is written again the new way.
func prRoute(s tenants.GitStateStore) string {
	if s.PullRequest == nil {
		return ""
	}
	return s.PullRequest.Provider + " " + s.PullRequest.APIURL + " " + s.HeadBranch()
}

func bucketMove(old, s tenants.BucketStateStore) storeMove {
	return storeMove{location: old.Endpoint != s.Endpoint || old.BucketName != s.BucketName, path: old.Path != s.Path}
}

// generations maps each live placement and canary row of a store or Destination
// to its generation: read before a change, it tells which of them the change put
// back to pending (see rewritten).
type generations struct {
	placements map[int64]int64
	canaries   map[int64]int64
}

// placementScope selects the live placements of a store or of one Destination.
type placementScope struct {
	cond string
	args []any
}

func storeScope(tenantID int64, k storeKey) placementScope {
	return placementScope{`tenant_id = ? AND store_kind = ? AND store_name = ?`, []any{tenantID, k.kind, k.name}}
}

func destinationScope(tenantID, destID int64) placementScope {
	return placementScope{`tenant_id = ? AND destination_id = ?`, []any{tenantID, destID}}
}

func (d *DB) liveGenerations(ctx context.Context, tx *sqlx.Tx, sc placementScope) (generations, error) {
	out := generations{placements: map[int64]int64{}, canaries: map[int64]int64{}}
	for table, m := range map[string]map[int64]int64{"placements": out.placements, "canaries": out.canaries} {
		var rows []struct {
			ID         int64 `db:"id"`
			Generation int64 `db:"generation"`
		}
		if err := tx.SelectContext(ctx, &rows, `SELECT id, generation FROM `+table+` WHERE `+sc.cond+` AND intent = 'write'`,
			sc.args...); err != nil {
			return generations{}, err
		}
		for _, r := range rows {
			m[r.ID] = r.Generation
		}
	}
	return out, nil
}

// requeued is what a change put back to pending: live placements, the
// Destinations they are on, and canary rows (Destinations whose canary files are
// written again; none for a Destination with initWorkloads off).
type requeued struct {
	placements, dests, canaries int
}

// rewritten counts the live placements and canary rows of sc that this
// transaction put back to pending since before was read.
func (d *DB) rewritten(ctx context.Context, tx *sqlx.Tx, sc placementScope, before generations) (requeued, error) {
	var n requeued
	seen := map[int64]bool{}
	for _, table := range []string{"placements", "canaries"} {
		var rows []struct {
			ID            int64 `db:"id"`
			Generation    int64 `db:"generation"`
			DestinationID int64 `db:"destination_id"`
		}
		if err := tx.SelectContext(ctx, &rows, `SELECT id, generation, destination_id FROM `+table+` WHERE `+sc.cond+`
			AND intent = 'write' AND state = 'pending'`, sc.args...); err != nil {
			return requeued{}, err
		}
		prior := before.placements
		if table == "canaries" {
			prior = before.canaries
		}
		for _, r := range rows {
			if g, ok := prior[r.ID]; ok && g == r.Generation {
				continue // pending already, not by this change
			}
			if table == "canaries" {
				n.canaries++
				continue
			}
			n.placements++
			seen[r.DestinationID] = true
		}
	}
	n.dests = len(seen)
	return n, nil
}

// storeMoved runs in the transaction that updated store k (its row already
// saved), before storeSaved: it puts every placement the move affects back to
// pending, so that the store's next job writes the new location whole.
func (d *DB) storeMoved(ctx context.Context, tx *sqlx.Tx, tenantID int64, k storeKey, mv storeMove) (dropped int, err error) {
	if mv.location {
		if dropped, err = d.relocate(ctx, tx, tenantID, k); err != nil {
			return 0, err
		}
	}
	if mv.path {
		// Every key of the store moves: the claims are made again from the new
		// plans, so that the old keys never hold back the new ones.
		if err := d.replace(ctx, tx, tenantID, storeScope(tenantID, k)); err != nil {
			return 0, err
		}
	}
	return dropped, nil
}

// storeUpdated runs in the transaction that updated store k's row and
// credentials: the placements the update moves go back to pending, the store's
// Destinations are brought in line (storeSaved), and the message says what will
// be written where, counted from the rows changed (so a dry run says it too).
func (d *DB) storeUpdated(ctx context.Context, tx *sqlx.Tx, tenantID int64, k storeKey, mv storeMove, secretRef string,
	secretMissing bool, before generations) (string, error) {
	dropped, err := d.storeMoved(ctx, tx, tenantID, k, mv)
	if err != nil {
		return "", err
	}
	if err := d.storeSaved(ctx, tx, tenantID, k.kind, k.name, secretRef, secretMissing); err != nil {
		return "", err
	}
	if !mv.location && !mv.path {
		return storeMoveMessage(mv, requeued{}, 0), nil
	}
	n, err := d.rewritten(ctx, tx, storeScope(tenantID, k), before)
	return storeMoveMessage(mv, n, dropped), err
}

// relocate makes store k's next job write everything to its new location: every
// live placement and canary file back to pending with nothing recorded as written
// (what the old location holds says nothing of the new one); removals still to be
// written are dropped (their files stay in the old location); the job writing the
// old location now loses its lease, so nothing it did there is recorded and its
// guard stops it before it changes any store; and the queued job is due at once,
// for any replica, without the backoff the old location earned.
func (d *DB) relocate(ctx context.Context, tx *sqlx.Tx, tenantID int64, k storeKey) (int, error) {
	now := d.now()
	// The job row first, then the placements: the order FinishJob locks them in.
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'failed', lease_owner = '', lease_token = '', lease_until = NULL,
		last_error = ?, updated_at = ?, finished_at = ? WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'running'`,
		movedAway, now, now, tenantID, k.kind, k.name); err != nil {
		return 0, err
	}
	dropped := 0
	for _, table := range []string{"placements", "canaries"} {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND intent = 'delete'`,
			tenantID, k.kind, k.name)
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		dropped += int(n)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE placements SET state = 'pending', generation = generation + 1, attempts = 0, error = '',
		stuck = FALSE, version = '', written_keys = '[]', written_prefix = '', pr_number = 0, pr_url = '', updated_at = ?
		WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND intent = 'write'`, now, tenantID, k.kind, k.name); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE canaries SET state = 'pending', generation = generation + 1, error = '', written_keys = '[]',
		updated_at = ? WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND intent = 'write'`, now, tenantID, k.kind, k.name); err != nil {
		return 0, err
	}
	if k.kind == tenants.KindGit {
		// A push in doubt was to the old remote: the new one has nothing to fence.
		// A pull request on the old route carries nothing for the new one.
		if _, err := tx.ExecContext(ctx, `UPDATE git_stores SET push_in_doubt = FALSE, pr_reset = FALSE, `+prCleared+`
			WHERE tenant_id = ? AND name = ?`,
			tenantID, k.name); err != nil {
			return 0, err
		}
	}
	if _, err := d.enqueue(ctx, tx, tenantID, k, false); err != nil {
		return 0, err
	}
	// Any replica may take it: none has a clone of the new location. The store's
	// push interval still holds (pushDue): a move is no reason to push sooner.
	due, args := d.pushDue(tenantID, k, now)
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET attempts = 0, run_after = `+due+`, last_error = '', affinity = '', affinity_until = NULL,
		updated_at = ? WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'queued'`,
		append(args, now, tenantID, k.kind, k.name)...)
	return dropped, err
}

// movedAway is the last error of a job stopped because its store moved.
const movedAway = "the store moved to another repository, branch or bucket while this job wrote it; its placements are written to the new location by the next job"

// replace plans again, placing every group anew, each live Work with a placement
// in scope, after the claims of those placements were dropped: used when every
// key in scope moves (a store's or a Destination's path), so that the new plans
// are checked against each other and not against the keys they leave. A move that
// would make two Works clash is refused with the conflict.
func (d *DB) replace(ctx context.Context, tx *sqlx.Tx, tenantID int64, sc placementScope) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM claims WHERE tenant_id = ? AND placement_id IN (SELECT id FROM placements
		WHERE `+sc.cond+` AND intent = 'write')`, append([]any{tenantID}, sc.args...)...); err != nil {
		return err
	}
	rows, all, err := d.worksToPlan(ctx, tx, tenantID, `(SELECT work_id FROM placements WHERE `+sc.cond+` AND intent = 'write')`, sc.args...)
	if err != nil || len(rows) == 0 {
		return err
	}
	pc, err := d.readPlanContext(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	return d.planAgain(ctx, tx, pc, rows, all, true)
}

// storeMoveMessage says what a store update will write where, from what it put
// back to pending: "canary files included" only when some were.
func storeMoveMessage(mv storeMove, n requeued, dropped int) string {
	what := fmt.Sprintf("%s on %s", plural(n.placements, "placement"), plural(n.dests, "Destination"))
	switch {
	case n.placements == 0 && n.canaries == 0:
		what = "nothing is placed on it yet and none of its Destinations writes canary files: nothing"
	case n.placements == 0:
		what = "nothing is placed on it yet: its Destinations' canary files"
	}
	included := n.placements > 0 && n.canaries > 0
	switch {
	case mv.location:
		msg := what + " will be written to the new location"
		if included {
			msg += ", canary files included"
		}
		msg += "; nothing is removed from the old one"
		if dropped > 0 {
			msg += fmt.Sprintf(" (%s still to be made there %s dropped: those files stay in the old location)",
				plural(dropped, "removal"), isAre(dropped))
		}
		return msg
	case mv.path && n.placements == 0 && n.canaries == 0:
		return what + " will be written under the new path"
	case mv.path && included:
		return what + " will be written under the new path, canary files included, and removed from the old one"
	case mv.path:
		return what + " will be written under the new path and removed from the old one"
	}
	return "readiness is checked again; nothing is rewritten"
}

// destinationMoveMessage says what a Destination path change will write where,
// from what it put back to pending.
func destinationMoveMessage(n requeued) string {
	switch {
	case n.placements == 0 && n.canaries == 0:
		return "nothing is placed on it yet and it writes no canary files (initWorkloads is off): nothing will be written under the new path"
	case n.placements == 0:
		return "nothing is placed on it yet: its canary files will be written under the new path and removed from the old one"
	case n.canaries == 0:
		return plural(n.placements, "placement") + " will be written under the new path and removed from the old one"
	}
	return plural(n.placements, "placement") + " will be written under the new path, canary files included, and removed from the old one"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
