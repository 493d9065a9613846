package db

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

// WorkQuery selects one page of a tenant's Works, most recently updated first.
type WorkQuery struct {
	// Search matches promise, resource namespace or resource name (substring, any
	// case); several words (or "namespace/name") must all match. At most
	// MaxSearch characters and MaxSearchWords words.
	Search      string
	State       string // one of WorkStates, or "" for all
	Destination string // placed on this Destination (by name)
	TriggerID   *int64 // last submitted by this trigger
	// Before is the cursor of the previous page's Next ("" = first page).
	Before string
	Limit  int // page size; 50 when 0
}

// WorkPage is one page of Works, the total matching the filters, and the cursor
// of the next page ("" = last page).
type WorkPage struct {
	Items []tenants.WorkSummary `json:"items"`
	Total int                   `json:"total"`
	// TotalCapped: more than Total Works match; counting stops at MaxCount so a
	// filter over 100,000 Works still answers at once.
	TotalCapped bool   `json:"totalCapped,omitempty"`
	Next        string `json:"next,omitempty"`
}

// MaxCount is where the Works list stops counting matches.
const MaxCount = 10_000

// errBadCursor refuses a Before cursor this server did not issue.
var errBadCursor = tenants.Invalid("before", "is not a cursor from a previous page")

// WorksPage answers one page of a tenant's Works for the list's search, filters and
// pagination. The page is chosen in the list's order on the index works_search
// (migration 0021), the filters by placement probing placements_state_work and
// placements_destination_work (0010) for each Work, then the page's rows and
// placement counts are read for its Works only. A filter by placement that few
// placements match (failed, pending when the queue is idle, a small
// Destination) is read the other way round: its placements first, then their
// Works (see drivingSet); the total is counted that way too.
func (d *DB) WorksPage(ctx context.Context, tenantID int64, q WorkQuery) (WorkPage, error) {
	return d.worksPage(ctx, tenantID, q, byID)
}

// chooser decides how a page or count of a filter by placement is read (see
// byID); tests pass others to check both ways answer the same.
type chooser func(set *placementSet, works, limit int, search bool) bool

func (d *DB) worksPage(ctx context.Context, tenantID int64, q WorkQuery, byID chooser) (WorkPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	where, args, err := q.where(tenantID, d.isPostgres())
	if err != nil {
		return WorkPage{}, err
	}
	drive, works, err := d.drivingSet(ctx, tenantID, q)
	if err != nil {
		return WorkPage{}, err
	}
	page := WorkPage{Items: []tenants.WorkSummary{}}
	pageWhere, pageArgs := where, args
	if q.Before != "" {
		at, id, err := parseCursor(q.Before)
		if err != nil {
			return WorkPage{}, err
		}
		pageWhere += ` AND (w.updated_at < ? OR (w.updated_at = ? AND w.id < ?))`
		pageArgs = append(append([]any{}, args...), at, at, id)
	}
	from, on, fromArgs := worksFrom(drive, byID(drive, works, q.Limit, q.Search != ""))
	var rows []workRow
	if err := d.r.SelectContext(ctx, &rows, pageSQL(from, on+pageWhere), concat(fromArgs, pageArgs, []any{q.Limit + 1})...); err != nil {
		return WorkPage{}, err
	}
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
		last := rows[len(rows)-1]
		page.Next = cursor(last.UpdatedAt, last.ID)
	}
	if q.Before == "" && page.Next == "" {
		page.Total = len(rows) // the first page holds every match: no need to count
	} else {
		from, on, fromArgs := worksFrom(drive, byID(drive, works, 0, q.Search != ""))
		if err := d.r.GetContext(ctx, &page.Total, countSQL(from, on+where), concat(fromArgs, args, []any{MaxCount + 1})...); err != nil {
			return WorkPage{}, err
		}
		if page.Total > MaxCount {
			page.Total, page.TotalCapped = MaxCount, true
		}
	}
	counts, err := d.stateCounts(ctx, tenantID, rows)
	if err != nil {
		return WorkPage{}, err
	}
	for _, r := range rows {
		page.Items = append(page.Items, r.summary(counts[r.ID]))
	}
	return page, nil
}

// byID tells whether the Works matching a filter by placement are better read
// by id from the placements the filter matches (size of them, the tenant having
// works Works) than found in the list's order with a probe per Work, for a page
// of limit Works (limit 0: to count them all). Measured (CPU time, SQLite, a
// team of 10,000 Works among 100,000): reading a Work by id costs ~5 µs (its
// wide row, then a sort), a step along the index with the probes 0.2–0.7 µs,
// and the walk stops after about limit × works / size steps, or goes through
// every Work to count. A search is evaluated on the index itself, cheaper
// still. At 10,000 Works a page is read by id when fewer than ~220 placements
// match, a count when fewer than 1,000.
func byID(set *placementSet, works, limit int, search bool) bool {
	switch {
	case set == nil || set.size > MaxCount:
		return false
	case search:
		return set.size <= 100
	case limit == 0:
		return 10*set.size < works
	}
	return 10*set.size*set.size < (limit+1)*works
}

// placementSet is the placements of a tenant that a filter by placement
// matches: cond on placements p, and how many there are (up to MaxCount+1).
type placementSet struct {
	cond string
	args []any
	size int
}

// sets are the placement sets of q's filters by placement: its state
// (placements in that state; for written, the written ones) and its
// Destination.
func (q WorkQuery) sets() []placementSet {
	var out []placementSet
	switch q.State {
	case tenants.StateWriting, tenants.StateRetrying, tenants.StateFailed, tenants.StateProposed, tenants.StateRejected,
		tenants.StateWritten:
		out = append(out, placementSet{cond: `p.state = ?`, args: []any{q.State}})
	case tenants.WorkStatePending:
		out = append(out, placementSet{cond: `p.state IN ('pending', 'writing')`})
	}
	if q.Destination != "" {
		out = append(out, placementSet{cond: `p.destination_name = ?`, args: []any{q.Destination}})
	}
	return out
}

// drivingSet answers the smallest placement set of q's filters by placement
// and how many Works the tenant has (up to maxWorks); nil when q has none, when
// a trigger narrows the Works more surely (its index is read in the list's
// order), and on PostgreSQL. The sizes are counted on the indexes (tenant_id,
// state, work_id), (tenant_id, destination_name, work_id) and works_trigger,
// in one statement, each stopping past MaxCount (maxWorks).
func (d *DB) drivingSet(ctx context.Context, tenantID int64, q WorkQuery) (*placementSet, int, error) {
	sets := q.sets()
	if len(sets) == 0 || q.TriggerID != nil || d.isPostgres() {
		// PostgreSQL's statistics know how many placements a state or a
		// Destination has (most common values): its planner picks the order.
		return nil, 0, nil
	}
	counts := []string{`(SELECT COUNT(*) FROM (SELECT 1 FROM works WHERE tenant_id = ? LIMIT ` + strconv.Itoa(maxWorks) + `) m)`}
	args := []any{tenantID}
	for _, s := range sets {
		counts = append(counts, `(SELECT COUNT(*) FROM (SELECT 1 FROM placements p WHERE p.tenant_id = ? AND `+s.cond+`
			LIMIT `+strconv.Itoa(MaxCount+1)+`) m)`)
		args = append(append(args, tenantID), s.args...)
	}
	var works int
	sizes := []any{&works}
	for i := range sets {
		sizes = append(sizes, &sets[i].size)
	}
	if err := d.r.QueryRowxContext(ctx, `SELECT `+strings.Join(counts, ", "), args...).Scan(sizes...); err != nil {
		return nil, 0, err
	}
	best := &sets[0]
	for i := range sets {
		if sets[i].size < best.size {
			best = &sets[i]
		}
	}
	best.args = append([]any{tenantID}, best.args...)
	return best, works, nil
}

// maxWorks is where drivingSet stops counting a tenant's Works: past it, a
// walk in the list's order is too long anyway.
const maxWorks = 1_000_000

// worksFrom is the FROM clause of the list's queries and the condition that
// goes first in their WHERE: the tenant's Works (w), or with byID, the Works of
// the placements of set s, read first (CROSS JOIN keeps SQLite from reordering
// the two).
func worksFrom(s *placementSet, byID bool) (from, on string, args []any) {
	if !byID {
		return `works w`, ``, nil
	}
	return `(SELECT DISTINCT p.work_id FROM placements p WHERE p.tenant_id = ? AND ` + s.cond + `) s
		CROSS JOIN works w`, `w.id = s.work_id AND `, s.args
}

// concat joins argument lists into a new one.
func concat(lists ...[]any) []any {
	var out []any
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// pageSQL selects the rows of one page (its size the last argument) of the Works
// matching where: the ids first (a search's filter is evaluated on the index
// works_search, in the list's order, stopping at the page's end), then the rows
// of those ids only.
func pageSQL(from, where string) string {
	return `SELECT r.id, r.tenant_id, r.promise, r.res_namespace, r.res_name, r.pipeline,
		'[]' AS workload_groups, r.unscheduled, r.trigger_id, r.deleted, r.created_at, r.updated_at
		FROM works r WHERE r.id IN (SELECT w.id FROM ` + from + ` WHERE ` + where + ` ORDER BY w.updated_at DESC, w.id DESC LIMIT ?)
		ORDER BY r.updated_at DESC, r.id DESC`
}

// countSQL counts the Works matching where, up to the last argument.
func countSQL(from, where string) string {
	return `SELECT COUNT(*) FROM (SELECT 1 FROM ` + from + ` WHERE ` + where + ` LIMIT ?) AS m`
}

// searchText is what a search word must be a substring of: promise, namespace
// and name, lower-cased, joined by '/'. No word contains a '/' (it separates
// words), so a word is in it exactly when it is in one of the three. It is spelt
// exactly as the expression of the works_search index (migration 0021), so that a
// search reads the index instead of every row.
const searchText = `lower(w.promise || '/' || w.res_namespace || '/' || w.res_name)`

// Bounds of a search (WorkQuery.Search, the list's ?q). Each word is one LIKE
// condition: SQLite refuses a pattern over 50,000 bytes ("LIKE or GLOB pattern
// too complex") and an expression over 1,000 levels deep (500 words), which
// answered 500; PostgreSQL would scan with any of them. Both answer 422 instead.
const (
	MaxSearch      = 1000 // characters
	MaxSearchWords = 20
)

// searchWords splits a search into its words, lower-cased, or refuses one over
// the bounds.
func searchWords(search string) ([]string, error) {
	if n := utf8.RuneCountInString(search); n > MaxSearch {
		return nil, tenants.Invalid("q", "is %d characters long; a search is at most %d characters", n, MaxSearch)
	}
	words := strings.FieldsFunc(strings.ToLower(search), func(r rune) bool { return r == ' ' || r == '/' })
	if len(words) > MaxSearchWords {
		return nil, tenants.Invalid("q", "has %d words; a search is at most %d words", len(words), MaxSearchWords)
	}
	return words, nil
}

// unwrittenStates are the placement states but written, as SQL literals.
var unwrittenStates = func() string {
	var out []string
	for _, s := range tenants.PlacementStates {
		if s != tenants.StateWritten {
			out = append(out, "'"+s+"'")
		}
	}
	return strings.Join(out, ", ")
}()

// where builds the filter of q for PostgreSQL (pg) or SQLite; the table is
// aliased w.
func (q WorkQuery) where(tenantID int64, pg bool) (string, []any, error) {
	conds, args := []string{"w.tenant_id = ?"}, []any{tenantID}
	words, err := searchWords(q.Search)
	if err != nil {
		return "", nil, err
	}
	for _, word := range words {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(word) + "%"
		conds = append(conds, searchText+` LIKE ? ESCAPE '\'`)
		args = append(args, like)
	}
	switch q.State {
	case "":
	case tenants.StateWriting, tenants.StateRetrying, tenants.StateFailed, tenants.StateProposed, tenants.StateRejected:
		conds = append(conds, `EXISTS (SELECT 1 FROM placements p WHERE p.work_id = w.id AND p.tenant_id = ? AND p.state = ?)`)
		args = append(args, tenantID, q.State)
	case tenants.WorkStatePending:
		conds = append(conds, `EXISTS (SELECT 1 FROM placements p WHERE p.work_id = w.id AND p.tenant_id = ? AND p.state IN ('pending', 'writing'))`)
		args = append(args, tenantID)
	case tenants.WorkStateWaiting:
		conds = append(conds, `w.unscheduled <> '[]'`)
	case tenants.WorkStateWritten:
		if pg {
			// Placed, no placement in any other state, nothing waiting, not
			// being deleted. (Probing the tenant's written placements instead
			// made PostgreSQL join them all before the page's first Work.)
			conds = append(conds, `w.unscheduled = '[]' AND NOT w.deleted
				AND EXISTS (SELECT 1 FROM placements p WHERE p.work_id = w.id)
				AND NOT EXISTS (SELECT 1 FROM placements p WHERE p.work_id = w.id AND p.state <> 'written')`)
			break
		}
		// SQLite: placed (a written placement, probed on placements_state_work)
		// and not one of the few Works that are not written, gathered once from
		// the indexes placements_state_work, works_waiting and works_deleted (a
		// Bloom filter and a lookup per Work), instead of reading every Work's
		// wide row (2 µs each) and every placement's.
		conds = append(conds, `EXISTS (SELECT 1 FROM placements p WHERE p.tenant_id = ? AND p.state = 'written' AND p.work_id = w.id)
			AND w.id NOT IN (SELECT p.work_id FROM placements p WHERE p.tenant_id = ? AND p.state IN (`+unwrittenStates+`)
			UNION ALL SELECT u.id FROM works u WHERE u.tenant_id = ? AND u.unscheduled <> '[]'
			UNION ALL SELECT u.id FROM works u WHERE u.tenant_id = ? AND u.deleted)`)
		args = append(args, tenantID, tenantID, tenantID, tenantID)
	case tenants.WorkStateDeleting:
		conds = append(conds, `w.deleted`)
	default:
		return "", nil, tenants.Invalid("state", "must be one of %s", strings.Join(tenants.WorkStates, ", "))
	}
	if q.Destination != "" {
		conds = append(conds, `EXISTS (SELECT 1 FROM placements p WHERE p.work_id = w.id AND p.tenant_id = ? AND p.destination_name = ?)`)
		args = append(args, tenantID, q.Destination)
	}
	if q.TriggerID != nil {
		conds = append(conds, `w.trigger_id = ?`)
		args = append(args, *q.TriggerID)
	}
	return strings.Join(conds, " AND "), args, nil
}

// stateCountsSQL counts the placements of some Works by state on the index
// placements_state_work (tenant_id, state, work_id) alone: one probe per state
// and Work. Never the placements' rows: state is their last column, after the
// plan, and reading it for a page of 1,000 Works took 17 ms at a million Works
// (2.3 ms on the index). Never the tenant's placements in full (5 ms at 100,000
// placements), nor its Works (SQLite's statistics at a million Works made it
// walk the team's 10,000 on works_trigger to find the page's by id).
var stateCountsSQL = `SELECT p.work_id, p.state, COUNT(*) AS n FROM placements p
	WHERE p.tenant_id = ? AND p.state IN (` + allPlacementStates + `) AND p.work_id IN (?) GROUP BY p.work_id, p.state`

// allPlacementStates is every placement state, quoted for an IN list.
var allPlacementStates = "'" + strings.Join(tenants.PlacementStates, "', '") + "'"

// stateCounts counts the placements of rows' Works by state.
func (d *DB) stateCounts(ctx context.Context, tenantID int64, rows []workRow) (map[int64]map[string]int, error) {
	out := map[int64]map[string]int{}
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	query, args, err := sqlx.In(stateCountsSQL, tenantID, ids)
	if err != nil {
		return nil, err
	}
	var counts []struct {
		WorkID int64  `db:"work_id"`
		State  string `db:"state"`
		N      int    `db:"n"`
	}
	if err := d.r.SelectContext(ctx, &counts, query, args...); err != nil {
		return nil, err
	}
	for _, c := range counts {
		if out[c.WorkID] == nil {
			out[c.WorkID] = map[string]int{}
		}
		out[c.WorkID][c.State] = c.N
	}
	return out, nil
}

// WaitingWorks lists a tenant's Works placed nowhere for at least one workload
// group (newest first, at most limit) and how many there are, for the Overview.
func (d *DB) WaitingWorks(ctx context.Context, tenantID int64, limit int) ([]tenants.WaitingWork, int, error) {
	var n int
	if err := d.r.GetContext(ctx, &n, waitingCountSQL, tenantID); err != nil {
		return nil, 0, err
	}
	var rows []workRow
	if err := d.r.SelectContext(ctx, &rows, `SELECT `+workCols+` FROM works
		WHERE tenant_id = ? AND unscheduled <> '[]' ORDER BY updated_at DESC, id DESC LIMIT ?`, tenantID, limit); err != nil {
		return nil, 0, err
	}
	out := make([]tenants.WaitingWork, len(rows))
	for i, r := range rows {
		w := r.domain()
		out[i] = tenants.WaitingWork{ID: r.ID, Name: w.Name(), UpdatedAt: r.UpdatedAt, Unscheduled: r.unscheduled()}
	}
	return out, n, nil
}

// waitingCountSQL counts a tenant's Works placed nowhere for some group, on the
// partial index works_waiting.
const waitingCountSQL = `SELECT COUNT(*) FROM works WHERE tenant_id = ? AND unscheduled <> '[]'`

// cursor encodes a row's position in the list's order.
func cursor(at time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixNano(), 10) + "." + strconv.FormatInt(id, 10)))
}

func parseCursor(c string) (time.Time, int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, 0, errBadCursor
	}
	ns, id, ok := strings.Cut(string(raw), ".")
	n, err1 := strconv.ParseInt(ns, 10, 64)
	i, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, 0, errBadCursor
	}
	return time.Unix(0, n).UTC(), i, nil
}

// unscheduled decodes the groups of the row that found no Destination.
func (r workRow) unscheduled() []tenants.Unscheduled {
	var un []tenants.Unscheduled
	_ = json.Unmarshal([]byte(r.Unscheduled), &un)
	return un
}
