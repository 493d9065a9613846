package web_test

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// Kratix conformance, end to end: Kratix's sample objects (syntasso/kratix
// config/samples, pointed at the test peers) are applied one document at a time in
// a shuffled order, the inputs of Kratix's own controller tests are submitted as
// Works, and the dry-run keys and the bytes that land in a real Git remote and a
// real MinIO bucket are compared with what Kratix's code and tests produce. Each
// expectation names the Kratix file it comes from; pathing's
// kratix_conformance_test.go pins the same bytes without peers.

const (
	// internal/controller/destination_controller_test.go assertCanaryFilesWereCreated
	canaryNamespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kratix-worker-system\nspec: {}\nstatus: {}\n"
	canaryConfigMap = "apiVersion: v1\ndata:\n  canary: this confirms your infrastructure is reading from Kratix state stores\n" +
		"kind: ConfigMap\nmetadata:\n  name: kratix-info\n  namespace: kratix-worker-system\n"
	// internal/controller/workplacement_controller_test.go workloads
	fruit = "{someApi: foo, someValue: bar}"
	file2 = "{someOtherApi: fooz, someOtherValue: barz}"
	good  = "{kratix: is-good}"
)

func md5Head(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])[:5]
}

// kratixSamples are the documents to apply, each on its own.
func kratixSamples(s3 *testpeers.S3Server, bucket string, git *testpeers.GitServer) []string {
	return []string{
		// config/samples/platform_v1alpha1_bucketstatestore.yaml (endpoint and bucket of the peer)
		fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata:
  name: default
spec:
  endpoint: %s
  insecure: true
  bucketName: %s
  authMethod: accessKey
  secretRef:
    name: minio-credentials
    namespace: default
`, s3.Endpoint(), bucket),
		fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: minio-credentials, namespace: default}
stringData: {accessKeyID: %s, secretAccessKey: "%s"}
`, s3.AccessKey(), s3.SecretKey()),
		// config/samples/platform_v1alpha1_gitstatestore.yaml (URL of the peer; an
		// http:// URL needs insecure: true, see README "Differences from Kratix")
		fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata:
  name: default
spec:
  secretRef:
    name: gitea-credentials
    namespace: default
  url: %s
  branch: main
  insecure: true
`, git.URL()),
		`apiVersion: v1
kind: Secret
metadata: {name: gitea-credentials, namespace: default}
stringData: {username: gitea_admin, password: gitea-test-password}
`,
		// config/samples/platform_v1alpha1_worker.yaml and _worker_2.yaml
		`apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: worker-1
  labels:
    environment: dev
spec:
  path: worker-1
  stateStoreRef:
    name: default
    kind: BucketStateStore
`,
		`apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: worker-2
  labels:
    environment: production
spec:
  path: worker-2
  stateStoreRef:
    name: default
    kind: BucketStateStore
`,
		// internal/controller/workplacement_controller_test.go: mode none on path test-path
		`apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: test-destination, labels: {conformance: none}}
spec:
  path: test-path
  filepath: {mode: none}
  stateStoreRef: {name: default, kind: GitStateStore}
`,
		// ... and aggregatedYAML with filename workloads.yaml
		`apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: test-destination-agg, labels: {conformance: aggregated}}
spec:
  path: test-path
  filepath: {mode: aggregatedYAML, filename: workloads.yaml}
  stateStoreRef: {name: default, kind: BucketStateStore}
`,
	}
}

func TestKratixConformanceEndToEnd(t *testing.T) {
	for _, seed := range []uint64{1, 7} {
		t.Run(fmt.Sprintf("order-%d", seed), func(t *testing.T) { kratixConformance(t, seed) })
	}
}

func kratixConformance(t *testing.T, seed uint64) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	s3 := testpeers.MinIO(t)
	bucket := s3.NewBucket(t)
	git := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "gitea_admin", Password: "gitea-test-password"})
	t.Cleanup(h.StopWriters)

	docs := kratixSamples(s3, bucket, git)
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(docs), func(i, j int) { docs[i], docs[j] = docs[j], docs[i] })
	for _, doc := range docs {
		if code, _, body := h.apply(tok, "team-a", doc); code != http.StatusOK {
			t.Fatalf("apply %s: %d %s", strings.SplitN(doc, "\n", 3)[1], code, body)
		}
	}

	// Work names: work-creator/lib/work_creator.go buildWorkIdentifier, with
	// lib/objectutil/name.go's deterministic suffix; placement names:
	// internal/controller/scheduler.go (<work>.<destination>-<shortID(md5(dir))>).
	noneWork := "test-promise-test-resource-default-configure"
	nonePlacement := noneWork + "-" + md5Head(noneWork) + ".test-destination-5058f"
	stateKey := "test-path/.kratix/default-" + nonePlacement + ".yaml"
	works := []struct {
		name, body string
		wantKeys   []string
	}{
		{"mode none", `{"promise":"test-promise","resource":{"namespace":"default","name":"test-resource"},"pipeline":"configure",
			"destinationSelectors":{"conformance":"none"},
			"files":[{"path":"fruit.yaml","content":"` + fruit + `"},{"path":"file2.yaml","content":"` + file2 + `"}]}`,
			[]string{"test-path/file2.yaml", "test-path/fruit.yaml", stateKey}},
		{"aggregatedYAML, first placement", `{"promise":"test-promise","resource":{"namespace":"default","name":"a"},"pipeline":"configure",
			"destinationSelectors":{"conformance":"aggregated"},
			"files":[{"path":"fruit.yaml","content":"` + fruit + `"},{"path":"file2.yaml","content":"` + file2 + `"}]}`,
			[]string{"test-path/workloads.yaml"}},
		{"aggregatedYAML, second placement", `{"promise":"test-promise","resource":{"namespace":"default","name":"b"},"pipeline":"configure",
			"destinationSelectors":{"conformance":"aggregated"},"files":[{"path":"some-file.yaml","content":"` + good + `"}]}`,
			[]string{"test-path/workloads.yaml"}},
		// workplacement_controller.go getDir: dependencies/<promise>/<pipeline>/<id>/
		{"nestedByMetadata dependencies", `{"promise":"redis","pipeline":"promise-configure","destinationSelectors":{"environment":"dev"},
			"files":[{"path":"redis-crd.yaml","content":"kind: CustomResourceDefinition\n"}]}`,
			[]string{"worker-1/dependencies/redis/promise-configure/5058f/redis-crd.yaml"}},
	}
	var ids []int64
	for _, w := range works {
		code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works?dryRun=true", tok, strings.NewReader(w.body))
		var dry workAnswer
		_ = json.Unmarshal([]byte(body), &dry)
		if code != http.StatusOK || len(dry.Placements) != 1 || !slices.Equal(dry.Placements[0].Paths, w.wantKeys) {
			t.Errorf("%s: dry run %d %s, want keys %q", w.name, code, body, w.wantKeys)
		}
		code, body = api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/works", tok, strings.NewReader(w.body))
		var a workAnswer
		_ = json.Unmarshal([]byte(body), &a)
		if code != http.StatusAccepted {
			t.Fatalf("%s: submit %d %s", w.name, code, body)
		}
		ids = append(ids, a.Work)
	}
	for _, id := range ids {
		h.waitWritten(tok, "team-a", id)
	}

	gitFiles := git.Files(t, git.Branch())
	objects := s3.Objects(t, bucket, "")
	checks := []struct {
		source, store, key, want string
	}{
		{"destination_controller_test.go assertCanaryFilesWereCreated", "git", "test-path/kratix-canary-namespace.yaml", canaryNamespace},
		{"destination_controller_test.go assertCanaryFilesWereCreated", "git", "test-path/kratix-canary-configmap.yaml", canaryConfigMap},
		{"destination_controller.go getCanaryWorkloads (nestedByMetadata)", "bucket", "worker-1/dependencies/kratix-canary-namespace.yaml", canaryNamespace},
		{"destination_controller.go getCanaryWorkloads (nestedByMetadata)", "bucket", "worker-2/resources/kratix-canary-configmap.yaml", canaryConfigMap},
		{"destination_controller.go getCanaryWorkloads (aggregatedYAML)", "bucket", "test-path/kratix-canary-configmap.yaml", canaryConfigMap},
		{"workplacement_controller_test.go mode none", "git", "test-path/fruit.yaml", fruit},
		{"workplacement_controller_test.go mode none", "git", "test-path/file2.yaml", file2},
		{"workplacement_controller_test.go mode none (state file)", "git", stateKey, "files:\n- test-path/fruit.yaml\n- test-path/file2.yaml\n"},
		{"workplacement_controller_test.go aggregatedYAML", "bucket", "test-path/workloads.yaml", fruit + "\n---\n" + file2 + "\n---\n" + good},
		{"workplacement_controller.go getDir", "bucket", "worker-1/dependencies/redis/promise-configure/5058f/redis-crd.yaml", "kind: CustomResourceDefinition\n"},
	}
	for _, c := range checks {
		files := gitFiles
		if c.store == "bucket" {
			files = objects
		}
		if got, ok := files[c.key]; !ok || got != c.want {
			t.Errorf("%s %s = %q (present %v), want %q (Kratix: %s)", c.store, c.key, got, ok, c.want, c.source)
		}
	}
	if t.Failed() {
		t.Logf("git holds %q\nbucket holds %q", keysOf(gitFiles), keysOf(objects))
	}
}
