package pathing

import (
	"errors"
	"reflect"
	"testing"
)

const (
	wantNamespaceYAML = "apiVersion: v1\nkind: Namespace\nmetadata:\n" +
		"  name: kratix-worker-system\nspec: {}\nstatus: {}\n"
	wantConfigMapYAML = "apiVersion: v1\ndata:\n  canary: this confirms your infrastructure is reading from Kratix state stores\n" +
		"kind: ConfigMap\nmetadata:\n  name: kratix-info\n  namespace: kratix-worker-system\n"
)

func TestCanary(t *testing.T) {
	tests := []struct {
		name   string
		store  string
		d      Destination
		wantNS string
		wantCM string
	}{
		{"nested/root-dot", "", Destination{Path: "."},
			"dependencies/kratix-canary-namespace.yaml", "resources/kratix-canary-configmap.yaml"},
		{"nested/explicit/nested-paths", "s", Destination{Path: "d/e", Mode: ModeNested},
			"s/d/e/dependencies/kratix-canary-namespace.yaml", "s/d/e/resources/kratix-canary-configmap.yaml"},
		{"none/root-slash", "", Destination{Path: "/", Mode: ModeNone},
			"kratix-canary-namespace.yaml", "kratix-canary-configmap.yaml"},
		{"none/nested-paths", "s", Destination{Path: "d", Mode: ModeNone},
			"s/d/kratix-canary-namespace.yaml", "s/d/kratix-canary-configmap.yaml"},
		{"aggregated/root-empty", "", Destination{Path: "", Mode: ModeAggregated},
			"kratix-canary-namespace.yaml", "kratix-canary-configmap.yaml"},
		{"legacy/root-dot", "", Destination{Name: "worker-cluster", Path: ".", Mode: ModeLegacy},
			"worker-cluster/dependencies/kratix-canary-namespace.yaml", "worker-cluster/resources/kratix-canary-configmap.yaml"},
		{"legacy/nested-paths", "destinations", Destination{Name: "worker-1", Path: "dev", Mode: ModeLegacy},
			"destinations/dev/worker-1/dependencies/kratix-canary-namespace.yaml",
			"destinations/dev/worker-1/resources/kratix-canary-configmap.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canary(tt.store, tt.d)
			if err != nil {
				t.Fatalf("Canary: got error %v, want nil", err)
			}
			want := []File{
				{Path: tt.wantNS, Content: []byte(wantNamespaceYAML)},
				{Path: tt.wantCM, Content: []byte(wantConfigMapYAML)},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Canary:\ngot  %q\nwant %q", got, want)
			}
		})
	}
}

func TestCanaryRejects(t *testing.T) {
	tests := []struct {
		name      string
		store     string
		d         Destination
		wantField string
	}{
		{"store-dotdot", "../x", Destination{Path: "."}, FieldStorePath},
		{"dest-dotdot", "", Destination{Path: ".."}, FieldDestPath},
		{"unknown-mode", "", Destination{Path: ".", Mode: "flat"}, FieldMode},
		{"legacy-without-name", "", Destination{Path: ".", Mode: ModeLegacy}, FieldDestName},
		{"legacy-name-dotdot", "", Destination{Name: "..", Path: ".", Mode: ModeLegacy}, FieldDestName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canary(tt.store, tt.d)
			var pe *PathError
			if !errors.As(err, &pe) || pe.Field != tt.wantField {
				t.Errorf("Canary: got %q, %v; want a *PathError for %q", got, err, tt.wantField)
			}
		})
	}
}

func TestCanaryContentIsNotShared(t *testing.T) {
	first, _ := Canary("", Destination{Path: "."})
	first[0].Content[0] = 'X'
	second, _ := Canary("", Destination{Path: "."})
	if string(second[0].Content) != wantNamespaceYAML {
		t.Errorf("Canary content changed after a caller modified an earlier result: %q", second[0].Content)
	}
}
