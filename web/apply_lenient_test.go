package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestApplyFolderLikeKubectl: a folder with a Promise, a CRD, a Work, a document
// without a kind and a duplicate applies what Stateward keeps, skips the rest with
// warnings naming them, and the last of two same-named documents wins; strict=true
// refuses the kinds it would skip, as before.
func TestApplyFolderLikeKubectl(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	dest := func(path string) string {
		return "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: worker-1}\nspec: {path: " + path + ", stateStoreRef: {kind: GitStateStore, name: default}}\n"
	}
	folder := dest("first") +
		"---\napiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata: {name: redis}\nspec: {}\n" +
		"---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: redis.marketplace.kratix.io}\nspec: {}\n" +
		"---\napiVersion: platform.kratix.io/v1alpha1\nkind: Work\nmetadata: {name: w}\nspec: {}\n" +
		"---\nmetadata: {name: nokind}\n" +
		"---\n" + dest("second")
	code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/apply?strict=true", tok, strings.NewReader(folder))
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"Promise\" is not supported`) || !strings.Contains(body, `"index": 5`) {
		t.Errorf("strict apply: %d %s, want 422 naming the Promise and the document without kind", code, body)
	}
	code, a, body := h.apply(tok, "team-a", folder)
	if code != http.StatusOK || len(a.Results) != 6 {
		t.Fatalf("apply: %d %s", code, body)
	}
	for i, want := range []string{"skipped", "skipped", "skipped", "skipped", "skipped", "created"} {
		if a.Results[i].Action != want || a.Results[i].Index != i+1 {
			t.Errorf("result %d: %+v, want %s", i+1, a.Results[i], want)
		}
	}
	var msgs []string
	for _, w := range a.Warnings {
		msgs = append(msgs, fmt.Sprintf("%d %s", w.Index, w.Message))
	}
	joined := strings.Join(msgs, "\n")
	for _, want := range []string{
		"2 Promise `redis` skipped: Stateward does not run Promises",
		"3 CustomResourceDefinition `redis.marketplace.kratix.io` skipped",
		"4 Work `w` skipped: Kratix creates Works itself",
		"5 document skipped: it has no kind",
		"6 documents 1 and 6 are both Destination `worker-1`: as with kubectl, the last one wins; document 1 is skipped",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
	code, got := api(t, http.MethodGet, h.URL+"/api/v1/tenants/team-a/destinations/worker-1", tok, nil)
	if code != http.StatusOK || !strings.Contains(got, `"path": "second"`) {
		t.Errorf("worker-1 after the apply: %d %s, want the last document's path", code, got)
	}
}

// TestSharedSecretAcrossApplies: one Secret used by two stores with different
// URLs in one apply works (Kratix's own samples do it with gitea-credentials); a
// third store that names it in a later apply, without the Secret, is refused with
// a message saying to apply the Secret together with the store.
func TestSharedSecretAcrossApplies(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	git1 := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "gitea_admin", Password: "pw"})
	git2 := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "gitea_admin", Password: "pw"})
	store := func(name, url string) string {
		return fmt.Sprintf("apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: %s}\nspec: {url: %q, insecure: true, secretRef: {name: gitea-credentials}}\n---\n", name, url)
	}
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: gitea-credentials}\nstringData: {username: gitea_admin, password: pw}\n"
	code, _, body := h.apply(tok, "team-a", store("default", git1.URL())+store("destination-git-test-store", git2.URL())+secret)
	if code != http.StatusOK {
		t.Fatalf("two stores sharing a Secret in one apply: %d %s", code, body)
	}
	for _, name := range []string{"default", "destination-git-test-store"} {
		if ready, msg := h.status(tok, "team-a", "gitstatestores/"+name); !ready {
			t.Errorf("%s not ready: %s", name, msg)
		}
	}
	code, _, body = h.apply(tok, "team-a", store("elsewhere", "https://git.example.com/o/r.git"))
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "apply the Secret together with this store") {
		t.Errorf("a later store on another endpoint: %d %s, want 422 saying to apply the Secret with it", code, body)
	}
}
