package db_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestApplyInAnyOrderDB: a Destination before its store and a store before its
// Secret are saved with warnings and wait (not ready, with the reason and a check
// time); the Secret fills the waiting store's credentials and releases it.
func TestApplyInAnyOrderDB(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		apply := func(yaml string) []string {
			t.Helper()
			docs, errs := tenants.ParseKratixYAML([]byte(yaml), tenants.ParseOptions{})
			if len(errs) == 0 {
				errs = tenants.ResolveSecrets(docs, func(name string) (tenants.Secret, bool) {
					data, ok, err := d.Secret(ctx, tid, name)
					if err != nil {
						t.Fatal(err)
					}
					return tenants.Secret{Name: name, Data: data}, ok
				})
			}
			if len(errs) > 0 {
				t.Fatalf("documents refused: %v", errs)
			}
			out, err := d.Apply(ctx, tid, docs, tenants.ApplyOptions{})
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			var msgs []string
			for _, w := range out.Warnings {
				msgs = append(msgs, w.Message)
			}
			if len(out.Revived) > 0 {
				msgs = append(msgs, "revived "+out.Revived[0].Name)
			}
			return msgs
		}
		if got := apply("apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: w}\nspec: {path: w, stateStoreRef: {kind: BucketStateStore, name: b}}\n"); len(got) != 1 ||
			!strings.Contains(got[0], `referenced BucketStateStore "b" does not exist yet`) {
			t.Errorf("Destination before its store: warnings %q", got)
		}
		dest, err := d.Destination(ctx, tid, "w")
		if err != nil || dest.Waiting == "" || dest.Status.Ready == nil || *dest.Status.Ready || !strings.Contains(dest.Status.Message, "State Store `b` not found") {
			t.Errorf("waiting Destination: %+v, %v", dest, err)
		}
		if got := apply("apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata: {name: b}\nspec: {endpoint: s3.example.com, bucketName: kratix, secretRef: {name: s}}\n"); len(got) != 1 ||
			!strings.Contains(got[0], `referenced Secret "s" does not exist yet`) {
			t.Errorf("store before its Secret: warnings %q", got)
		}
		store, err := d.BucketStore(ctx, tid, "b")
		if err != nil || !store.SecretMissing || store.Status.Ready == nil || *store.Status.Ready || store.Status.LastChecked == nil ||
			!strings.Contains(store.Status.Message, "Secret `s` not found") {
			t.Errorf("waiting store: %+v, %v", store, err)
		}
		// The store is revived, and the answer says where the credentials now go.
		if got := apply("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {accessKeyID: AK, secretAccessKey: SK}\n"); len(got) != 2 ||
			got[1] != "revived b" || !strings.Contains(got[0], `now go to BucketStateStore "b", which waited for it, at https://s3.example.com:443`) {
			t.Errorf("the Secret: %q, want the store revived and where its credentials go", got)
		}
		store, err = d.BucketStore(ctx, tid, "b")
		if err != nil || store.SecretMissing || store.Credentials.AccessKeyID != "AK" || store.Status.Ready != nil {
			t.Errorf("released store: %+v, %v (want credentials filled, status unknown until checked)", store, err)
		}
		if dest, _ := d.Destination(ctx, tid, "w"); dest.Waiting != "" {
			t.Errorf("Destination still waits: %q", dest.Waiting)
		}
	})
}

// TestSecretWarningNamesEveryEndpoint: the Secret that releases a waiting store
// says where its credentials now go, for every store kind and URL form — never a
// blank "at ".
func TestSecretWarningNamesEveryEndpoint(t *testing.T) {
	eachDialect(t, func(t *testing.T, tg target) {
		d, tid, _ := worksDB(t, tg)
		ctx := context.Background()
		apply := func(yaml string) []string {
			t.Helper()
			docs, errs := tenants.ParseKratixYAML([]byte(yaml), tenants.ParseOptions{})
			if len(errs) == 0 {
				errs = tenants.ResolveSecrets(docs, func(string) (tenants.Secret, bool) { return tenants.Secret{}, false })
			}
			if len(errs) > 0 {
				t.Fatalf("documents refused: %v", errs)
			}
			out, err := d.Apply(ctx, tid, docs, tenants.ApplyOptions{})
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			var msgs []string
			for _, w := range out.Warnings {
				msgs = append(msgs, w.Message)
			}
			return msgs
		}
		stores := []struct{ kind, spec, want string }{
			{"GitStateStore", "url: 'https://git.example.com/org/r.git'", "at https://git.example.com:443"},
			{"GitStateStore", "url: 'ssh://git@git.example.com:2222/r.git'", "at ssh://git.example.com:2222"},
			{"GitStateStore", "url: 'git@git.example.com:org/r.git'", "at ssh://git.example.com:22"},
			{"GitStateStore", "url: 'file:///srv/gitops.git'", "at file://localhost"},
			{"BucketStateStore", "endpoint: 'minio.example.com:9000', bucketName: kratix, insecure: true", "at http://minio.example.com:9000"},
		}
		for i, s := range stores {
			name := fmt.Sprintf("s%d", i)
			apply("apiVersion: platform.kratix.io/v1alpha1\nkind: " + s.kind + "\nmetadata: {name: " + name + "}\nspec: {" + s.spec +
				", secretRef: {name: " + name + "}}\n")
			got := apply("apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + "}\nstringData: {username: u, password: p, accessKeyID: a, secretAccessKey: k}\n")
			if len(got) != 1 || !strings.HasSuffix(got[0], s.want) {
				t.Errorf("%s %s: warnings %q, want one ending in %q", s.kind, s.spec, got, s.want)
			}
		}
	})
}
