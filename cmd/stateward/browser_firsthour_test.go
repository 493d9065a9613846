package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stateward/stateward/testpeers"
)

// The two screen sizes every page is looked at in: a laptop and a phone.
var screens = []struct {
	name          string
	width, height int64
}{{"laptop", 1366, 900}, {"phone", 390, 844}}

// screenshotDir is where shotBoth writes: $STATEWARD_SCREENSHOTS, else a
// directory of the test (kept only while it runs).
func screenshotDir(t *testing.T) string {
	if dir := os.Getenv("STATEWARD_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// shotBoth saves a full-page screenshot of the current page at both sizes, named
// <name>-laptop.png and <name>-phone.png, and checks at phone width that the page
// itself never scrolls sideways (only tables may, inside their wrappers). It
// leaves the browser at laptop size.
func shotBoth(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	for _, sc := range screens {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(sc.width, sc.height)); err != nil {
			t.Fatalf("viewport %s: %v", sc.name, err)
		}
		if sc.name == "phone" {
			w, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
			if err != nil || w > sc.width {
				t.Errorf("%s on a phone: the page is %d px wide (%v), want at most %d", name, w, err, sc.width)
			}
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; below: JPEG
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+sc.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 900)); err != nil {
		t.Fatal(err)
	}
}

// onPhoneScreen checks that the element css selects (a status or state) is on a
// 390 px screen without scrolling the table it sits in, then returns to laptop size.
func onPhoneScreen(t *testing.T, ctx context.Context, css string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	right := eval[float64](t, ctx, `document.querySelector(`+strconv.Quote(css)+`).getBoundingClientRect().right`)
	if right > 390 {
		t.Errorf("on a phone %s ends at x=%.0f, off the 390 px screen", css, right)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 900)); err != nil {
		t.Fatal(err)
	}
}

func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
}

func click(t *testing.T, ctx context.Context, css string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(css))); err != nil {
		t.Fatalf("click %s: %v", css, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// TestBrowserFirstHour walks the first hour of a new user on a fresh machine in
// the local default — a Git store on a bare repository (file://), Import YAML, the
// forms' validation, a Work placed nowhere and one written, the Works list, the
// Overview, a trigger and the audit log — and screenshots every page at laptop and
// phone size (STATEWARD_SCREENSHOTS=dir keeps them).
func TestBrowserFirstHour(t *testing.T) {
	dir := screenshotDir(t)
	repo := filepath.Join(t.TempDir(), "gitops.git")
	if out, err := exec.Command("git", "init", "--bare", "-q", "-b", "main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v: %s", err, out)
	}
	in := start(t)
	ctx := testpeers.Browser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 900)); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, in.URL, "dev@example.com")
	createTeam(t, ctx, "platform", "Platform")
	base := in.URL + "/t/platform/"
	shotBoth(t, ctx, dir, "01-overview-empty")

	// Import YAML: a too-large paste is refused before it is sent, the text stays.
	navigate(t, ctx, base+"import")
	_ = eval[bool](t, ctx, `document.querySelector('textarea[name="yaml"]').value = "# x\n".repeat(1080000); true`)
	click(t, ctx, `[data-testid="import-form"] button[type="submit"]`)
	waitText(t, ctx, `[data-testid="size-error"]`, "the limit for one import")
	if n := eval[int64](t, ctx, `document.querySelector('textarea[name="yaml"]').value.length`); n != 4320000 {
		t.Errorf("after the refused paste the text holds %d characters, want all 4320000", n)
	}
	waitPath(t, ctx, "/t/platform/import")
	// Laptop only: laying out 4 MB of text again at another width takes Chromium
	// longer than a test should wait.
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "02-import-too-large-laptop.png"), png, 0o644)

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
	if href := eval[string](t, ctx, `document.querySelector('[data-testid="import-link"]').getAttribute("href")`); href != "/t/platform/stores/git/default" {
		t.Errorf("the imported store links to %q", href)
	}
	if cur := eval[string](t, ctx, `(document.querySelector('.tabs [aria-current="page"]') || {textContent: ""}).textContent`); cur != "" {
		t.Errorf("Import highlights the %q tab", cur)
	}
	shotBoth(t, ctx, dir, "03-import-results")

	// The store turns ready; on a phone its status is on screen without scrolling.
	navigate(t, ctx, base+"stores")
	waitText(t, ctx, `[data-testid="store"] [data-testid="status"]`, "ready")
	if n := eval[int64](t, ctx, `document.querySelector('[data-testid="store"]').textContent.split("ready").length - 1`); n != 1 {
		t.Errorf("the store row says ready %d times, want once", n)
	}
	onPhoneScreen(t, ctx, `[data-testid="store"] [data-testid="status"]`)
	// The scroll hint shows where a table is wider than the screen, and only there
	// (the scroll timeline follows a viewport change a frame or two later).
	hint := func(want string) {
		t.Helper()
		js := `getComputedStyle(document.querySelector('.table-wrap'), '::after').visibility`
		v := ""
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && v != want; time.Sleep(100 * time.Millisecond) {
			v = eval[string](t, ctx, js)
		}
		if v != want {
			t.Errorf("the stores table's scroll hint is %s at width %d, want %s", v,
				eval[int64](t, ctx, `window.innerWidth`), want)
		}
	}
	hint("hidden") // laptop: the table fits
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	hint("visible") // phone: the table scrolls
	shotBoth(t, ctx, dir, "04-stores")
	navigate(t, ctx, base+"stores/git/default")
	waitText(t, ctx, `[data-testid="store-status"]`, "ready")
	waitText(t, ctx, `[data-testid="used-by"]`, "worker-1") // the imported Destination on it
	shotBoth(t, ctx, dir, "05-store")
	navigate(t, ctx, base+"destinations")
	onPhoneScreen(t, ctx, `[data-testid="destination"] [data-testid="status"]`)
	shotBoth(t, ctx, dir, "06-destinations")

	// The Destination form: human messages with the form's labels, one problem
	// for the missing store, the bad label key and value both reported and
	// outlined.
	navigate(t, ctx, base+"destinations/new")
	fill(t, ctx, [][2]string{{"metadata.name", "Bad_Name"}, {"labelKey", "bad key!"}, {"labelValue", "bad value!"}, {"spec.path", "staging"}})
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`select[name="spec.stateStoreRef"]`), "")); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, `[data-testid="destination-form"] button[type="submit"].btn-primary`)
	summary := waitText(t, ctx, `[data-testid="error-summary"]`, "Please fix")
	for _, want := range []string{"is not a valid name: use lower-case letters", "State Store is required", `label key "bad key!"`, `label "bad key!" value "bad value!"`} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "metadata.") || strings.Contains(summary, "spec.") {
		t.Errorf("the summary names API paths:\n%s", summary)
	}
	if n := eval[int64](t, ctx, `document.querySelectorAll('.label-row input[aria-invalid="true"]').length`); n != 2 {
		t.Errorf("%d label inputs marked invalid, want the key and the value", n)
	}
	shotBoth(t, ctx, dir, "07-destination-form-errors")

	// On a phone, the live preview stays on screen while the path is typed.
	navigate(t, ctx, base+"destinations/new")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	fill(t, ctx, [][2]string{{"metadata.name", "worker-2"}, {"spec.path", "phone-typed"}})
	waitText(t, ctx, `#preview`, "phone-typed")
	top := eval[float64](t, ctx, `document.querySelector('input[name="spec.path"]').scrollIntoView({block: "center"}); document.querySelector('#preview').getBoundingClientRect().top`)
	if top >= 844 {
		t.Errorf("on a phone the preview starts at y=%.0f, below the 844 px screen, while the path is typed", top)
	}
	png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "08-destination-form-typing-phone.png"), png, 0o644)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 900)); err != nil {
		t.Fatal(err)
	}

	// The Git store form asks for the password again after a validation error.
	navigate(t, ctx, base+"stores/new?kind=git")
	fill(t, ctx, [][2]string{{"metadata.name", "Bad_Name"}, {"spec.url", "https://example.com/r.git"}, {"password", "s3cret"}})
	click(t, ctx, `[data-testid="git-store-form"] button[type="submit"]`)
	waitText(t, ctx, `[data-testid="field-password"]`, "type it again")
	shotBoth(t, ctx, dir, "09-git-store-form-errors")

	// A Work placed nowhere is an error, on the form's answer and everywhere.
	navigate(t, ctx, base+"works/new")
	fill(t, ctx, [][2]string{{"promise", "redis"}, {"resource.namespace", "default"}, {"resource.name", "lost"},
		{"destinationSelectors", "environment=prod"}, {"filePath", "redis.yaml"}, {"fileContent", "kind: ConfigMap\n"}})
	click(t, ctx, `[data-testid="write"]`)
	waitText(t, ctx, `.flash-error`, "not written anywhere")
	waitText(t, ctx, `[data-testid="unscheduled"]`, "Waiting")
	shotBoth(t, ctx, dir, "10-work-waiting")

	// A Work that is written: the commit is in the bare repository, and the page
	// says who wrote it.
	navigate(t, ctx, base+"works/new")
	fill(t, ctx, [][2]string{{"promise", "redis"}, {"resource.namespace", "default"}, {"resource.name", "my-request"},
		{"destinationSelectors", "environment=dev"}, {"filePath", "redis.yaml"}, {"fileContent", "kind: ConfigMap\n"}})
	click(t, ctx, `[data-testid="preview-plan"]`)
	waitText(t, ctx, `#plan`, "destinations/dev/resources/default/redis/my-request/5058f/")
	shotBoth(t, ctx, dir, "11-work-plan")
	click(t, ctx, `[data-testid="write"]`)
	waitText(t, ctx, `.flash-ok`, "writing it to 1 Destination")
	waitText(t, ctx, `[data-testid="placements"] [data-testid="state"]`, "written")
	waitText(t, ctx, `[data-testid="work-history"]`, "dev@example.com")
	onPhoneScreen(t, ctx, `[data-testid="placement"] [data-testid="state"]`)
	shotBoth(t, ctx, dir, "12-work-written")
	if out, err := exec.Command("git", "--git-dir", repo, "show", "main:destinations/dev/resources/default/redis/my-request/5058f/redis.yaml").CombinedOutput(); err != nil || string(out) != "kind: ConfigMap\n" {
		t.Errorf("the file in the bare repository: %q %v", out, err)
	}

	// The Works list marks the waiting Work, searches and filters.
	navigate(t, ctx, base+"works")
	waitText(t, ctx, `[data-testid="work-waiting"]`, "placed nowhere")
	shotBoth(t, ctx, dir, "13-works")
	navigate(t, ctx, base+"works?q=my-req&destination=worker-1")
	waitText(t, ctx, `[data-testid="works-count"]`, "1 Work match")
	if title := eval[string](t, ctx, `document.querySelector('[data-testid="works"] time').getAttribute("title")`); !strings.Contains(title, "2") {
		t.Errorf("the updated time has no absolute time on hover: %q", title)
	}
	shotBoth(t, ctx, dir, "14-works-filtered")

	// The Overview lists it under Needs attention.
	navigate(t, ctx, base)
	waitText(t, ctx, `[data-testid="attention-waiting"]`, "redis-lost-default-")
	onPhoneScreen(t, ctx, `[data-testid="activity"] [data-testid="state"]`)
	shotBoth(t, ctx, dir, "15-overview")

	navigate(t, ctx, base+"destinations/worker-1")
	waitText(t, ctx, `[data-testid="placed-files"]`, "my-request")
	shotBoth(t, ctx, dir, "16-destination")

	// A trigger, its examples (their own Work identity), the audit log.
	navigate(t, ctx, base+"triggers")
	shotBoth(t, ctx, dir, "17-triggers")
	fill(t, ctx, [][2]string{{"name", "ci"}})
	click(t, ctx, `form[action="/t/platform/triggers"] button[type="submit"]`)
	waitText(t, ctx, "main", "trigger-example")
	shotBoth(t, ctx, dir, "18-trigger-created")
	navigate(t, ctx, base+"audit")
	waitText(t, ctx, `[data-testid="audit"]`, "dev@example.com")
	audit, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="audit"]`)))
	for _, want := range []string{"Trigger", "ci", "Work", "redis-my-request-default-", "GitStateStore", "Destination", "worker-1", "Team"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, audit)
		}
	}
	shotBoth(t, ctx, dir, "19-audit")
	for i, page := range []string{"members", "tokens", "settings"} {
		navigate(t, ctx, base+page)
		shotBoth(t, ctx, dir, fmt.Sprintf("%02d-%s", 20+i, page))
	}
	t.Logf("screenshots in %s (%s)", dir, time.Now().Format(time.RFC3339))
}
