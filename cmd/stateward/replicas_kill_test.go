package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/stateward/stateward/testpeers"
)

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
	c := startThreeReplicas(t)
	sampler := c.sampleRunningJobs()
	out := newOutcomes()
	submitted := c.submitWorks(works, out)
	restarted := c.killAJobHolderAndRestart()
	limited := c.hitLimitedTrigger(out)
	submitted()
	<-restarted

	c.waitDrained()
	maxRunning, samples := sampler.stop()
	c.verifyStores(out)
	c.verifyOneSubmissionPerKey()
	if maxRunning > 1 {
		t.Errorf("the sampler saw %d running jobs for one store at once", maxRunning)
	}
	limited.verify(t)
	t.Logf("%d Works accepted, %d unanswered by the killed replica (%d on the 5/s trigger in %v, %d refused), %d samples of running jobs (max %d per store), %d commits",
		len(out.accepted), len(out.unanswered), limited.ok, limited.elapsed.Round(time.Millisecond), limited.refused, samples, maxRunning,
		c.git.CommitCount(t, c.git.Branch()))
}

// replicaCluster is three replicas on one PostgreSQL database, team-a with a Git
// and a bucket store, its editor's API caller and two triggers.
type replicaCluster struct {
	t      *testing.T
	reps   []*replicaProc
	pg     *sql.DB // the test's own connection, to observe jobs and placements
	git    *testpeers.GitServer
	s3     *testpeers.S3Server
	bucket string
	call   caller
	// hook and limitedHook are the paths of the triggers "ci" and "limited" (5/s).
	hook, limitedHook string
}

// startThreeReplicas starts the peers and three replicas on them (job lease 2s),
// and gives team-a the Destinations to-git (label to: git) and to-s3 (to: s3).
func startThreeReplicas(t *testing.T) *replicaCluster {
	dbURL := testpeers.Postgres(t).NewDatabase(t)
	c := &replicaCluster{t: t, git: testpeers.GitHTTP(t, testpeers.GitOptions{Username: "bot", Password: "pw", Empty: true}),
		s3: testpeers.MinIO(t)}
	c.bucket = c.s3.NewBucket(t)
	for range 3 {
		c.reps = append(c.reps, startReplica(t, t.TempDir(), "STATEWARD_DATABASE_URL="+dbURL, "STATEWARD_SECRET_KEY="+testKey,
			"STATEWARD_ALLOW_PRIVATE_ENDPOINTS=true", "STATEWARD_JOB_LEASE=2s"))
	}
	c.call = teamAEditor(t, map[string]string{"STATEWARD_DATABASE_URL": dbURL, "STATEWARD_SECRET_KEY": testKey,
		"STATEWARD_DATA_DIR": t.TempDir()})
	applyYAML(t, c.call, c.api(c.reps[0]), c.git.StoreYAML("bot", "pw")+c.s3.StoreYAML(c.bucket)+`apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: to-git, labels: {to: git}}
spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: repo}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: to-s3, labels: {to: s3}}
spec: {path: dev, stateStoreRef: {kind: BucketStateStore, name: minio}}
`)
	c.hook = newHook(t, c.call, c.api(c.reps[1]), `{"name": "ci", "requireSignature": false}`)
	c.limitedHook = newHook(t, c.call, c.api(c.reps[1]), `{"name": "limited", "ratePerSecond": 5, "requireSignature": false}`)
	pg, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	c.pg = pg
	return c
}

// api is team-a's API on replica p.
func (c *replicaCluster) api(p *replicaProc) string { return p.url() + "/api/v1/tenants/team-a" }

// rep is the replica the i-th request goes to: round-robin.
func (c *replicaCluster) rep(i int) *replicaProc { return c.reps[i%len(c.reps)] }

// runningSampler polls the jobs table every 10 ms for the most running jobs of
// any one store.
type runningSampler struct {
	max, samples atomic.Int64
	halt, done   chan struct{}
}

// sampleRunningJobs starts the sampler: never two running jobs for one store.
func (c *replicaCluster) sampleRunningJobs() *runningSampler {
	s := &runningSampler{halt: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.halt:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var n int64
			if err := c.pg.QueryRow(`SELECT COALESCE(MAX(c), 0) FROM (SELECT COUNT(*) AS c FROM jobs WHERE state = 'running'
				GROUP BY tenant_id, store_kind, store_name) r`).Scan(&n); err == nil {
				s.samples.Add(1)
				if n > s.max.Load() {
					s.max.Store(n)
				}
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the most running jobs seen for one store
// and the number of samples.
func (s *runningSampler) stop() (maxRunning, samples int64) {
	close(s.halt)
	<-s.done
	return s.max.Load(), s.samples.Load()
}

// outcomes are the store files of the Works sent, by their answer.
type outcomes struct {
	mu       sync.Mutex
	accepted map[string]string // answered 202: the file must be written, with this content
	// unanswered are Works whose request got no answer (the replica died under
	// it): committed or not, either is right; if written, with their content.
	unanswered map[string]string
}

func newOutcomes() *outcomes {
	return &outcomes{accepted: map[string]string{}, unanswered: map[string]string{}}
}

func (o *outcomes) add(to map[string]string, file, content string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	to[file] = content
}

// work is the i-th Work of the load: its JSON and the store file it writes, to
// Git for even i, to the bucket for odd.
func work(i int) (body, file, content string) {
	name, content := fmt.Sprintf("w-%03d", i), fmt.Sprintf("n: %d\n", i)
	to, root := "git", "gitops"
	if i%2 == 1 {
		to, root = "s3", "clusters"
	}
	return workJSON(name, to, content), redisFile(root, name), content
}

// submitWorks sends Works 0…n-1 from 16 clients at once, round-robin over the
// replicas, and records their answers in out; the returned func waits for the
// clients to finish.
func (c *replicaCluster) submitWorks(n int, out *outcomes) (wait func()) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				c.submitWork(i, out)
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	return wg.Wait
}

// submitWork sends Work i: every tenth as one webhook delivery at two replicas
// at once, the other even ones by webhook, the odd ones through the API.
func (c *replicaCluster) submitWork(i int, out *outcomes) {
	p := c.rep(i)
	body, file, content := work(i)
	var code int
	var answer string
	switch {
	case i%10 == 0:
		code = c.deliverTwice(i)
	case i%2 == 0:
		code, answer = c.call(http.MethodPost, p.url()+c.hook, body, "Content-Type", "application/json")
	default:
		code, answer = c.call(http.MethodPost, c.api(p)+"/works", body)
	}
	switch {
	case code == http.StatusAccepted:
		out.add(out.accepted, file, content)
	case code == 0: // the killed replica: no answer
		out.add(out.unanswered, file, content)
	case code > 0:
		c.t.Errorf("Work %d on %s: %d %s", i, p.addr, code, answer)
	}
}

// deliverTwice sends Work i's webhook delivery, with one Idempotency-Key, to two
// replicas at once. Each answer is a 202 (the submission or its replay) or none
// (the killed replica); a 202 from either means accepted (202), none from
// either unanswered (0), and anything else is reported and returns -1.
func (c *replicaCluster) deliverTwice(i int) int {
	key := "delivery-" + strconv.Itoa(i)
	body, _, _ := work(i)
	var codes [2]int
	var inner sync.WaitGroup
	for j := range 2 {
		inner.Go(func() {
			codes[j], _ = c.call(http.MethodPost, c.rep(i+j).url()+c.hook, body, "Idempotency-Key", key,
				"Content-Type", "application/json")
		})
	}
	inner.Wait()
	code := 0
	for _, got := range codes {
		switch got {
		case http.StatusAccepted:
			code = http.StatusAccepted
		case 0:
		default:
			c.t.Errorf("Work %d, Idempotency-Key %s: answers %v", i, key, codes)
		}
	}
	if code != http.StatusAccepted && codes != [2]int{} {
		code = -1 // refused: reported above, neither accepted nor unanswered
	}
	return code
}

// killAJobHolderAndRestart kills a replica while it holds a running job, then
// starts it again. Which one: the first seen holding one (a store's next job
// goes first to the replica that wrote it last, so one replica may write every
// store a while). The channel closes when that is done, or after a minute in
// which no replica held a job (reported).
func (c *replicaCluster) killAJobHolderAndRestart() <-chan struct{} {
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		var victim *replicaProc
		var owner string
		if !testpeers.Poll(60*time.Second, 5*time.Millisecond, func() bool {
			victim, owner = c.runningJobHolder()
			return victim != nil
		}) {
			c.t.Errorf("no replica ever held a running job")
			return
		}
		victim.kill()
		// Down until its running jobs were taken over by the others (their
		// leases ran out), then back.
		waitDB(c.t, c.pg, 60*time.Second, `SELECT COUNT(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE $1`, owner)
		victim.start(c.t)
	}()
	return restarted
}

// runningJobHolder is a replica that holds a running job now, and the LIKE
// pattern of its lease owner name (host-PID-suffix), or nil.
func (c *replicaCluster) runningJobHolder() (*replicaProc, string) {
	var owners []string
	rows, err := c.pg.Query(`SELECT lease_owner FROM jobs WHERE state = 'running'`)
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
		for _, p := range c.reps {
			tag := "%-" + strconv.Itoa(p.cmd.Process.Pid) + "-%"
			if strings.Contains(o, tag[1:len(tag)-1]) {
				return p, tag
			}
		}
	}
	return nil, ""
}

// limitedRun is what the 5/s trigger answered during hitLimitedTrigger.
type limitedRun struct {
	ok, refused int
	elapsed     time.Duration
}

// hitLimitedTrigger hits the 5/s trigger through all three replicas for three
// seconds, by eight clients at once: more than 5/s arrive even when each answer
// is slow. The accepted Works go into out.accepted, those the killed replica
// left unanswered into out.unanswered.
func (c *replicaCluster) hitLimitedTrigger(out *outcomes) limitedRun {
	var mu sync.Mutex
	var r limitedRun
	start := time.Now()
	var next atomic.Int64
	var clients sync.WaitGroup
	for range 8 {
		clients.Go(func() {
			for time.Since(start) < 3*time.Second {
				i := int(next.Add(1) - 1)
				p := c.rep(i)
				name, content := fmt.Sprintf("lim-%03d", i), fmt.Sprintf("lim: %d\n", i)
				code, answer := c.call(http.MethodPost, p.url()+c.limitedHook, workJSON(name, "git", content), "Content-Type", "application/json")
				mu.Lock()
				switch code {
				case http.StatusAccepted:
					r.ok++
					out.add(out.accepted, redisFile("gitops", name), content)
				case http.StatusTooManyRequests:
					r.refused++
				case 0: // the killed replica: committed or not, either is right
					out.add(out.unanswered, redisFile("gitops", name), content)
				default:
					c.t.Errorf("the 5/s trigger on %s: %d %s", p.addr, code, answer)
				}
				mu.Unlock()
			}
		})
	}
	clients.Wait()
	r.elapsed = time.Since(start)
	return r
}

// verify: the trigger accepted no more than 5/s plus its burst, through three
// replicas; the limit was reached (some refused) and the trigger let
// deliveries through (at least its burst): a trigger refusing everything, or
// none, fails here.
func (r limitedRun) verify(t *testing.T) {
	t.Helper()
	if allowed := 5*r.elapsed.Seconds() + 5 + 1; float64(r.ok) > allowed {
		t.Errorf("the 5/s trigger accepted %d deliveries in %v through three replicas, more than %.0f", r.ok, r.elapsed, allowed)
	}
	if r.ok < 5 || r.refused == 0 {
		t.Errorf("the 5/s trigger accepted %d and refused %d deliveries in %v; want at least 5 accepted and some refused", r.ok, r.refused, r.elapsed)
	}
}

// waitDrained waits until everything accepted is written and nothing is left
// queued or running, for at most 3 minutes.
func (c *replicaCluster) waitDrained() {
	var open, running int
	if !testpeers.Poll(3*time.Minute, 50*time.Millisecond, func() bool {
		open, running = 0, 0
		_ = c.pg.QueryRow(`SELECT (SELECT COUNT(*) FROM placements WHERE state <> 'written') + (SELECT COUNT(*) FROM canaries WHERE state <> 'written')`).Scan(&open)
		_ = c.pg.QueryRow(`SELECT COUNT(*) FROM jobs WHERE state IN ('running', 'queued')`).Scan(&running)
		return open == 0 && running == 0
	}) {
		c.t.Fatalf("%d placements or canaries not written, %d jobs queued or running after 3 minutes", open, running)
	}
}

// verifyStores: every accepted Work's file is in its store with its content,
// and the only other Works' files there are unanswered ones, with theirs.
func (c *replicaCluster) verifyStores(out *outcomes) {
	got := map[string]string{}
	for _, files := range []map[string]string{c.git.Files(c.t, c.git.Branch()), c.s3.Objects(c.t, c.bucket, "")} {
		for k, v := range files {
			if strings.Contains(k, "/resources/default/") {
				got[k] = v
			}
		}
	}
	for k, v := range out.accepted {
		if got[k] != v {
			c.t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := out.accepted[k]; ok {
			continue
		}
		if m, ok := out.unanswered[k]; !ok || m != v {
			c.t.Errorf("the stores hold %s = %q, which no accepted Work says", k, v)
		}
	}
}

// verifyOneSubmissionPerKey: one submission per Idempotency-Key, so the
// placement of every tenth Work was written at generation 1.
func (c *replicaCluster) verifyOneSubmissionPerKey() {
	var resubmitted int
	if err := c.pg.QueryRow(`SELECT COUNT(*) FROM placements p JOIN works w ON w.id = p.work_id
		WHERE w.res_name LIKE 'w-%' AND CAST(SUBSTRING(w.res_name FROM 3) AS INTEGER) % 10 = 0 AND p.generation <> 1`).Scan(&resubmitted); err != nil {
		c.t.Fatal(err)
	}
	if resubmitted > 0 {
		c.t.Errorf("%d idempotent deliveries were submitted more than once", resubmitted)
	}
}
