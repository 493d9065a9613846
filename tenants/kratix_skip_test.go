package tenants

import (
	"strings"
	"testing"
)

const promiseDoc = "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata: {name: redis}\nspec: {api: {}}\n"

// TestParseSkipsKindsNotKept: kinds Stateward does not keep are skipped with a
// warning naming them, as kubectl-style tools skip unknown kinds; strict refuses them.
func TestParseSkipsKindsNotKept(t *testing.T) {
	tests := []struct {
		name, yaml, kind, docName, reason string
	}{
		{"promise", promiseDoc, "Promise", "redis", "Promise `redis` skipped: Stateward does not run Promises"},
		{"promise release", "apiVersion: platform.kratix.io/v1alpha1\nkind: PromiseRelease\nmetadata: {name: r}\nspec: {version: v1}\n",
			"PromiseRelease", "r", "PromiseRelease `r` skipped: Stateward does not run Promises"},
		{"health record", "apiVersion: platform.kratix.io/v1alpha1\nkind: HealthRecord\nmetadata: {name: h}\ndata: {state: ready}\n",
			"HealthRecord", "h", "HealthRecord `h` skipped: Stateward does not keep health records"},
		{"crd", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: redis.marketplace.kratix.io}\nspec: {group: x}\n",
			"CustomResourceDefinition", "redis.marketplace.kratix.io", "CustomResourceDefinition `redis.marketplace.kratix.io` skipped: Stateward does not install CRDs"},
		{"work", "apiVersion: platform.kratix.io/v1alpha1\nkind: Work\nmetadata: {name: w}\nspec: {}\n",
			"Work", "w", "Work `w` skipped: Kratix creates Works itself"},
		{"work placement", "apiVersion: platform.kratix.io/v1alpha1\nkind: WorkPlacement\nmetadata: {name: wp}\nspec: {}\n",
			"WorkPlacement", "wp", "WorkPlacement `wp` skipped: Kratix creates WorkPlacements itself"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "", "x", "document skipped: it has no kind"},
		{"any other kind", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
			"ConfigMap", "c", "ConfigMap `c` skipped: Stateward keeps only GitStateStore, BucketStateStore, Destination and v1 Secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, errs := ParseKratixYAML([]byte(okDest+"---\n"+tt.yaml), ParseOptions{})
			if len(errs) > 0 || len(docs) != 2 {
				t.Fatalf("got %d docs, errors %v; want 2 docs and no error", len(docs), errs)
			}
			d := docs[1]
			if d.Index != 2 || d.Kind != tt.kind || d.Name != tt.docName || !strings.HasPrefix(d.Skipped, tt.reason) {
				t.Errorf("got index %d kind %q name %q skipped %q\nwant kind %q name %q skipped starting %q", d.Index, d.Kind, d.Name, d.Skipped, tt.kind, tt.docName, tt.reason)
			}
			if d.Git != nil || d.Bucket != nil || d.Destination != nil || d.Secret != nil {
				t.Errorf("a skipped document was decoded: %+v", d)
			}
			if docs[0].Destination == nil || docs[0].Skipped != "" {
				t.Errorf("the Destination beside it: %+v", docs[0])
			}
			_, errs = ParseKratixYAML([]byte(okDest+"---\n"+tt.yaml), ParseOptions{Strict: true})
			if len(errs) != 1 || errs[0].Index != 2 || errs[0].Field != "kind" {
				t.Errorf("strict: got errors %v, want one on document 2's kind", errs)
			}
		})
	}
}

// TestParseKeepsDuplicates: a second document of the same kind and name wins over
// the first, with a warning naming both indexes, in both modes (kubectl applies
// both, the last wins).
func TestParseKeepsDuplicates(t *testing.T) {
	second := strings.Replace(okDest, "path: dev", "path: prod", 1)
	for _, strict := range []bool{false, true} {
		docs, errs := ParseKratixYAML([]byte(okDest+"---\n"+promiseDoc+"---\n"+second), ParseOptions{Strict: strict})
		if strict {
			if len(errs) != 1 || errs[0].Index != 2 {
				t.Fatalf("strict: errors %v, want only the Promise refused", errs)
			}
			continue
		}
		if len(errs) > 0 || len(docs) != 3 {
			t.Fatalf("got %d docs, errors %v", len(docs), errs)
		}
		if len(docs[0].Warnings) != 0 || docs[0].SupersededBy != 3 || docs[2].SupersededBy != 0 || docs[2].Destination == nil || docs[2].Destination.Path != "prod" {
			t.Errorf("documents %+v", docs)
		}
		want := "documents 1 and 3 are both Destination `worker-1`: as with kubectl, the last one wins; document 1 is skipped"
		if len(docs[2].Warnings) != 1 || docs[2].Warnings[0] != want {
			t.Errorf("warnings %q, want %q", docs[2].Warnings, want)
		}
	}
}

// TestResolveSecretsLastWins: two Secrets of one name in a file: the stores read
// the last one, the one that stays applied.
func TestResolveSecretsLastWins(t *testing.T) {
	y := "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'https://example.com/r.git', secretRef: {name: c}}\n" +
		"---\napiVersion: v1\nkind: Secret\nmetadata: {name: c}\nstringData: {username: u, password: first}\n" +
		"---\napiVersion: v1\nkind: Secret\nmetadata: {name: c}\nstringData: {username: u, password: second}\n"
	docs, errs := ParseKratixYAML([]byte(y), ParseOptions{})
	if len(errs) == 0 {
		errs = ResolveSecrets(docs, nil)
	}
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := docs[0].Git.Credentials.Password; got != "second" {
		t.Errorf("password %q, want the last Secret's", got)
	}
}
