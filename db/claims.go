package db

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
)

// claim is one key a placement or a Destination's canary files want in a store
// (see pathing.Plan.Claims).
type claim = pathing.Claim

// claimsOf returns what plan claims.
func claimsOf(plan pathing.Plan) []claim { return plan.Claims() }

// claimRow is a stored claim as the clash query reads it.
type claimRow struct {
	Key         string        `db:"key"`
	PlacementID sql.NullInt64 `db:"placement_id"`
	CanaryID    sql.NullInt64 `db:"canary_id"`
	Dir         bool          `db:"dir"`
	Shared      bool          `db:"shared"`
}

// claimHolder is a claim of the store that clashes with a new one.
type claimHolder struct {
	Key         string `db:"key"`
	Placement   string `db:"placement"`
	WorkID      int64  `db:"work_id"`
	Destination string `db:"destination"`
	Canary      bool   `db:"canary"`
	Dir         bool   `db:"dir"` // an owned directory, not a file
}

// checkClaims answers a conflict, naming the other Work (or canary file) and both
// paths, when plan wants a key that another claim of the store cannot coexist
// with. self is the placement's own id (0 for a new one).
func (d *DB) checkClaims(ctx context.Context, tx *sqlx.Tx, tenantID int64, k storeKey, self int64, plan pathing.Plan,
	workName, dest string) error {
	if err := selfClash(plan, workName, dest); err != nil {
		return err
	}
	for chunk := range slices.Chunk(claimsOf(plan), claimChunk) {
		h, key, err := d.clashAny(ctx, tx, tenantID, k, self, chunk)
		if err != nil {
			return err
		}
		if h != nil {
			return d.conflictWith(ctx, tx, tenantID, h, key, workName, dest)
		}
	}
	return nil
}

// claimChunk is how many keys one clash query checks (a 1,000-file Work costs ten
// queries, not a thousand round trips).
const claimChunk = 100

// clashAny finds, in one query for several claims, a claim of the store (other
// than placement self's) that one of them cannot coexist with: the same key
// (unless both are shared, as an aggregatedYAML target is), a claim on a parent
// directory, or a claim below. It returns that claim and the key it clashes with.
func (d *DB) clashAny(ctx context.Context, tx *sqlx.Tx, tenantID int64, k storeKey, self int64, cs []claim) (*claimHolder, string, error) {
	var exact []string
	shared := map[string]bool{}
	for _, c := range cs {
		exact = append(append(exact, pathing.ParentDirs(c.Key)...), c.Key)
		if c.Shared {
			shared[c.Key] = true
		}
	}
	slices.Sort(exact)
	exact = slices.Compact(exact)
	// One indexed lookup per branch (ORed ranges make SQLite scan the store), and
	// nothing around them: an outer query sorting the union's rows costs SQLite
	// ephemeral tables on every submit. The clashing claims are few (none, as a
	// rule); the first by key is chosen here.
	const branch = `SELECT key, placement_id, canary_id, dir, shared FROM claims
		WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND (placement_id IS NULL OR placement_id <> ?) AND `
	in, inArgs, err := sqlx.In(branch+`key IN (?)`, tenantID, k.kind, k.name, self, exact)
	if err != nil {
		return nil, "", err
	}
	parts := []string{in}
	args := inArgs
	for _, c := range cs {
		parts = append(parts, branch+`key > ? AND key < ?`)
		args = append(args, tenantID, k.kind, k.name, self, c.Key+"/", c.Key+"0")
	}
	var rows []claimRow
	if err := tx.SelectContext(ctx, &rows, strings.Join(parts, " UNION ALL "), args...); err != nil {
		return nil, "", err
	}
	rows = slices.DeleteFunc(rows, func(r claimRow) bool {
		return r.Shared && shared[r.Key] // an aggregatedYAML target is shared
	})
	if len(rows) == 0 {
		return nil, "", nil
	}
	first := slices.MinFunc(rows, func(a, b claimRow) int { return strings.Compare(a.Key, b.Key) })
	h := claimHolder{Key: first.Key, Dir: first.Dir, Canary: first.CanaryID.Valid}
	switch {
	case first.PlacementID.Valid:
		err = tx.QueryRowxContext(ctx, `SELECT name, work_id, destination_name FROM placements WHERE id = ?`,
			first.PlacementID.Int64).Scan(&h.Placement, &h.WorkID, &h.Destination)
	case h.Canary:
		err = tx.GetContext(ctx, &h.Destination, `SELECT destination_name FROM canaries WHERE id = ?`, first.CanaryID.Int64)
	}
	if err != nil {
		return nil, "", err
	}
	for _, c := range cs {
		if h.Key == c.Key || strings.HasPrefix(c.Key, h.Key+"/") || strings.HasPrefix(h.Key, c.Key+"/") {
			return &h, c.Key, nil
		}
	}
	return &h, cs[0].Key, nil
}

// selfClash refuses a plan one of whose files is a parent directory of another of
// its own files ("app" and "app/config.yaml"): no store can hold both.
func selfClash(plan pathing.Plan, workName, dest string) error {
	keys := make([]string, 0, len(plan.Files)+1)
	for _, c := range claimsOf(plan) {
		if !c.Dir && !c.Shared {
			keys = append(keys, c.Key)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		i, _ := slices.BinarySearch(keys, k+"/")
		if i < len(keys) && strings.HasPrefix(keys[i], k+"/") {
			return tenants.Conflict("Work %q cannot write both %q and %q on Destination %q: one would have to be a file and a directory at once",
				workName, k, keys[i], dest)
		}
	}
	return nil
}

// claimPlacement replaces the claims of placement id with those of plan (checked
// with checkClaims first). fresh says the placement row was inserted by this
// transaction, so it has no claims to drop.
func (d *DB) claimPlacement(ctx context.Context, tx *sqlx.Tx, tenantID int64, k storeKey, id int64, plan pathing.Plan, fresh bool) error {
	if !fresh {
		if err := d.dropClaims(ctx, tx, tenantID, "placement_id", id); err != nil {
			return err
		}
	}
	// One statement per hundred claims: a submit's statements are most of its cost.
	for chunk := range slices.Chunk(claimsOf(plan), claimChunk) {
		var q strings.Builder
		q.WriteString(`INSERT INTO claims (tenant_id, store_kind, store_name, key, placement_id, shared, dir) VALUES `)
		args := make([]any, 0, 7*len(chunk))
		for i, c := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, tenantID, k.kind, k.name, c.Key, id, c.Shared, c.Dir)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// conflictWith is the 409 for a key of Work workName that clashes with h.
func (d *DB) conflictWith(ctx context.Context, tx *sqlx.Tx, tenantID int64, h *claimHolder, key, workName, dest string) error {
	how := "the same path"
	what := "writes"
	if h.Dir {
		what = "owns the directory"
	}
	switch {
	case h.Dir && strings.HasPrefix(key, h.Key+"/"):
		how = fmt.Sprintf("everything below %q is that Work's (it replaces the directory whole on every write)", h.Key)
	case strings.HasPrefix(key, h.Key+"/"):
		how = fmt.Sprintf("%q is a file or directory there, so %q cannot be created below it", h.Key, key)
	case strings.HasPrefix(h.Key, key+"/"):
		how = fmt.Sprintf("%q lies below %q, so %q cannot be a file", h.Key, key, key)
	}
	if h.Canary {
		return tenants.Conflict("Work %q cannot write %q on Destination %q: it clashes with the Destination's canary file %q (%s)",
			workName, key, dest, h.Key, how)
	}
	other := "#" + itoa(h.WorkID)
	if w, err := d.findWork(ctx, tx, tenantID, h.WorkID); err == nil {
		other = fmt.Sprintf("%q (id %d)", w.Name(), h.WorkID)
	}
	return tenants.Conflict("Work %q cannot write %q on Destination %q: Work %s already %s %q there (placement %q); %s. Two Works may not share a file, or use one's file as the other's directory",
		workName, key, h.Destination, other, what, h.Key, h.Placement, how)
}

// holdsClaims reports whether placement id already holds exactly the claims of
// plan in store k.
func (d *DB) holdsClaims(ctx context.Context, tx *sqlx.Tx, tenantID, id int64, k storeKey, plan pathing.Plan) (bool, error) {
	var rows []struct {
		Kind   string `db:"store_kind"`
		Name   string `db:"store_name"`
		Key    string `db:"key"`
		Shared bool   `db:"shared"`
		Dir    bool   `db:"dir"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT store_kind, store_name, key, shared, dir FROM claims WHERE tenant_id = ? AND placement_id = ?`,
		tenantID, id); err != nil {
		return false, err
	}
	want := map[claim]bool{}
	for _, c := range claimsOf(plan) {
		want[c] = true
	}
	held := map[claim]bool{}
	for _, r := range rows {
		if r.Kind != k.kind || r.Name != k.name {
			return false, nil
		}
		held[claim{Key: r.Key, Shared: r.Shared, Dir: r.Dir}] = true
	}
	return maps.Equal(want, held), nil
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
	for _, p := range prefixes {
		var rows []struct {
			Key string `db:"key"`
			Dir bool   `db:"dir"`
		}
		if err := d.r.SelectContext(ctx, &rows, `SELECT DISTINCT key, dir FROM claims
			WHERE tenant_id = ? AND store_kind = ? AND store_name = ? AND key > ? AND key < ?`,
			store.TenantID, store.Kind, store.Name, p, strings.TrimSuffix(p, "/")+"0"); err != nil {
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
