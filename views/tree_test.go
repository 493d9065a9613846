package views

import (
	"strings"
	"testing"
)

// dump renders a tree as indented lines, directories with a trailing "/".
func dump(nodes []*TreeNode, depth int, b *strings.Builder) {
	for _, n := range nodes {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString(n.Name)
		if n.Dir {
			b.WriteString("/")
		}
		b.WriteString("\n")
		dump(n.Children, depth+1, b)
	}
}

func TestBuildTree(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"empty", nil, ""},
		{"one file", []string{"a.yaml"}, "a.yaml\n"},
		{"dirs first then files, sorted", []string{"z.yaml", "b/x.yaml", "a.yaml", "a/y.yaml"},
			"a/\n  y.yaml\nb/\n  x.yaml\na.yaml\nz.yaml\n"},
		{"shared prefixes merge", []string{
			"dev/resources/default/redis/my-request/5058f/redis.yaml",
			"dev/dependencies/redis/5058f/crd.yaml",
			"dev/dependencies/kratix-canary-namespace.yaml",
			"dev/resources/kratix-canary-configmap.yaml",
		}, "dev/\n  dependencies/\n    redis/\n      5058f/\n        crd.yaml\n    kratix-canary-namespace.yaml\n" +
			"  resources/\n    default/\n      redis/\n        my-request/\n          5058f/\n            redis.yaml\n" +
			"    kratix-canary-configmap.yaml\n"},
		{"empty segments and duplicates ignored", []string{"/a//b.yaml/", "a/b.yaml", "", "/"}, "a/\n  b.yaml\n"},
		{"file and directory of one name", []string{"a", "a/b"}, "a/\n  b\na\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			dump(BuildTree(tt.paths), 0, &b)
			if got := b.String(); got != tt.want {
				t.Errorf("BuildTree(%q):\n%s\nwant:\n%s", tt.paths, got, tt.want)
			}
		})
	}
}

func TestBuildTreePaths(t *testing.T) {
	nodes := BuildTree([]string{"x/y/z.yaml"})
	z := nodes[0].Children[0].Children[0]
	if z.Path != "x/y/z.yaml" || z.Dir {
		t.Errorf("leaf = %+v, want file x/y/z.yaml", z)
	}
	if got := nodes[0].Children[0].Path; got != "x/y" {
		t.Errorf("dir path = %q, want x/y", got)
	}
	if got := countFiles(nodes); got != 1 {
		t.Errorf("countFiles = %d, want 1", got)
	}
}

func TestPreviewTreeDecorations(t *testing.T) {
	nodes := previewTree(PreviewProps{
		Paths: []PreviewPath{
			{Path: "dev/resources/default/redis/my-request/5058f/redis.yaml", Kind: "resource", Owned: true},
			{Path: "dev/resources/kratix-canary-configmap.yaml", Kind: "canary"},
		},
		OwnedDirs: []string{"dev/resources/default/redis/my-request/5058f/"},
	})
	var owned, canary []string
	walkTree(nodes, func(n *TreeNode) {
		if n.Owned {
			owned = append(owned, n.Path)
		}
		if n.Kind == "canary" {
			canary = append(canary, n.Path)
		}
	})
	wantOwned := "dev/resources/default/redis/my-request/5058f,dev/resources/default/redis/my-request/5058f/redis.yaml"
	if got := strings.Join(owned, ","); got != wantOwned {
		t.Errorf("owned = %s, want %s", got, wantOwned)
	}
	if len(canary) != 1 || canary[0] != "dev/resources/kratix-canary-configmap.yaml" {
		t.Errorf("canary = %v", canary)
	}
}

func FuzzBuildTree(f *testing.F) {
	f.Add("a/b/c.yaml\na/d.yaml")
	f.Add("//x//\n\n/")
	f.Fuzz(func(t *testing.T, s string) {
		paths := strings.Split(s, "\n")
		nodes := BuildTree(paths)
		want := map[string]bool{}
		for _, p := range paths {
			if segs := splitPath(p); len(segs) > 0 {
				want[strings.Join(segs, "/")] = true
			}
		}
		got := map[string]bool{}
		walkTree(nodes, func(n *TreeNode) {
			if !n.Dir {
				got[n.Path] = true
			}
			if n.Dir && len(n.Children) == 0 {
				t.Errorf("empty directory %q", n.Path)
			}
		})
		if len(got) != len(want) {
			t.Fatalf("files %v, want %v", got, want)
		}
		for p := range want {
			if !got[p] {
				t.Errorf("missing file %q", p)
			}
		}
	})
}

func TestCompactTree(t *testing.T) {
	nodes := compactTree(BuildTree([]string{"a/b/c/x.yaml", "a/b/c/y.yaml", "a/b/d.yaml", "e/f/g.yaml"}))
	var got []string
	walkTree(nodes, func(n *TreeNode) { got = append(got, n.Name) })
	want := []string{"a/b", "c", "x.yaml", "y.yaml", "d.yaml", "e/f", "g.yaml"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
}
