package writers

import (
	"context"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// TestGitCacheStartsAfreshForAnotherRemote: a store's clone is not reused for
// another repository: the writer fetches the new remote into an empty cache, and
// nothing of the old one (its tip, its objects) is left to stand for the new
// one.
func TestGitCacheStartsAfreshForAnotherRemote(t *testing.T) {
	oldRepo, newRepo := gitPeer(t, true), gitPeer(t, false)
	dir := t.TempDir()
	g1 := newTestGit(t, oldRepo, func(c *GitConfig) { c.CacheDir = dir })
	res := apply(t, g1, puts("first", "a.yaml", "1"))
	if err := g1.Close(); err != nil {
		t.Fatal(err)
	}
	g2 := newTestGit(t, newRepo, func(c *GitConfig) { c.CacheDir = dir })
	apply(t, g2, puts("second", "b.yaml", "2"))
	if err := g2.Close(); err != nil {
		t.Fatal(err)
	}
	if files := newRepo.Files(t, newRepo.Branch()); files["b.yaml"] != "2" || files["a.yaml"] != "" {
		t.Errorf("new repository holds %v; want b.yaml and nothing of the old one", files)
	}
	c, err := openGitCache(dir, plumbing.NewBranchReferenceName(newRepo.Branch()), cacheOrigin(newRepo.URL(), newRepo.Branch()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.st.Close()
	if hasObject(c.st, plumbing.NewHash(res.Version)) {
		t.Errorf("the clone of %s still holds the old repository's commit %s", newRepo.URL(), res.Version)
	}
}

// TestRunnerBackendFollowsTheStore: the Runner builds a new backend for a store
// whose URL changed even when the update carries the same timestamp as the
// last one (a cached backend keyed by time alone kept writing the old remote).
func TestRunnerBackendFollowsTheStore(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := db.NewSealer(engineKey)
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(ctx, db.Options{Path: t.TempDir() + "/s.db", Sealer: s, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ten, err := d.CreateTenant(ctx, "team-a", "", "")
	if err != nil {
		t.Fatal(err)
	}
	g := tenants.GitStateStore{TenantID: ten.ID, Name: "g", URL: "https://git.example.com/old.git", Path: "kratix", AuthMethod: tenants.AuthNone}
	g.Normalize()
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	r := &Runner{DB: d, Factory: Factory{CacheDir: t.TempDir()}}
	r.init()
	ref := tenants.StoreRef{TenantID: ten.ID, Kind: tenants.KindGit, Name: "g"}
	if _, err := r.backend(ctx, ref); err != nil {
		t.Fatal(err)
	}
	g.URL = "https://git.example.com/new.git"
	if _, err := d.SaveGitStore(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	b, err := r.backend(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.(*Git).cfg.URL; got != g.URL {
		t.Errorf("backend after the move writes %s; want %s", got, g.URL)
	}
}
