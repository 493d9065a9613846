package web_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
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
