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
		{"postgres with a key", "postgres://u:hunter2@db.example.com/sw", testKey, ""},
		{"password as a parameter", "postgres://u@db.example.com/sw?sslmode=require&password=hunter2", testKey, ""},
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
			if c.want == "" && c.name != "sqlite" && strings.Contains(cfg.databaseName(), "hunter2") {
				t.Errorf("databaseName %q shows the password", cfg.databaseName())
			}
		})
	}
}

// TestServeOnPostgres: two replicas of the binary on one PostgreSQL URL, each
// with its own data dir, both answer /readyz, and what the CLI of one creates the
// API of the other serves.
func TestServeOnPostgres(t *testing.T) {
	url := testpeers.Postgres(t).NewDatabase(t)
	a := start(t, "STATEWARD_DATABASE_URL", url, "STATEWARD_SECRET_KEY", testKey)
	b := start(t, "STATEWARD_DATABASE_URL", url, "STATEWARD_SECRET_KEY", testKey)
	for _, in := range []*instance{a, b} {
		resp, err := http.Get(in.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/readyz on PostgreSQL: %d", resp.StatusCode)
		}
	}
	if _, err := a.cli(t, "tenant", "create", "team-a"); err != nil {
		t.Fatalf("tenant create: %v", err)
	}
	if _, err := b.cli(t, "tenant", "create", "team-a"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("tenant create on the other replica: %v, want already exists (the same PostgreSQL database)", err)
	}
	out, err := a.cli(t, "token", "create", "--tenant", "team-a", "--role", "viewer")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, b.URL+"/api/v1/tenants/team-a/destinations", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a token made through one replica, used on the other: %d", resp.StatusCode)
	}
}
