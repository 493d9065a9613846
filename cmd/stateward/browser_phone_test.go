package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/stateward/stateward/testpeers"
)

// TestBrowserNewUserOnAPhone walks the small things a new user hit (issue 21),
// on a 390x844 phone: the New Destination preview never covers a field being
// filled (the Labels input is free and clickable at its centre) and flags a path
// that overlaps another Destination; Preview plan names a bad file as Write does;
// a Secret applied after its Git store says where its credentials go; on a
// written Work's page the commit SHA is on the screen and the History details
// read as lines of text, not one word per line. STATEWARD_SCREENSHOTS=dir keeps
// the screenshots.
func TestBrowserNewUserOnAPhone(t *testing.T) {
	dir := screenshotDir(t)
	repo := filepath.Join(t.TempDir(), "gitops.git")
	if out, err := exec.Command("git", "init", "--bare", "-q", "-b", "main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v: %s", err, out)
	}
	in := start(t)
	ctx := testpeers.Browser(t)
	signIn(t, ctx, in.URL, "dev@example.com")
	createTeam(t, ctx, "platform", "Platform")
	base := in.URL + "/t/platform/"
	navigate(t, ctx, base+"import")
	yaml := fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: default}
spec: {url: "file://%s", branch: main, path: destinations, authMethod: none}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: worker-1, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {name: default, kind: GitStateStore}}
`, repo)
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`textarea[name="yaml"]`), yaml)); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, `[data-testid="import-form"] button[type="submit"]`)
	waitText(t, ctx, `[data-testid="import-results"]`, "worker-1")
	// A store that waits for its Secret, then the Secret: the warning names where
	// the credentials now go (file://localhost for a bare repository on this disk).
	for _, doc := range []string{fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: GitStateStore
metadata: {name: secured}
spec: {url: "file://%s", branch: main, path: other, secretRef: {name: creds}}
`, repo), "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {username: u, password: p}\n"} {
		navigate(t, ctx, base+"import")
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`textarea[name="yaml"]`), doc)); err != nil {
			t.Fatal(err)
		}
		click(t, ctx, `[data-testid="import-form"] button[type="submit"]`)
		waitText(t, ctx, `[data-testid="import-results"]`, "created")
	}
	waitText(t, ctx, `[data-testid="import-warnings"]`, `which waited for it, at file://localhost`)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	phoneShot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}

	// The New Destination form: the preview follows the path being typed, and
	// covers no field.
	navigate(t, ctx, base+"destinations/new")
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`select[name="spec.stateStoreRef"]`), "GitStateStore/default")); err != nil {
		t.Fatal(err)
	}
	fill(t, ctx, [][2]string{{"metadata.name", "worker-2"}, {"spec.path", "phone-typed"}})
	waitText(t, ctx, `#preview`, "phone-typed")
	top := eval[float64](t, ctx, `document.querySelector('input[name="spec.path"]').scrollIntoView({block: "center"}); document.querySelector('#preview').getBoundingClientRect().top`)
	if top >= 844 {
		t.Errorf("the preview starts at y=%.0f, below the 844 px screen, while the path is typed", top)
	}
	phoneShot("phone-destination-path")
	fill(t, ctx, [][2]string{{"spec.path", "dev/team-a"}})
	waitText(t, ctx, `[data-testid="preview-conflict"]`, `overlaps Destination "worker-1" (path "dev")`)
	fill(t, ctx, [][2]string{{"spec.path", "phone-typed"}})
	if err := chromedp.Do(ctx, chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="preview-conflict"]`))); err != nil {
		t.Fatal(err)
	}
	var cover struct {
		Intersects, Clickable bool
		Input, Preview        [4]float64
	}
	js := `(() => {
		const input = document.querySelector('input[name="labelKey"]');
		input.scrollIntoView({block: "center"});
		const a = input.getBoundingClientRect(), b = document.querySelector('#preview').getBoundingClientRect();
		const hit = document.elementFromPoint(a.left + a.width / 2, a.top + a.height / 2);
		return JSON.stringify({
			Intersects: a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom,
			Clickable: hit === input,
			Input: [a.left, a.top, a.right, a.bottom], Preview: [b.left, b.top, b.right, b.bottom]});
	})()`
	if err := json.Unmarshal([]byte(eval[string](t, ctx, js)), &cover); err != nil {
		t.Fatal(err)
	}
	if cover.Intersects || !cover.Clickable {
		t.Errorf("the preview %v covers the Labels input %v (clickable at its centre: %v)", cover.Preview, cover.Input, cover.Clickable)
	}
	phoneShot("phone-destination-labels")
	if covered := coveredControls(t, ctx, `[data-testid="destination-form"]`); len(covered) > 0 {
		t.Errorf("on a phone, scrolled into view, these fields of the Destination form are covered: %v", covered)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`input[name="labelKey"]`)), chromedp.SendKeys(chromedp.CSS(`input[name="labelKey"]`), "env")); err != nil {
		t.Fatal(err)
	}
	if v := eval[string](t, ctx, `document.querySelector('input[name="labelKey"]').value`); v != "env" {
		t.Errorf("typed into the Labels input by clicking it: %q", v)
	}

	// Preview plan names a bad file as Write does.
	navigate(t, ctx, base+"works/new")
	fill(t, ctx, [][2]string{{"promise", "redis"}, {"filePath", "../x.yaml"}, {"fileContent", "kind: ConfigMap\n"}})
	click(t, ctx, `[data-testid="preview-plan"]`)
	if got := waitText(t, ctx, `[data-testid="plan-error"]`, "file 1: path: "); strings.Contains(got, "workloadGroups") {
		t.Errorf("the plan names an internal field: %q", got)
	}
	click(t, ctx, `[data-testid="write"]`)
	waitText(t, ctx, `[data-testid="file-row"] [data-testid="field-error"]`, "path: ")

	// A written Work: its SHA on the screen, its History legible.
	navigate(t, ctx, base+"works/new")
	fill(t, ctx, [][2]string{{"promise", "redis"}, {"resource.namespace", "default"}, {"resource.name", "my-request"},
		{"destinationSelectors", "environment=dev"}, {"filePath", "redis.yaml"}, {"fileContent", "kind: ConfigMap\n"}})
	click(t, ctx, `[data-testid="preview-plan"]`)
	waitText(t, ctx, `#plan`, "destinations/dev/resources/default/redis/my-request/5058f/")
	if covered := coveredControls(t, ctx, `[data-testid="work-form"]`); len(covered) > 0 {
		t.Errorf("on a phone, with the plan shown, these fields of the Work form are covered: %v", covered)
	}
	phoneShot("phone-work-plan")
	click(t, ctx, `[data-testid="write"]`)
	waitText(t, ctx, `[data-testid="placements"] [data-testid="state"]`, "written")
	waitText(t, ctx, `[data-testid="work-history"]`, "dev@example.com")
	if right := eval[float64](t, ctx, `document.querySelector('[data-testid="version"]').getBoundingClientRect().right`); right > 390 {
		t.Errorf("the commit SHA ends at x=%.0f, off the 390 px screen", right)
	}
	var details []struct {
		Text         string
		Words, Lines int
		Right        float64
	}
	js = `JSON.stringify([...document.querySelectorAll('[data-testid="audit-detail"]')].map(e => {
		const r = document.createRange(); r.selectNodeContents(e);
		const lines = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top))).size;
		const text = e.textContent.trim();
		return {Text: text, Words: text ? text.split(/\s+/).length : 0, Lines: lines, Right: e.getBoundingClientRect().right};
	}))`
	if err := json.Unmarshal([]byte(eval[string](t, ctx, js)), &details); err != nil {
		t.Fatal(err)
	}
	if len(details) == 0 {
		t.Fatal("the Work's History shows no details")
	}
	for _, d := range details {
		if d.Words >= 3 && d.Lines*2 > d.Words+1 {
			t.Errorf("History details %q: %d words on %d lines, want at least two words a line", d.Text, d.Words, d.Lines)
		}
		if d.Right > 390 {
			t.Errorf("History details %q end at x=%.0f, off the 390 px screen", d.Text, d.Right)
		}
	}
	phoneShot("phone-work")
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "phone-work-full.png"), png, 0o644)
}

// coveredControls scrolls each visible input, select, textarea and button of the
// form css selects to the bottom edge of the screen, and to its middle, and names
// those that something else covers at their centre there.
func coveredControls(t *testing.T, ctx context.Context, css string) []string {
	t.Helper()
	js := `JSON.stringify([...document.querySelector(` + strconv.Quote(css) + `).querySelectorAll('input:not([type=hidden]), select, textarea, button')]
		.filter(e => e.getClientRects().length > 0)
		.flatMap(e => ["end", "center"].map(block => {
			e.scrollIntoView({block});
			const a = e.getBoundingClientRect();
			const hit = document.elementFromPoint(a.left + a.width / 2, a.top + a.height / 2);
			return hit === e || e.contains(hit) || (hit && hit.control === e) ? "" : (e.name || e.textContent.trim()) + " (" + block + ")";
		})).filter(Boolean))`
	var covered []string
	if err := json.Unmarshal([]byte(eval[string](t, ctx, js)), &covered); err != nil {
		t.Fatal(err)
	}
	return covered
}
