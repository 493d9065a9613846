package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// prSpecJSON is how spec.pullRequest is stored ("" for a store that pushes).
func prSpecJSON(p *tenants.PullRequestSpec) string {
	if p == nil {
		return ""
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func prSpecFrom(s string) *tenants.PullRequestSpec {
	if s == "" {
		return nil
	}
	var p tenants.PullRequestSpec
	if json.Unmarshal([]byte(s), &p) != nil {
		return nil
	}
	return &p
}

// newHookID names a store in its webhook URL: random, so that the URL says
// nothing of the team or the store and cannot be guessed (the signature is
// checked all the same).
func newHookID() string { return rand.Text() }

// prCleared is the SET list that forgets a store's pull request.
// (pr_reset is the caller's: a close sets it.)
const prCleared = `pr_number = 0, pr_url = '', pr_chain = '[]', pr_base = '', pr_warning = '', pr_error = '', pr_body_hash = ''`

// proposePlacement records a placement written to a pull request's head branch
// and not held by the base branch: proposed, at the head commit, carried by the
// store's pull request (number 0 until it is opened: RecordPR fills it in). What
// the store may hold for it is what it held before and what it holds now: the
// pull request may be closed unmerged, and a later write must still remove
// whichever of them it no longer wants.
func (d *DB) proposePlacement(ctx context.Context, tx *sqlx.Tx, job *tenants.Job, o tenants.PlacementOutcome, head string) error {
	var cur string
	err := tx.GetContext(ctx, &cur, `SELECT written_keys FROM placements WHERE tenant_id = ? AND id = ?`, job.TenantID, o.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	keys := append(jsonStrings(cur), o.Keys...)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	now := d.now()
	res, err := tx.ExecContext(ctx, `UPDATE placements SET state = 'proposed', version = ?, error = '', attempts = 0,
		written_keys = ?, written_prefix = CASE WHEN ? <> '' THEN ? ELSE written_prefix END, updated_at = ?,
		pr_number = (SELECT g.pr_number FROM git_stores g WHERE g.tenant_id = ? AND g.name = ?),
		pr_url = (SELECT g.pr_url FROM git_stores g WHERE g.tenant_id = ? AND g.name = ?)
		WHERE tenant_id = ? AND id = ? AND generation = ?`,
		head, toJSON(nonNil(keys)), o.Prefix, o.Prefix, now, job.TenantID, job.Store.Name, job.TenantID, job.Store.Name,
		job.TenantID, o.ID, o.Generation)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	// Submitted again meanwhile: its new content is still to be written, but
	// the head branch holds these keys now.
	_, err = tx.ExecContext(ctx, `UPDATE placements SET written_keys = ? WHERE tenant_id = ? AND id = ?`,
		toJSON(nonNil(keys)), job.TenantID, o.ID)
	return err
}

// finishHead records, for a pull-request store, what the write did to the head
// branch: the commit it pushed joins the chain of the open pull request (a head
// built anew starts the chain again, and every proposed placement is on that
// one commit now); a head branch carrying someone else's commit stops the
// updates with a warning.
func (d *DB) finishHead(ctx context.Context, tx *sqlx.Tx, job *tenants.Job, res tenants.JobResult) error {
	if job.PullRequest == nil {
		return nil
	}
	if res.Blocked != "" {
		_, err := tx.ExecContext(ctx, `UPDATE git_stores SET pr_warning = ? WHERE tenant_id = ? AND name = ?`,
			tenants.RemoteText(res.Blocked), job.TenantID, job.Store.Name)
		return err
	}
	if res.Err != "" {
		return nil
	}
	if res.HeadMerged {
		if err := d.headMerged(ctx, tx, job, res); err != nil {
			return err
		}
	}
	if res.Head == "" {
		return nil
	}
	if res.HeadRestarted && !res.HeadCarried && !res.HeadMerged {
		// What the old head proposed is on neither the base nor the new head
		// (the head branch went): written again.
		if _, err := tx.ExecContext(ctx, `UPDATE placements SET state = 'pending' WHERE tenant_id = ? AND store_kind = ?
			AND store_name = ? AND state = 'proposed' AND version <> ?`, job.TenantID, tenants.KindGit, job.Store.Name, res.Head); err != nil {
			return err
		}
	}
	var cur string
	if err := tx.GetContext(ctx, &cur, `SELECT pr_chain FROM git_stores WHERE tenant_id = ? AND name = ?`,
		job.TenantID, job.Store.Name); err != nil {
		return err
	}
	chain := jsonStrings(cur)
	if res.HeadRestarted && len(chain) > 0 {
		// A rebuilt head carries the old one's proposals, which keep their
		// commits: a merge of the new head carries them too (they come before
		// it in the chain), one of the old head only them (see carried).
		chain = append(chain, chainRestart)
	}
	if len(chain) == 0 || chain[len(chain)-1] != res.Head {
		chain = append(chain, res.Head)
	}
	if len(chain) > maxChain { // a merge of an older head than these counts as all of them
		chain = chain[len(chain)-maxChain:]
	}
	_, err := tx.ExecContext(ctx, `UPDATE git_stores SET pr_chain = ?, pr_base = ?, pr_reset = FALSE, pr_warning = ''
		WHERE tenant_id = ? AND name = ?`, toJSON(chain), res.Version, job.TenantID, job.Store.Name)
	return err
}

// chainRestart marks, in a pull request's chain of head commits, where the head
// was built anew on the base.
const chainRestart = "|"

// headMerged settles, when a write found every commit of the old head on the
// base (its pull request merged before Stateward heard of it): what the old
// head proposed is written at the base tip, its removals are done, and the
// store forgets that pull request (a merge reported later for its number
// changes nothing; the new head gets a pull request of its own).
func (d *DB) headMerged(ctx context.Context, tx *sqlx.Tx, job *tenants.Job, res tenants.JobResult) error {
	now := d.now()
	args := []any{job.TenantID, tenants.KindGit, job.Store.Name, res.Head}
	const old = `tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'proposed' AND version <> ?`
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, `SELECT id FROM placements WHERE `+old+` AND intent = 'write'`, args...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM placements WHERE `+old+` AND intent = 'delete'`, args...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE placements SET state = 'written', version = ?, error = '', written_at = ?, updated_at = ?
		WHERE `+old, append([]any{res.Version, now, now}, args...)...); err != nil {
		return err
	}
	if err := d.insertVersions(ctx, tx, job.TenantID, ids, res.Version, false); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE canaries SET state = 'written', updated_at = ? WHERE tenant_id = ? AND store_kind = ?
		AND store_name = ? AND state = 'proposed' AND job_id IS DISTINCT FROM ?`, now, job.TenantID, tenants.KindGit, job.Store.Name, job.ID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE git_stores SET `+prCleared+` WHERE tenant_id = ? AND name = ?`, job.TenantID, job.Store.Name)
	return err
}

// maxChain bounds the head commits remembered for one pull request.
const maxChain = 1000

// RequestWrite queues a write of the store (nothing to write is fine): for a
// pull-request store whose base moved, so that its head is rebuilt on it.
func (d *DB) RequestWrite(ctx context.Context, ref tenants.StoreRef) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		_, err := d.enqueue(ctx, tx, ref.TenantID, storeKey{ref.Kind, ref.Name}, false)
		return err
	})
}

// prState is what the database holds of a store's pull request.
type prState struct {
	Number int    `db:"pr_number"`
	Chain  string `db:"pr_chain"`
}

func (d *DB) lockPR(ctx context.Context, tx *sqlx.Tx, ref tenants.StoreRef) (prState, error) {
	var st prState
	err := tx.GetContext(ctx, &st, `SELECT pr_number, pr_chain FROM git_stores WHERE tenant_id = ? AND name = ?`+d.dialect.rowLock,
		ref.TenantID, ref.Name)
	return st, mapErr(err, tenants.KindGit, ref.Name)
}

// carried splits the chain of head commits at the one a merge or close took
// (headSHA): the commits up to it were in the pull request; the later ones
// were pushed after and were not. A head Stateward did not push (someone
// else's commit on top, which stopped the updates) carried the chain up to the
// last time the head was built anew: a rebuild after that merge (Stateward
// saw the base move before it heard of the merge) is not in it. What this
// leaves out, if it was in the merge after all, is proposed again and found on
// the base: never the other way round.
func carried(chain []string, headSHA string) (in []string) {
	i := slices.Index(chain, headSHA)
	switch {
	case i >= 0:
		in = chain[:i+1]
	default:
		in = chain
		for j := len(chain) - 1; j >= 0; j-- {
			if chain[j] == chainRestart {
				in = chain[:j]
				break
			}
		}
	}
	return slices.DeleteFunc(slices.Clone(in), func(s string) bool { return s == chainRestart })
}

// PRMerged records that the store's pull request number was merged at
// headSHA into mergeSHA: in one transaction, the placements it carried are
// written at the merge commit (its removals done), the placements proposed
// after it took its head go back to pending for the next pull request, the
// store forgets the pull request, and a job is queued for what is left. A
// number that is no longer the store's pull request changes nothing.
func (d *DB) PRMerged(ctx context.Context, ref tenants.StoreRef, number int, headSHA, mergeSHA, mergedBy string) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, ref.TenantID, false); err != nil { // first, as in FinishJob
			return err
		}
		st, err := d.lockPR(ctx, tx, ref)
		if err != nil || st.Number != number {
			return err
		}
		chain := jsonStrings(st.Chain)
		in := carried(chain, headSHA)
		now := d.now()
		scope := []any{ref.TenantID, tenants.KindGit, ref.Name}
		const inStore = `tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'proposed'`
		var merged []int64 // the Works' commit lists name the merge commit
		for part := range slices.Chunk(nonNil(in), 400) {
			q, args, err := sqlx.In(`SELECT id FROM placements WHERE `+inStore+` AND intent = 'write' AND version IN (?)`,
				append(scope, part)...)
			if err != nil {
				return err
			}
			var ids []int64
			if err := tx.SelectContext(ctx, &ids, q, args...); err != nil {
				return err
			}
			merged = append(merged, ids...)
			q, args, err = sqlx.In(`DELETE FROM placements WHERE `+inStore+` AND intent = 'delete' AND version IN (?)`,
				append(scope, part)...)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			q, args, err = sqlx.In(`UPDATE placements SET state = 'written', version = ?, error = '', written_at = ?, updated_at = ?
				WHERE `+inStore+` AND version IN (?)`, append([]any{mergeSHA, now, now}, append(scope, part)...)...)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		if err := d.insertVersions(ctx, tx, ref.TenantID, merged, mergeSHA, false); err != nil {
			return err
		}
		if err := d.pruneVersions(ctx, tx, ref.TenantID, merged); err != nil {
			return err
		}
		left, err := d.unpropose(ctx, tx, ref, len(in) == len(chain))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE git_stores SET `+prCleared+`, pr_reset = FALSE WHERE tenant_id = ? AND name = ?`,
			ref.TenantID, ref.Name); err != nil {
			return err
		}
		return d.afterPR(ctx, tx, ref, left)
	})
}

// unpropose puts what is still proposed on a store back to pending (placements
// pushed after the pull request took its head), and its canary files too unless
// all reached the base (whole). It reports whether anything is left to write.
func (d *DB) unpropose(ctx context.Context, tx *sqlx.Tx, ref tenants.StoreRef, whole bool) (bool, error) {
	now := d.now()
	res, err := tx.ExecContext(ctx, `UPDATE placements SET state = 'pending', pr_number = 0, pr_url = '', updated_at = ?
		WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'proposed'`, now, ref.TenantID, tenants.KindGit, ref.Name)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	canaryState := "pending"
	if whole {
		canaryState = "written"
	}
	res, err = tx.ExecContext(ctx, `UPDATE canaries SET state = ?, updated_at = ? WHERE tenant_id = ? AND store_kind = ? AND store_name = ?
		AND state = 'proposed'`, canaryState, now, ref.TenantID, tenants.KindGit, ref.Name)
	if err != nil {
		return false, err
	}
	m, _ := res.RowsAffected()
	return n > 0 || m > 0 && !whole, nil
}

// afterPR queues a write for what is left to propose, and makes a write
// waiting out a backoff due now: one that found someone else's commit on the
// head branch can go on once the pull request is merged or closed.
func (d *DB) afterPR(ctx context.Context, tx *sqlx.Tx, ref tenants.StoreRef, left bool) error {
	if left {
		if _, err := d.enqueue(ctx, tx, ref.TenantID, storeKey{tenants.KindGit, ref.Name}, false); err != nil {
			return err
		}
	}
	due, args := d.pushDue(ref.TenantID, storeKey{tenants.KindGit, ref.Name}, d.now()) // the push interval still holds
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET run_after = `+due+`, attempts = 0 WHERE tenant_id = ? AND store_kind = ?
		AND store_name = ? AND state = 'queued' AND run_after > ?`, append(args, ref.TenantID, tenants.KindGit, ref.Name, d.now())...)
	return err
}

// RejectedMessage is the error of a placement whose pull request was closed
// without merging.
func RejectedMessage(number int, by string) string {
	if by == "" {
		by = "someone"
	}
	return fmt.Sprintf("pull request #%d was closed without merging by %s; submit the Work again to propose it again", number, by)
}

// PRClosed records that the store's pull request number was closed without
// merging (its head at headSHA): the placements it carried are rejected (not
// written again until their Work is submitted again; the error names who
// closed it), the ones proposed after go back to pending, the store forgets the
// pull request, and its next write starts the head branch again from the base.
func (d *DB) PRClosed(ctx context.Context, ref tenants.StoreRef, number int, headSHA, closedBy string) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, ref.TenantID, false); err != nil { // first, as in FinishJob
			return err
		}
		st, err := d.lockPR(ctx, tx, ref)
		if err != nil || st.Number != number {
			return err
		}
		in := carried(jsonStrings(st.Chain), headSHA)
		now := d.now()
		for part := range slices.Chunk(nonNil(in), 400) {
			q, args, err := sqlx.In(`UPDATE placements SET state = 'rejected', stuck = TRUE, error = ?, updated_at = ?
				WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'proposed' AND version IN (?)`,
				RejectedMessage(number, closedBy), now, ref.TenantID, tenants.KindGit, ref.Name, part)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		left, err := d.unpropose(ctx, tx, ref, false)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE git_stores SET `+prCleared+`, pr_reset = TRUE WHERE tenant_id = ? AND name = ?`,
			ref.TenantID, ref.Name); err != nil {
			return err
		}
		return d.afterPR(ctx, tx, ref, left)
	})
}

// RecordPR records the store's open pull request (found or just opened) and
// what its title and body say (bodyHash), and marks every proposed placement of
// the store as carried by it.
func (d *DB) RecordPR(ctx context.Context, ref tenants.StoreRef, number int, url, bodyHash string) error {
	return d.tx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockTenant(ctx, tx, ref.TenantID, false); err != nil { // first, as in FinishJob
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE git_stores SET pr_number = ?, pr_url = ?, pr_body_hash = ?, pr_error = ''
			WHERE tenant_id = ? AND name = ?`, number, url, bodyHash, ref.TenantID, ref.Name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE placements SET pr_number = ?, pr_url = ? WHERE tenant_id = ? AND store_kind = ?
			AND store_name = ? AND state = 'proposed' AND (pr_number <> ? OR pr_url <> ?)`,
			number, url, ref.TenantID, tenants.KindGit, ref.Name, number, url)
		return err
	})
}

// RecordPRError shows the host's answer to the last pull-request call that
// failed on the store ("" clears it).
func (d *DB) RecordPRError(ctx context.Context, ref tenants.StoreRef, msg string) error {
	_, err := d.w.ExecContext(ctx, `UPDATE git_stores SET pr_error = ? WHERE tenant_id = ? AND name = ?`,
		tenants.RemoteText(msg), ref.TenantID, ref.Name)
	return err
}

// RecordPRHook records whether the store's webhook was registered, or why not.
func (d *DB) RecordPRHook(ctx context.Context, ref tenants.StoreRef, status string) error {
	_, err := d.w.ExecContext(ctx, `UPDATE git_stores SET pr_hook = ? WHERE tenant_id = ? AND name = ?`,
		tenants.RemoteText(status), ref.TenantID, ref.Name)
	return err
}

// PRBodyHash is what the store's pull request's title and body said when last
// set.
func (d *DB) PRBodyHash(ctx context.Context, ref tenants.StoreRef) (string, error) {
	var h string
	err := d.r.GetContext(ctx, &h, `SELECT pr_body_hash FROM git_stores WHERE tenant_id = ? AND name = ?`, ref.TenantID, ref.Name)
	return h, mapErr(err, tenants.KindGit, ref.Name)
}

// DuePRChecks claims, for owner, the pull-request stores to look at now: those
// with an open pull request or proposed placements, not looked at for every.
// The claim is a compare-and-set on pr_checked_at, so that of several replicas
// one polls each store.
func (d *DB) DuePRChecks(ctx context.Context, every time.Duration) ([]tenants.StoreRef, error) {
	now := d.now()
	var rows []struct {
		TenantID int64      `db:"tenant_id"`
		Name     string     `db:"name"`
		Checked  *time.Time `db:"pr_checked_at"`
	}
	err := d.r.SelectContext(ctx, &rows, `SELECT tenant_id, name, pr_checked_at FROM git_stores g WHERE pull_request <> ''
		AND (pr_checked_at IS NULL OR pr_checked_at <= ?)
		AND (pr_number <> 0 OR EXISTS (SELECT 1 FROM placements p WHERE p.tenant_id = g.tenant_id AND p.store_kind = ?
			AND p.store_name = g.name AND p.state = 'proposed'))`, now.Add(-every), tenants.KindGit)
	if err != nil {
		return nil, err
	}
	var due []tenants.StoreRef
	for _, r := range rows {
		var res sql.Result
		if r.Checked == nil {
			res, err = d.w.ExecContext(ctx, `UPDATE git_stores SET pr_checked_at = ? WHERE tenant_id = ? AND name = ? AND pr_checked_at IS NULL`,
				now, r.TenantID, r.Name)
		} else {
			res, err = d.w.ExecContext(ctx, `UPDATE git_stores SET pr_checked_at = ? WHERE tenant_id = ? AND name = ? AND pr_checked_at = ?`,
				now, r.TenantID, r.Name, *r.Checked)
		}
		if err != nil {
			return due, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			due = append(due, tenants.StoreRef{TenantID: r.TenantID, Kind: tenants.KindGit, Name: r.Name})
		}
	}
	return due, nil
}

// GitStoreByHook finds the Git store whose webhook URL names hookID, with its
// credentials opened (the webhook secret). Any tenant's: the caller verifies the
// delivery's signature with the store's own secret before acting on it.
func (d *DB) GitStoreByHook(ctx context.Context, hookID string) (tenants.GitStateStore, error) {
	var r struct {
		TenantID int64  `db:"tenant_id"`
		Name     string `db:"name"`
	}
	if hookID == "" {
		return tenants.GitStateStore{}, mapErr(sql.ErrNoRows, tenants.KindGit, "")
	}
	if err := d.r.GetContext(ctx, &r, `SELECT tenant_id, name FROM git_stores WHERE hook_id = ?`, hookID); err != nil {
		return tenants.GitStateStore{}, mapErr(err, tenants.KindGit, "")
	}
	return d.GitStore(ctx, r.TenantID, r.Name)
}

// Proposals lists what the store's pull request carries (its proposed
// placements), with the team's slug for links.
func (d *DB) Proposals(ctx context.Context, ref tenants.StoreRef) (string, []tenants.Proposal, error) {
	var slug string
	if err := d.r.GetContext(ctx, &slug, `SELECT slug FROM tenants WHERE id = ?`, ref.TenantID); err != nil {
		return "", nil, err
	}
	var rows []struct {
		WorkID      int64      `db:"work_id"`
		Destination string     `db:"destination_name"`
		Intent      string     `db:"intent"`
		Paths       string     `db:"paths"`
		WrittenAt   *time.Time `db:"written_at"`
		Name        string     `db:"name"`
	}
	err := d.r.SelectContext(ctx, &rows, `SELECT work_id, destination_name, intent, paths, written_at, name FROM placements
		WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND state = 'proposed' ORDER BY destination_name, name`,
		ref.TenantID, tenants.KindGit, ref.Name)
	if err != nil {
		return "", nil, err
	}
	ids := map[int64]bool{}
	for _, r := range rows {
		ids[r.WorkID] = true
	}
	who := map[int64]string{}
	names := map[int64]string{}
	list := slices.Collect(maps.Keys(ids))
	for part := range slices.Chunk(list, 400) {
		q, args, err := sqlx.In(`SELECT a.object_id, a.object_name, a.actor_kind, a.actor_id, a.actor_name, a.actor_person_id, a.actor_person
			FROM audit_events a WHERE a.tenant_id = ? AND a.object_kind = ? AND a.object_id IN (?)
			AND a.id = (SELECT MAX(b.id) FROM audit_events b WHERE b.tenant_id = a.tenant_id AND b.object_kind = a.object_kind
				AND b.object_id = a.object_id)`, ref.TenantID, tenants.AuditWork, part)
		if err != nil {
			return "", nil, err
		}
		var ev []struct {
			ID       int64  `db:"object_id"`
			Name     string `db:"object_name"`
			Kind     string `db:"actor_kind"`
			ActorID  int64  `db:"actor_id"`
			Actor    string `db:"actor_name"`
			PersonID int64  `db:"actor_person_id"`
			Person   string `db:"actor_person"`
		}
		if err := d.r.SelectContext(ctx, &ev, q, args...); err != nil {
			return "", nil, err
		}
		for _, e := range ev {
			who[e.ID] = tenants.Actor{Kind: e.Kind, ID: e.ActorID, Name: e.Actor, PersonID: e.PersonID, Person: e.Person}.String()
			names[e.ID] = e.Name
		}
	}
	out := make([]tenants.Proposal, len(rows))
	for i, r := range rows {
		work := names[r.WorkID]
		if work == "" {
			work, _, _ = strings.Cut(r.Name, "."+r.Destination)
		}
		out[i] = tenants.Proposal{WorkID: r.WorkID, Work: work, Destination: r.Destination, Delete: r.Intent == intentDelete,
			Files: len(jsonStrings(r.Paths)), New: r.WrittenAt == nil, RequestedBy: who[r.WorkID]}
	}
	return slug, out, nil
}
