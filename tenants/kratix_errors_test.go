package tenants

import (
	"reflect"
	"strings"
	"testing"
)

const okDest = `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: worker-1
  labels: {environment: dev}
spec:
  path: dev
  stateStoreRef: {name: default, kind: BucketStateStore}
`

func TestParseKratixYAMLErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		resolve bool // also run ResolveSecrets
		index   int
		kind    string
		docName string
		field   string
		msg     string // substring of the message
	}{
		{"missing path", seedPage + awsSecret + "---\n" + strings.Replace(strings.Replace(okDest, "  path: dev\n", "", 1), "worker-1", "worker-2", 1),
			false, 4, KindDestination, "worker-2", "spec.path", "is required"},
		{"bad label", strings.Replace(okDest, "environment: dev", "environment: 'not ok'", 1),
			false, 1, KindDestination, "worker-1", "metadata.labels", "not ok"},
		{"unquoted number label", strings.Replace(okDest, "environment: dev", "version: 1.0", 1),
			false, 1, KindDestination, "worker-1", "metadata.labels[version]", "quote it"},
		{"bad kind", strings.Replace(okDest, "kind: Destination", "kind: Destinaton", 1),
			false, 1, "Destinaton", "worker-1", "kind", "not supported"},
		{"missing kind", strings.Replace(okDest, "kind: Destination\n", "", 1),
			false, 1, "", "worker-1", "kind", "is required"},
		{"bad apiVersion", strings.Replace(okDest, "v1alpha1", "v1", 1),
			false, 1, KindDestination, "worker-1", "apiVersion", "must be platform.kratix.io/v1alpha1"},
		{"secret with kratix apiVersion", strings.Replace(awsSecret, "apiVersion: v1", "apiVersion: platform.kratix.io/v1alpha1", 1),
			false, 1, KindSecret, "aws-credentials", "apiVersion", "must be v1"},
		{"typo field", "# a comment\n---\n" + strings.Replace(okDest, "  path: dev", "  pathh: dev", 1),
			false, 1, KindDestination, "worker-1", "spec.pathh", `unknown field (did you mean "path"?)`},
		{"typo nested field", strings.Replace(okDest, "{name: default,", "{nam: default,", 1),
			false, 1, KindDestination, "worker-1", "spec.stateStoreRef.nam", "unknown field"},
		{"wrong type", strings.Replace(okDest, "spec:\n", "spec:\n  strictMatchLabels: maybe\n", 1),
			false, 1, KindDestination, "worker-1", "spec.strictMatchLabels", "true or false"},
		{"bad base64", seedPage + strings.Replace(awsSecret, "secretAccessKey: ", "secretAccessKey: not*base64", 1),
			false, 3, KindSecret, "aws-credentials", "data[secretAccessKey]", "not valid base64"},
		{"bad secret key", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {'bad key': x}\n",
			false, 1, KindSecret, "s", "stringData[bad key]", "not a valid key"},
		{"secret without its required key", seedPage + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: aws-credentials}\nstringData: {accessKeyID: a}\n",
			true, 1, KindBucket, "default", "secretAccessKey", `missing or empty in Secret "aws-credentials"`},
		{"missing secretAccessKey", seedPage + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: aws-credentials}\nstringData: {accessKeyID: a}\n",
			true, 1, KindBucket, "default", "secretAccessKey", `missing or empty in Secret "aws-credentials"`},
		{"missing password key", "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'https://example.com/r.git', secretRef: {name: c}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: c}\nstringData: {username: u}\n",
			true, 1, KindGit, "repo", "password", "missing or empty"},
		{"http git url without insecure", "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'http://example.com/r.git', authMethod: none}\n",
			false, 1, KindGit, "repo", "spec.url", "insecure: true"},
		{"githubApp without a Secret", "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'https://example.com/r.git', authMethod: githubApp}\n",
			true, 1, KindGit, "repo", "spec.secretRef.name", `githubApp reads "appID" and "installationID" and "privateKey"`},
		{"githubApp Secret without privateKey", "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'https://github.com/o/r.git', authMethod: githubApp, secretRef: {name: app}}\n" +
			"---\napiVersion: v1\nkind: Secret\nmetadata: {name: app}\nstringData: {appID: '12', installationID: '34'}\n",
			true, 1, KindGit, "repo", "privateKey", "missing or empty"},
		{"githubApp over ssh", "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'git@github.com:o/r.git', authMethod: githubApp}\n",
			false, 1, KindGit, "repo", "spec.url", "HTTPS"},
		{"githubAPIURL without githubApp", "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'https://github.com/o/r.git', authMethod: none, githubAPIURL: 'https://ghe.example.com/api/v3'}\n",
			false, 1, KindGit, "repo", "spec.githubAPIURL", "only used with authMethod githubApp"},
		{"githubAPIURL over http", "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'https://ghe.example.com/o/r.git', authMethod: githubApp, githubAPIURL: 'http://ghe.example.com/api/v3'}\n",
			false, 1, KindGit, "repo", "spec.githubAPIURL", "insecure: true"},
		{"signingKey not OpenPGP", "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'https://github.com/o/r.git', authMethod: none, secretRef: {name: sign}}\n" +
			"---\napiVersion: v1\nkind: Secret\nmetadata: {name: sign}\nstringData: {signingKey: 'my key'}\n",
			true, 1, KindGit, "repo", "signingKey", "neither an ASCII-armored OpenPGP private key"},
		{"signingKey a broken SSH key", "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: repo}\nspec: {url: 'https://github.com/o/r.git', authMethod: none, secretRef: {name: sign}}\n" +
			"---\napiVersion: v1\nkind: Secret\nmetadata: {name: sign}\nstringData: {signingKey: \"-----BEGIN OPENSSH PRIVATE KEY-----\\nAAAA\\n-----END OPENSSH PRIVATE KEY-----\"}\n",
			true, 1, KindGit, "repo", "signingKey", "in Secret \"sign\": does not parse as an SSH private key"},
		{"bucket endpoint with scheme", strings.Replace(seedPage, "endpoint: s3.amazonaws.com", "endpoint: https://s3.amazonaws.com", 1),
			false, 1, KindBucket, "default", "spec.endpoint", "scheme"},
		{"duplicate YAML key", strings.Replace(okDest, "  path: dev\n", "  path: dev\n  path: prod\n", 1),
			false, 1, "", "", "", "already set"},
		{"syntax error counts lines in the file", okDest + "---\nkind: [\n",
			false, 2, "", "", "", "line 10:"},
		{"not a mapping", "- a\n- b\n",
			false, 1, "", "", "", "must be a mapping"},
		{"unknown metadata field", strings.Replace(okDest, "  name: worker-1\n", "  name: worker-1\n  lables: {}\n", 1),
			false, 1, KindDestination, "worker-1", "metadata.lables", `did you mean "labels"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, errs := ParseKratixYAML([]byte(tt.yaml), ParseOptions{Strict: true})
			if tt.resolve {
				if len(errs) > 0 {
					t.Fatalf("parse errors: %v", errs)
				}
				errs = ResolveSecrets(docs, nil)
			}
			if len(errs) != 1 {
				t.Fatalf("got %d errors %v, want 1", len(errs), errs)
			}
			e := errs[0]
			if e.Index != tt.index || e.Kind != tt.kind || e.Name != tt.docName || e.Field != tt.field || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("got %#v\nwant index %d kind %q name %q field %q message containing %q", e, tt.index, tt.kind, tt.docName, tt.field, tt.msg)
			}
		})
	}
}

func TestParseIgnoresServerFieldsAndEmptyDocuments(t *testing.T) {
	y := "# only a comment\n---\n---\n" + strings.Replace(okDest, "metadata:\n", "metadata:\n  uid: 1234\n  resourceVersion: \"9\"\n  annotations: {a: b}\n", 1) +
		"status:\n  conditions: []\n...\n"
	docs := mustParse(t, y)
	if len(docs) != 1 || docs[0].Index != 1 || docs[0].Destination == nil {
		t.Fatalf("docs %+v", docs)
	}
}

func FuzzParseKratixYAML(f *testing.F) {
	f.Add([]byte(seedPage + awsSecret))
	f.Add([]byte(okDest + "---\n" + okDest))
	f.Add([]byte("--- # c\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: '!!'}\n...\n"))
	f.Add([]byte("apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: g}\nspec: {url: 'git@h:o/r', authMethod: ssh, secretRef: {name: s}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, errs := ParseKratixYAML(b, ParseOptions{Strict: true})
		if len(errs) == 0 {
			checkRoundTrip(t, docs)
		}
		_ = ResolveSecrets(docs, func(string) (Secret, bool) { return Secret{}, false })
		for _, e := range errs {
			if e.Index < 1 || e.Index > len(docs)+1 {
				t.Fatalf("error index %d outside 1..%d: %v", e.Index, len(docs)+1, e)
			}
		}
		for i, d := range docs {
			if d.Index != i+1 {
				t.Fatalf("document %d has index %d", i, d.Index)
			}
		}
	})
}

// checkRoundTrip asserts that exporting valid documents and parsing the result
// gives the same stores and Destinations.
func checkRoundTrip(t *testing.T, docs []Document) {
	t.Helper()
	out, err := ExportKratixYAML(gitOf(docs), bucketsOf(docs), destsOf(docs))
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	again, errs := ParseKratixYAML(out, ParseOptions{Strict: true})
	if len(errs) > 0 {
		t.Fatalf("export does not parse: %v\n%s", errs, out)
	}
	if !reflect.DeepEqual(sortedObjects(docs), sortedObjects(again)) {
		t.Fatalf("round trip changed the objects:\n%s", out)
	}
}

// sortedObjects returns the non-Secret objects in export order.
func sortedObjects(docs []Document) []any {
	var out []any
	for _, g := range sortedBy(gitOf(docs), func(s GitStateStore) string { return s.Name }) {
		out = append(out, g)
	}
	for _, b := range sortedBy(bucketsOf(docs), func(s BucketStateStore) string { return s.Name }) {
		out = append(out, b)
	}
	for _, d := range sortedBy(destsOf(docs), func(d Destination) string { return d.Name }) {
		out = append(out, d)
	}
	return out
}

func TestParseTooManyDocuments(t *testing.T) {
	docs, errs := ParseKratixYAML([]byte(strings.Repeat("a: b\n---\n", MaxKratixDocuments+10)), ParseOptions{Strict: true})
	if len(docs) != MaxKratixDocuments || len(errs) != MaxKratixDocuments+1 ||
		!strings.Contains(errs[len(errs)-1].Message, "too many documents") {
		t.Errorf("got %d docs, %d errors, last %v", len(docs), len(errs), errs[len(errs)-1])
	}
}
