package db

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestWorksPageMatchesModel: every filter of the Works list (each state, a
// Destination, a search, and their combinations) answers exactly the Works a
// direct reading of the definitions picks (tenants.WorkState*), in the list's
// order, page after page, with the right total and placement counts — on SQLite
// and PostgreSQL, on teams shaped three ways (mostly written, mostly pending,
// every state alike; Works placed 0–3 times, some waiting, some being deleted;
// another team's rows beside), and whichever way the page and the count are
// read (in the list's order, or from the placements by id: the chooser).
func TestWorksPageMatchesModel(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			o := Options{Path: filepath.Join(t.TempDir(), "m.db")}
			if dialect == "postgres" {
				o = Options{URL: testpeers.Postgres(t).NewDatabase(t)}
			}
			o.Sealer, _ = NewSealer(make([]byte, 32))
			d, err := Open(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			for i, shape := range []map[string]int{
				{tenants.StateWritten: 90, tenants.StatePending: 3, tenants.StateFailed: 1, tenants.StateRetrying: 1},
				{tenants.StatePending: 70, tenants.StateWriting: 10, tenants.StateWritten: 20},
				{tenants.StatePending: 1, tenants.StateWriting: 1, tenants.StateRetrying: 1, tenants.StateWritten: 1,
					tenants.StateFailed: 1, tenants.StateProposed: 1, tenants.StateRejected: 1},
			} {
				t.Run(fmt.Sprint("shape", i), func(t *testing.T) { checkModel(t, d, shape, uint64(i)) })
			}
		})
	}
}

// modelWork is a Work as the model sees it.
type modelWork struct {
	id         int64
	name, text string
	at         time.Time
	waiting    bool
	deleted    bool
	states     map[string]int
	dests      map[string]bool
}

func checkModel(t *testing.T, d *DB, shape map[string]int, seed uint64) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(seed, 26))
	var ids []int64
	for _, slug := range []string{"one", "other"} {
		ten, err := d.CreateTenant(ctx, fmt.Sprint(slug, seed), "", "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ten.ID)
	}
	var bag []string
	for st, n := range shape {
		for range n {
			bag = append(bag, st)
		}
	}
	slices.Sort(bag)
	tx, err := d.w.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var model []*modelWork
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 400 {
		tid := ids[0]
		if i%4 == 3 {
			tid = ids[1]
		}
		w := &modelWork{name: fmt.Sprintf("r-%03d", i), at: start.Add(time.Duration(i/3) * time.Second), // ties: the id orders them
			waiting: rnd.IntN(20) == 0, deleted: rnd.IntN(20) == 0, states: map[string]int{}, dests: map[string]bool{}}
		promise := []string{"redis", "postgres", "kafka"}[rnd.IntN(3)]
		w.text = promise + "/default/" + w.name
		un := "[]"
		if w.waiting {
			un = `[{"group":1,"directory":".","selectors":{"env":"x"},"reason":"no Destination matches env=x"}]`
		}
		if err := tx.GetContext(ctx, &w.id, `INSERT INTO works (tenant_id, promise, res_namespace, res_name, unscheduled, deleted,
			created_at, updated_at) VALUES (?, ?, 'default', ?, ?, ?, ?, ?) RETURNING id`, tid, promise, w.name, un, w.deleted, w.at, w.at); err != nil {
			t.Fatal(err)
		}
		for g := range rnd.IntN(4) { // 0–3 placements, on distinct Destinations
			dest := fmt.Sprint("d", (i+g)%5)
			st := bag[rnd.IntN(len(bag))]
			if _, err := tx.ExecContext(ctx, `INSERT INTO placements (tenant_id, work_id, group_index, directory, destination_id,
				destination_name, mode, store_kind, store_name, name, plan, plan_hash, state, updated_at)
				VALUES (?, ?, ?, '.', ?, ?, 'nestedByMetadata', 'GitStateStore', 'repo', ?, '{}', 'h', ?, ?)`,
				tid, w.id, g, (i+g)%5, dest, w.name+"."+dest, st, w.at); err != nil {
				t.Fatal(err)
			}
			w.states[st]++
			w.dests[dest] = true
		}
		if tid == ids[0] {
			model = append(model, w)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(model, func(a, b *modelWork) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return int(b.id - a.id)
	})
	choosers := map[string]chooser{
		"as WorksPage": byID,
		"in order":     func(*placementSet, int, int, bool) bool { return false },
		"by id":        func(s *placementSet, _, _ int, _ bool) bool { return s != nil },
	}
	for _, state := range append([]string{""}, tenants.WorkStates...) {
		for _, dest := range []string{"", "d1", "d9"} {
			for _, search := range []string{"", "redis", "r-01"} {
				q := WorkQuery{State: state, Destination: dest, Search: search, Limit: 40}
				want := modelMatches(model, q)
				for name, c := range choosers {
					got, total := walkPages(t, d, ids[0], q, c)
					if !slices.Equal(got, want) || total != len(want) {
						t.Fatalf("%+v %s: %d Works (total %d) %v,\nwant %d %v", q, name, len(got), total, got, len(want), want)
					}
				}
			}
		}
	}
	// The placement counts of a page are the Works' own.
	page, err := d.WorksPage(ctx, ids[0], WorkQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, item := range page.Items {
		m := model[i]
		if item.ID != m.id || fmt.Sprint(item.States) != fmt.Sprint(m.states) || (item.Unscheduled > 0) != m.waiting {
			t.Fatalf("item %d: %+v, want %+v", i, item, m)
		}
	}
}

// modelMatches lists the names of the Works q matches, by the definitions of
// tenants.WorkState*.
func modelMatches(model []*modelWork, q WorkQuery) []string {
	var out []string
	for _, w := range model {
		ok := true
		switch q.State {
		case tenants.WorkStatePending:
			ok = w.states[tenants.StatePending]+w.states[tenants.StateWriting] > 0
		case tenants.WorkStateWaiting:
			ok = w.waiting
		case tenants.WorkStateDeleting:
			ok = w.deleted
		case tenants.WorkStateWritten:
			n := 0
			for _, c := range w.states {
				n += c
			}
			ok = !w.waiting && !w.deleted && n > 0 && w.states[tenants.StateWritten] == n
		case "":
		default:
			ok = w.states[q.State] > 0
		}
		if q.Destination != "" && !w.dests[q.Destination] {
			ok = false
		}
		for _, word := range strings.Fields(q.Search) {
			if !strings.Contains(w.text, word) {
				ok = false
			}
		}
		if ok {
			out = append(out, w.name)
		}
	}
	return out
}

// walkPages reads every page of q and answers the Works' names and the
// total the first page gave (every page must give the same).
func walkPages(t *testing.T, d *DB, tenantID int64, q WorkQuery, c chooser) ([]string, int) {
	t.Helper()
	var names []string
	total := -1
	for {
		p, err := d.worksPage(context.Background(), tenantID, q, c)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		if total >= 0 && p.Total != total {
			t.Fatalf("%+v: a later page's total is %d, the first page's %d", q, p.Total, total)
		}
		total = p.Total
		for _, w := range p.Items {
			names = append(names, w.Resource.Name)
		}
		if p.Next == "" {
			return names, total
		}
		q.Before = p.Next
	}
}
