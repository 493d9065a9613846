package pathing

import (
	"errors"
	"path"
	"strconv"
	"strings"
	"testing"
)

var fuzzModes = []Mode{"", ModeNested, ModeAggregated, ModeNone, ModeLegacy, "bogus"}

// FuzzLayout proves that no input yields a key outside S/D, a key with a ".." or
// ".git" segment, a leading "/", a non-PathError error or a panic.
func FuzzLayout(f *testing.F) {
	f.Add("", ".", "worker-cluster", uint8(4), "", "redis", "", "", "", ".", "static/dependencies.yaml", "a.yaml", placement)
	f.Add("s", "d", "w", uint8(0), "", "redis", "default", "r", "p", "foo", "foo/a.yaml", "foo/b/c.yaml", "p")
	f.Add("/", "/", "w", uint8(3), "", "redis", "default", "r", "", "", ".kratix/x", "../x", "p")
	f.Add("a/..", "..", "..", uint8(2), "../x", "..", "..", "..", "..", "..", "../../x", "/x", "../p")
	f.Add("", "", "w", uint8(2), "kratix-canary-namespace.yaml", ".git", "a/b", "", "\x00", "./", ".GIT/x", "a\\b", "")
	f.Fuzz(func(t *testing.T, store, dest, name string, mode uint8, filename, promise, ns, res, pipeline, dir, f1, f2, pl string) {
		d := Destination{Name: name, Path: dest, Mode: fuzzModes[int(mode)%len(fuzzModes)], Filename: filename}
		g := Group{Promise: promise, Namespace: ns, Resource: res, Pipeline: pipeline, Directory: dir,
			Files: []File{{Path: f1, Content: []byte(f1)}, {Path: f2, Content: []byte("a: 1\n---\n" + f2)}}}
		plan, err := Layout(store, d, pl, g)
		if err != nil {
			requirePathError(t, err)
			return
		}
		root := requireRoot(t, store, d)
		for _, k := range plan.Keys() {
			requireSafeKey(t, root, k)
		}
		requireOwned(t, root, plan)
		canaries, err := Canary(store, d)
		if err != nil {
			t.Fatalf("Layout succeeded but Canary failed: %v", err)
		}
		for _, c := range canaries {
			requireSafeKey(t, root, c.Path)
		}
	})
}

// FuzzCleanFile proves that an accepted file path is clean, relative, free of ".."
// and ".git" segments, and stable under a second CleanFile.
func FuzzCleanFile(f *testing.F) {
	for _, s := range []string{"a.yaml", "./a//b", "../x", "/x", ".git/x", "a\\b", "a\x00", ".", "x/", ".GIT. /y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := CleanFile(p)
		if err != nil {
			requirePathError(t, err)
			return
		}
		requireSafeKey(t, "", got)
		if again, err := CleanFile(got); err != nil || again != got {
			t.Fatalf("CleanFile(%q) = %q, %v; want %q, nil (idempotent)", got, again, err, got)
		}
	})
}

// FuzzRoot proves that an accepted store and destination path give a clean relative
// root ("" or a safe key) that Overlap sees as overlapping both itself and the store root.
func FuzzRoot(f *testing.F) {
	for _, s := range [][2]string{{"", "."}, {"/", "/"}, {"a/b", "c"}, {"..", "."}, {"a", "../b"}, {".git", "x"}, {"a//b/", "./c/"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, store, dest string) {
		root, err := Root(store, dest)
		if err != nil {
			requirePathError(t, err)
			return
		}
		if root != "" {
			requireSafeKey(t, "", root)
		}
		if !Overlap(root, root) || !Overlap(root, ".") {
			t.Fatalf("Overlap(%q, itself or the root) = false, want true", root)
		}
		if root != "" && Overlap(root, root+"x") {
			t.Fatalf("Overlap(%q, %q) = true, want false", root, root+"x")
		}
	})
}

// requireRoot returns the directory that every key of d's layout must lie under:
// the store path joined with DestinationDir(d).
func requireRoot(t *testing.T, store string, d Destination) string {
	t.Helper()
	dir, err := DestinationDir(d)
	if err != nil {
		t.Fatalf("Layout succeeded but DestinationDir(%+v) failed: %v", d, err)
	}
	root, err := Root(store, dir)
	if err != nil {
		t.Fatalf("Layout succeeded but Root(%q, %q) failed: %v", store, dir, err)
	}
	return root
}

func requirePathError(t *testing.T, err error) {
	t.Helper()
	var pe *PathError
	if !errors.As(err, &pe) || pe.Field == "" || pe.Reason == "" {
		t.Fatalf("got error %v (%T), want a *PathError with field and reason", err, err)
	}
}

func requireSafeKey(t *testing.T, root, key string) {
	t.Helper()
	switch {
	case key == "" || strings.HasPrefix(key, "/") || path.Clean(key) != key:
		t.Fatalf("key %q is not a clean relative path", key)
	case root != "" && !strings.HasPrefix(key, root+"/"):
		t.Fatalf("key %q is outside root %q", key, root)
	case strings.ContainsAny(key, "\\\x00"):
		t.Fatalf("key %q holds a backslash or NUL", key)
	}
	for _, s := range strings.Split(key, "/") {
		if s == ".." || isGitName(s) {
			t.Fatalf("key %q has segment %q", key, s)
		}
	}
}

func requireOwned(t *testing.T, root string, plan Plan) {
	t.Helper()
	if plan.OwnedPrefix == "" {
		return
	}
	requireSafeKey(t, root, strings.TrimSuffix(plan.OwnedPrefix, "/"))
	for _, f := range plan.Files {
		if !strings.HasPrefix(f.Path, plan.OwnedPrefix) {
			t.Fatalf("key %q is outside the owned prefix %q", f.Path, plan.OwnedPrefix)
		}
	}
}

func BenchmarkLayout(b *testing.B) {
	g := Group{Promise: "redis", Namespace: "default", Resource: "my-request", Pipeline: "instance-configure"}
	for i := range 100 {
		g.Files = append(g.Files, File{Path: "manifests/file-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "-" + strconv.Itoa(i) + ".yaml",
			Content: []byte("apiVersion: v1\nkind: ConfigMap\n")})
	}
	for _, mode := range []Mode{ModeNested, ModeNone, ModeAggregated} {
		b.Run(string(mode), func(b *testing.B) {
			d := Destination{Name: "worker-1", Path: "dev", Mode: mode}
			for b.Loop() {
				if _, err := Layout("destinations", d, placement, g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
