package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

// TestWebhooksAcrossReplicas: two servers on one database (two replicas behind a
// load balancer) share a trigger's rate limit, and an Idempotency-Key delivered to
// both at once submits one Work.
func TestWebhooksAcrossReplicas(t *testing.T) {
	a := newHarness(t, nil)
	b := a.replica()
	ten, tok := a.tenantWithToken("team-a", tenants.RoleEditor)
	urls := func(trig createdTrigger) [2]string {
		return [2]string{trig.URL, strings.Replace(trig.URL, a.URL, b.URL, 1)}
	}

	limited := urls(a.trigger(tok, "team-a", `{"name": "slow", "ratePerSecond": 5, "requireSignature": false}`))
	start := time.Now()
	accepted := 0
	for i := range 30 {
		r := post(t, limited[i%2], "application/json", workBody("dev", fmt.Sprintf("w%d", i), "a: b\n"))
		switch r.Code {
		case http.StatusAccepted:
			accepted++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("delivery %d: %d %s", i, r.Code, snippet(r.Body))
		}
	}
	// The burst (5) plus what 5/s refills meanwhile; one limiter per replica would
	// let each replica accept its own burst.
	if most := 5 + int(time.Since(start).Seconds()*5); accepted < 5 || accepted > most {
		t.Errorf("30 quick deliveries through 2 replicas at 5/s: %d accepted, want 5..%d", accepted, most)
	}

	ci := a.trigger(tok, "team-a", `{"name": "ci", "requireSignature": false}`)
	both := urls(ci)
	const keys = 8
	replies := make([][2]hookReply, keys)
	var wg sync.WaitGroup
	for k := range keys {
		body := workBody("dev", fmt.Sprintf("k%d", k), "a: b\n")
		for side := range 2 {
			wg.Go(func() {
				replies[k][side] = post(t, both[side], "application/json", body, "Idempotency-Key", fmt.Sprintf("build-%d", k))
			})
		}
	}
	wg.Wait()
	for k, r := range replies {
		if r[0].Code != http.StatusAccepted || r[1].Code != http.StatusAccepted || r[0].Body != r[1].Body {
			t.Errorf("key build-%d: %d %s / %d %s, want one answer twice", k, r[0].Code, snippet(r[0].Body), r[1].Code, snippet(r[1].Body))
		}
	}
	dels, err := a.DB.Deliveries(context.Background(), ten.ID, ci.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	submitted := 0
	for _, d := range dels {
		if d.WorkID != nil {
			submitted++
		}
	}
	if len(dels) != 2*keys || submitted != keys {
		t.Errorf("%d deliveries, %d of them submitted a Work; want %d and %d (one submit per key)", len(dels), submitted, 2*keys, keys)
	}
}

// TestReplicasWriteOneStoreTogether: three replicas on one database, each with
// its own writers and Git cache, take Works round-robin for one Git store. Every
// accepted Work ends up in the repository with exactly its content, nothing
// extra; a sampler never sees two jobs of the store running at once; no job is
// left queued or running.
func TestReplicasWriteOneStoreTogether(t *testing.T) {
	a := newHarness(t, nil)
	rs := []*harness{a, a.replica(), a.replica()}
	ten, tok := a.tenantWithToken("team-a", tenants.RoleEditor)
	git := testpeers.GitHTTP(t, testpeers.GitOptions{Username: "bot", Password: "pw"})
	for _, r := range rs {
		t.Cleanup(r.StopWriters) // before the Git server goes
	}
	yaml := git.StoreYAML("bot", "pw") + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: repo}}
`
	if code, _, body := a.apply(tok, "team-a", yaml); code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
	trig := a.trigger(tok, "team-a", `{"name": "ci", "requireSignature": false}`)

	ctx, stopSampler := context.WithCancel(context.Background())
	var maxRunning atomic.Int32
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			if n, err := a.DB.JobCounts(ctx); err == nil && int32(n[tenants.JobRunning]) > maxRunning.Load() {
				maxRunning.Store(int32(n[tenants.JobRunning]))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()

	const works = 150
	var wg sync.WaitGroup
	for s := range 6 {
		wg.Go(func() {
			for i := s; i < works; i += 6 {
				url := strings.Replace(trig.URL, a.URL, rs[i%3].URL, 1)
				r := post(t, url, "application/json", workBody("dev", fmt.Sprintf("w%03d", i), fmt.Sprintf("n: %d\n", i)))
				if r.Code != http.StatusAccepted {
					t.Errorf("work %d: %d %s", i, r.Code, snippet(r.Body))
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(90 * time.Second)
	for {
		n, err := a.DB.Outstanding(context.Background(), ten.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d placements and canary files not written after 90 s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopSampler()
	<-sampled

	files := git.Files(t, "main")
	resources := 0
	for path := range files {
		if strings.HasPrefix(path, "gitops/dev/resources/default/") { // not the canary beside them
			resources++
		}
	}
	for i := range works {
		path := fmt.Sprintf("gitops/dev/resources/default/redis/w%03d/5058f/redis.yaml", i)
		if got, want := files[path], fmt.Sprintf("n: %d\n", i); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if resources != works {
		t.Errorf("%d resource files in the repository, want %d", resources, works)
	}
	if m := maxRunning.Load(); m > 1 {
		t.Errorf("the sampler saw %d jobs of the one store running at once", m)
	}
	counts, err := a.DB.JobCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if counts[tenants.JobQueued]+counts[tenants.JobRunning] != 0 {
		t.Errorf("jobs left: %v", counts)
	}
	t.Logf("%d Works through 3 replicas: %d commits; at most %d job running", works, git.CommitCount(t, "main"), maxRunning.Load())
}
