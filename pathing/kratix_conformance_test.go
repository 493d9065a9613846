package pathing

// Conformance with Kratix (github.com/syntasso/kratix, commit ae170e22): keys and
// exact bytes for the inputs of Kratix's own tests. Every case names the Kratix file
// its expectation comes from; a difference from Kratix that is deliberate is listed
// in the README ("Differences from Kratix"), not here.

import (
	"crypto/md5"
	"encoding/hex"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func md5Prefix(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])[:5]
}

func TestKratixCanaryBytes(t *testing.T) {
	// internal/controller/destination_controller_test.go assertCanaryFilesWereCreated
	// (a Destination with path "test-path" and filepath mode none) and
	// internal/controller/destination_controller.go getCanaryWorkloads (nested keys).
	const ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kratix-worker-system\nspec: {}\nstatus: {}\n"
	const cm = "apiVersion: v1\ndata:\n  canary: this confirms your infrastructure is reading from Kratix state stores\nkind: ConfigMap\nmetadata:\n  name: kratix-info\n  namespace: kratix-worker-system\n"
	tests := []struct {
		name, source string
		d            Destination
		want         []File
	}{
		{"none", "destination_controller_test.go assertCanaryFilesWereCreated",
			Destination{Path: "test-path", Mode: ModeNone},
			[]File{{"test-path/kratix-canary-namespace.yaml", []byte(ns)}, {"test-path/kratix-canary-configmap.yaml", []byte(cm)}}},
		{"aggregatedYAML", "destination_controller.go getCanaryWorkloads",
			Destination{Path: "test-path", Mode: ModeAggregated},
			[]File{{"test-path/kratix-canary-namespace.yaml", []byte(ns)}, {"test-path/kratix-canary-configmap.yaml", []byte(cm)}}},
		{"nestedByMetadata", "destination_controller.go getCanaryWorkloads",
			Destination{Path: "test-path"},
			[]File{{"test-path/dependencies/kratix-canary-namespace.yaml", []byte(ns)}, {"test-path/resources/kratix-canary-configmap.yaml", []byte(cm)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canary("", tt.d)
			if err != nil {
				t.Fatalf("Canary: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Canary (Kratix: %s):\ngot  %q\nwant %q", tt.source, got, tt.want)
			}
		})
	}
}

func TestKratixWorkNames(t *testing.T) {
	// work-creator/lib/work_creator.go buildWorkIdentifier and
	// internal/controller/promise_controller.go applyWorkForStaticDependencies give
	// the identifier; lib/objectutil/name.go GenerateDeterministicObjectName (pinned by
	// lib/objectutil/name_test.go) turns it into a name.
	long := strings.Repeat("a", 56) + "trimmed" // name_test.go "exceeds maximum character length"
	tests := []struct {
		name, promise, namespace, resource, pipeline, want string
	}{
		{"resource workflow", "redis", "default", "my-request", "instance-configure",
			"redis-my-request-default-instance-configure-" + md5Prefix("redis-my-request-default-instance-configure")},
		{"promise workflow", "redis", "", "", "promise-configure",
			"redis-promise-configure-" + md5Prefix("redis-promise-configure")},
		{"static dependencies", "redis", "", "", "", "redis-static-deps-" + md5Prefix("redis-static-deps")},
		{"resource without pipeline", "redis", "default", "r", "", "redis-r-default-" + md5Prefix("redis-r-default")},
		{"identifier cut to 56", long, "", "", "x", strings.Repeat("a", 56) + "-" + md5Prefix(long+"-x")},
		// a cut that ends in "-" drops it, as processName does
		{"cut ends in a dash", strings.Repeat("b", 55), "", "", "pipe",
			strings.Repeat("b", 55) + "-" + md5Prefix(strings.Repeat("b", 55)+"-pipe")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WorkName(tt.promise, tt.namespace, tt.resource, tt.pipeline); got != tt.want {
				t.Errorf("WorkName = %q, want %q", got, tt.want)
			}
		})
	}
	// name_test.go GenerateDeterministicObjectName cases, through the same function.
	for in, want := range map[string]string{
		"a-short-name":                "a-short-name-" + md5Prefix("a-short-name"),
		long:                          strings.Repeat("a", 56) + "-" + md5Prefix(long),
		strings.Repeat("a", 55) + "b": strings.Repeat("a", 55) + "b-" + md5Prefix(strings.Repeat("a", 55)+"b"),
		"kratix-promise-1.-@$#%&*()_+{}|:<>?/\\`~[]": "kratix-promise-1-" + md5Prefix("kratix-promise-1.-@$#%&*()_+{}|:<>?/\\`~[]"),
	} {
		if got := deterministicName(in); got != want {
			t.Errorf("deterministicName(%q) = %q, want %q (lib/objectutil/name_test.go)", in, got, want)
		}
	}
}

func TestKratixModeNone(t *testing.T) {
	// internal/controller/workplacement_controller_test.go, "the destination has
	// filepath mode of none" / "reconciles": workloads fruit.yaml then file2.yaml on a
	// Destination with path "test-path"; generateKratixStateFile in
	// workplacement_controller.go names the state file
	// <path>/.kratix/<namespace>-<placement>.yaml.
	work := WorkName("test-promise", "default", "test-resource", "configure")
	placement := PlacementName(work, "test-destination", GroupID("."))
	g := Group{Promise: "test-promise", Namespace: "default", Resource: "test-resource", Pipeline: "configure",
		Files: []File{{"fruit.yaml", []byte("{someApi: foo, someValue: bar}")}, {"file2.yaml", []byte("{someOtherApi: fooz, someOtherValue: barz}")}}}
	tests := []struct {
		name, store, path string
		wantKeys          []string
		wantState         string
	}{
		{"test-path", "", "test-path",
			[]string{"test-path/file2.yaml", "test-path/fruit.yaml", "test-path/.kratix/default-" + placement + ".yaml"},
			"files:\n- test-path/fruit.yaml\n- test-path/file2.yaml\n"},
		// the store path is not in the state file: Kratix's writer adds it
		{"store path", "clusters", "test-path",
			[]string{"clusters/test-path/file2.yaml", "clusters/test-path/fruit.yaml", "clusters/test-path/.kratix/default-" + placement + ".yaml"},
			"files:\n- test-path/fruit.yaml\n- test-path/file2.yaml\n"},
		// filepath.Join("."+"/", f) and filepath.Join("/"+"/", f)
		{"root dot", "", ".", []string{"file2.yaml", "fruit.yaml", ".kratix/default-" + placement + ".yaml"},
			"files:\n- fruit.yaml\n- file2.yaml\n"},
		{"root slash", "", "/", []string{"file2.yaml", "fruit.yaml", ".kratix/default-" + placement + ".yaml"},
			"files:\n- /fruit.yaml\n- /file2.yaml\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Layout(tt.store, Destination{Name: "test-destination", Path: tt.path, Mode: ModeNone}, placement, g)
			if err != nil {
				t.Fatalf("Layout: %v", err)
			}
			if got := plan.Keys(); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("keys = %q, want %q", got, tt.wantKeys)
			}
			if got := string(plan.StateFile.Content); got != tt.wantState {
				t.Errorf("state file = %q, want %q", got, tt.wantState)
			}
			keys, err := StateFileKeys(tt.store, Destination{Path: tt.path}, plan.StateFile.Content)
			if err != nil {
				t.Fatalf("StateFileKeys: %v", err)
			}
			if want := tt.wantKeys[:2]; !slices.Equal(slices.Sorted(slices.Values(keys)), want) {
				t.Errorf("StateFileKeys = %q, want %q", keys, want)
			}
		})
	}
	wantName := "test-promise-test-resource-default-configure-" +
		md5Prefix("test-promise-test-resource-default-configure") + ".test-destination-5058f"
	if placement != wantName {
		t.Errorf("placement name = %q, want %q", placement, wantName)
	}
}

func TestKratixAggregatedYAML(t *testing.T) {
	// internal/controller/workplacement_controller_test.go, "the destination has
	// filepath mode of aggregatedYAML": a placement with fruit.yaml and file2.yaml and
	// a second one named <first>-2 with some-file.yaml; filename "workloads.yaml"
	// (or none: "aggregated.yaml") on path "test-path".
	first := "test-workplacement"
	d := Destination{Name: "test-destination", Path: "test-path", Mode: ModeAggregated, Filename: "workloads.yaml"}
	g1 := Group{Promise: "test-promise", Namespace: "default", Resource: "test-resource",
		Files: []File{{"fruit.yaml", []byte("{someApi: foo, someValue: bar}")}, {"file2.yaml", []byte("{someOtherApi: fooz, someOtherValue: barz}")}}}
	g2 := Group{Promise: "test-promise", Namespace: "default", Resource: "test-resource",
		Files: []File{{"some-file.yaml", []byte("{kratix: is-good}")}}}
	p2, err := Layout("", d, first+"-2", g2)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := Layout("", d, first, g1)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Target != "test-path/workloads.yaml" {
		t.Errorf("target = %q, want test-path/workloads.yaml", p1.Target)
	}
	want := "{someApi: foo, someValue: bar}\n---\n{someOtherApi: fooz, someOtherValue: barz}\n---\n{kratix: is-good}"
	if got := string(Aggregated([]AggregatePart{*p2.Aggregate, *p1.Aggregate})); got != want {
		t.Errorf("Aggregated = %q, want %q", got, want)
	}
	d.Filename = ""
	if p, _ := Layout("", d, first, g1); p.Target != "test-path/aggregated.yaml" {
		t.Errorf("default target = %q, want test-path/aggregated.yaml", p.Target)
	}
}

func TestKratixNestedKeys(t *testing.T) {
	// internal/controller/workplacement_controller.go getDir: <path>/dependencies/
	// <promise>/<pipeline>/<id>/ and <path>/resources/<ns>/<promise>/<resource>/
	// <pipeline>/<id>/, id = shortID(md5(directory)).
	tests := []struct {
		name string
		g    Group
		want []string
	}{
		{"dependencies", Group{Promise: "redis", Pipeline: "promise-configure", Files: []File{{Path: "a.yaml"}}},
			[]string{"test-path/dependencies/redis/promise-configure/5058f/a.yaml"}},
		{"resource, group foo", Group{Promise: "redis", Namespace: "default", Resource: "r", Pipeline: "instance-configure",
			Directory: "foo", Files: []File{{Path: "foo/a.yaml"}}},
			[]string{"test-path/resources/default/redis/r/instance-configure/" + md5Prefix("foo") + "/foo/a.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Layout("", Destination{Path: "test-path"}, "p", tt.g)
			if err != nil {
				t.Fatal(err)
			}
			if got := plan.Keys(); !slices.Equal(got, tt.want) {
				t.Errorf("keys = %q, want %q", got, tt.want)
			}
		})
	}
}
