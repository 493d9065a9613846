package writers

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stateward/stateward/forge"
	"github.com/stateward/stateward/tenants"
)

func TestDescribePullRequest(t *testing.T) {
	s := tenants.GitStateStore{Name: "gitops", Branch: "main", PullRequest: &tenants.PullRequestSpec{Provider: "github"}}
	props := []tenants.Proposal{
		{WorkID: 1, Work: "redis-a", Destination: "dev", Files: 2, New: true, RequestedBy: "alice@example.com"},
		{WorkID: 1, Work: "redis-a", Destination: "prod", Files: 2, RequestedBy: "alice@example.com"},
		{WorkID: 2, Work: "old-app", Destination: "dev", Files: 3, Delete: true, RequestedBy: "token ci"},
	}
	got := describe(s, "acme", "https://sw.example/", props, forge.Limits{Title: 256, Body: 65536})
	for _, want := range []string{
		"| `dev` | 2 | 2 | 0 | 3 |", "| `prod` | 1 | 0 | 2 | 0 |",
		"[redis-a](https://sw.example/t/acme/works/1) on `dev`, `prod`, requested by alice@example.com",
		"[old-app](https://sw.example/t/acme/works/2) removed from `dev`, requested by token ci",
		"merging writes it to `main`", "do not push to `stateward/gitops`",
	} {
		if !strings.Contains(got.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, got.Body)
		}
	}
	if got.Title != "Stateward: 2 Works to 2 Destinations" {
		t.Errorf("title %q", got.Title)
	}
	if one := describe(s, "acme", "https://sw.example", props[:1], forge.Limits{Title: 256, Body: 65536}); one.Title != "Stateward: redis-a to dev" {
		t.Errorf("title of one Work %q", one.Title)
	}
	// Too long for the host: summarised per Destination, requesters counted.
	var many []tenants.Proposal
	for i := range 3000 {
		many = append(many, tenants.Proposal{WorkID: int64(i + 1), Work: fmt.Sprintf("app-%04d", i), Destination: []string{"dev", "prod"}[i%2],
			Files: 1, New: true, RequestedBy: []string{"alice@example.com", "token ci"}[i%3/2]})
	}
	sum := describe(s, "acme", "https://sw.example", many, forge.Limits{Title: 40, Body: 4000})
	if n := len([]rune(sum.Body)); n > 4000 || strings.Contains(sum.Body, "app-0001") ||
		!strings.Contains(sum.Body, "3000 Works in all") || !strings.Contains(sum.Body, "alice@example.com (2000), token ci (1000)") ||
		!strings.Contains(sum.Body, "| `dev` | 1500 | 1500 | 0 | 0 |") {
		t.Errorf("summary (%d characters):\n%s", n, sum.Body)
	}
	if len([]rune(sum.Title)) > 40 {
		t.Errorf("title %q longer than the limit", sum.Title)
	}
}
