package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// openDB opens the database with the configured sealing keys. The local default
// keeps its key in a 0600 file in the data dir.
func openDB(ctx context.Context, cfg config) (*db.DB, error) {
	if err := makeDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	sealer, err := newSealer(cfg)
	if err != nil {
		return nil, err
	}
	o := db.Options{Path: cfg.sqlitePath(), Sealer: sealer}
	if cfg.postgres() {
		o = db.Options{URL: cfg.DatabaseURL, Sealer: sealer}
	}
	return db.Open(ctx, o)
}

func newSealer(cfg config) (*db.Sealer, error) {
	var key []byte
	var err error
	if cfg.SecretKey != "" {
		key, err = db.ParseKey(cfg.SecretKey)
	} else {
		key, err = db.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, "secret.key"))
	}
	if err != nil {
		return nil, fmt.Errorf("STATEWARD_SECRET_KEY: %w", err)
	}
	var prev [][]byte
	for i, p := range cfg.PreviousKeys {
		k, err := db.ParseKey(p)
		if err != nil {
			return nil, fmt.Errorf("STATEWARD_PREVIOUS_SECRET_KEYS[%d]: %w", i, err)
		}
		prev = append(prev, k)
	}
	return db.NewSealer(key, prev...)
}

func checkFlags(flags map[string]string, allowed ...string) error {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	var bad []string
	for f := range flags {
		if !ok[f] {
			bad = append(bad, "--"+f)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		return fmt.Errorf("unknown flag %v\n%s", bad, usage)
	}
	return nil
}

// tenantCmd: stateward tenant create SLUG [--name NAME] [--owner EMAIL]
func tenantCmd(ctx context.Context, cfg config, pos []string, flags map[string]string, stdout io.Writer) error {
	if len(pos) != 2 || pos[0] != "create" {
		return fmt.Errorf("usage: stateward tenant create SLUG [--name NAME] [--owner EMAIL]")
	}
	if err := checkFlags(flags, "name", "owner"); err != nil {
		return err
	}
	owner := ""
	if flags["owner"] != "" {
		var err error
		if owner, err = tenants.ValidateEmail("--owner", flags["owner"]); err != nil {
			return err
		}
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	t, err := d.CreateTenant(ctx, pos[1], flags["name"], owner)
	if err != nil {
		return err
	}
	if err := d.RecordAudit(ctx, t.ID, tenants.AuditEvent{Actor: cliActor, Action: "create",
		Object: tenants.AuditObject{Kind: tenants.AuditTeam, ID: t.ID, Name: t.Slug}, Detail: "owner " + owner}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created team %s (%s)\n", t.Slug, t.Name)
	return nil
}

// tokenCmd: stateward token create --tenant SLUG [--role R] [--name N]; prints only
// the token, so `TOKEN=$(stateward token create …)` works.
func tokenCmd(ctx context.Context, cfg config, pos []string, flags map[string]string, stdout io.Writer) error {
	if len(pos) != 1 || pos[0] != "create" {
		return fmt.Errorf("usage: stateward token create --tenant SLUG [--role owner|editor|viewer] [--name NAME]")
	}
	if err := checkFlags(flags, "tenant", "role", "name"); err != nil {
		return err
	}
	if flags["tenant"] == "" {
		return fmt.Errorf("--tenant is required")
	}
	role, err := tenants.ParseRole("--role", or(flags["role"], string(tenants.RoleEditor)))
	if err != nil {
		return err
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	t, err := d.TenantBySlug(ctx, flags["tenant"])
	if err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	tok, secret, err := d.CreateToken(ctx, t.ID, or(flags["name"], "cli"), role)
	if err != nil {
		return err
	}
	if err := d.RecordAudit(ctx, t.ID, tenants.AuditEvent{Actor: cliActor, Action: "create",
		Object: tenants.AuditObject{Kind: tenants.AuditToken, ID: tok.ID, Name: tok.Name}, Detail: "role " + string(role)}); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, secret)
	return err
}

// keysCmd: stateward keys rotate
func keysCmd(ctx context.Context, cfg config, pos []string, stdout io.Writer) error {
	if len(pos) != 1 || pos[0] != "rotate" {
		return fmt.Errorf("usage: stateward keys rotate")
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := d.RotateKeys(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-sealed %d credentials\n", n)
	return nil
}

// cliActor is who the audit log names for a CLI command (run by whoever can read
// the database).
var cliActor = tenants.Actor{Kind: tenants.ActorSystem, Name: "the stateward CLI"}
