package pathing

import (
	"errors"
	"testing"
)

func TestCleanFile(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "redis.yaml", "redis.yaml"},
		{"nested", "static/dependencies.yaml", "static/dependencies.yaml"},
		{"dot-segments", "./a/./b.yaml", "a/b.yaml"},
		{"double-slash", "a//b.yaml", "a/b.yaml"},
		{"gitignore-is-not-git", ".gitignore", ".gitignore"},
		{"github-is-not-git", ".github/workflows/ci.yaml", ".github/workflows/ci.yaml"},
		{"dots-in-name", "...yaml", "...yaml"},
		{"space", "a b.yaml", "a b.yaml"},
		{"unicode", "ünïcode/名前.yaml", "ünïcode/名前.yaml"},
		{"kratix-dir-allowed-here", ".kratix/x", ".kratix/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanFile(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("CleanFile(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCleanFileRejects(t *testing.T) {
	tests := []struct {
		name, in, wantReason string
	}{
		{"empty", "", reasonEmpty},
		{"dot", ".", reasonEmpty},
		{"dot-slash-dot", "./.", reasonEmpty},
		{"dotdot", "..", reasonEscapes},
		{"dotdot-prefix", "../x", reasonEscapes},
		{"dotdot-inner", "a/../b", reasonEscapes},
		{"absolute", "/x", reasonAbsolute},
		{"trailing-slash", "x/", reasonDirectory},
		{"backslash", `a\b`, reasonBackslash},
		{"nul", "a\x00", reasonControl},
		{"tab", "a\tb", reasonControl},
		{"del", "a\x7f", reasonControl},
		{"c1-control", "a\u0085b", reasonControl},
		{"bidi-override", "a\u202eb", reasonControl},
		{"bom", "\ufeffa", reasonControl},
		{"invalid-utf8", "\xc3\x28", reasonUTF8},
		{"git", ".git", reasonGit},
		{"git-upper", "a/.GIT/b", reasonGit},
		{"git-mixed", ".gIt/x", reasonGit},
		{"git-dots-spaces", ".git. . /x", reasonGit},
		{"git-short-name", "git~1/x", reasonGit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanFile(tt.in)
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("CleanFile(%q) = %q, %v; want a *PathError", tt.in, got, err)
			}
			if pe.Field != FieldFile || pe.Value != tt.in || pe.Reason != tt.wantReason {
				t.Errorf("CleanFile(%q): got %+v, want field %q value %q reason %q",
					tt.in, *pe, FieldFile, tt.in, tt.wantReason)
			}
		})
	}
}

func TestRoot(t *testing.T) {
	tests := []struct {
		name, store, dest, want string
	}{
		{"empty-empty", "", "", ""},
		{"empty-dot", "", ".", ""},
		{"empty-slash", "", "/", ""},
		{"dot-dot", ".", ".", ""},
		{"slash-slash", "/", "/", ""},
		{"store-only", "destinations", ".", "destinations"},
		{"dest-only", "", "dev", "dev"},
		{"both", "destinations", "dev", "destinations/dev"},
		{"slashes-trimmed", "/destinations/", "/dev/", "destinations/dev"},
		{"cleaned", "a//b/./", "./c/d", "a/b/c/d"},
		{"nested", "a/b", "c/d/e", "a/b/c/d/e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Root(tt.store, tt.dest)
			if err != nil || got != tt.want {
				t.Errorf("Root(%q, %q) = %q, %v; want %q, nil", tt.store, tt.dest, got, err, tt.want)
			}
		})
	}
}

func TestRootRejects(t *testing.T) {
	tests := []struct {
		name, store, dest, wantField, wantValue string
	}{
		{"store-dotdot", "..", ".", FieldStorePath, ".."},
		{"store-inner-dotdot", "a/../b", ".", FieldStorePath, "a/../b"},
		{"store-git", "/.git/", ".", FieldStorePath, "/.git/"},
		{"store-backslash", `a\b`, ".", FieldStorePath, `a\b`},
		{"dest-dotdot", "s", "../x", FieldDestPath, "../x"},
		{"dest-git", "s", "x/.Git", FieldDestPath, "x/.Git"},
		{"dest-nul", "s", "x\x00", FieldDestPath, "x\x00"},
		{"dest-newline", "s", "x\ny", FieldDestPath, "x\ny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Root(tt.store, tt.dest)
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("Root(%q, %q) = %q, %v; want a *PathError", tt.store, tt.dest, got, err)
			}
			if pe.Field != tt.wantField || pe.Value != tt.wantValue {
				t.Errorf("Root(%q, %q): got field %q value %q, want %q %q",
					tt.store, tt.dest, pe.Field, pe.Value, tt.wantField, tt.wantValue)
			}
		})
	}
}

func TestOverlap(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"same", "dev", "dev", true},
		{"parent-child", "a", "a/b", true},
		{"child-parent", "a/b/c", "a", true},
		{"sibling-prefix-string", "a", "ab", false},
		{"siblings", "a/b", "a/c", false},
		{"different", "dev", "prod", false},
		{"root-dot", ".", "anything", true},
		{"root-slash", "x/y", "/", true},
		{"root-empty", "", "x", true},
		{"root-root", ".", "/", true},
		{"uncleaned-same", "/dev/", "dev", true},
		{"uncleaned-child", "./a//b/", "a", true},
		{"case-differs", "Dev", "dev", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Overlap(tt.a, tt.b); got != tt.want {
				t.Errorf("Overlap(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := Overlap(tt.b, tt.a); got != tt.want {
				t.Errorf("Overlap(%q, %q) = %v, want %v (symmetry)", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestDestinationDir(t *testing.T) {
	tests := []struct {
		name string
		d    Destination
		want string
	}{
		{"nested-root", Destination{Name: "w", Path: "."}, ""},
		{"nested-path", Destination{Name: "w", Path: "/dev/"}, "dev"},
		{"none-path", Destination{Name: "w", Path: "a/b", Mode: ModeNone}, "a/b"},
		{"aggregated-root", Destination{Name: "w", Path: "/", Mode: ModeAggregated}, ""},
		{"legacy-root", Destination{Name: "worker-cluster", Path: ".", Mode: ModeLegacy}, "worker-cluster"},
		{"legacy-path", Destination{Name: "worker-1", Path: "dev", Mode: ModeLegacy}, "dev/worker-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DestinationDir(tt.d)
			if err != nil || got != tt.want {
				t.Errorf("DestinationDir(%+v) = %q, %v; want %q, nil", tt.d, got, err, tt.want)
			}
		})
	}
}

func TestDestinationDirOverlap(t *testing.T) {
	dir := func(d Destination) string {
		t.Helper()
		s, err := DestinationDir(d)
		if err != nil {
			t.Fatalf("DestinationDir(%+v): %v", d, err)
		}
		return s
	}
	legacyA := Destination{Name: "a", Path: ".", Mode: ModeLegacy}
	legacyB := Destination{Name: "b", Path: ".", Mode: ModeLegacy}
	nestedA := Destination{Name: "x", Path: "a"}
	if Overlap(dir(legacyA), dir(legacyB)) {
		t.Errorf("legacy a and b at the root overlap, want not")
	}
	if !Overlap(dir(legacyA), dir(nestedA)) {
		t.Errorf("legacy a at the root and nested at a do not overlap, want overlap")
	}
}

func TestDestinationDirRejects(t *testing.T) {
	tests := []struct {
		name      string
		d         Destination
		wantField string
	}{
		{"path-dotdot", Destination{Path: "../x"}, FieldDestPath},
		{"mode", Destination{Path: ".", Mode: "flat"}, FieldMode},
		{"legacy-name", Destination{Path: ".", Mode: ModeLegacy, Name: "a/b"}, FieldDestName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DestinationDir(tt.d)
			var pe *PathError
			if !errors.As(err, &pe) || pe.Field != tt.wantField {
				t.Errorf("DestinationDir(%+v) = %q, %v; want a *PathError for %q", tt.d, got, err, tt.wantField)
			}
		})
	}
}
