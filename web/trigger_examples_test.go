package web_test

import (
	"html"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTriggerExamplesRunAsShown runs every example of a new trigger's page, as
// the page shows it, with bash and curl against the server: each request answers
// 202, for a trigger that requires a signature (every example signed, in the
// shell with openssl) and for one that does not.
func TestTriggerExamplesRunAsShown(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedInTeam()
	example := regexp.MustCompile(`(?s)<pre class="mono example" data-testid="example">(.*?)</pre>`)
	for _, tc := range []struct {
		name   string
		signed bool
	}{{"signed", true}, {"unsigned", false}} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"name": {tc.name}}
			if tc.signed {
				form.Set("requireSignature", "true")
			}
			resp, page := b.post(t, h.URL+"/t/team-a/triggers", form)
			if resp.StatusCode != 200 {
				t.Fatalf("create trigger: %d %s", resp.StatusCode, snippet(page))
			}
			// Another default may apply to a new trigger: the page says which it is.
			signed := strings.Contains(page, `data-testid="signature-required"`)
			if signed != tc.signed {
				t.Logf("the trigger requires a signature: %v (asked %v)", signed, tc.signed)
			}
			dir := t.TempDir()
			// curl reads $CURL_HOME/.curlrc: it prints each answer's status after the
			// body, without changing the examples.
			if err := os.WriteFile(filepath.Join(dir, ".curlrc"), []byte("write-out = \"\\nHTTP_STATUS %{http_code}\\n\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			requests := 0
			for _, m := range example.FindAllStringSubmatch(page, -1) {
				code := html.UnescapeString(m[1])
				cmd := exec.Command("bash", "-euo", "pipefail", "-c", code)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "CURL_HOME="+dir)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("example failed: %v\n%s\n--- output:\n%s", err, code, out)
				}
				if !strings.Contains(code, "curl ") {
					continue
				}
				requests++
				if !strings.Contains(string(out), "HTTP_STATUS 202") {
					t.Errorf("example did not answer 202:\n%s\n--- output:\n%s", code, out)
				}
				if signed && !strings.Contains(code, "Stateward-Signature") {
					t.Errorf("example of a trigger that requires a signature is unsigned:\n%s", code)
				}
			}
			want := 3 // write, one YAML file, delete
			if !signed {
				want = 4 // and the optional signed write
			}
			if requests != want {
				t.Errorf("ran %d requests, want %d", requests, want)
			}
		})
	}
}
