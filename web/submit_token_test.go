package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/tenants"
)

// TestSubmitChecksItsTokenInItsTransaction: once a token's team is known, a
// submit checks the token in its own transaction (one round trip less to a
// distant database). It must refuse exactly as the check before the
// transaction did — a revoked token 401, a viewer 403, another team's token
// 404, a revoked token with a malformed body 401 (not 422) — keep nothing it
// refused, and record the token as the Work's requester when it accepts.
func TestSubmitChecksItsTokenInItsTransaction(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	ten, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	_, otherTok := h.tenantWithToken("team-b", tenants.RoleEditor)
	_, viewer, err := h.DB.CreateToken(ctx, ten.ID, "reader", tenants.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	revokable, revokableSecret, err := h.DB.CreateToken(ctx, ten.ID, "ci", tenants.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	work := func(name string) string {
		return fmt.Sprintf(`{"promise":"redis","resource":{"namespace":"default","name":%q},"files":[{"path":"a.yaml","content":"x"}]}`, name)
	}
	submit := func(tok, team, body string) (int, string) {
		return api(t, http.MethodPost, h.URL+"/api/v1/tenants/"+team+"/works", tok, strings.NewReader(body))
	}
	// The first submits learn the teams (checked before the transaction).
	for _, c := range []struct{ tok, team string }{{tok, "team-a"}, {otherTok, "team-b"}, {"Bearer " + revokableSecret, "team-a"}} {
		if code, body := submit(c.tok, c.team, work("warm-"+c.team)); code != http.StatusAccepted {
			t.Fatalf("warm-up submit to %s: %d %s", c.team, code, body)
		}
	}
	// Accepted: the token is the requester.
	code, body := submit("Bearer "+revokableSecret, "team-a", work("accepted"))
	var a struct{ Work int64 }
	if err := json.Unmarshal([]byte(body), &a); code != http.StatusAccepted || err != nil || a.Work == 0 {
		t.Fatalf("submit: %d %s", code, body)
	}
	got, err := h.DB.Work(ctx, ten.ID, a.Work)
	if err != nil {
		t.Fatal(err)
	}
	if got.RequestedBy != "ci" {
		t.Errorf("requested by %q, want the token ci", got.RequestedBy)
	}

	if err := h.DB.RevokeToken(ctx, ten.ID, revokable.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, tok, team, body string
		want                  int
	}{
		{"revoked", "Bearer " + revokableSecret, "team-a", work("by-revoked"), http.StatusUnauthorized},
		{"revoked, malformed body", "Bearer " + revokableSecret, "team-a", `{"promise": `, http.StatusUnauthorized},
		{"unknown token", "Bearer swt_nosuchtoken", "team-a", work("by-unknown"), http.StatusUnauthorized},
		{"viewer", "Bearer " + viewer, "team-a", work("by-viewer"), http.StatusForbidden},
		{"another team's token", otherTok, "team-a", work("by-team-b"), http.StatusNotFound},
	} {
		if code, body := submit(c.tok, c.team, c.body); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
	}
	page, err := h.DB.WorksPage(ctx, ten.ID, db.WorkQuery{Search: "by-"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Errorf("refused submits kept %d Works: %+v", len(page.Items), page.Items)
	}
}
