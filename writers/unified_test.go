package writers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"equal", "a\n", "a\n", ""},
		{"one line changed", "a\nb\nc\n", "a\nB\nc\n", "--- a/k\n+++ b/k\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{"added to empty", "", "a\n", "--- a/k\n+++ b/k\n@@ -0,0 +1 @@\n+a\n"},
		{"no newline at end", "a", "b", "--- a/k\n+++ b/k\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unifiedDiff("k", []byte(tt.old), []byte(tt.new)); got != tt.want {
				t.Errorf("unifiedDiff:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestUnifiedDiffMatchesDiffU compares the hunks with GNU diff -u on files with
// several separate changes (the headers differ: diff -u prints times).
func TestUnifiedDiffMatchesDiffU(t *testing.T) {
	bin, err := exec.LookPath("diff")
	if err != nil {
		t.Fatalf("GNU diff is needed to check the unified format (apt-get install diffutils): %v", err)
	}
	var old, new []string
	for i := range 60 {
		line := strings.Repeat("x", i%7) + string(rune('a'+i%26))
		old = append(old, line)
		switch {
		case i%17 == 3:
			new = append(new, line+" changed")
		case i%23 == 5:
			// dropped
		default:
			new = append(new, line)
		}
		if i%29 == 11 {
			new = append(new, "inserted")
		}
	}
	a, b := strings.Join(old, "\n")+"\n", strings.Join(new, "\n")
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	_ = os.WriteFile(pa, []byte(a), 0o600)
	_ = os.WriteFile(pb, []byte(b), 0o600)
	out, _ := exec.Command(bin, "-u", pa, pb).Output()
	want := string(out)
	want = want[strings.Index(want, "@@"):]
	got := unifiedDiff("k", []byte(a), []byte(b))
	got = got[strings.Index(got, "@@"):]
	if got != want {
		t.Errorf("hunks differ from diff -u:\ngot\n%s\nwant\n%s", got, want)
	}
}

func TestUnifiedDiffFarApart(t *testing.T) {
	var a, b strings.Builder
	for i := range 2000 {
		a.WriteString("old " + strings.Repeat("o", i%5) + "\n")
		b.WriteString("new " + strings.Repeat("n", i%5) + "\n")
	}
	got := unifiedDiff("k", []byte(a.String()), []byte(b.String()))
	if !strings.HasPrefix(got, "--- a/k\n+++ b/k\n@@ -1,2000 +1,2000 @@\n-old \n") || strings.Count(got, "\n+new") != 2000 {
		t.Errorf("far-apart files: %.200q", got)
	}
}

// FuzzDiffLines: the edit script always turns a into b, keeping only equal lines.
func FuzzDiffLines(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nc\nd\n")
	f.Add("", "x")
	f.Fuzz(func(t *testing.T, old, new string) {
		a, b := splitLines(old), splitLines(new)
		var got []string
		i := 0
		for _, o := range diffLines(a, b) {
			switch o.kind {
			case ' ':
				if o.i != i || a[o.i] != b[o.j] {
					t.Fatalf("keeps a[%d]=%q as b[%d]=%q at position %d", o.i, a[o.i], o.j, b[o.j], i)
				}
				got = append(got, a[o.i])
				i++
			case '-':
				if o.i != i {
					t.Fatalf("deletes a[%d] at position %d", o.i, i)
				}
				i++
			case '+':
				got = append(got, b[o.j])
			}
		}
		if i != len(a) || strings.Join(got, "") != strings.Join(b, "") {
			t.Fatalf("script consumed %d of %d lines and built %q, want %q", i, len(a), strings.Join(got, ""), new)
		}
	})
}
