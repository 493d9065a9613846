package db

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestResubmitKeepsItsClaims: a Work submitted again with new contents at the
// same paths (a pipeline's every run) keeps its claims rows instead of deleting,
// re-checking and inserting them; one whose paths change gets new claims, checked
// against the other Works'.
func TestResubmitKeepsItsClaims(t *testing.T) {
	s, _ := NewSealer(make([]byte, 32))
	d, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "s.db"), Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	ten, _ := d.CreateTenant(ctx, "team-a", "", "")
	g := tenants.GitStateStore{TenantID: ten.ID, Name: "repo", URL: "https://git.example.com/r.git", Path: "s"}
	g.Normalize()
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	dest := tenants.Destination{TenantID: ten.ID, Name: "prod", Labels: map[string]string{"env": "prod"}, Path: "prod",
		StoreKind: tenants.KindGit, StoreName: "repo", Mode: tenants.ModeNone}
	dest.Normalize()
	if _, err := d.SaveDestination(ctx, dest); err != nil {
		t.Fatal(err)
	}
	submit := func(name, path, content string) error {
		req := tenants.WorkRequest{Promise: "redis", Resource: &tenants.ResourceRef{Namespace: "default", Name: name},
			DestinationSelectors: map[string]string{"env": "prod"}, Files: []tenants.WorkFile{{Path: path, Content: content}}}
		w, err := req.Work()
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.SubmitWork(ctx, ten.ID, w, false)
		return err
	}
	claims := func() (ids []int64, keys []string) {
		rows, err := d.w.QueryContext(ctx, `SELECT c.id, c.key FROM claims c JOIN placements p ON p.id = c.placement_id
			JOIN works w ON w.id = p.work_id WHERE w.res_name = 'a' ORDER BY c.id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var key string
			if err := rows.Scan(&id, &key); err != nil {
				t.Fatal(err)
			}
			ids, keys = append(ids, id), append(keys, key)
		}
		return ids, keys
	}
	if err := submit("a", "app/x.yaml", "1"); err != nil {
		t.Fatal(err)
	}
	// Claims made after a's, so that rows of a's made again would get new ids
	// (SQLite hands out the highest id plus one).
	if err := submit("c", "other/o.yaml", "1"); err != nil {
		t.Fatal(err)
	}
	before, _ := claims()
	if err := submit("a", "app/x.yaml", "2"); err != nil {
		t.Fatal(err)
	}
	if after, _ := claims(); !slices.Equal(after, before) {
		t.Errorf("claims after a re-submit with new contents: %v, want the same rows %v", after, before)
	}
	if err := submit("a", "app/y.yaml", "3"); err != nil {
		t.Fatal(err)
	}
	if _, keys := claims(); !slices.Contains(keys, "s/prod/app/y.yaml") || slices.Contains(keys, "s/prod/app/x.yaml") {
		t.Errorf("claims after the path changed: %q, want app/y.yaml's, not app/x.yaml's", keys)
	}
	if err := submit("b", "app/y.yaml/z", "4"); !errors.Is(err, tenants.ErrConflict) {
		t.Errorf("another Work under a's file: %v, want a conflict", err)
	}
	if err := submit("b", "app/x.yaml", "4"); err != nil {
		t.Errorf("another Work at a's old path: %v, want it accepted", err)
	}
}
