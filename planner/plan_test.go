package planner

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

var gitStore = StoreKey{tenants.KindGit, "repo"}

func dest(id int64, name string, labels L) tenants.Destination {
	return tenants.Destination{ID: id, Name: name, Labels: labels, Path: name, StoreKind: gitStore.Kind,
		StoreName: gitStore.Name, Mode: tenants.ModeNested}
}

func team(dests ...tenants.Destination) *Team {
	return NewTeam(dests, map[StoreKey]string{gitStore: "clusters"})
}

func work(resource string, groups ...tenants.WorkloadGroup) *tenants.Work {
	w := &tenants.Work{ID: 7, Promise: "redis", Pipeline: "configure", Groups: groups}
	if resource != "" {
		w.Resource = &tenants.ResourceRef{Namespace: "default", Name: resource}
	}
	return w
}

func group(dir string, sel L, files ...string) tenants.WorkloadGroup {
	g := tenants.WorkloadGroup{Directory: dir, DestinationSelectors: sel}
	for _, f := range files {
		g.Files = append(g.Files, tenants.WorkFile{Path: f, Content: "kind: ConfigMap\n"})
	}
	return g
}

// stored is what the database would hold after writing r's placements.
func stored(r Result) []Stored {
	var out []Stored
	for i, p := range r.Placements {
		out = append(out, Stored{ID: int64(100 + i), Group: p.Group, DestinationID: p.Destination.ID,
			Destination: p.Destination.Name, Store: p.Store, Live: true, PlanHash: p.Hash})
	}
	return out
}

func destNames(ps []Placement) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprint(p.Group, "/", p.Destination.Name))
	}
	return out
}

func TestPlanDependencyGoesEverywhereWithItsKeys(t *testing.T) {
	tm := team(dest(1, "dev", L{"env": "dev"}), dest(2, "prod", L{"env": "prod"}), dest(3, "dev2", L{"env": "dev"}))
	r := tm.Plan(work("", group(".", L{"env": "dev"}, "crd.yaml")), nil, true)
	if got, want := destNames(r.Placements), []string{"0/dev", "0/dev2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("placed on %q, want %q", got, want)
	}
	p := r.Placements[0]
	if p.Err != nil || p.Unchanged || p.Old != nil || p.Hash == "" || p.Doc == "" {
		t.Fatalf("placement %+v", p)
	}
	wantKeys := []string{"clusters/dev/dependencies/redis/configure/5058f/crd.yaml"}
	if !reflect.DeepEqual(p.Keys, wantKeys) || !reflect.DeepEqual(p.Plan.Keys(), wantKeys) {
		t.Errorf("keys %q (plan %q), want %q", p.Keys, p.Plan.Keys(), wantKeys)
	}
	if !strings.HasPrefix(p.Name, "redis-configure-") || !strings.HasSuffix(p.Name, ".dev-5058f") {
		t.Errorf("name %q", p.Name)
	}
	if decoded, err := DecodePlan(p.Doc); err != nil || !reflect.DeepEqual(decoded.Keys(), wantKeys) {
		t.Errorf("stored plan decodes to %v, %v", decoded, err)
	}
	if len(r.Removals) != 0 || len(r.Unscheduled) != 0 {
		t.Errorf("removals %v unscheduled %v", r.Removals, r.Unscheduled)
	}
}

func TestPlanUnchangedUnlessForced(t *testing.T) {
	tm := team(dest(1, "dev", L{"env": "dev"}))
	w := work("my-request", group(".", L{"env": "dev"}, "redis.yaml"))
	first := tm.Plan(w, nil, true)
	again := tm.Plan(w, stored(first), false)
	if p := again.Placements[0]; !p.Unchanged || p.Old == nil || p.Old.ID != 100 {
		t.Errorf("re-plan of the same Work: %+v, want unchanged with its stored placement", p)
	}
	if p := tm.Plan(w, stored(first), true).Placements[0]; p.Unchanged {
		t.Error("a forced plan is never unchanged")
	}
	w.Groups[0].Files[0].Content = "kind: Secret\n"
	if p := tm.Plan(w, stored(first), false).Placements[0]; p.Unchanged || p.Hash == first.Placements[0].Hash {
		t.Error("new content is a changed plan")
	}
}

func TestPlanRemovals(t *testing.T) {
	tm := team(dest(1, "a", L{"env": "dev"}), dest(2, "b", L{"env": "dev"}))
	w := work("", group(".", L{"env": "dev"}, "x.yaml"), group("extra", L{"env": "dev"}, "y.yaml"))
	before := stored(tm.Plan(w, nil, true))
	// b stops matching; group 1 is dropped from the Work.
	tm = team(dest(1, "a", L{"env": "dev"}), dest(2, "b", L{"env": "prod"}))
	w.Groups = w.Groups[:1]
	r := tm.Plan(w, before, true)
	if got, want := destNames(r.Placements), []string{"0/a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("placed on %q, want %q", got, want)
	}
	var got []string
	for _, rm := range r.Removals {
		got = append(got, fmt.Sprint(rm.Group, "/", rm.Destination, " misplaced=", rm.Misplaced))
	}
	want := []string{"0/b misplaced=true", "1/a misplaced=false", "1/b misplaced=false"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("removals %q, want %q", got, want)
	}
	// A placement already marked for removal is not removed again.
	for i := range before {
		before[i].Live = before[i].Destination == "a" && before[i].Group == 0
	}
	if r := tm.Plan(w, before, true); len(r.Removals) != 0 {
		t.Errorf("removals of placements already going: %+v", r.Removals)
	}
}

func TestPlanErrorsNameTheGroup(t *testing.T) {
	missing := dest(1, "dev", L{"env": "dev"})
	missing.StoreName = "gone"
	for name, tt := range map[string]struct {
		tm   *Team
		w    *tenants.Work
		want string
	}{
		"store missing": {team(missing), work("", group(".", L{"env": "dev"}, "x.yaml")),
			`Destination "dev" refers to GitStateStore "gone", which does not exist`},
		"bad file path": {team(dest(1, "dev", L{"env": "dev"})), work("", group(".", L{"env": "dev"}, "../x.yaml")),
			`on Destination "dev"`},
	} {
		t.Run(name, func(t *testing.T) {
			p := tt.tm.Plan(tt.w, nil, true).Placements[0]
			var ve *tenants.ValidationError
			if !errors.As(p.Err, &ve) || ve.Field != "workloadGroups[0]" || !strings.Contains(ve.Message, tt.want) {
				t.Fatalf("error %v, want a validation error of workloadGroups[0] saying %q", p.Err, tt.want)
			}
			if !Fatal(p.Err, true) || Fatal(p.Err, false) {
				t.Error("a layout error fails a submit and not a re-plan")
			}
			u := NotPlaced(tt.w, p, p.Err)
			if u.Group != 0 || !strings.HasPrefix(u.Reason, `not placed on Destination "dev": `) {
				t.Errorf("not placed: %+v", u)
			}
		})
	}
	if !Fatal(errors.New("connection reset"), false) {
		t.Error("a database error fails a re-plan too")
	}
}

func TestPlanUnscheduledByGroup(t *testing.T) {
	tm := team(dest(1, "dev", L{"env": "dev"}))
	w := work("", group(".", L{"env": "prod"}, "x.yaml"), group("b", L{"env": "dev"}, "y.yaml"), group("c", L{"env": "qa"}, "z.yaml"))
	r := tm.Plan(w, nil, true)
	if len(r.Unscheduled) != 2 || r.Unscheduled[0].Group != 0 || r.Unscheduled[1].Group != 2 {
		t.Fatalf("unscheduled %+v", r.Unscheduled)
	}
	us := append(r.Unscheduled, NotPlaced(w, r.Placements[0], errors.New("clash")))
	SortUnscheduled(us)
	if us[0].Group != 0 || us[1].Group != 1 || us[2].Group != 2 {
		t.Errorf("sorted %+v", us)
	}
}

// TestPlanIgnoresInputOrder is the property: the same Destinations and stored
// placements, in any order, give the same plan.
func TestPlanIgnoresInputOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	envs := []string{"dev", "prod", "qa"}
	for iter := range 500 {
		var dests []tenants.Destination
		for i := range 1 + rng.IntN(6) {
			d := dest(int64(i+1), fmt.Sprintf("d%d", i), L{"env": envs[rng.IntN(3)]})
			d.Mode = []string{tenants.ModeNested, tenants.ModeNone, tenants.ModeAggregated}[rng.IntN(3)]
			if rng.IntN(4) == 0 {
				ready := false
				d.Status.Ready = &ready
			}
			dests = append(dests, d)
		}
		var groups []tenants.WorkloadGroup
		for g := range 1 + rng.IntN(3) {
			groups = append(groups, group([]string{".", "a", "b"}[g], L{"env": envs[rng.IntN(3)]}, "f.yaml", "g/h.yaml"))
		}
		resource := ""
		if rng.IntN(2) == 0 {
			resource = fmt.Sprintf("req-%d", iter)
		}
		w := work(resource, groups...)
		var st []Stored
		for i, d := range dests {
			for g := range groups {
				if rng.IntN(3) == 0 {
					st = append(st, Stored{ID: int64(1000 + 10*i + g), Group: g, DestinationID: d.ID, Destination: d.Name,
						Store: gitStore, Live: rng.IntN(4) > 0, PlanHash: "old"})
				}
			}
		}
		force := rng.IntN(2) == 0
		want := team(dests...).Plan(w, st, force)
		shuffledDests := append([]tenants.Destination(nil), dests...)
		shuffledStored := append([]Stored(nil), st...)
		rng.Shuffle(len(shuffledDests), func(i, j int) { shuffledDests[i], shuffledDests[j] = shuffledDests[j], shuffledDests[i] })
		rng.Shuffle(len(shuffledStored), func(i, j int) { shuffledStored[i], shuffledStored[j] = shuffledStored[j], shuffledStored[i] })
		got := team(shuffledDests...).Plan(w, shuffledStored, force)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("iteration %d: the plan depends on the input order:\n got %+v\nwant %+v", iter, got, want)
		}
	}
}
