package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stateward/stateward/tenants"
)

// TestWorkBodiesNotRewritten: invalid UTF-8 (content or path) and duplicate keys
// in a JSON Work are refused with 400 naming the field, by the API and the
// webhook, never rewritten and accepted.
func TestWorkBodiesNotRewritten(t *testing.T) {
	h := newHarness(t, nil)
	_, tok := h.tenantWithToken("team-a", tenants.RoleEditor)
	trig := h.trigger(tok, "team-a", `{"name":"ci", "requireSignature": false}`)
	cases := []struct{ name, body, field string }{
		{"content", "{\"promise\":\"redis\",\"files\":[{\"path\":\"a.yaml\",\"content\":\"kind: \xff\"}]}", "files[0].content"},
		{"path", "{\"promise\":\"redis\",\"workloadGroups\":[{\"files\":[{\"path\":\"a\xfe.yaml\",\"content\":\"x\"}]}]}", "workloadGroups[0].files[0].path"},
		{"duplicate", `{"promise":"redis","files":[{"path":"a.yaml","content":"x","content":"y"}]}`, "files[0].content"},
	}
	for _, c := range cases {
		for where, url := range map[string]string{"api": h.URL + "/api/v1/tenants/team-a/works", "webhook": trig.URL} {
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out struct{ Error, Field string }
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || out.Field != c.field {
				t.Errorf("%s via %s: %d %+v, want 400 on %s", c.name, where, resp.StatusCode, out, c.field)
			}
		}
	}
	if code, body := api(t, http.MethodPost, h.URL+"/api/v1/tenants/team-a/triggers", tok, strings.NewReader(`{"name":"a","name":"b"}`)); code != 400 || !strings.Contains(body, `"field": "name"`) {
		t.Errorf("trigger with a duplicate key: %d %s", code, body)
	}
}
