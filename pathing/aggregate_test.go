package pathing

import (
	"slices"
	"testing"
)

func TestAggregated(t *testing.T) {
	file := func(p, content string) File { return File{Path: p, Content: []byte(content)} }
	parts := []AggregatePart{
		{Placement: "redis.worker-1-5058f", Files: []File{file("b.yaml", "kind: B1\n---\nkind: B2\n"), file("a.yaml", "kind: A")}},
		{Placement: "postgres.worker-1-5058f", Files: []File{file("z.yaml", "kind: P")}},
		{Placement: "empty.worker-1-5058f"},
		{Placement: "redis-default-r.worker-1-5058f", Files: []File{file("x.yaml", "kind: R")}},
	}
	// placements by name; files whole, in the Work's order; nothing at the end
	want := "kind: P\n---\nkind: R\n---\nkind: B1\n---\nkind: B2\n\n---\nkind: A"
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
	want := "---\nname: a.dest-5058f\n---\n\n---\n---\nname: b.dest-5058f\n---\n"
	if got := string(Aggregated(parts)); got != want {
		t.Errorf("Aggregated:\ngot  %q\nwant %q", got, want)
	}
}
