package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/stateward/stateward/testpeers"
)

// replicaChildEnv makes TestReplicaChild serve: a replica process the test kills.
const replicaChildEnv = "STATEWARD_TEST_REPLICA_CHILD"

// TestReplicaChild is a `stateward serve` process for TestThreeReplicasSurviveKill9;
// it does nothing unless that test starts it.
func TestReplicaChild(t *testing.T) {
	if os.Getenv(replicaChildEnv) == "" {
		return
	}
	if err := run(context.Background(), []string{"serve"}, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(2)
	}
}

// replicaProc is one replica process.
type replicaProc struct {
	addr, dataDir string
	env           []string
	cmd           *exec.Cmd
}

func (p *replicaProc) url() string { return "http://" + p.addr }

func (p *replicaProc) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplicaChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), replicaChildEnv+"=1"), p.env...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd = cmd
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica on %s not ready: %v", p.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *replicaProc) kill() {
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// teamAEditor creates team-a and an editor token for it with the CLI (on the
// database env names), and returns a caller of the API with that token.
func teamAEditor(t *testing.T, env map[string]string) caller {
	t.Helper()
	cli := func(args ...string) string {
		var out bytes.Buffer
		if err := run(context.Background(), args, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
			t.Fatalf("stateward %v: %v", args, err)
		}
		return strings.TrimSpace(out.String())
	}
	cli("tenant", "create", "team-a")
	tok := "Bearer " + cli("token", "create", "--tenant", "team-a", "--role", "editor")
	return func(method, url, body string, headers ...string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", tok)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// waitDB polls query (a count, with args) until it is 0 or within passes.
func waitDB(t *testing.T, pg *sql.DB, within time.Duration, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var n int
		err := pg.QueryRow(query, args...).Scan(&n)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("still %d after %v (%v): %s", n, within, err, query)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startReplica starts a replica process on a free loopback port with dataDir and
// env (NAME=value) and kills it when the test ends, before the peers it writes
// to stop (they were started first).
func startReplica(t *testing.T, dataDir string, env ...string) *replicaProc {
	t.Helper()
	p := &replicaProc{addr: freeAddr(t), dataDir: dataDir}
	p.env = append(append([]string{}, env...), "STATEWARD_ADDR="+p.addr, "STATEWARD_DATA_DIR="+dataDir)
	t.Cleanup(p.kill)
	p.start(t)
	return p
}

// caller is teamAEditor's caller of the API.
type caller = func(method, url, body string, headers ...string) (int, string)

// applyYAML applies a folder's YAML to the team at api (its /api/v1/tenants/SLUG).
func applyYAML(t *testing.T, call caller, api, yaml string) {
	t.Helper()
	if code, body := call(http.MethodPost, api+"/apply", yaml); code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
}

// newHook creates a trigger (its JSON) for the team at api and returns its path,
// "/hooks/…", to post to on any replica.
func newHook(t *testing.T, call caller, api, trigger string) string {
	t.Helper()
	var trig struct {
		URL string `json:"url"`
	}
	if code, body := call(http.MethodPost, api+"/triggers", trigger); code != http.StatusCreated || json.Unmarshal([]byte(body), &trig) != nil {
		t.Fatalf("trigger: %d %s", code, body)
	}
	return trig.URL[strings.Index(trig.URL, "/hooks/"):]
}

// workJSON is a Work of promise redis for resource default/name, placed by the
// label to, with one file cm.yaml holding content.
func workJSON(name, to, content string) string {
	return fmt.Sprintf(`{"promise":"redis","resource":{"namespace":"default","name":%q},"destinationSelectors":{"to":%q},
"files":[{"path":"cm.yaml","content":%q}]}`, name, to, content)
}

// redisFile is where workJSON's file lands under a Destination at path dev of a
// store whose root is root ("gitops" in Git, "clusters" in a bucket).
func redisFile(root, name string) string {
	return root + "/dev/resources/default/redis/" + name + "/5058f/cm.yaml"
}

// TestThreeReplicasSurviveKill9 is the acceptance test of running several
// replicas: three `stateward serve` processes on one PostgreSQL, each with its
// own data dir, behind no balancer but round-robin clients, writing to a real Git
// remote and a real MinIO bucket. Works arrive through webhooks and the API, some
// Idempotency-Keys at two replicas at once; one replica is killed with SIGKILL
// while it holds a running job, then started again. Afterwards every accepted
// Work's file is in its store with its content and nothing extra, each
// idempotent delivery made one submission, a sampler never saw two running jobs
// for one store, a 5/s trigger hit through all three replicas accepted no more
// than its rate allows, and no job is left running.
func TestThreeReplicasSurviveKill9(t *testing.T) {
	const works = 600
	dbURL := testpeers.Postgres(t).NewDatabase(t)
	git := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "bot", Password: "pw", Empty: true})
	s3 := testpeers.MinIO(t)
	bucket := s3.NewBucket(t)
	common := []string{"STATEWARD_DATABASE_URL=" + dbURL, "STATEWARD_SECRET_KEY=" + testKey,
		"STATEWARD_ALLOW_PRIVATE_ENDPOINTS=true", "STATEWARD_JOB_LEASE=2s"}
	reps := make([]*replicaProc, 3)
	for i := range reps {
		reps[i] = startReplica(t, t.TempDir(), common...)
	}
	call := teamAEditor(t, map[string]string{"STATEWARD_DATABASE_URL": dbURL, "STATEWARD_SECRET_KEY": testKey,
		"STATEWARD_DATA_DIR": t.TempDir()})
	api := func(p *replicaProc) string { return p.url() + "/api/v1/tenants/team-a" }
	yaml := git.StoreYAML("bot", "pw") + s3.StoreYAML(bucket) + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: to-git, labels: {to: git}}
spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: repo}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: to-s3, labels: {to: s3}}
spec: {path: dev, stateStoreRef: {kind: BucketStateStore, name: minio}}
`
	applyYAML(t, call, api(reps[0]), yaml)
	hook := newHook(t, call, api(reps[1]), `{"name": "ci", "requireSignature": false}`)
	limitedHook := newHook(t, call, api(reps[1]), `{"name": "limited", "ratePerSecond": 5, "requireSignature": false}`)
	pg, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })

	// The sampler: never two running jobs for one store.
	stop := make(chan struct{})
	var maxRunning atomic.Int64
	var samples atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var n int64
			if err := pg.QueryRow(`SELECT COALESCE(MAX(c), 0) FROM (SELECT COUNT(*) AS c FROM jobs WHERE state = 'running'
				GROUP BY tenant_id, store_kind, store_name) r`).Scan(&n); err == nil {
				samples.Add(1)
				if n > maxRunning.Load() {
					maxRunning.Store(n)
				}
			}
		}
	}()

	workBody := func(i int) string {
		return workJSON(fmt.Sprintf("w-%03d", i), []string{"git", "s3"}[i%2], fmt.Sprintf("n: %d\n", i))
	}
	trigURL := func(p *replicaProc) string { return p.url() + hook } // the trigger's URL, on replica p
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := map[int]bool{}
	// unanswered are Works whose request got no answer (the replica died under
	// it): committed or not, either is right; if written, with their content.
	unanswered := map[int]bool{}
	killed := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < works; i = int(next.Add(1) - 1) {
				p := reps[i%3]
				var code int
				var body string
				switch {
				case i%10 == 0: // the same delivery, same Idempotency-Key, at two replicas at once
					key := "delivery-" + strconv.Itoa(i)
					var codes [2]int
					var inner sync.WaitGroup
					for j := range 2 {
						inner.Go(func() {
							codes[j], _ = call(http.MethodPost, trigURL(reps[(i+j)%3]), workBody(i), "Idempotency-Key", key,
								"Content-Type", "application/json")
						})
					}
					inner.Wait()
					// Each answer is a 202 (the submission or its replay) or none
					// (the killed replica); a 202 from either means accepted.
					for _, c := range codes {
						switch c {
						case http.StatusAccepted:
							code = http.StatusAccepted
						case 0:
						default:
							t.Errorf("Work %d, Idempotency-Key %s: answers %v", i, key, codes)
						}
					}
					if code != http.StatusAccepted && codes != [2]int{} {
						code = -1 // refused: reported above, neither accepted nor unanswered
					}
				case i%2 == 0:
					code, body = call(http.MethodPost, trigURL(p), workBody(i), "Content-Type", "application/json")
				default:
					code, body = call(http.MethodPost, api(p)+"/works", workBody(i))
				}
				if code == http.StatusAccepted {
					mu.Lock()
					accepted[i] = true
					mu.Unlock()
				} else if code == 0 { // the killed replica: no answer
					mu.Lock()
					unanswered[i] = true
					mu.Unlock()
				} else if code > 0 {
					t.Errorf("Work %d on %s: %d %s", i, p.addr, code, body)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	// Kill a replica while it holds a running job, then start it again. Which
	// one: the first seen holding one (a store's next job goes first to the
	// replica that wrote it last, so one replica may write every store a while).
	go func() {
		defer close(killed)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			var owners []string
			rows, err := pg.Query(`SELECT lease_owner FROM jobs WHERE state = 'running'`)
			if err == nil {
				for rows.Next() {
					var o string
					if rows.Scan(&o) == nil {
						owners = append(owners, o)
					}
				}
				rows.Close()
			}
			for _, o := range owners {
				for _, victim := range reps {
					tag := "%-" + strconv.Itoa(victim.cmd.Process.Pid) + "-%"
					if strings.Contains(o, tag[1:len(tag)-1]) {
						victim.kill()
						// Down until its running jobs were taken over by the others
						// (their leases ran out), then back.
						waitDB(t, pg, 60*time.Second, `SELECT COUNT(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE $1`, tag)
						victim.start(t)
						return
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Errorf("no replica ever held a running job")
	}()
	// A 5/s trigger hit through all three replicas for three seconds, by eight
	// clients at once: more than 5/s arrive even when each answer is slow.
	limitedOK, limitedRefused := 0, 0
	limitStart := time.Now()
	var limitNext atomic.Int64
	var limiters sync.WaitGroup
	for range 8 {
		limiters.Go(func() {
			for time.Since(limitStart) < 3*time.Second {
				i := int(limitNext.Add(1) - 1)
				p := reps[i%3]
				body := workJSON(fmt.Sprintf("lim-%03d", i), "git", fmt.Sprintf("lim: %d\n", i))
				code, answer := call(http.MethodPost, p.url()+limitedHook, body, "Content-Type", "application/json")
				mu.Lock()
				switch code {
				case http.StatusAccepted:
					limitedOK++
					accepted[10000+i] = true
				case http.StatusTooManyRequests:
					limitedRefused++
				case 0: // the killed replica
				default:
					t.Errorf("the 5/s trigger on %s: %d %s", p.addr, code, answer)
				}
				mu.Unlock()
			}
		})
	}
	limiters.Wait()
	limitElapsed := time.Since(limitStart)
	wg.Wait()
	<-killed

	// Everything accepted is written; nothing is left running.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var open, running int
		_ = pg.QueryRow(`SELECT (SELECT COUNT(*) FROM placements WHERE state <> 'written') + (SELECT COUNT(*) FROM canaries WHERE state <> 'written')`).Scan(&open)
		_ = pg.QueryRow(`SELECT COUNT(*) FROM jobs WHERE state IN ('running', 'queued')`).Scan(&running)
		if open == 0 && running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d placements or canaries not written, %d jobs queued or running after 3 minutes", open, running)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-sampled

	gitFiles := git.Files(t, git.Branch())
	s3Files := s3.Objects(t, bucket, "")
	want := map[string]string{}
	for i := range accepted {
		switch {
		case i >= 10000:
			want[redisFile("gitops", fmt.Sprintf("lim-%03d", i-10000))] = fmt.Sprintf("lim: %d\n", i-10000)
		case i%2 == 0:
			want[redisFile("gitops", fmt.Sprintf("w-%03d", i))] = fmt.Sprintf("n: %d\n", i)
		default:
			want[redisFile("clusters", fmt.Sprintf("w-%03d", i))] = fmt.Sprintf("n: %d\n", i)
		}
	}
	got := map[string]string{}
	for k, v := range gitFiles {
		if strings.Contains(k, "/resources/default/") {
			got[k] = v
		}
	}
	for k, v := range s3Files {
		if strings.Contains(k, "/resources/default/") {
			got[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	maybe := map[string]string{}
	for i := range unanswered {
		if i%2 == 0 {
			maybe[redisFile("gitops", fmt.Sprintf("w-%03d", i))] = fmt.Sprintf("n: %d\n", i)
		} else {
			maybe[redisFile("clusters", fmt.Sprintf("w-%03d", i))] = fmt.Sprintf("n: %d\n", i)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; ok {
			continue
		}
		if m, ok := maybe[k]; !ok || m != v {
			t.Errorf("the stores hold %s = %q, which no accepted Work says", k, v)
		}
	}
	// One submission per Idempotency-Key: its placement was written at generation 1.
	var resubmitted int
	if err := pg.QueryRow(`SELECT COUNT(*) FROM placements p JOIN works w ON w.id = p.work_id
		WHERE w.res_name LIKE 'w-%' AND CAST(SUBSTRING(w.res_name FROM 3) AS INTEGER) % 10 = 0 AND p.generation <> 1`).Scan(&resubmitted); err != nil {
		t.Fatal(err)
	}
	if resubmitted > 0 {
		t.Errorf("%d idempotent deliveries were submitted more than once", resubmitted)
	}
	if m := maxRunning.Load(); m > 1 {
		t.Errorf("the sampler saw %d running jobs for one store at once", m)
	}
	if allowed := 5*limitElapsed.Seconds() + 5 + 1; float64(limitedOK) > allowed {
		t.Errorf("the 5/s trigger accepted %d deliveries in %v through three replicas, more than %.0f", limitedOK, limitElapsed, allowed)
	}
	// The limit was reached (some refused) and the trigger let deliveries through
	// (at least its burst): a trigger refusing everything, or none, fails here.
	if limitedOK < 5 || limitedRefused == 0 {
		t.Errorf("the 5/s trigger accepted %d and refused %d deliveries in %v; want at least 5 accepted and some refused", limitedOK, limitedRefused, limitElapsed)
	}
	t.Logf("%d Works accepted, %d unanswered by the killed replica (%d on the 5/s trigger in %v, %d refused), %d samples of running jobs (max %d per store), %d commits",
		len(accepted), len(unanswered), limitedOK, limitElapsed.Round(time.Millisecond), limitedRefused, samples.Load(), maxRunning.Load(), git.CommitCount(t, git.Branch()))
}
