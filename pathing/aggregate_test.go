package pathing

import (
	"reflect"
	"slices"
	"testing"
)

func TestSplitDocuments(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"single", "a: 1\n", []string{"a: 1"}},
		{"leading-marker", "---\na: 1\n", []string{"a: 1"}},
		{"two", "a: 1\n---\nb: 2\n", []string{"a: 1", "b: 2"}},
		{"empty-docs-dropped", "---\n\n---\n# only a comment\n---\na: 1\n---\n", []string{"a: 1"}},
		{"crlf", "a: 1\r\n---\r\nb: 2\r\n", []string{"a: 1", "b: 2"}},
		{"marker-with-comment", "a: 1\n--- # next\nb: 2", []string{"a: 1", "b: 2"}},
		{"marker-with-content", "--- |\n  text\n", []string{"|\n  text"}},
		{"document-end", "a: 1\n...\n---\nb: 2\n", []string{"a: 1", "b: 2"}},
		{"directive-dropped", "%YAML 1.2\n---\na: 1\n", []string{"a: 1"}},
		{"bom", "\ufeffa: 1\n", []string{"a: 1"}},
		{"not-markers", "a: ---\nb: '---x'\n----\n", []string{"a: ---\nb: '---x'\n----"}},
		{"indented-dashes-kept", "a: |\n  ---\n", []string{"a: |\n  ---"}},
		{"comment-kept-with-content", "# head\na: 1\n", []string{"# head\na: 1"}},
		{"empty", "", nil},
		{"only-whitespace", "  \n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range splitDocuments([]byte(tt.in)) {
				got = append(got, string(d))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitDocuments(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAggregated(t *testing.T) {
	doc := func(file, content string) Doc { return Doc{File: file, Content: []byte(content)} }
	parts := []AggregatePart{
		{Placement: "redis.worker-1-5058f", Docs: []Doc{doc("b.yaml", "kind: B1"), doc("b.yaml", "kind: B2"), doc("a.yaml", "kind: A")}},
		{Placement: "postgres.worker-1-5058f", Docs: []Doc{doc("z.yaml", "kind: P")}},
		{Placement: "empty.worker-1-5058f"},
		{Placement: "redis-default-r.worker-1-5058f", Docs: []Doc{doc("x.yaml", "kind: R")}},
	}
	want := "kind: P\n---\nkind: R\n---\nkind: A\n---\nkind: B1\n---\nkind: B2\n"
	if got := string(Aggregated(parts)); got != want {
		t.Errorf("Aggregated:\ngot  %q\nwant %q", got, want)
	}
	reversed := slices.Clone(parts)
	slices.Reverse(reversed)
	if got := string(Aggregated(reversed)); got != want {
		t.Errorf("Aggregated of reversed parts:\ngot  %q\nwant %q", got, want)
	}
}

func TestAggregatedEmpty(t *testing.T) {
	if got := Aggregated(nil); len(got) != 0 {
		t.Errorf("Aggregated(nil) = %q, want empty", got)
	}
	if got := Aggregated([]AggregatePart{{Placement: "p"}}); len(got) != 0 {
		t.Errorf("Aggregated(no docs) = %q, want empty", got)
	}
}

func TestAggregatedFromLayout(t *testing.T) {
	d := Destination{Path: ".", Mode: ModeAggregated}
	var parts []AggregatePart
	for _, name := range []string{"b.dest-5058f", "a.dest-5058f"} {
		g := Group{Promise: name[:1], Files: []File{{Path: "f.yaml", Content: []byte("---\nname: " + name + "\n---\n")}}}
		plan, err := Layout("", d, name, g)
		if err != nil {
			t.Fatalf("Layout: %v", err)
		}
		parts = append(parts, *plan.Aggregate)
	}
	want := "name: a.dest-5058f\n---\nname: b.dest-5058f\n"
	if got := string(Aggregated(parts)); got != want {
		t.Errorf("Aggregated:\ngot  %q\nwant %q", got, want)
	}
}
