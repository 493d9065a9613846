package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLocalDefaultKeepsStoresOutOfTheServersFiles: the real binary in the local
// default takes file:///absolute/path for a bare repository elsewhere, and refuses
// (422, spec.url) one inside its data dir, its database file (set by
// STATEWARD_DATABASE_URL outside the data dir) or a *_FILE secret, in any spelling.
func TestLocalDefaultKeepsStoresOutOfTheServersFiles(t *testing.T) {
	dbDir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "metrics-token")
	if err := os.WriteFile(keyFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := start(t, "STATEWARD_DATABASE_URL", "sqlite:"+filepath.Join(dbDir, "s.db"), "STATEWARD_METRICS_TOKEN_FILE", keyFile)
	if _, err := in.cli(t, "tenant", "create", "team-a", "--owner", "alice@example.com"); err != nil {
		t.Fatalf("tenant create: %v", err)
	}
	tok, err := in.cli(t, "token", "create", "--tenant", "team-a", "--role", "editor")
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	tok = strings.TrimSpace(tok)
	repo := filepath.Join(t.TempDir(), "gitops.git")
	if out, err := exec.Command("git", "init", "--bare", "-q", "-b", "main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	link := filepath.Join(t.TempDir(), "innocent.git")
	if err := os.Symlink(in.DataDir, link); err != nil {
		t.Fatal(err)
	}
	apply := func(url string) (int, string) {
		doc := "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: r}\nspec: {url: \"" + url + "\", authMethod: none}\n"
		req, _ := http.NewRequest(http.MethodPost, in.URL+"/api/v1/tenants/team-a/apply", strings.NewReader(doc))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	for _, u := range []string{"file://" + in.DataDir, "file://" + filepath.Join(in.DataDir, "git", "1", "git-1"),
		"file://" + link, "file://" + filepath.Join(dbDir, "s.db"), "file://" + keyFile, "file:" + repo, repo,
		"file://" + filepath.Dir(repo) + "/../" + filepath.Base(filepath.Dir(repo)) + "/gitops.git", "file://" + repo + "/"} {
		if code, body := apply(u); code != http.StatusUnprocessableEntity || !strings.Contains(body, `"spec.url"`) {
			t.Errorf("apply of %q: %d %s", u, code, body)
		}
	}
	if code, body := apply("file://" + repo); code != http.StatusOK {
		t.Errorf("apply of a bare repository outside the server's files: %d %s", code, body)
	}
}

// TestLocalReposOnlyInTheLocalDefault: the policy exists only in the local default
// and protects the data dir, the database file and its journals, and every *_FILE.
func TestLocalReposOnlyInTheLocalDefault(t *testing.T) {
	if l := (config{DevIssuer: false, DataDir: "/d"}).localRepos(false); l != nil {
		t.Errorf("production: %+v, want nil (file:// refused)", l)
	}
	l := (config{DevIssuer: true, DataDir: "/d", DatabaseURL: "sqlite:/db/s.db", SecretFiles: []string{"/k"}}).localRepos(true)
	for _, p := range []string{"/d", "/db/s.db", "/db/s.db-wal", "/db/s.db-shm", "/k"} {
		if l == nil || !slices.Contains(l.Protected, p) {
			t.Errorf("local default: %+v does not protect %s", l, p)
		}
	}
	if l == nil || !l.CaseInsensitive {
		t.Errorf("local default: %+v, want the case-insensitive comparison passed on", l)
	}
}

func TestConfigCacheMax(t *testing.T) {
	for in, want := range map[string]int64{"10GiB": 10 << 30, "500MiB": 500 << 20, "1.5GB": 1_500_000_000, "4096": 4096, " 2 TiB ": 2 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1GiB", "ten", "5 parsecs"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
	c := config{DataDir: t.TempDir()}
	if m := c.cacheMax(); m <= 0 || m > 10<<30 {
		t.Errorf("default cache budget %d, want at most 10 GiB", m)
	}
	c.CacheMax = 123
	if c.cacheMax() != 123 {
		t.Error("STATEWARD_CACHE_MAX not taken")
	}
}
