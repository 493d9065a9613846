package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestReplanLeavesAClashingPlacementUnmade: an edit whose re-plan would place
// a Work's file on a key another Work holds is kept; the Work's new placement
// is not made, and the Work says why, on both databases. (PostgreSQL sends a
// re-plan's clash checks for many Works at once; it used to refuse the whole
// edit with the conflict.)
func TestReplanLeavesAClashingPlacementUnmade(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		// prod writes at its root (mode none): a's x.yaml is prod/x.yaml.
		a := submit(t, d, tid, resourceWork("a", "prod", "x.yaml", "1"), false)
		// Works before and after b, so that b is in the middle of a chunk.
		for i := range 5 {
			submit(t, d, tid, resourceWork(fmt.Sprintf("m%d", i), "prod", fmt.Sprintf("m%d.yaml", i), "1"), false)
		}
		req := tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: "b"},
			DestinationSelectors: map[string]string{"tier": "1"}, Files: []tenants.WorkFile{{Path: "x.yaml", Content: "2"}}}
		b, err := req.Work()
		if err != nil {
			t.Fatal(err)
		}
		bres := submit(t, d, tid, b, false)
		if len(bres.Placements) != 0 {
			t.Fatalf("b placed before the edit: %+v", bres.Placements)
		}
		req.Resource.Name, req.Files[0].Path = "c", "c.yaml"
		c, err := req.Work()
		if err != nil {
			t.Fatal(err)
		}
		cres := submit(t, d, tid, c, false)
		prod, err := d.Destination(ctx, tid, "prod")
		if err != nil {
			t.Fatal(err)
		}
		prod.Labels = map[string]string{"env": "prod", "tier": "1"}
		if _, err := d.SaveDestination(ctx, prod); err != nil {
			t.Fatalf("edit: %v", err)
		}
		after, err := d.Destination(ctx, tid, "prod")
		if err != nil {
			t.Fatal(err)
		}
		if after.Labels["tier"] != "1" {
			t.Errorf("the edit was not kept: labels %v", after.Labels)
		}
		for _, tc := range []struct {
			name   string
			id     int64
			placed bool
		}{{"a", a.Work, true}, {"b", bres.Work, false}, {"c", cres.Work, true}} {
			v, err := d.Work(ctx, tid, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if placed := len(v.Placements) == 1 && v.Placements[0].Destination == "prod"; placed != tc.placed {
				t.Errorf("%s: placements %+v; want placed on prod: %v", tc.name, v.Placements, tc.placed)
			}
			if !tc.placed && (len(v.Unscheduled) != 1 || !strings.Contains(v.Unscheduled[0].Reason, "not placed on Destination \"prod\"") ||
				!strings.Contains(v.Unscheduled[0].Reason, "x.yaml")) {
				t.Errorf("%s: unscheduled %+v; want why it was not placed on prod (x.yaml is taken)", tc.name, v.Unscheduled)
			}
		}
	})
}

// TestReplanOnPostgresSendsWorksTogether: a Destination's edit re-plans every
// Work of the team in its transaction, and on PostgreSQL what the Works change
// goes out a chunk of Works at a time, not one round trip a Work (10,000 Works
// took 27 s 1 ms away); a path move reads the claims its Works hold a chunk
// at a time too.
func TestReplanOnPostgresSendsWorksTogether(t *testing.T) {
	tg, proxy := proxiedPostgres(t)
	d, tid, _ := worksDB(t, tg)
	ctx := context.Background()
	const works = 1200
	for i := range works {
		submit(t, d, tid, resourceWork(fmt.Sprintf("w%04d", i), "dev", "x.yaml", "1"), false)
	}
	dev, err := d.Destination(ctx, tid, "dev")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", tg.url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, tc := range []struct {
		what   string
		labels map[string]string
		path   string
		placed int
	}{
		{"a label added: nothing moves", map[string]string{"env": "dev", "edited": "1"}, "dev", works},
		{"the selector no longer matches: every Work's placement is removed", map[string]string{"env": "staging"}, "dev", 0},
		{"it matches again: every Work is placed again", map[string]string{"env": "dev"}, "dev", works},
		{"the path moves: every Work is placed again at its new keys", map[string]string{"env": "dev"}, "dev-moved", works},
	} {
		dev.Labels, dev.Path = tc.labels, tc.path
		before := proxy.Turns()
		if _, err := d.SaveDestination(ctx, dev); err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		n := proxy.Turns() - before
		t.Logf("%s: %d round trips", tc.what, n)
		if n > 60 { // a few a chunk of 500 Works (a path move plans its Works twice), not one a Work
			t.Errorf("%s: the edit of a team of %d Works made %d round trips; want at most 60", tc.what, works, n)
		}
		var placed int
		if err := raw.QueryRow(`SELECT COUNT(*) FROM placements WHERE tenant_id = $1 AND destination_name = 'dev' AND intent = 'write'`,
			tid).Scan(&placed); err != nil {
			t.Fatal(err)
		}
		if placed != tc.placed {
			t.Errorf("%s: %d Works placed on dev; want %d", tc.what, placed, tc.placed)
		}
	}
}
