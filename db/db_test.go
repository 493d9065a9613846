package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func open(t *testing.T, tg target, current []byte, previous ...[]byte) (*db.DB, error) {
	t.Helper()
	s, err := db.NewSealer(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return db.Open(context.Background(), tg.options(s, nil))
}

func mustOpen(t *testing.T, tg target, current []byte, previous ...[]byte) *db.DB {
	t.Helper()
	d, err := open(t, tg, current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestMigrationsFromEmpty(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		if tg.dialect == "sqlite" {
			tg.path = filepath.Join(t.TempDir(), "new", "..", "s.db")
		}
		d := mustOpen(t, tg, key(1))
		if err := d.Ping(context.Background()); err != nil {
			t.Fatalf("ping: %v", err)
		}
		if _, err := d.CreateTenant(context.Background(), "team-a", "Team A", ""); err != nil {
			t.Fatalf("create tenant on a fresh database: %v", err)
		}
		d.Close()
		// Opening again applies nothing twice and keeps the data.
		d2 := mustOpen(t, tg, key(1))
		if _, err := d2.TenantBySlug(context.Background(), "team-a"); err != nil {
			t.Fatalf("reopen: %v", err)
		}
	})
}

func TestWrongKeyFailsAtStart(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		path := tg
		d := mustOpen(t, path, key(1))
		d.Close()
		_, err := open(t, path, key(2))
		if err == nil || !strings.Contains(err.Error(), "does not open this database") {
			t.Fatalf("wrong key: err = %v, want a start-up failure naming the key problem", err)
		}
	})
}

const plaintextPassword = "hunter2-very-secret-token"

func saveStores(t *testing.T, d *db.DB, tenantID int64) {
	t.Helper()
	ctx := context.Background()
	g := tenants.GitStateStore{TenantID: tenantID, Name: "repo", URL: "https://git.example.com/org/repo.git",
		Credentials: tenants.GitCredentials{Username: "bot", Password: plaintextPassword + "\n"}}
	g.Normalize()
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	b := tenants.BucketStateStore{TenantID: tenantID, Name: "bucket", Endpoint: "s3.example.com", BucketName: "kratix",
		Credentials: tenants.BucketCredentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: plaintextPassword + "-s3"}}
	b.Normalize()
	if _, err := d.SaveBucketStore(ctx, b, false); err != nil {
		t.Fatal(err)
	}
}

func TestNoPlaintextCredentialOnDisk(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d := mustOpen(t, tg, key(1))
		ten, _ := d.CreateTenant(context.Background(), "team-a", "", "")
		saveStores(t, d, ten.ID)
		got, err := d.GitStore(context.Background(), ten.ID, "repo")
		if err != nil || got.Credentials.Password != plaintextPassword {
			t.Fatalf("credential round trip: %q, %v (the trailing newline must be trimmed)", got.Credentials.Password, err)
		}
		d.Close()
		for name, raw := range stored(t, tg) {
			for _, secret := range []string{plaintextPassword, "AKIAEXAMPLE"} {
				if bytes.Contains(raw, []byte(secret)) {
					t.Errorf("%s contains the plaintext credential %q", name, secret)
				}
			}
		}
	})
}

// stored returns everything the database holds: the SQLite files byte for byte,
// or every row of every PostgreSQL table as text.
func stored(t *testing.T, tg target) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	if tg.dialect == "sqlite" {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			raw, err := os.ReadFile(tg.path + suffix)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(tg.path+suffix)] = raw
		}
		return out
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, tg.url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	tables := tableNames(t, c)
	if len(tables) < 10 {
		t.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	for _, table := range tables {
		var rows string
		if err := c.QueryRow(ctx, `SELECT COALESCE(string_agg(t::text, E'\n'), '') FROM `+pgx.Identifier{table}.Sanitize()+` t`).Scan(&rows); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		out[table] = []byte(rows)
	}
	return out
}

func TestSealedValueIsBoundToItsRow(t *testing.T) {
	s, _ := db.NewSealer(key(1))
	sealed, err := s.Seal("tenant/1/git/1/password", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Open("tenant/2/git/1/password", sealed); err == nil {
		t.Error("a value sealed for tenant 1 opened for tenant 2")
	}
	if _, _, err := s.Open("tenant/1/git/1/username", sealed); err == nil {
		t.Error("a value sealed for one field opened for another")
	}
	if got, _, err := s.Open("tenant/1/git/1/password", sealed); err != nil || got != "pw" {
		t.Errorf("open = %q, %v", got, err)
	}
	if !strings.HasPrefix(sealed, "v1:") {
		t.Errorf("sealed value %q has no version prefix", sealed)
	}
}

func TestRotateKeys(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		path := tg
		d := mustOpen(t, path, key(1))
		ten, _ := d.CreateTenant(context.Background(), "team-a", "", "")
		saveStores(t, d, ten.ID)
		d.Close()

		// New key, old one kept for opening: rotate re-seals everything.
		d2 := mustOpen(t, path, key(2), key(1))
		n, err := d2.RotateKeys(context.Background())
		if err != nil || n != 4 {
			t.Fatalf("rotate: %d, %v; want 4 credentials re-sealed", n, err)
		}
		d2.Close()
		// The new key alone now opens everything.
		d3 := mustOpen(t, path, key(2))
		got, err := d3.GitStore(context.Background(), ten.ID, "repo")
		if err != nil || got.Credentials.Password != plaintextPassword {
			t.Fatalf("after rotation: %q, %v", got.Credentials.Password, err)
		}
		d3.Close()
		if _, err := open(t, path, key(1)); err == nil {
			t.Error("the old key still opens the database after rotation")
		}
	})
}

func TestStoresAreTenantScoped(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d := mustOpen(t, tg, key(1))
		ctx := context.Background()
		a, _ := d.CreateTenant(ctx, "team-a", "", "")
		b, _ := d.CreateTenant(ctx, "team-b", "", "")
		saveStores(t, d, a.ID)
		if _, err := d.GitStore(ctx, b.ID, "repo"); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("team-b reads team-a's store: %v", err)
		}
		if err := d.DeleteStore(ctx, b.ID, tenants.KindGit, "repo"); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("team-b deletes team-a's store: %v", err)
		}
		// Same name in another tenant is fine.
		saveStores(t, d, b.ID)
	})
}

func TestSaveActionsAndStoreInUse(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d := mustOpen(t, tg, key(1))
		ctx := context.Background()
		a, _ := d.CreateTenant(ctx, "team-a", "", "")
		saveStores(t, d, a.ID)
		g, _ := d.GitStore(ctx, a.ID, "repo")
		g.Status = tenants.Status{}
		if act, err := d.SaveGitStore(ctx, g, false); err != nil || act.Action != tenants.ActionUnchanged {
			t.Errorf("same store again: %q, %v; want unchanged", act.Action, err)
		}
		g.Credentials.Password = "changed"
		if act, _ := d.SaveGitStore(ctx, g, false); act.Action != tenants.ActionUpdated {
			t.Errorf("changed password: %q, want updated", act.Action)
		}
		g.Credentials.Password = ""
		if act, _ := d.SaveGitStore(ctx, g, true); act.Action != tenants.ActionUnchanged {
			t.Errorf("blank password with keepSecrets: %q, want unchanged", act.Action)
		}
		dest := tenants.Destination{TenantID: a.ID, Name: "dev", Path: "dev", StoreKind: tenants.KindGit, StoreName: "repo", InitWorkloads: true}
		dest.Normalize()
		if act, err := d.SaveDestination(ctx, dest); err != nil || act.Action != tenants.ActionCreated {
			t.Fatalf("destination: %q, %v", act.Action, err)
		}
		err := d.DeleteStore(ctx, a.ID, tenants.KindGit, "repo")
		if !errors.Is(err, tenants.ErrConflict) || !strings.Contains(err.Error(), "dev") {
			t.Errorf("delete used store: %v, want a conflict naming Destination dev", err)
		}
		for _, p := range []string{"dev", "dev/sub", ".", "/"} {
			other := dest
			other.Name, other.Path = "other", p
			if _, err := d.SaveDestination(ctx, other); !strings.Contains(errString(err), "overlaps") {
				t.Errorf("path %q next to dev: %v, want an overlap error", p, err)
			}
		}
		other := dest
		other.Name, other.Path = "other", "devx"
		if _, err := d.SaveDestination(ctx, other); err != nil {
			t.Errorf("devx next to dev: %v, want ok", err)
		}
		dest.Mode = tenants.ModeNone
		if _, err := d.SaveDestination(ctx, dest); !strings.Contains(errString(err), "immutable") {
			t.Errorf("mode change: %v, want immutable", err)
		}
	})
}

func TestSessionTimeouts(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		s, _ := db.NewSealer(key(1))
		d, err := db.Open(context.Background(), tg.options(s, func() time.Time { return now }))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx := context.Background()
		u, _ := d.UpsertUser(ctx, tenants.User{Issuer: "i", Subject: "s", Email: "a@example.com"}, true)
		id, _ := d.CreateSession(ctx, u.ID)
		if _, err := d.SessionUser(ctx, id); err != nil {
			t.Fatalf("fresh session: %v", err)
		}
		now = now.Add(tenants.IdleTimeout + time.Minute)
		if _, err := d.SessionUser(ctx, id); !errors.Is(err, tenants.ErrUnauthenticated) {
			t.Errorf("idle session: %v, want unauthenticated", err)
		}
		id2, _ := d.CreateSession(ctx, u.ID)
		for i := 0; i < 30; i++ { // keep it busy past the 7-day absolute timeout
			now = now.Add(tenants.IdleTimeout / 2)
			_, _ = d.SessionUser(ctx, id2)
		}
		if _, err := d.SessionUser(ctx, id2); !errors.Is(err, tenants.ErrUnauthenticated) {
			t.Errorf("session past the absolute timeout: %v, want unauthenticated", err)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestInviteNeverLinksAnUnverifiedIdentity: someone whose IdP did not verify an
// address cannot pick up an invitation sent to it.
func TestInviteNeverLinksAnUnverifiedIdentity(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d := mustOpen(t, tg, key(1))
		ctx := context.Background()
		ten, _ := d.CreateTenant(ctx, "team-a", "", "")
		squatter, _ := d.UpsertUser(ctx, tenants.User{Issuer: "i", Subject: "evil", Email: "victim@corp.example"}, false)
		if err := d.AddMember(ctx, ten.ID, "victim@corp.example", tenants.RoleOwner); err != nil {
			t.Fatal(err)
		}
		if _, err := d.RoleOf(ctx, ten.ID, squatter.ID); !errors.Is(err, tenants.ErrNotFound) {
			t.Fatalf("an unverified identity got the invitation: %v", err)
		}
		victim, _ := d.UpsertUser(ctx, tenants.User{Issuer: "i", Subject: "real", Email: "victim@corp.example"}, true)
		if role, err := d.RoleOf(ctx, ten.ID, victim.ID); err != nil || role != tenants.RoleOwner {
			t.Errorf("the verified owner of the address: %q, %v", role, err)
		}
	})
}

// TestBucketEditKeepsEachBlankSecret: changing only the secret key keeps the
// stored access key id (and the other way round).
func TestBucketEditKeepsEachBlankSecret(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d := mustOpen(t, tg, key(1))
		ctx := context.Background()
		ten, _ := d.CreateTenant(ctx, "team-a", "", "")
		saveStores(t, d, ten.ID)
		b, _ := d.BucketStore(ctx, ten.ID, "bucket")
		b.Credentials = tenants.BucketCredentials{SecretAccessKey: "rotated-secret"}
		if _, err := d.SaveBucketStore(ctx, b, true); err != nil {
			t.Fatal(err)
		}
		got, _ := d.BucketStore(ctx, ten.ID, "bucket")
		if got.Credentials.AccessKeyID != "AKIAEXAMPLE" || got.Credentials.SecretAccessKey != "rotated-secret" {
			t.Errorf("after a secret-only edit: %+v", got.Credentials)
		}
		got.Credentials = tenants.BucketCredentials{AccessKeyID: "AKIANEW"}
		if _, err := d.SaveBucketStore(ctx, got, true); err != nil {
			t.Fatal(err)
		}
		got, _ = d.BucketStore(ctx, ten.ID, "bucket")
		if got.Credentials.AccessKeyID != "AKIANEW" || got.Credentials.SecretAccessKey != "rotated-secret" {
			t.Errorf("after a key-id-only edit: %+v", got.Credentials)
		}
	})
}

func TestDestinationCannotChangeStore(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d := mustOpen(t, tg, key(1))
		ctx := context.Background()
		ten, _ := d.CreateTenant(ctx, "team-a", "", "")
		saveStores(t, d, ten.ID)
		dest := tenants.Destination{TenantID: ten.ID, Name: "dev", Path: "dev", StoreKind: tenants.KindGit, StoreName: "repo", InitWorkloads: true}
		dest.Normalize()
		if _, err := d.SaveDestination(ctx, dest); err != nil {
			t.Fatal(err)
		}
		dest.StoreKind, dest.StoreName = tenants.KindBucket, "bucket"
		_, err := d.SaveDestination(ctx, dest)
		var ve *tenants.ValidationError
		if !errors.As(err, &ve) || ve.Field != "spec.stateStoreRef" {
			t.Errorf("moving a Destination to another store: %v, want a spec.stateStoreRef error", err)
		}
	})
}

func TestPruneExpired(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		s, _ := db.NewSealer(key(1))
		d, err := db.Open(context.Background(), tg.options(s, func() time.Time { return now }))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx := context.Background()
		u, _ := d.UpsertUser(ctx, tenants.User{Issuer: "i", Subject: "s", Email: "a@example.com"}, true)
		old, _ := d.CreateSession(ctx, u.ID)
		_ = d.SaveLoginAttempt(ctx, "state", tenants.LoginAttempt{Nonce: "n", Verifier: "v"})
		now = now.Add(tenants.IdleTimeout + time.Hour)
		fresh, _ := d.CreateSession(ctx, u.ID)
		n, err := d.Prune(ctx)
		if err != nil || n != 2 {
			t.Fatalf("prune: %d rows, %v; want the idle session and the login attempt", n, err)
		}
		if _, err := d.SessionUser(ctx, fresh); err != nil {
			t.Errorf("prune removed a live session: %v", err)
		}
		if _, err := d.SessionUser(ctx, old); !errors.Is(err, tenants.ErrUnauthenticated) {
			t.Errorf("pruned session: %v", err)
		}
	})
}

// TestConcurrentCreatesOneWins: two simultaneous creates of one name never both
// succeed (the second would silently overwrite the first).
func TestConcurrentCreatesOneWins(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d := mustOpen(t, tg, key(1))
		ctx := context.Background()
		ten, _ := d.CreateTenant(ctx, "team-a", "", "")
		errs := make(chan error, 8)
		for i := range 8 {
			go func() {
				g := tenants.GitStateStore{TenantID: ten.ID, Name: "repo", URL: fmt.Sprintf("https://git.example.com/r%d.git", i), AuthMethod: tenants.AuthNone}
				g.Normalize()
				errs <- d.CreateGitStore(ctx, g)
			}()
		}
		ok, conflicts := 0, 0
		for range 8 {
			switch err := <-errs; {
			case err == nil:
				ok++
			case errors.Is(err, tenants.ErrConflict):
				conflicts++
			default:
				t.Errorf("create: %v", err)
			}
		}
		if ok != 1 || conflicts != 7 {
			t.Errorf("8 concurrent creates: %d succeeded, %d conflicts; want 1 and 7", ok, conflicts)
		}
	})
}
