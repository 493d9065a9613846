package planner

import (
	"github.com/stateward/stateward/tenants"

	"fmt"
	"reflect"
	"strings"
	"testing"
)

func cand(name string, labels map[string]string, opts ...string) Candidate {
	c := Candidate{Destination: tenants.Destination{Name: name, Labels: labels}}
	for _, o := range opts {
		switch o {
		case "strict":
			c.Destination.StrictMatchLabels = true
		case "failing":
			c.StoreFailing = true
		case "waiting":
			c.Destination.Waiting = "State Store `default` not found"
			c.StoreFailing = true
		}
	}
	return c
}

func depWork(selectors ...map[string]string) *tenants.Work {
	w := &tenants.Work{Promise: "redis"}
	for i, s := range selectors {
		w.Groups = append(w.Groups, tenants.WorkloadGroup{Directory: fmt.Sprintf("g%d", i), DestinationSelectors: s})
	}
	return w
}

func resWork(name string, selectors ...map[string]string) *tenants.Work {
	w := depWork(selectors...)
	w.Resource = &tenants.ResourceRef{Namespace: "default", Name: name}
	return w
}

type L = map[string]string

func TestScheduleMatching(t *testing.T) {
	tests := []struct {
		name     string
		w        *tenants.Work
		cands    []Candidate
		want     []string
		unsched  string // substring of the reason; "" = scheduled
		existing []string
	}{
		{"dependency goes to every match, sorted",
			depWork(L{"env": "dev"}),
			[]Candidate{cand("b", L{"env": "dev"}), cand("a", L{"env": "dev", "x": "y"}), cand("c", L{"env": "prod"})},
			[]string{"a", "b"}, "", nil},
		{"extra labels on the destination still match",
			depWork(L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev", "team": "x", "zone": "1"})},
			[]string{"a"}, "", nil},
		{"every selector label must match (AND)",
			depWork(L{"env": "dev", "team": "x"}), []Candidate{cand("a", L{"env": "dev"}), cand("b", L{"env": "dev", "team": "x"})},
			[]string{"b"}, "", nil},
		{"values are case-sensitive",
			depWork(L{"env": "Dev"}), []Candidate{cand("a", L{"env": "dev"})},
			nil, "no Destination has labels env=Dev", nil},
		{"keys are case-sensitive",
			depWork(L{"Env": "dev"}), []Candidate{cand("a", L{"env": "dev"})},
			nil, "no Destination has labels Env=dev", nil},
		{"empty selector value matches only an empty label value",
			depWork(L{"env": ""}), []Candidate{cand("a", L{"env": ""}), cand("b", L{"env": "dev"}), cand("c", nil)},
			[]string{"a"}, "", nil},
		{"no selectors match every non-strict destination",
			depWork(nil), []Candidate{cand("a", L{"env": "dev"}), cand("b", nil)},
			[]string{"a", "b"}, "", nil},
		{"empty selector map is no selectors",
			depWork(L{}), []Candidate{cand("a", L{"env": "dev"})},
			[]string{"a"}, "", nil},
		{"no selectors skip strict destinations with labels",
			depWork(nil), []Candidate{cand("a", L{"env": "dev"}, "strict"), cand("b", L{"env": "dev"})},
			[]string{"b"}, "", nil},
		{"a strict destination without labels still receives unselected work",
			depWork(nil), []Candidate{cand("a", nil, "strict"), cand("b", L{}, "strict")},
			[]string{"a", "b"}, "", nil},
		{"selectors reach strict destinations that match",
			depWork(L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}, "strict")},
			[]string{"a"}, "", nil},
		{"all strict: reason says so",
			depWork(nil), []Candidate{cand("a", L{"env": "dev"}, "strict")},
			nil, "the group has no destinationSelectors, and every Destination sets strictMatchLabels and has labels: a", nil},
		{"dependencies include failing stores",
			depWork(L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}, "failing"), cand("b", L{"env": "dev"})},
			[]string{"a", "b"}, "", nil},
		{"no destinations registered",
			depWork(L{"env": "dev"}), nil, nil, "no Destinations registered", nil},
		{"no match names the labels in key order",
			depWork(L{"environment": "prod", "a": "b"}), []Candidate{cand("a", L{"environment": "dev"})},
			nil, "no Destination has labels a=b,environment=prod", nil},
		{"resource goes to exactly one",
			resWork("r", L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}), cand("b", L{"env": "dev"}), cand("c", L{"env": "dev"})},
			nil, "", nil},
		{"resource skips failing stores",
			resWork("r", L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}, "failing"), cand("b", L{"env": "dev"})},
			[]string{"b"}, "", nil},
		{"resource: all matching failing",
			resWork("r", L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}, "failing"), cand("b", L{"env": "dev"}, "failing"), cand("c", nil)},
			nil, "all 2 matching Destinations have failing State Stores: a, b", nil},
		{"resource: the only match failing",
			resWork("r", L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}, "failing")},
			nil, "the only matching Destination has a failing State Store: a", nil},
		{"sticky even when the store is failing now",
			resWork("r", L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}, "failing"), cand("b", L{"env": "dev"})},
			[]string{"a"}, "", []string{"a"}},
		// internal/controller/scheduler.go getDestinationsForWorkloadGroup: "Never
		// route normal Works to the dry-run Destination".
		{"dry-run destination skipped without the label in the selectors",
			depWork(L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev", tenants.DryRunLabel: "true"}), cand("b", L{"env": "dev"})},
			[]string{"b"}, "", nil},
		{"dry-run destination skipped by a Work without selectors",
			depWork(nil), []Candidate{cand("a", L{tenants.DryRunLabel: "true"}), cand("b", nil)},
			[]string{"b"}, "", nil},
		{"dry-run destination receives Works that select it",
			depWork(L{tenants.DryRunLabel: "true"}), []Candidate{cand("a", L{"env": "dev", tenants.DryRunLabel: "true"}), cand("b", L{"env": "dev"})},
			[]string{"a"}, "", nil},
		{"dry-run selector with other labels",
			resWork("r", L{tenants.DryRunLabel: "true", "env": "dev"}), []Candidate{cand("a", L{"env": "dev", tenants.DryRunLabel: "true"}), cand("b", L{tenants.DryRunLabel: "true"})},
			[]string{"a"}, "", nil},
		{"a dry-run label with another value is an ordinary label",
			depWork(nil), []Candidate{cand("a", L{tenants.DryRunLabel: "false"})},
			[]string{"a"}, "", nil},
		{"only dry-run destinations: reason says so",
			depWork(L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev", tenants.DryRunLabel: "true"})},
			nil, "every Destination is a dry-run Destination (kratix.io/dry-run=true)", nil},
		{"sticky placement leaves a Destination that became dry-run",
			resWork("r", L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev", tenants.DryRunLabel: "true"}), cand("b", L{"env": "dev"})},
			[]string{"b"}, "", []string{"a"}},
		{"resource skips a destination waiting for its store",
			resWork("r", L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}, "waiting"), cand("b", L{"env": "dev"})},
			[]string{"b"}, "", nil},
		{"resource: the only match waits, reason says for what",
			resWork("r", L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}, "waiting")},
			nil, "Destination a waits: State Store `default` not found", nil},
		{"resource already placed on a waiting destination stays",
			resWork("r", L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}, "waiting"), cand("b", L{"env": "dev"})},
			[]string{"a"}, "", []string{"a"}},
		{"dependency: only waiting matches",
			depWork(L{"env": "dev"}), []Candidate{cand("a", L{"env": "dev"}, "waiting")},
			nil, "Destination a waits: State Store `default` not found", nil},
		{"sticky placement respects strictness",
			resWork("r", nil), []Candidate{cand("a", L{"env": "dev"}, "strict"), cand("b", nil)},
			[]string{"b"}, "", []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Schedule(tt.w, tt.cands, map[int][]string{0: tt.existing})[0]
			if tt.unsched != "" {
				if got.Unscheduled == nil || !strings.Contains(got.Unscheduled.Reason, tt.unsched) {
					t.Fatalf("got %+v (unscheduled %+v), want reason containing %q", got, got.Unscheduled, tt.unsched)
				}
				if len(got.Destinations) != 0 {
					t.Errorf("unscheduled group has destinations %v", got.Destinations)
				}
				return
			}
			if got.Unscheduled != nil {
				t.Fatalf("unscheduled: %s", got.Unscheduled.Reason)
			}
			if !tt.w.IsDependency() && len(got.Destinations) != 1 {
				t.Fatalf("resource placed on %v, want exactly one", got.Destinations)
			}
			if tt.want != nil && !reflect.DeepEqual(got.Destinations, tt.want) {
				t.Errorf("got %v, want %v", got.Destinations, tt.want)
			}
		})
	}
}

func TestScheduleUnscheduledDetails(t *testing.T) {
	w := resWork("r", L{"env": "prod"})
	w.Groups[0].Directory = "."
	got := Schedule(w, []Candidate{cand("a", L{"env": "dev"})}, nil)
	want := &tenants.Unscheduled{Group: 0, Directory: ".", Selectors: L{"env": "prod"}, Reason: "no Destination has labels env=prod"}
	if !reflect.DeepEqual(got[0].Unscheduled, want) {
		t.Errorf("got %+v, want %+v", got[0].Unscheduled, want)
	}
}

func TestScheduleMisplaced(t *testing.T) {
	tests := []struct {
		name          string
		w             *tenants.Work
		existing      []string
		wantDests     []string
		wantMisplaced []string
	}{
		{"resource: existing stopped matching, chosen anew", resWork("r", L{"env": "dev"}), []string{"old"}, []string{"b"}, []string{"old"}},
		{"resource: vanished destination is not misplaced", resWork("r", L{"env": "dev"}), []string{"gone"}, []string{"b"}, nil},
		{"resource: surplus placements reported", resWork("r", L{"env": "dev"}), []string{"c", "b"}, []string{"b"}, []string{"c"}},
		{"dependency: stopped matching", depWork(L{"env": "dev"}), []string{"old", "b"}, []string{"b", "c"}, []string{"old"}},
	}
	cands := []Candidate{cand("old", L{"env": "prod"}), cand("b", L{"env": "dev"}), cand("c", L{"env": "dev"}, "failing")}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Schedule(tt.w, cands, map[int][]string{0: tt.existing})[0]
			if !reflect.DeepEqual(got.Destinations, tt.wantDests) || !reflect.DeepEqual(got.Misplaced, tt.wantMisplaced) {
				t.Errorf("got dests %v misplaced %v, want %v and %v", got.Destinations, got.Misplaced, tt.wantDests, tt.wantMisplaced)
			}
		})
	}
}

func TestScheduleGroupsIndependently(t *testing.T) {
	w := resWork("r", L{"env": "dev"}, L{"env": "prod"})
	got := Schedule(w, []Candidate{cand("d", L{"env": "dev"}), cand("p", L{"env": "prod"})}, map[int][]string{1: {"p"}})
	if len(got) != 2 || got[0].Group != 0 || got[1].Group != 1 {
		t.Fatalf("decisions %+v", got)
	}
	if !reflect.DeepEqual(got[0].Destinations, []string{"d"}) || !reflect.DeepEqual(got[1].Destinations, []string{"p"}) {
		t.Errorf("got %v and %v, want [d] and [p]", got[0].Destinations, got[1].Destinations)
	}
}

func manyCands(n int) []Candidate {
	out := make([]Candidate, n)
	for i := range out {
		out[i] = cand(fmt.Sprintf("dest-%d", i), L{"env": "dev"})
	}
	return out
}

func TestScheduleDeterministic(t *testing.T) {
	cands := manyCands(5)
	reversed := make([]Candidate, len(cands))
	for i, c := range cands {
		reversed[len(cands)-1-i] = c
	}
	for i := range 50 {
		w := resWork(fmt.Sprintf("req-%d", i), L{"env": "dev"})
		a, b := Schedule(w, cands, nil)[0], Schedule(w, reversed, nil)[0]
		if !reflect.DeepEqual(a.Destinations, b.Destinations) {
			t.Fatalf("%s: %v then %v for the same input", w.Resource.Name, a.Destinations, b.Destinations)
		}
	}
}

func TestScheduleSpreads(t *testing.T) {
	cands := manyCands(4)
	count := map[string]int{}
	for i := range 400 {
		count[Schedule(resWork(fmt.Sprintf("req-%d", i), L{"env": "dev"}), cands, nil)[0].Destinations[0]]++
	}
	for _, c := range cands {
		if n := count[c.Destination.Name]; n < 50 {
			t.Errorf("%s got %d of 400 requests; the hash does not spread (%v)", c.Destination.Name, n, count)
		}
	}
}

func TestScheduleAddingDestinationRarelyMoves(t *testing.T) {
	before, after := manyCands(5), append(manyCands(5), cand("new", L{"env": "dev"}))
	moved := 0
	const n = 600
	for i := range n {
		w := resWork(fmt.Sprintf("req-%d", i), L{"env": "dev"})
		a, b := Schedule(w, before, nil)[0].Destinations[0], Schedule(w, after, nil)[0].Destinations[0]
		if a != b {
			moved++
			if b != "new" {
				t.Fatalf("%s moved from %s to %s, not to the new Destination", w.Resource.Name, a, b)
			}
		}
		// Stickiness: with its placement recorded nothing moves at all.
		if s := Schedule(w, after, map[int][]string{0: {a}})[0].Destinations[0]; s != a {
			t.Fatalf("%s: sticky placement %s moved to %s", w.Resource.Name, a, s)
		}
	}
	if moved == 0 || moved > n/4 {
		t.Errorf("%d of %d moved when a 6th Destination was added, want about 1/6", moved, n)
	}
}

func FuzzSchedule(f *testing.F) {
	f.Add([]byte("env=dev;a:env=dev;b:env=prod,strict"), true, "a")
	f.Add([]byte(";a:;b:x=,strict,failing"), false, "")
	f.Add([]byte("k=v,k2=;x:k=v,failing"), true, "x")
	f.Fuzz(func(t *testing.T, spec []byte, resource bool, placed string) {
		sel, cands := parseFuzzSpec(string(spec))
		w := depWork(sel, nil)
		if resource {
			w.Resource = &tenants.ResourceRef{Namespace: "ns", Name: "n"}
		}
		got := Schedule(w, cands, map[int][]string{0: {placed}, 1: {placed, placed}})
		for _, d := range got {
			if resource && len(d.Destinations) > 1 {
				t.Fatalf("resource group placed on %v", d.Destinations)
			}
			if (len(d.Destinations) == 0) != (d.Unscheduled != nil) {
				t.Fatalf("destinations %v with unscheduled %+v", d.Destinations, d.Unscheduled)
			}
		}
	})
}

// parseFuzzSpec reads "sel;name:k=v,k=v,strict,failing;…".
func parseFuzzSpec(s string) (map[string]string, []Candidate) {
	parts := strings.Split(s, ";")
	kv := func(list string) (map[string]string, []string) {
		m, opts := map[string]string{}, []string{}
		for _, item := range strings.Split(list, ",") {
			if k, v, ok := strings.Cut(item, "="); ok {
				m[k] = v
			} else {
				opts = append(opts, item)
			}
		}
		return m, opts
	}
	sel, _ := kv(parts[0])
	var cands []Candidate
	for _, p := range parts[1:] {
		name, rest, _ := strings.Cut(p, ":")
		labels, opts := kv(rest)
		cands = append(cands, cand(name, labels, opts...))
	}
	return sel, cands
}

func TestScheduleDependencyWaits(t *testing.T) {
	cands := []Candidate{cand("a", L{"env": "dev"}, "waiting"), cand("b", L{"env": "dev"}), cand("c", L{"env": "dev"}, "waiting")}
	got := Schedule(depWork(L{"env": "dev"}), cands, map[int][]string{0: {"c"}})[0]
	if !reflect.DeepEqual(got.Destinations, []string{"b", "c"}) || got.Unscheduled != nil {
		t.Fatalf("got %v (unscheduled %+v), want [b c]: a waits, c keeps its placement", got.Destinations, got.Unscheduled)
	}
	want := []tenants.Unscheduled{{Group: 0, Directory: "g0", Selectors: L{"env": "dev"}, Destination: "a", Reason: "State Store `default` not found"}}
	if !reflect.DeepEqual(got.Waiting, want) {
		t.Errorf("waiting = %+v, want %+v", got.Waiting, want)
	}
}
