package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/testpeers"
)

const testKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

// TestDataDirOfARunningReplicaIsRefused: a second serve on a data dir in use stops
// at start, naming the replica that holds it.
func TestDataDirOfARunningReplicaIsRefused(t *testing.T) {
	in := start(t)
	env := map[string]string{"STATEWARD_ADDR": "127.0.0.1:0", "STATEWARD_DATA_DIR": in.DataDir}
	// Without the lock the second serve would run: stop it after a while.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is in use by replica") || !strings.Contains(err.Error(), "own data dir") {
		t.Fatalf("second serve on %s: %v, want a refusal naming the replica and asking for its own data dir", in.DataDir, err)
	}
}

func TestConfigDatabaseURL(t *testing.T) {
	for _, c := range []struct {
		name, url, key, want string
	}{
		{"postgres without a key", "postgres://u:p@db.example.com/sw", "", "STATEWARD_SECRET_KEY"},
		{"postgresql without a key", "postgresql://u:p@db.example.com/sw", "", "required with PostgreSQL"},
		{"postgres with a key", "postgres://u:p@db.example.com/sw", testKey, ""},
		{"sqlite", "sqlite:/tmp/x.db", "", ""},
		{"another database", "mysql://u:p@db.example.com/sw", testKey, "STATEWARD_DATABASE_URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"STATEWARD_DATABASE_URL": c.url, "STATEWARD_SECRET_KEY": c.key}
			cfg, err := loadConfig(func(k string) string { return env[k] })
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("loadConfig: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("loadConfig: %v, want an error naming %s", err, c.want)
			case err != nil && strings.Contains(err.Error(), ":p@"):
				t.Fatalf("the error quotes the database password: %v", err)
			}
			if c.want == "" && strings.Contains(cfg.databaseName(), ":p@") {
				t.Errorf("databaseName %q shows the password", cfg.databaseName())
			}
		})
	}
}

// TestServeOnPostgres: the binary on a PostgreSQL URL migrates it, answers
// /readyz, and its CLI works against the same database.
func TestServeOnPostgres(t *testing.T) {
	url := testpeers.Postgres(t).NewDatabase(t)
	in := start(t, "STATEWARD_DATABASE_URL", url, "STATEWARD_SECRET_KEY", testKey)
	resp, err := http.Get(in.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz on PostgreSQL: %d", resp.StatusCode)
	}
	if _, err := in.cli(t, "tenant", "create", "team-a"); err != nil {
		t.Fatalf("tenant create: %v", err)
	}
	if _, err := in.cli(t, "tenant", "create", "team-a"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second tenant create: %v, want already exists (the same PostgreSQL database)", err)
	}
}
