package web_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestCLILoginMintsARevocableToken drives the server's half of `stateward login`:
// the page changes nothing on GET, its POST mints a token with the person's role
// and sends the browser to the CLI's 127.0.0.1 listener with the state, and the
// token is an ordinary one that the tokens page revokes.
func TestCLILoginMintsARevocableToken(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	got := make(chan url.Values, 1)
	cli := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			got <- r.URL.Query()
		}
		w.Write([]byte("signed in"))
	}))
	defer cli.Close()
	port := strconv.Itoa(cli.Listener.Addr().(*net.TCPAddr).Port)
	const state = "s0me-random_state-0123456789"
	team, err := h.DB.TenantBySlug(context.Background(), "team-a")
	if err != nil {
		t.Fatal(err)
	}
	tenantID := team.ID

	for _, c := range []struct {
		query string
		code  int
	}{
		{"port=0&state=" + state, 422},
		{"port=http://evil.example&state=" + state, 422},
		{"port=" + port + "&state=short", 422},
		{"port=" + port + "&state=" + state + "&tenant=team-b", 404},
	} {
		if resp, _ := b.get(t, h.URL+"/cli/login?"+c.query); resp.StatusCode != c.code {
			t.Errorf("GET /cli/login?%s: %d, want %d", c.query, resp.StatusCode, c.code)
		}
	}
	resp, body := b.get(t, h.URL+"/cli/login?port="+port+"&state="+state+"&tenant=team-a&host=laptop")
	for _, want := range []string{"acts with your current role in the team", "stops working if you leave the team"} {
		if !strings.Contains(body, want) {
			t.Errorf("the confirmation page does not say the token %q: %s", want, snippet(body))
		}
	}
	if resp.StatusCode != 200 || !strings.Contains(body, `data-testid="cli-confirm"`) || !strings.Contains(body, "laptop") {
		t.Fatalf("confirmation page: %d %s", resp.StatusCode, snippet(body))
	}
	if toks, _ := h.DB.Tokens(context.Background(), tenantID); len(toks) != 0 {
		t.Fatalf("GET minted %d tokens, want none", len(toks))
	}

	// A cross-site POST (a page elsewhere auto-submitting the form) mints nothing.
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/cli/login", strings.NewReader(url.Values{"port": {port}, "state": {state}, "tenant": {"team-a"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := b.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %v %v, want 403", resp.StatusCode, err)
	}
	if toks, _ := h.DB.Tokens(context.Background(), tenantID); len(toks) != 0 {
		t.Fatalf("cross-site POST minted %d tokens", len(toks))
	}

	resp, _ = b.post(t, h.URL+"/cli/login", url.Values{"port": {port}, "state": {state}, "tenant": {"team-a"}, "host": {"laptop"}})
	if resp.StatusCode != 200 || resp.Request.URL.Host != "127.0.0.1:"+port {
		t.Fatalf("confirm ended at %s (%d), want the CLI's listener", resp.Request.URL, resp.StatusCode)
	}
	q := <-got
	if q.Get("state") != state || q.Get("tenant") != "team-a" || !strings.HasPrefix(q.Get("token"), "swt_") {
		t.Fatalf("callback query %v", q)
	}
	tok := "Bearer " + q.Get("token")
	if code, body := api(t, "GET", h.URL+"/api/v1/tenants/team-a/", tok, nil); code != 200 || !strings.Contains(body, `"owner"`) {
		t.Fatalf("minted token: %d %s, want alice's role owner", code, body)
	}
	toks, _ := h.DB.Tokens(context.Background(), tenantID)
	if len(toks) != 1 || toks[0].Name != "cli: alice@example.com on laptop" || toks[0].Role != "owner" {
		t.Fatalf("tokens %+v", toks)
	}
	if resp, _ := b.post(t, h.URL+"/t/team-a/tokens/"+strconv.FormatInt(toks[0].ID, 10)+"/revoke", nil); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if code, _ := api(t, "GET", h.URL+"/api/v1/tenants/team-a/", tok, nil); code != http.StatusUnauthorized {
		t.Fatalf("revoked CLI token: %d, want 401", code)
	}
}

// cliLogin runs the browser half of `stateward login` for the person signed in to
// b and returns the token handed to the CLI's 127.0.0.1 listener.
func cliLogin(t *testing.T, h *harness, b *browser, tenant, host string) string {
	t.Helper()
	got := make(chan url.Values, 1)
	cli := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			got <- r.URL.Query()
		}
		w.Write([]byte("signed in"))
	}))
	defer cli.Close()
	port := strconv.Itoa(cli.Listener.Addr().(*net.TCPAddr).Port)
	const state = "an0ther-random_state-0123456789"
	resp, body := b.post(t, h.URL+"/cli/login", url.Values{"port": {port}, "state": {state}, "tenant": {tenant}, "host": {host}})
	if resp.StatusCode != 200 || resp.Request.URL.Host != "127.0.0.1:"+port {
		t.Fatalf("confirm ended at %s (%d): %s", resp.Request.URL, resp.StatusCode, snippet(body))
	}
	q := <-got
	if q.Get("state") != state || !strings.HasPrefix(q.Get("token"), "swt_") {
		t.Fatalf("callback query %v", q)
	}
	return "Bearer " + q.Get("token")
}

// TestCLITokenActsForItsPerson: a token of `stateward login` never does more than
// its person may do now — demoted, its POSTs answer 403; removed from the team, it
// answers 401 — while a token made on the tokens page keeps its role. The tokens
// page says whose it is, and the audit log names the person as well as the token.
func TestCLITokenActsForItsPerson(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.signedInTeam()
	if resp, body := alice.post(t, h.URL+"/t/team-a/members", url.Values{"email": {"bob@example.com"}, "role": {"editor"}}); resp.StatusCode != 200 {
		t.Fatalf("invite bob: %d %s", resp.StatusCode, snippet(body))
	}
	team, err := h.DB.TenantBySlug(context.Background(), "team-a")
	if err != nil {
		t.Fatal(err)
	}
	_, raw, err := h.DB.CreateToken(context.Background(), team.ID, "ci", tenants.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	teamTok := "Bearer " + raw
	bob := newBrowser(t)
	h.login(bob, "bob@example.com")
	tok := cliLogin(t, h, bob, "team-a", "laptop")

	createTrigger := func(who, name string) int {
		t.Helper()
		code, _ := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/triggers", who, strings.NewReader(`{"name": "`+name+`"}`))
		return code
	}
	if code, body := api(t, "GET", h.URL+"/api/v1/tenants/team-a/", tok, nil); code != 200 || !strings.Contains(body, `"editor"`) {
		t.Fatalf("bob's CLI token: %d %s, want his role editor", code, body)
	}
	if code := createTrigger(tok, "by-bob"); code != http.StatusCreated {
		t.Fatalf("bob's token as an editor: POST answered %d, want 201", code)
	}
	var actor []string
	for _, ev := range getAuditFull(t, h, "team-a", teamTok).Items {
		if ev.Object.Name == "by-bob" {
			actor = append(actor, ev.Actor.Kind, ev.Actor.Name, ev.Actor.Person)
		}
	}
	if strings.Join(actor, "|") != "token|cli: bob@example.com on laptop|bob@example.com" {
		t.Errorf("audit actor of bob's trigger: %q, want the token and bob", actor)
	}
	if _, page := alice.get(t, h.URL+"/t/team-a/audit"); !strings.Contains(page, "for bob@example.com") {
		t.Errorf("the audit page does not name bob for his token's change")
	}

	if resp, _ := alice.post(t, h.URL+"/t/team-a/members/role", url.Values{"email": {"bob@example.com"}, "role": {"viewer"}}); resp.StatusCode != 200 {
		t.Fatalf("demote bob: %d", resp.StatusCode)
	}
	if code := createTrigger(tok, "after-demotion"); code != http.StatusForbidden {
		t.Errorf("bob demoted to viewer: his token's POST answered %d, want 403", code)
	}
	if code, body := api(t, "GET", h.URL+"/api/v1/tenants/team-a/", tok, nil); code != 200 || !strings.Contains(body, `"viewer"`) {
		t.Errorf("bob demoted: GET with his token %d %s, want 200 as viewer", code, body)
	}
	// Promoted above the token's role, the token still does no more than it was given.
	if resp, _ := alice.post(t, h.URL+"/t/team-a/members/role", url.Values{"email": {"bob@example.com"}, "role": {"owner"}}); resp.StatusCode != 200 {
		t.Fatalf("promote bob: %d", resp.StatusCode)
	}
	if code, body := api(t, "GET", h.URL+"/api/v1/tenants/team-a/", tok, nil); code != 200 || !strings.Contains(body, `"editor"`) {
		t.Errorf("bob promoted to owner: GET with his token %d %s, want the token's own role editor", code, body)
	}

	_, page := alice.get(t, h.URL+"/t/team-a/tokens")
	if !strings.Contains(page, "bob@example.com") || !strings.Contains(page, "the team") {
		t.Errorf("tokens page does not say whose each token is: %s", snippet(page[strings.Index(page, `data-testid="tokens"`):]))
	}

	if resp, body := alice.post(t, h.URL+"/t/team-a/members/remove", url.Values{"email": {"bob@example.com"}}); resp.StatusCode != 200 ||
		!strings.Contains(body, "tokens they made with stateward login no longer work") {
		t.Fatalf("remove bob: %d %s", resp.StatusCode, snippet(body))
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		code, _ := api(t, m, h.URL+"/api/v1/tenants/team-a/triggers", tok, strings.NewReader(`{"name": "after-removal"}`))
		if code != http.StatusUnauthorized {
			t.Errorf("bob removed: %s with his token answered %d, want 401", m, code)
		}
	}
	if code := createTrigger(teamTok, "by-ci"); code != http.StatusCreated {
		t.Errorf("the team's own token after bob left: %d, want 201", code)
	}
}

// getAuditFull reads the first page of a tenant's audit log with the actor's person.
func getAuditFull(t *testing.T, h *harness, tenant, tok string) (a struct {
	Items []struct {
		Actor  struct{ Kind, Name, Person string }
		Object struct{ Kind, Name string }
	}
}) {
	t.Helper()
	code, out := api(t, http.MethodGet, h.URL+"/api/v1/tenants/"+tenant+"/audit", tok, nil)
	if code != 200 || json.Unmarshal([]byte(out), &a) != nil {
		t.Fatalf("audit: %d %s", code, out)
	}
	return a
}
