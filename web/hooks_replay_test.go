package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/tenants"
)

// TestWebhookReplayRefused: a signed delivery repeated within its ±300 s window
// does not act again (a replay re-created a Work deleted in between): it is
// answered 409 — unless it carries the Idempotency-Key it was accepted with,
// which gets the stored answer as before. The same t and body signed with the
// other secret of a rotation is the same delivery.
func TestWebhookReplayRefused(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	trig := h.trigger(tok, "team-a", `{"name": "signed"}`)
	now := time.Now().Unix()
	body := workBody("dev", "replayed", "a: b\n")
	header := fmt.Sprintf("t=%d,v1=%s", now, sign(trig.Secret, now, body))

	first := post(t, trig.URL, "application/json", body, "Stateward-Signature", header)
	var w workAnswer
	if err := json.Unmarshal([]byte(first.Body), &w); first.Code != 202 || err != nil {
		t.Fatalf("first delivery: %d %s", first.Code, first.Body)
	}
	workURL := fmt.Sprintf("%s/api/v1/tenants/team-a/works/%d", h.URL, w.Work)
	if code, out := api(t, http.MethodDelete, workURL, tok, nil); code != 202 {
		t.Fatalf("delete the Work: %d %s", code, out)
	}
	for name, headers := range map[string][]string{
		"the same request":      {"Stateward-Signature", header},
		"with a new key":        {"Stateward-Signature", header, "Idempotency-Key", "attacker-1"},
		"with the same request": {"Stateward-Signature", fmt.Sprintf("t=%d,v1=%s,v1=%s", now, sign("x", now, body), sign(trig.Secret, now, body))},
	} {
		r := post(t, trig.URL, "application/json", body, headers...)
		if r.Code != http.StatusConflict || !strings.Contains(r.Body, "already accepted") || !strings.Contains(r.Body, `"field":"Stateward-Signature"`) {
			t.Errorf("replay %s: %d %s, want 409", name, r.Code, r.Body)
		}
	}
	if code, out := api(t, http.MethodGet, workURL, tok, nil); code != 404 && !strings.Contains(out, `"deleted": true`) {
		t.Errorf("the replays brought the deleted Work back: %d %s", code, out)
	}

	// An Idempotency-Key: the sender's retry after a timeout (same signature,
	// same key) gets the first answer; anything else is a replay.
	keyed := workBody("dev", "keyed", "a: b\n")
	kh := fmt.Sprintf("t=%d,v1=%s", now-1, sign(trig.Secret, now-1, keyed))
	a := post(t, trig.URL, "application/json", keyed, "Stateward-Signature", kh, "Idempotency-Key", "build-7")
	b := post(t, trig.URL, "application/json", keyed, "Stateward-Signature", kh, "Idempotency-Key", "build-7")
	if a.Code != 202 || b.Code != 202 || a.Body != b.Body {
		t.Errorf("a retry with the accepted key: %d %s then %d %s, want the same 202", a.Code, a.Body, b.Code, b.Body)
	}
	if r := post(t, trig.URL, "application/json", keyed, "Stateward-Signature", kh); r.Code != http.StatusConflict {
		t.Errorf("the keyed delivery without its key: %d %s, want 409", r.Code, r.Body)
	}

	// After a rotation both secrets verify: the same t and body signed with the
	// new one is still the delivery already accepted.
	code, out := api(t, http.MethodPost, fmt.Sprintf("%s/api/v1/tenants/team-a/triggers/%d/rotate", h.URL, trig.ID), tok, nil)
	var rot struct{ Secret string }
	if err := json.Unmarshal([]byte(out), &rot); code != 200 || err != nil {
		t.Fatalf("rotate: %d %s", code, out)
	}
	if r := post(t, trig.URL, "application/json", body, "Stateward-Signature", fmt.Sprintf("t=%d,v1=%s", now, sign(rot.Secret, now, body))); r.Code != http.StatusConflict {
		t.Errorf("the accepted delivery signed with the new secret: %d %s, want 409", r.Code, r.Body)
	}
	// A new signature of the same body is a new delivery.
	if r := post(t, trig.URL, "application/json", body, "Stateward-Signature", fmt.Sprintf("t=%d,v1=%s", now+1, sign(rot.Secret, now+1, body))); r.Code != 202 {
		t.Errorf("the same body signed anew: %d %s, want 202", r.Code, r.Body)
	}
	_, log := api(t, http.MethodGet, fmt.Sprintf("%s/api/v1/tenants/team-a/triggers/%d", h.URL, trig.ID), tok, nil)
	if !strings.Contains(log, `"status": 409`) {
		t.Errorf("the delivery log lacks the refused replays: %s", log)
	}
}
