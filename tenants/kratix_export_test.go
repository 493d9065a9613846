package tenants

import (
	"reflect"
	"strings"
	"testing"
)

func exportFixtures() ([]GitStateStore, []BucketStateStore, []Destination) {
	git := []GitStateStore{
		{Name: "zeta", URL: "git@github.com:org/repo.git", AuthMethod: AuthSSH, SecretRef: "ssh-key",
			Credentials: GitCredentials{SSHPrivateKey: "SECRET-SSH-KEY\n", KnownHosts: "SECRET-KNOWN-HOSTS"}},
		{Name: "alpha", URL: "http://git.local/r.git", Branch: "prod", Path: "clusters/", Insecure: true,
			CABundle: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", SecretRef: "git-creds",
			AuthorName: "Platform Bot", AuthorEmail: "bot@example.com", AuthorFromRequester: true,
			CommitMessage: "{{index (index .Works 0).Labels \"jira\"}}: {{.Summary}}\n\n  {{range .Works}}{{.Name}} {{end}}\n",
			PullRequest:   &PullRequestSpec{Provider: ProviderGitea, APIURL: "http://git.local/api/v1/", Labels: []string{"gitops", " stateward "}},
			Credentials:   GitCredentials{Username: "SECRET-USER", Password: "SECRET-PASSWORD"}},
	}
	buckets := []BucketStateStore{
		{Name: "default", Endpoint: "s3.amazonaws.com", BucketName: "kratix", Path: "destinations",
			Insecure: true, SecretRef: "aws-credentials",
			Credentials: BucketCredentials{AccessKeyID: "SECRET-AKID", SecretAccessKey: "SECRET-SAK"}},
		{Name: "iam", Endpoint: "minio:9000", BucketName: "state", AuthMethod: AuthIAM, Region: "eu-west-1"},
	}
	dests := []Destination{
		{Name: "worker-1", Labels: L{"environment": "dev"}, Path: "dev", StoreKind: KindBucket, StoreName: "default", InitWorkloads: true},
		{Name: "old-style", Path: ".", StoreKind: KindGit, StoreName: "alpha", Mode: ModeLegacy, StrictMatchLabels: true, Cleanup: CleanupAll},
		{Name: "agg", Labels: L{"app.kubernetes.io/part-of": "x", "empty": ""}, Path: "/", StoreKind: KindGit, StoreName: "zeta", Mode: ModeAggregated, InitWorkloads: true},
	}
	return git, buckets, dests
}

func TestExportRoundTrip(t *testing.T) {
	git, buckets, dests := exportFixtures()
	out, err := ExportKratixYAML(git, buckets, dests)
	if err != nil {
		t.Fatal(err)
	}
	docs := mustParse(t, string(out))
	out2, err := ExportKratixYAML(gitOf(docs), bucketsOf(docs), destsOf(docs))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(out2) {
		t.Errorf("export is not stable across a round trip:\n%s\n---- vs ----\n%s", out, out2)
	}
	docs2 := mustParse(t, string(out2))
	if !reflect.DeepEqual(docs, docs2) {
		t.Errorf("parse(export(parse(x))) differs from parse(x)")
	}
	// What was exported is what was given, normalized, minus credentials.
	want := git[1]
	want.Normalize()
	want.Credentials = GitCredentials{}
	if got := *docs[0].Git; !reflect.DeepEqual(got, want) {
		t.Errorf("git store alpha\n got %+v\nwant %+v", got, want)
	}
	wantOrder := []string{"GitStateStore/alpha", "GitStateStore/zeta", "BucketStateStore/default", "BucketStateStore/iam",
		"Destination/agg", "Destination/old-style", "Destination/worker-1"}
	var gotOrder []string
	for _, d := range docs {
		gotOrder = append(gotOrder, d.Kind+"/"+d.Name)
	}
	if !reflect.DeepEqual(gotOrder, wantOrder) {
		t.Errorf("order %v, want %v", gotOrder, wantOrder)
	}
	if d := docs[5].Destination; d.InitWorkloads || !d.StrictMatchLabels || d.Mode != ModeLegacy || d.Cleanup != CleanupAll {
		t.Errorf("old-style destination came back as %+v", d)
	}
}

func TestExportSeedPageRoundTrip(t *testing.T) {
	docs := mustParse(t, seedPage)
	out, err := ExportKratixYAML(nil, bucketsOf(docs), destsOf(docs))
	if err != nil {
		t.Fatal(err)
	}
	if again := mustParse(t, string(out)); !reflect.DeepEqual(docs, again) {
		t.Errorf("seed page did not survive export:\n%s", out)
	}
}

func TestExportContent(t *testing.T) {
	git, buckets, dests := exportFixtures()
	out, err := ExportKratixYAML(git, buckets, dests)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "SECRET") {
		t.Errorf("export contains a credential:\n%s", s)
	}
	for _, want := range []string{
		"branch: main", "authMethod: basicAuth", "authMethod: ssh", "authMethod: accessKey", "authMethod: IAM",
		"name: stateward", "mode: nestedByMetadata", "cleanup: none", "strictMatchLabels: false",
		"enabled: true", "enabled: false", "filename: aggregated.yaml", "secretRef:\n    name: aws-credentials",
		"insecure: false", `Kratix itself has no "legacy"`, "use mode nestedByMetadata",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("export lacks %q:\n%s", want, s)
		}
	}
	// The legacy comment belongs to the legacy Destination only.
	if n := strings.Count(s, `Kratix itself has no "legacy"`); n != 1 {
		t.Errorf("legacy comment appears %d times", n)
	}
	// Extensions are written only when set, so plain stores stay Kratix-valid.
	zeta := s[strings.Index(s, "name: zeta"):]
	zeta = zeta[:strings.Index(zeta, "---")]
	if strings.Contains(zeta, "insecure") || strings.Contains(zeta, "caBundle") {
		t.Errorf("plain git store carries extensions:\n%s", zeta)
	}
}

func gitOf(docs []Document) (out []GitStateStore) {
	for _, d := range docs {
		if d.Git != nil {
			out = append(out, *d.Git)
		}
	}
	return out
}

func bucketsOf(docs []Document) (out []BucketStateStore) {
	for _, d := range docs {
		if d.Bucket != nil {
			out = append(out, *d.Bucket)
		}
	}
	return out
}

func destsOf(docs []Document) (out []Destination) {
	for _, d := range docs {
		if d.Destination != nil {
			out = append(out, *d.Destination)
		}
	}
	return out
}

type L = map[string]string
