package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// TestPersonTokenFollowsThePerson: a token made for a person (`stateward login`)
// acts with the lower of its own role and the person's role in the tenant at the
// moment it is used — as a member or through fresh IdP groups — and is refused
// once they hold none; a team token keeps its role throughout. The list says
// whose token it is, and an audit event keeps the person of a token.
func TestPersonTokenFollowsThePerson(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
		s, _ := db.NewSealer(key(1))
		d, err := db.Open(ctx, tg.options(s, func() time.Time { return now }))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		team, err := d.CreateTenant(ctx, "team-a", "", "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		signIn := func(groups ...string) tenants.User {
			u, err := d.UpsertUser(ctx, tenants.User{Issuer: "i", Subject: "bob", Email: "bob@example.com", Groups: groups}, true)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		bob := signIn()
		if err := d.AddMember(ctx, team.ID, "bob@example.com", tenants.RoleEditor); err != nil {
			t.Fatal(err)
		}
		bound, bobSecret, err := d.CreatePersonToken(ctx, team.ID, bob.ID, "cli: bob@example.com", tenants.RoleEditor)
		if err != nil {
			t.Fatal(err)
		}
		_, teamSecret, _ := d.CreateToken(ctx, team.ID, "ci", tenants.RoleEditor)
		check := func(step string, want tenants.Role) {
			t.Helper()
			tok, _, err := d.TokenAndTenant(ctx, bobSecret)
			switch {
			case want == "" && !errors.Is(err, tenants.ErrUnauthenticated):
				t.Errorf("%s: bob's token %+v %v, want ErrUnauthenticated", step, tok, err)
			case want != "" && (err != nil || tok.Role != want || tok.UserID != bob.ID || tok.Person != "bob@example.com"):
				t.Errorf("%s: bob's token %+v %v, want role %q for bob", step, tok, err, want)
			}
			if tok, _, err := d.TokenAndTenant(ctx, teamSecret); err != nil || tok.Role != tenants.RoleEditor || tok.UserID != 0 {
				t.Errorf("%s: team token %+v %v, want editor, for no one", step, tok, err)
			}
		}
		check("editor", tenants.RoleEditor)
		_ = d.SetMemberRole(ctx, team.ID, "bob@example.com", tenants.RoleViewer)
		check("demoted to viewer", tenants.RoleViewer)
		_ = d.SetMemberRole(ctx, team.ID, "bob@example.com", tenants.RoleOwner)
		check("promoted to owner", tenants.RoleEditor)
		if err := d.RemoveMember(ctx, team.ID, "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		check("removed", "")

		// Back through an IdP group only: it counts while the groups are fresh.
		_ = d.SetGroupRoles(ctx, team.ID, []tenants.GroupRole{{Group: "devs", Role: tenants.RoleViewer}})
		signIn("devs")
		check("viewer through a group", tenants.RoleViewer)
		now = now.Add(db.GroupAccessTTL + time.Minute)
		check("group read too long ago", "")
		signIn()
		check("signed in without the group", "")

		toks, err := d.Tokens(ctx, team.ID)
		if err != nil || len(toks) != 2 || toks[1].ID != bound.ID || toks[1].UserID != bob.ID || toks[1].Person != "bob@example.com" ||
			toks[0].UserID != 0 || toks[0].Person != "" {
			t.Errorf("tokens %+v %v, want ci for no one and bob's for bob", toks, err)
		}

		actor := tenants.Actor{Kind: tenants.ActorToken, ID: bound.ID, Name: bound.Name, PersonID: bob.ID, Person: "bob@example.com"}
		if err := d.RecordAudit(ctx, team.ID, tenants.AuditEvent{Actor: actor, Action: "write", Object: tenants.AuditObject{Kind: "Work", Name: "w"}}); err != nil {
			t.Fatal(err)
		}
		page, err := d.AuditLog(ctx, team.ID, db.AuditQuery{Limit: 1})
		if err != nil || len(page.Items) != 1 || page.Items[0].Actor != actor {
			t.Errorf("audit %+v %v, want actor %+v", page.Items, err, actor)
		}
	})
}
