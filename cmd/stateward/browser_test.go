package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stateward/stateward/testpeers"
)

// shot saves a screenshot when STATEWARD_SCREENSHOTS names a directory (for
// looking at the pages; the assertions never depend on it), at the viewport width
// STATEWARD_SCREENSHOT_WIDTH when set (390 for a phone).
func shot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("STATEWARD_SCREENSHOTS")
	if dir == "" {
		return
	}
	if w, _ := strconv.Atoi(os.Getenv("STATEWARD_SCREENSHOT_WIDTH")); w > 0 {
		_ = chromedp.Do(ctx, chromedp.EmulateViewport(int64(w), 900))
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
}

// waitPath waits until the browser's location path is want.
func waitPath(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && strings.HasSuffix(strings.SplitN(loc, "?", 2)[0], want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	t.Fatalf("browser is at %s, want path %s", loc, want)
}

// signIn goes from the landing page through the embedded development issuer.
func signIn(t *testing.T, ctx context.Context, base, email string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="email"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), email),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-form"] button[type="submit"]:not([name="recent"])`)),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

func createTeam(t *testing.T, ctx context.Context, slug, name string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`input[name="slug"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="slug"]`), slug),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), name),
		chromedp.Click(chromedp.CSS(`form[action="/teams"] button[type="submit"]`)),
	); err != nil {
		t.Fatalf("create team: %v", err)
	}
	waitPath(t, ctx, "/t/"+slug+"/")
}

// TestBrowserSignInThroughDevIssuer: a new user opens the dashboard, signs in
// through the embedded development issuer, creates a team and sees the dashboard
// with their email on it.
func TestBrowserSignInThroughDevIssuer(t *testing.T) {
	in := start(t)
	ctx := testpeers.Browser(t)
	signIn(t, ctx, in.URL, "dev@example.com")
	waitPath(t, ctx, "/teams/new")
	shot(t, ctx, "teams-new")
	createTeam(t, ctx, "platform", "Platform team")
	shot(t, ctx, "overview")
	email, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="user-email"]`)))
	if err != nil || strings.TrimSpace(email) != "dev@example.com" {
		t.Fatalf("signed-in email on the dashboard = %q, %v", email, err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || !strings.Contains(title, "Platform team") {
		t.Errorf("title = %q, %v; want the team name", title, err)
	}
	// Sign out kills the session: the dashboard asks to sign in again.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in"]`)),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/t/platform/")); err != nil {
		t.Fatal(err)
	}
	waitPath(t, ctx, "/authorize")
}

// fill types into the inputs named by the keys (CSS-escaped attribute selectors).
func fill(t *testing.T, ctx context.Context, fields [][2]string) {
	t.Helper()
	for _, f := range fields {
		css := `[name="` + f[0] + `"]`
		clear := fmt.Sprintf(`document.querySelector(%q).value = ""`, css)
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](clear), chromedp.SendKeys(chromedp.CSS(css), f[1])); err != nil {
			t.Fatalf("fill %s: %v", f[0], err)
		}
	}
}

// waitText waits until the element's text contains want.
func waitText(t *testing.T, ctx context.Context, css, want string) string {
	t.Helper()
	// The text is read in the page each time (never through a node handle kept
	// from an earlier poll): htmx swaps replace the element being waited for.
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.innerText : "\u0000missing"; })()`, css)
	deadline := time.Now().Add(30 * time.Second)
	var got string
	var err error
	for time.Now().Before(deadline) {
		got, err = chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err == nil && strings.Contains(got, want) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got == "\u0000missing" {
		t.Fatalf("no element %s on the page, want one showing %q", css, want)
	}
	t.Fatalf("%s shows %q (last error: %v), want %q", css, got, err, want)
	return ""
}

// TestBrowserBucketStoreAndDestination: through the forms, a user adds a Bucket
// store on a real MinIO, sees it become ready, then adds a Destination while the
// live preview follows what they type.
func TestBrowserBucketStoreAndDestination(t *testing.T) {
	s3 := testpeers.MinIO(t)
	bucket := s3.NewBucket(t)
	in := start(t)
	ctx := testpeers.Browser(t)
	signIn(t, ctx, in.URL, "dev@example.com")
	createTeam(t, ctx, "platform", "Platform")

	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/t/platform/stores/new?kind=bucket")); err != nil {
		t.Fatal(err)
	}
	fill(t, ctx, [][2]string{{"metadata.name", "minio"}, {"spec.endpoint", s3.Endpoint()}, {"spec.bucketName", bucket},
		{"spec.path", "clusters"}, {"accessKeyID", s3.AccessKey()}, {"secretAccessKey", s3.SecretKey()}})
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`input[name="spec.insecure"]`)),
		chromedp.Click(chromedp.CSS(`form button[type="submit"].btn-primary`)),
	); err != nil {
		t.Fatal(err)
	}
	waitPath(t, ctx, "/t/platform/stores/bucket/minio")
	waitText(t, ctx, `[data-testid="store-status"] [data-testid="status"]`, "ready")
	shot(t, ctx, "store")

	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/t/platform/destinations/new")); err != nil {
		t.Fatal(err)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`select[name="spec.stateStoreRef"]`))); v != "BucketStateStore/minio" {
		t.Errorf("the only store is not preselected: %q", v)
	}
	fill(t, ctx, [][2]string{{"metadata.name", "worker-1"}, {"labelKey", "environment"}, {"labelValue", "dev"}, {"spec.path", "dev"}})
	// The preview follows the typing: the resource lands under clusters/dev/.
	waitText(t, ctx, `#preview`, "resources")
	waitText(t, ctx, `#preview`, "5058f")
	before, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#preview`)))
	fill(t, ctx, [][2]string{{"spec.path", "prod-eu"}})
	waitText(t, ctx, `#preview`, "prod-eu")
	// Switching to the legacy layout shows the docs page's paths.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`select[name="spec.filepath.mode"]`), "legacy"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('select[name="spec.filepath.mode"]').dispatchEvent(new Event('change', {bubbles: true}))`)); err != nil {
		t.Fatal(err)
	}
	after := waitText(t, ctx, `#preview`, "worker-1")
	if before == after || strings.Contains(after, "5058f") {
		t.Errorf("legacy preview still shows the nested layout:\n%s", after)
	}
	shot(t, ctx, "destination-form")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid="destination-form"] button[type="submit"].btn-primary`))); err != nil {
		t.Fatal(err)
	}
	waitPath(t, ctx, "/t/platform/destinations/worker-1")
	waitText(t, ctx, "main", "environment=dev")
	waitText(t, ctx, "main", "prod-eu")
	if got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main"))); strings.Contains(got, "devprod-eu") {
		t.Errorf("the path typed into the form was mangled: %q", got)
	}
	shot(t, ctx, "destination")
}

// TestBrowserWorkJourney: a user submits a Work in the dashboard, previews its
// plan, presses Write and watches the placement turn written, live; the file is
// then in the real bucket.
func TestBrowserWorkJourney(t *testing.T) {
	s3 := testpeers.MinIO(t)
	bucket := s3.NewBucket(t)
	in := start(t)
	ctx := testpeers.Browser(t)
	signIn(t, ctx, in.URL, "dev@example.com")
	createTeam(t, ctx, "platform", "Platform")
	tok, err := in.cli(t, "token", "create", "--tenant", "platform")
	if err != nil {
		t.Fatal(err)
	}
	yaml := s3.StoreYAML(bucket) + `apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: BucketStateStore, name: minio}}
`
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/api/v1/tenants/platform/apply", strings.NewReader(yaml))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("apply: %v %v", resp, err)
	}
	resp.Body.Close()

	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/t/platform/works/new")); err != nil {
		t.Fatal(err)
	}
	fill(t, ctx, [][2]string{{"promise", "redis"}, {"resource.namespace", "default"}, {"resource.name", "my-request"},
		{"destinationSelectors", "environment=dev"}, {"filePath", "redis.yaml"}, {"fileContent", "apiVersion: v1\nkind: ConfigMap\n"}})
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid="preview-plan"]`))); err != nil {
		t.Fatal(err)
	}
	// The plan names the Destination and the exact key, before anything is written.
	waitText(t, ctx, `#plan`, "dev")
	waitText(t, ctx, `#plan`, "redis.yaml")
	key := "clusters/dev/resources/default/redis/my-request/5058f/redis.yaml"
	if _, written := s3.Objects(t, bucket, "clusters/dev/resources/")[key]; written {
		t.Fatalf("the plan preview wrote %s", key)
	}
	shot(t, ctx, "work-plan")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid="write"]`))); err != nil {
		t.Fatal(err)
	}
	waitPath(t, ctx, "/works/1")
	waitText(t, ctx, `[data-testid="placements"] [data-testid="state"]`, "written")
	shot(t, ctx, "work-written")
	if got := s3.Objects(t, bucket, "clusters/dev/resources/")[key]; got != "apiVersion: v1\nkind: ConfigMap\n" {
		t.Errorf("object %s = %q", key, got)
	}
	// The Destination's page shows the tree of what is placed on it.
	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/t/platform/destinations/dev")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, `[data-testid="placed-files"]`, "my-request")
	shot(t, ctx, "destination-tree")
}
