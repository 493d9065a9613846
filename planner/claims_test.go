package planner

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stateward/stateward/pathing"
	"github.com/stateward/stateward/tenants"
)

func TestNear(t *testing.T) {
	exact, below := Near([]pathing.Claim{{Key: "s/d/a.yaml"}, {Key: "s/d", Dir: true}})
	if want := []string{"s", "s/d", "s/d/a.yaml"}; !reflect.DeepEqual(exact, want) {
		t.Errorf("exact %q, want %q", exact, want)
	}
	if want := [][2]string{{"s/d/a.yaml/", "s/d/a.yaml0"}, {"s/d/", "s/d0"}}; !reflect.DeepEqual(below, want) {
		t.Errorf("below %q, want %q", below, want)
	}
}

func TestFirstClash(t *testing.T) {
	file := pathing.Claim{Key: "s/d/app.yaml"}
	dir := pathing.Claim{Key: "s/d", Dir: true}
	target := pathing.Claim{Key: "s/agg.yaml", Shared: true}
	for name, tt := range map[string]struct {
		want    []pathing.Claim
		held    []Held
		clash   string // held key, "" for none
		withKey string
	}{
		"nothing held":            {[]pathing.Claim{file}, nil, "", ""},
		"same file":               {[]pathing.Claim{file}, []Held{{Key: "s/d/app.yaml", PlacementID: 3}}, "s/d/app.yaml", "s/d/app.yaml"},
		"a file where a dir goes": {[]pathing.Claim{file}, []Held{{Key: "s/d", PlacementID: 3}}, "s/d", "s/d/app.yaml"},
		"below a new file":        {[]pathing.Claim{{Key: "s/x"}}, []Held{{Key: "s/x/y.yaml", PlacementID: 3}}, "s/x/y.yaml", "s/x"},
		"an owned dir":            {[]pathing.Claim{file, dir}, []Held{{Key: "s/d/other.yaml", CanaryID: 9}}, "s/d/other.yaml", "s/d"},
		"shared with shared":      {[]pathing.Claim{target}, []Held{{Key: "s/agg.yaml", PlacementID: 3, Shared: true}}, "", ""},
		"shared with a file":      {[]pathing.Claim{target}, []Held{{Key: "s/agg.yaml", PlacementID: 3}}, "s/agg.yaml", "s/agg.yaml"},
		"first by key": {[]pathing.Claim{file, {Key: "s/b.yaml"}},
			[]Held{{Key: "s/d/app.yaml", PlacementID: 3}, {Key: "s/b.yaml", PlacementID: 4}}, "s/b.yaml", "s/b.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			h, key := FirstClash(tt.want, tt.held)
			switch {
			case tt.clash == "" && h != nil:
				t.Errorf("clash with %+v", h)
			case tt.clash != "" && (h == nil || h.Key != tt.clash || key != tt.withKey):
				t.Errorf("clash %+v at %q, want %q at %q", h, key, tt.clash, tt.withKey)
			}
		})
	}
}

func TestSelfClash(t *testing.T) {
	plan := pathing.Plan{Files: []pathing.File{{Path: "s/app"}, {Path: "s/app/config.yaml"}}}
	err := SelfClash(plan, "w", "dev")
	if !errors.Is(err, tenants.ErrConflict) || !strings.Contains(err.Error(), `"s/app" and "s/app/config.yaml"`) {
		t.Errorf("self clash: %v", err)
	}
	if err := SelfClash(pathing.Plan{Files: []pathing.File{{Path: "s/app.yaml"}, {Path: "s/app/x"}}}, "w", "dev"); err != nil {
		t.Errorf("no clash: %v", err)
	}
}

func TestHoldsExactly(t *testing.T) {
	plan := pathing.Plan{Files: []pathing.File{{Path: "s/d/a"}}, OwnedPrefix: "s/d/"}
	held := []StoredClaim{{Store: gitStore, Key: "s/d/a"}, {Store: gitStore, Key: "s/d", Dir: true}}
	if !HoldsExactly(held, gitStore, plan) {
		t.Error("the same claims are held")
	}
	if HoldsExactly(held[:1], gitStore, plan) || HoldsExactly(held, StoreKey{tenants.KindBucket, "repo"}, plan) {
		t.Error("fewer claims, or another store, are not the same")
	}
}

func TestConflictSaysWhoHoldsWhat(t *testing.T) {
	h := Holder{Held: Held{Key: "s/d", Dir: true, PlacementID: 3}, Placement: "other.dev-5058f", Work: 12, WorkName: "other", Destination: "dev"}
	err := Conflict(h, "s/d/app.yaml", "mine", "dev")
	for _, want := range []string{`Work "mine" cannot write "s/d/app.yaml"`, `Work "other" (id 12) already owns the directory "s/d"`,
		`everything below "s/d" is that Work's`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nwant it to say %q", err, want)
		}
	}
	h.WorkName = ""
	if err := Conflict(h, "s/d/app.yaml", "mine", "dev"); !strings.Contains(err.Error(), "Work #12 already") {
		t.Errorf("unknown Work: %v", err)
	}
	canary := Conflict(Holder{Held: Held{Key: "s/d/kratix-canary-configmap.yaml", CanaryID: 1}}, "s/d/kratix-canary-configmap.yaml", "mine", "dev")
	if !errors.Is(canary, tenants.ErrConflict) || !strings.Contains(canary.Error(), "canary file") {
		t.Errorf("canary: %v", canary)
	}
}
