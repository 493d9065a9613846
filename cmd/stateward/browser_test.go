package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stateward/stateward/testpeers"
)

// shot saves a screenshot when STATEWARD_SCREENSHOTS names a directory (for
// looking at the pages; the assertions never depend on it).
func shot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("STATEWARD_SCREENSHOTS")
	if dir == "" {
		return
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
