package tenants

import (
	"encoding/base64"
	"reflect"
	"testing"
)

// seedPage is the example of the Kratix Destination docs page, verbatim.
const seedPage = `---
apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata:
  name: default
  namespace: default
spec:
  path: destinations
  endpoint: s3.amazonaws.com
  insecure: true
  bucketName: kratix
  secretRef:
    name: aws-credentials
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: worker-1
  labels:
    environment: dev
spec:
  path: dev
  stateStoreRef:
    name: default
    kind: BucketStateStore
`

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

var awsSecret = `---
# credentials pasted with echo (trailing newline)
apiVersion: v1
kind: Secret
metadata:
  name: aws-credentials
  namespace: default
type: Opaque
data:
  accessKeyID: ` + b64("AKIAEXAMPLE\n") + `
  secretAccessKey: ` + b64("s3cr3t/KEY") + `
`

func mustParse(t *testing.T, y string) []Document {
	t.Helper()
	docs, errs := ParseKratixYAML([]byte(y), ParseOptions{Strict: true})
	if len(errs) > 0 {
		t.Fatalf("parse errors: %v", errs)
	}
	return docs
}

func TestParseSeedPage(t *testing.T) {
	docs := mustParse(t, seedPage+awsSecret)
	if errs := ResolveSecrets(docs, nil); len(errs) > 0 {
		t.Fatalf("resolve errors: %v", errs)
	}
	if len(docs) != 3 {
		t.Fatalf("got %d documents, want 3", len(docs))
	}
	wantBucket := &BucketStateStore{Name: "default", Endpoint: "s3.amazonaws.com", BucketName: "kratix",
		Path: "destinations", Insecure: true, SecretRef: "aws-credentials", AuthMethod: AuthAccessKey,
		Credentials: BucketCredentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "s3cr3t/KEY"}}
	if !reflect.DeepEqual(docs[0].Bucket, wantBucket) {
		t.Errorf("bucket\n got %+v\nwant %+v", docs[0].Bucket, wantBucket)
	}
	wantDest := &Destination{Name: "worker-1", Labels: L{"environment": "dev"}, Path: "dev",
		StoreKind: KindBucket, StoreName: "default", Mode: ModeNested, Cleanup: CleanupNone, InitWorkloads: true}
	if !reflect.DeepEqual(docs[1].Destination, wantDest) {
		t.Errorf("destination\n got %+v\nwant %+v", docs[1].Destination, wantDest)
	}
	for i, want := range []struct{ kind, name string }{{KindBucket, "default"}, {KindDestination, "worker-1"}, {KindSecret, "aws-credentials"}} {
		if d := docs[i]; d.Index != i+1 || d.Kind != want.kind || d.Name != want.name {
			t.Errorf("doc %d: index %d kind %q name %q, want %d %q %q", i, d.Index, d.Kind, d.Name, i+1, want.kind, want.name)
		}
	}
	wantSecret := &Secret{Name: "aws-credentials", Data: map[string]string{"accessKeyID": "AKIAEXAMPLE\n", "secretAccessKey": "s3cr3t/KEY"}}
	if !reflect.DeepEqual(docs[2].Secret, wantSecret) {
		t.Errorf("secret\n got %+v\nwant %+v", docs[2].Secret, wantSecret)
	}
	if err := docs[0].Bucket.Validate(); err != nil {
		t.Errorf("resolved bucket does not validate: %v", err)
	}
}

func TestParseDefaults(t *testing.T) {
	dest := func(extra string) string {
		return "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: d}\nspec:\n  path: .\n  stateStoreRef: {kind: GitStateStore, name: s}\n" + extra
	}
	tests := []struct {
		name  string
		extra string
		want  bool
	}{
		{"initWorkloads absent means enabled", "", true},
		{"initWorkloads without enabled means enabled", "  initWorkloads: {}\n", true},
		{"initWorkloads disabled", "  initWorkloads: {enabled: false}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, dest(tt.extra))[0].Destination
			if d.InitWorkloads != tt.want {
				t.Errorf("InitWorkloads = %v, want %v", d.InitWorkloads, tt.want)
			}
		})
	}
	git := mustParse(t, "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: g}\nspec: {url: 'https://example.com/r.git'}\n")[0].Git
	if git.Branch != "main" || git.AuthMethod != AuthBasic || git.AuthorName != "stateward" {
		t.Errorf("git defaults: %+v", git)
	}
}

func TestResolveSecrets(t *testing.T) {
	store := func(auth, ref string) string {
		s := "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: g}\nspec:\n  url: ssh://git@example.com/r.git\n  authMethod: " + auth + "\n"
		if ref != "" {
			s += "  secretRef: {name: " + ref + ", namespace: default}\n"
		}
		return s
	}
	secret := func(name, data string) string {
		return "---\napiVersion: v1\nkind: Secret\nmetadata: {name: " + name + "}\n" + data
	}
	existing := func(name string) (Secret, bool) {
		if name == "stored" {
			return Secret{Name: name, Data: map[string]string{"password": "from-db"}}, true
		}
		return Secret{}, false
	}
	tests := []struct {
		name      string
		yaml      string
		wantField string // "" = no error
		check     func(*GitStateStore) bool
	}{
		{"basicAuth password from stringData, username optional", store("basicAuth", "c") + secret("c", "stringData: {password: \"tok\\n\"}\n"), "",
			func(g *GitStateStore) bool { return g.Credentials.Password == "tok" && g.Credentials.Username == "" }},
		{"stringData wins over data", store("basicAuth", "c") + secret("c", "data: {password: "+b64("old")+"}\nstringData: {password: new}\n"), "",
			func(g *GitStateStore) bool { return g.Credentials.Password == "new" }},
		{"existing secret used when not in the set", store("basicAuth", "stored"), "",
			func(g *GitStateStore) bool { return g.Credentials.Password == "from-db" }},
		{"ssh keys", store("ssh", "k") + secret("k", "stringData: {sshPrivateKey: KEY, knownHosts: \"example.com ssh-ed25519 AAAA\"}\n"), "",
			func(g *GitStateStore) bool {
				return g.Credentials.SSHPrivateKey == "KEY\n" && g.Credentials.KnownHosts != ""
			}},
		{"none needs no secret", store("none", ""), "", nil},
		// Kratix applies objects in any order: a store whose Secret does not exist
		// yet is kept and waits for it (internal/webhook/v1alpha1 only warns).
		{"missing secret waits", store("basicAuth", "nope"), "",
			func(g *GitStateStore) bool { return g.SecretMissing && g.Credentials == GitCredentials{} }},
		{"no secretRef for basicAuth", store("basicAuth", ""), "spec.secretRef.name", nil},
		{"missing password key", store("basicAuth", "c") + secret("c", "stringData: {username: u}\n"), "password", nil},
		{"password only whitespace", store("basicAuth", "c") + secret("c", "stringData: {password: \"\\n\"}\n"), "password", nil},
		{"missing knownHosts", store("ssh", "k") + secret("k", "stringData: {sshPrivateKey: KEY}\n"), "knownHosts", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := mustParse(t, tt.yaml)
			errs := ResolveSecrets(docs, existing)
			if tt.wantField == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors %v", errs)
				}
				if tt.check != nil && !tt.check(docs[0].Git) {
					t.Errorf("credentials %+v, secret missing %v", docs[0].Git.Credentials, docs[0].Git.SecretMissing)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tt.wantField || errs[0].Index != 1 || errs[0].Kind != KindGit || errs[0].Name != "g" {
				t.Fatalf("got %v, want one error on document 1 (GitStateStore g) field %q", errs, tt.wantField)
			}
		})
	}
}

func TestResolveBucketIAMNeedsNoSecret(t *testing.T) {
	docs := mustParse(t, "apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata: {name: b}\nspec: {endpoint: s3.amazonaws.com, bucketName: kratix, authMethod: IAM, region: eu-west-1, useDualStack: true}\n")
	if errs := ResolveSecrets(docs, nil); len(errs) > 0 {
		t.Fatalf("errors %v", errs)
	}
	if b := docs[0].Bucket; b.Region != "eu-west-1" || b.Validate() != nil {
		t.Errorf("bucket %+v: %v", b, b.Validate())
	}
}

func TestDocErrorString(t *testing.T) {
	tests := []struct {
		e    DocError
		want string
	}{
		{DocError{Index: 2, Kind: "Destination", Name: "worker-1", Field: "spec.path", Message: "is required"}, "document 2 (Destination worker-1): spec.path: is required"},
		{DocError{Index: 1, Kind: "Destination", Field: "metadata.name", Message: "is required"}, "document 1 (Destination): metadata.name: is required"},
		{DocError{Index: 3, Message: "invalid YAML"}, "document 3: invalid YAML"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
