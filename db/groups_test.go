package db_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// TestGroupRoles: a role from IdP groups counts with the member's own (the higher
// wins), changes with the mapping at once, ends at the next sign-in without the
// group, and lapses GroupAccessTTL after the sign-in that granted it.
func TestGroupRoles(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s, _ := db.NewSealer(key(1))
	d, err := db.Open(context.Background(), db.Options{Path: filepath.Join(t.TempDir(), "g.db"), Sealer: s, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	team, _ := d.CreateTenant(ctx, "team-a", "", "")
	signIn := func(groups ...string) tenants.User {
		u, err := d.UpsertUser(ctx, tenants.User{Issuer: "i", Subject: "bob", Email: "bob@example.com", Groups: groups}, true)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	role := func(u tenants.User) tenants.Role {
		r, _ := d.RoleOf(ctx, team.ID, u.ID)
		return r
	}
	if err := d.SetGroupRoles(ctx, team.ID, []tenants.GroupRole{{Group: "devs", Role: tenants.RoleViewer}, {Group: "platform", Role: tenants.RoleEditor}}); err != nil {
		t.Fatal(err)
	}
	u := signIn("devs", "platform")
	if got := role(u); got != tenants.RoleEditor {
		t.Errorf("in devs and platform: %q, want editor (the higher)", got)
	}
	if ms, _ := d.Memberships(ctx, u.ID); len(ms) != 1 || ms[0].Role != tenants.RoleEditor {
		t.Errorf("memberships %+v, want team-a as editor", ms)
	}
	_ = d.SetGroupRoles(ctx, team.ID, []tenants.GroupRole{{Group: "platform", Role: tenants.RoleOwner}})
	if got := role(u); got != tenants.RoleOwner {
		t.Errorf("after the owner remapped platform: %q, want owner", got)
	}
	u = signIn("devs")
	if got := role(u); got != "" {
		t.Errorf("signed in without platform: %q, want no access", got)
	}
	u = signIn("platform")
	session, _ := d.CreateSession(ctx, u.ID)
	now = now.Add(db.GroupAccessTTL - time.Minute)
	if _, err := d.SessionUser(ctx, session); err != nil {
		t.Errorf("session within the group TTL: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if got := role(u); got != "" {
		t.Errorf("%v after the sign-in: %q, want the group access lapsed", db.GroupAccessTTL, got)
	}
	if _, err := d.SessionUser(ctx, session); !errors.Is(err, tenants.ErrUnauthenticated) {
		t.Errorf("session past the group TTL: %v, want a new sign-in", err)
	}
	// An explicit membership is unaffected by groups.
	_ = d.AddMember(ctx, team.ID, "bob@example.com", tenants.RoleViewer)
	if got := role(signIn()); got != tenants.RoleViewer {
		t.Errorf("invited viewer without groups: %q", got)
	}
	if err := d.SetGroupRoles(ctx, team.ID, []tenants.GroupRole{{Group: "x", Role: "admin"}}); err == nil {
		t.Error("an unknown role was accepted")
	}
}
