package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/planner"
	"github.com/stateward/stateward/pressure"
	"github.com/stateward/stateward/tenants"
)

// claimRow is a stored claim as the clash query reads it.
type claimRow struct {
	Key         string        `db:"key"`
	PlacementID sql.NullInt64 `db:"placement_id"`
	CanaryID    sql.NullInt64 `db:"canary_id"`
	Dir         bool          `db:"dir"`
	Shared      bool          `db:"shared"`
}

// checkClaims answers a conflict, naming the other Work (or canary file) and both
// paths, when p wants a key that another claim of the store cannot coexist
// with (planner.FirstClash). self is the placement's own id (0 for a new one).
func (d *DB) checkClaims(ctx context.Context, tx *sqlx.Tx, tenantID int64, self int64, p planner.Placement, workName string) error {
	if err := planner.SelfClash(p.Plan, workName, p.Destination.Name); err != nil {
		return err
	}
	for chunk := range slices.Chunk(p.Plan.Claims(), claimChunk) {
		exact, below := planner.Near(chunk)
		held, err := d.claimsNear(ctx, tx, tenantID, p.Store, self, exact, below)
		if err != nil {
			return err
		}
		if h, key := planner.FirstClash(chunk, held); h != nil {
			holder, err := d.holder(ctx, tx, tenantID, *h)
			if err != nil {
				return err
			}
			return planner.Conflict(holder, key, workName, p.Destination.Name)
		}
	}
	return nil
}

// claimChunk is how many keys one clash query checks (a 1,000-file Work costs ten
// queries, not a thousand round trips).
const claimChunk = 100

// claimsNear reads, in one query, the claims of store k (other than placement
// self's) at the keys exact or below one of the ranges (planner.Near).
func (d *DB) claimsNear(ctx context.Context, tx *sqlx.Tx, tenantID int64, k planner.StoreKey, self int64,
	exact []string, below [][2]string) ([]planner.Held, error) {
	q, args, err := claimsNearSQL(tenantID, k, "?", []any{self}, exact, below)
	if err != nil {
		return nil, err
	}
	var rows []claimRow
	if err := tx.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, err
	}
	return heldOf(rows), nil
}

func heldOf(rows []claimRow) []planner.Held {
	held := make([]planner.Held, len(rows))
	for i, r := range rows {
		held[i] = planner.Held{Key: r.Key, PlacementID: r.PlacementID.Int64, CanaryID: r.CanaryID.Int64, Dir: r.Dir, Shared: r.Shared}
	}
	return held
}

// clashCheck is a clash query held back in the transaction's pipeline: the
// claims near one chunk of a placement's keys, read when the pipeline is sent
// (after the placement claimed its own, which the query leaves out), judged by
// settle.
type clashCheck struct {
	tenantID int64
	p        planner.Placement
	workName string
	// first is planner.FirstClash of the chunk's claims and what was held.
	first func([]planner.Held) (*planner.Held, string)
	held  []claimRow
}

// checkClaimsLater is checkClaims for a placement whose row (and claims) this
// transaction writes before the check runs: self is the SQL of its id (a
// subquery for a row not read back) with its arguments. The checks are held
// back; settleClashes judges them once the pipeline was sent.
func (d *DB) checkClaimsLater(ctx context.Context, tx *sqlx.Tx, tenantID int64, self string, selfArgs []any,
	p planner.Placement, workName string) ([]*clashCheck, error) {
	if err := planner.SelfClash(p.Plan, workName, p.Destination.Name); err != nil {
		return nil, err
	}
	var out []*clashCheck
	for chunk := range slices.Chunk(p.Plan.Claims(), claimChunk) {
		c := &clashCheck{tenantID: tenantID, p: p, workName: workName,
			first: func(held []planner.Held) (*planner.Held, string) { return planner.FirstClash(chunk, held) }}
		exact, below := planner.Near(chunk)
		q, args, err := claimsNearSQL(tenantID, p.Store, self, selfArgs, exact, below)
		if err != nil {
			return nil, err
		}
		if err := d.queryLater(ctx, tx, func(rows rowScanner) error {
			for rows.Next() {
				var r claimRow
				if err := rows.Scan(&r.Key, &r.PlacementID, &r.CanaryID, &r.Dir, &r.Shared); err != nil {
					return err
				}
				c.held = append(c.held, r)
			}
			return nil
		}, q, args...); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// settleClashes answers the first conflict among checks (read by now), as
// checkClaims would have.
func (d *DB) settleClashes(ctx context.Context, tx *sqlx.Tx, checks []*clashCheck) error {
	for _, c := range checks {
		if h, key := c.first(heldOf(c.held)); h != nil {
			holder, err := d.holder(ctx, tx, c.tenantID, *h)
			if err != nil {
				return err
			}
			return planner.Conflict(holder, key, c.workName, c.p.Destination.Name)
		}
	}
	return nil
}

// clashGuardState is the SQLSTATE of a failing clash guard (the function
// stateward_clash, migration 0063).
const clashGuardState = "SW409"

// guardClashes queues res's clash checks as guards, held back to go out with
// the COMMIT (submitTx): each reads what its chunk's check reads and fails the
// statement (stateward_clash) — so the transaction, and the COMMIT after it is
// skipped — when one of the claims near is one planner.FirstClash would
// return, that is any but a shared claim of a key the chunk shares too.
// Queued after the store's job upserts, each runs once those rows are locked,
// as settle's reads do. (Its chunk loop is checkClaimsLater's: a helper
// would have to name pathing.Claim, which package db may not import.)
func (d *DB) guardClashes(ctx context.Context, tx *sqlx.Tx, res *submitted) error {
	for _, c := range res.checks {
		for chunk := range slices.Chunk(c.p.Plan.Claims(), claimChunk) {
			exact, below := planner.Near(chunk)
			q, args, err := claimsNearSQL(c.tenantID, c.p.Store, c.self, c.selfArgs, exact, below)
			if err != nil {
				return err
			}
			cond := "TRUE"
			var shared []string
			for _, cl := range chunk {
				if cl.Shared {
					shared = append(shared, "?")
					args = append(args, cl.Key)
				}
			}
			if len(shared) > 0 {
				cond = "NOT (near.shared AND near.key IN (" + strings.Join(shared, ", ") + "))"
			}
			// stateward_clash is volatile: the planner never calls it ahead of
			// the EXISTS.
			guard := `SELECT CASE WHEN EXISTS (SELECT 1 FROM (` + q + `) near WHERE ` + cond + `)
				THEN stateward_clash() ELSE 0 END`
			if _, err := tx.ExecContext(deferred(ctx), guard, args...); err != nil {
				return err
			}
		}
	}
	res.checks = nil
	return nil
}

// isClashGuard reports whether err is a clash guard's failure (guardClashes).
func isClashGuard(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == clashGuardState
}

// claimsNearSQL is claimsNear's query; self is the SQL of the placement's id
// that the query leaves out, with its arguments.
func claimsNearSQL(tenantID int64, k planner.StoreKey, self string, selfArgs []any,
	exact []string, below [][2]string) (string, []any, error) {
	// One indexed lookup per branch (ORed ranges make SQLite scan the store), and
	// nothing around them: an outer query sorting the union's rows costs SQLite
	// ephemeral tables on every submit. The clashing claims are few (none, as a
	// rule).
	branch := `SELECT key, placement_id, canary_id, dir, shared FROM claims
		WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND (placement_id IS NULL OR placement_id <> ` + self + `) AND `
	head := append([]any{tenantID, k.Kind, k.Name}, selfArgs...)
	in, inArgs, err := sqlx.In(branch+`key IN (?)`, append(head, exact)...)
	if err != nil {
		return "", nil, err
	}
	parts := []string{in}
	args := inArgs
	for _, r := range below {
		parts = append(parts, branch+`key > ? AND key < ?`)
		args = append(append(args, head...), r[0], r[1])
	}
	return strings.Join(parts, " UNION ALL "), args, nil
}

// holder reads who holds claim h: its placement and Work, or its canary file's
// Destination.
func (d *DB) holder(ctx context.Context, tx *sqlx.Tx, tenantID int64, h planner.Held) (planner.Holder, error) {
	out := planner.Holder{Held: h}
	var err error
	switch {
	case h.PlacementID != 0:
		err = tx.QueryRowxContext(ctx, `SELECT name, work_id, destination_name FROM placements WHERE id = ?`,
			h.PlacementID).Scan(&out.Placement, &out.Work, &out.Destination)
		if err == nil {
			if w, werr := d.findWork(ctx, tx, tenantID, out.Work); werr == nil {
				out.WorkName = w.Name()
			}
		}
	case h.CanaryID != 0:
		err = tx.GetContext(ctx, &out.Destination, `SELECT destination_name FROM canaries WHERE id = ?`, h.CanaryID)
	}
	return out, err
}

// claimPlacement replaces the claims of placement id with those of p (checked
// with checkClaims first). fresh says the placement row was inserted by this
// transaction, so it has no claims to drop.
func (d *DB) claimPlacement(ctx context.Context, tx *sqlx.Tx, tenantID int64, id int64, p planner.Placement, fresh bool) error {
	if !fresh {
		if err := d.dropClaims(ctx, tx, tenantID, "placement_id", id); err != nil {
			return err
		}
	}
	return d.insertClaims(ctx, tx, tenantID, "?", []any{id}, p)
}

// insertClaims inserts the claims of p for the placement whose id is the SQL
// self (with its arguments): one statement per hundred claims, as a submit's
// statements are most of its cost.
func (d *DB) insertClaims(ctx context.Context, tx *sqlx.Tx, tenantID int64, self string, selfArgs []any, p planner.Placement) error {
	for chunk := range slices.Chunk(p.Plan.Claims(), claimChunk) {
		var q strings.Builder
		if !d.isPostgres() { // self is "?": SQLite names no VALUES columns
			q.WriteString(`INSERT INTO claims (tenant_id, store_kind, store_name, key, placement_id, shared, dir) VALUES `)
			args := make([]any, 0, 7*len(chunk))
			for i, c := range chunk {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
				args = append(args, tenantID, p.Store.Kind, p.Store.Name, c.Key, selfArgs[0], c.Shared, c.Dir)
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
			continue
		}
		q.WriteString(`INSERT INTO claims (tenant_id, store_kind, store_name, key, placement_id, shared, dir) SELECT ?, ?, ?, v.k, ` + self +
			`, v.s, v.d FROM (VALUES `)
		args := append([]any{tenantID, p.Store.Kind, p.Store.Name}, selfArgs...)
		for i, c := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(CAST(? AS TEXT), CAST(? AS BOOLEAN), CAST(? AS BOOLEAN))")
			args = append(args, c.Key, c.Shared, c.Dir)
		}
		q.WriteString(") AS v (k, s, d)")
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// heldClaims reads the claims placement id holds, with their store. Within a
// chunk of a re-plan (chunkClaims on ctx) the claims of every placement of
// the chunk are read the first time one is needed: a round trip a placement
// took a path move of 1,200 Works 1,200 round trips.
func (d *DB) heldClaims(ctx context.Context, tx *sqlx.Tx, tenantID, id int64) ([]planner.StoredClaim, error) {
	c, ok := ctx.Value(chunkClaimsKey{}).(*chunkClaims)
	if !ok || c.tenantID != tenantID || !c.ids[id] {
		c = &chunkClaims{tenantID: tenantID, ids: map[int64]bool{id: true}} // this placement's alone
	}
	if c.held == nil {
		if err := c.read(ctx, tx); err != nil {
			return nil, err
		}
	}
	return c.held[id], nil
}

type heldClaimRow struct {
	PlacementID int64  `db:"placement_id"`
	Kind        string `db:"store_kind"`
	Name        string `db:"store_name"`
	Key         string `db:"key"`
	Shared      bool   `db:"shared"`
	Dir         bool   `db:"dir"`
}

func (r heldClaimRow) stored() planner.StoredClaim {
	return planner.StoredClaim{Store: planner.StoreKey{Kind: r.Kind, Name: r.Name}, Key: r.Key, Shared: r.Shared, Dir: r.Dir}
}

// chunkClaims are the claims of the placements of one chunk of a re-plan's
// Works, read at once when the first is needed. Only each Work's own
// placements are asked for, before that Work changes them; a chunk rolled
// back to its savepoint must forget what it read (reset).
type chunkClaims struct {
	tenantID int64
	ids      map[int64]bool
	held     map[int64][]planner.StoredClaim // nil until read
}

type chunkClaimsKey struct{}

func (c *chunkClaims) reset() { c.held = nil }

func (c *chunkClaims) read(ctx context.Context, tx *sqlx.Tx) error {
	c.held = make(map[int64][]planner.StoredClaim, len(c.ids))
	ids := make([]int64, 0, len(c.ids))
	for id := range c.ids {
		ids = append(ids, id)
	}
	for chunk := range slices.Chunk(ids, 1000) {
		q, args, err := sqlx.In(`SELECT placement_id, store_kind, store_name, key, shared, dir FROM claims
			WHERE tenant_id = ? AND placement_id IN (?)`, c.tenantID, chunk)
		if err != nil {
			return err
		}
		var rows []heldClaimRow
		if err := tx.SelectContext(ctx, &rows, q, args...); err != nil {
			return err
		}
		for _, r := range rows {
			c.held[r.PlacementID] = append(c.held[r.PlacementID], r.stored())
		}
	}
	return nil
}

// dropClaims forgets the claims of one placement or canary row (column names
// which).
func (d *DB) dropClaims(ctx context.Context, tx *sqlx.Tx, tenantID int64, column string, id int64) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM claims WHERE tenant_id = ? AND `+column+` = ?`, tenantID, id)
	return err
}

// claimCanary replaces the claims of a Destination's canary row.
func (d *DB) claimCanary(ctx context.Context, tx *sqlx.Tx, tenantID int64, k storeKey, id int64, keys []string) error {
	if err := d.dropClaims(ctx, tx, tenantID, "canary_id", id); err != nil {
		return err
	}
	for _, key := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO claims (tenant_id, store_kind, store_name, key, canary_id)
			VALUES (?, ?, ?, ?, ?)`, tenantID, k.kind, k.name, key, id); err != nil {
			return err
		}
	}
	return nil
}

// Claimed answers which of keys, and which claims below prefixes (each ending in
// "/"), are wanted in the store by a live placement or canary file: a writer
// never deletes those. Claims on directories come back with a trailing "/".
func (d *DB) Claimed(ctx context.Context, store tenants.StoreRef, keys, prefixes []string) ([]string, error) {
	var out []string
	for chunk := range slices.Chunk(keys, 200) {
		pressure.Pace(ctx) // a full rewrite's check, while submits pour in
		q, args, err := sqlx.In(`SELECT DISTINCT key FROM claims WHERE tenant_id = ? AND store_kind = ? AND store_name = ?
			AND key IN (?)`, store.TenantID, store.Kind, store.Name, chunk)
		if err != nil {
			return nil, err
		}
		var got []string
		if err := d.r.SelectContext(ctx, &got, q, args...); err != nil {
			return nil, fmt.Errorf("read claims: %w", err)
		}
		out = append(out, got...)
	}
	// A hundred prefixes a query, one indexed range each (a full rewrite of a
	// store asks for one per placement: a query each was a sixth of its CPU,
	// and a round trip each to a distant database).
	for chunk := range slices.Chunk(prefixes, claimChunk) {
		pressure.Pace(ctx)
		parts := make([]string, len(chunk))
		args := make([]any, 0, 5*len(chunk))
		for i, p := range chunk {
			parts[i] = `SELECT key, dir FROM claims WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND key > ? AND key < ?`
			args = append(args, store.TenantID, store.Kind, store.Name, p, strings.TrimSuffix(p, "/")+"0")
		}
		var rows []struct {
			Key string `db:"key"`
			Dir bool   `db:"dir"`
		}
		if err := d.r.SelectContext(ctx, &rows, strings.Join(parts, " UNION ALL "), args...); err != nil {
			return nil, fmt.Errorf("read claims: %w", err)
		}
		for _, r := range rows {
			if r.Dir {
				r.Key += "/"
			}
			out = append(out, r.Key)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// GitStoreIDs lists every Git store of every tenant as (tenant id, store id).
func (d *DB) GitStoreIDs(ctx context.Context) ([][2]int64, error) {
	var rows []struct {
		TenantID int64 `db:"tenant_id"`
		ID       int64 `db:"id"`
	}
	if err := d.r.SelectContext(ctx, &rows, `SELECT tenant_id, id FROM git_stores`); err != nil {
		return nil, err
	}
	out := make([]([2]int64), len(rows))
	for i, r := range rows {
		out[i] = [2]int64{r.TenantID, r.ID}
	}
	return out, nil
}
