package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
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

	limited := urls(a.trigger(tok, "team-a", `{"name": "slow", "ratePerSecond": 5}`))
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

	ci := a.trigger(tok, "team-a", `{"name": "ci"}`)
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
