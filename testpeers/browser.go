package testpeers

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromiumInstall = "chromium not found: apt-get install -y chromium"

// BrowserTimeout bounds the context that Browser returns: a guard against a hung
// browser, not a speed limit. The longest walk (TestBrowserFirstHour, 26
// screenshots) takes 60–70 s on a quiet 2-core machine and ran out of 90 s
// while the other packages' tests shared the cores.
const BrowserTimeout = 4 * time.Minute

// Browser starts a headless Chromium with a fresh user data directory and
// returns a chromedp context for one tab of it. The context has a timeout of
// BrowserTimeout; the browser stops at cleanup.
//
// The browser is $CHROME_PATH, else /usr/bin/chromium, else chromium on PATH.
// It runs with --no-sandbox --disable-gpu --disable-quic --no-first-run
// --disable-background-networking --disable-component-update --disable-sync on
// top of chromedp's defaults.
//
// chromedp v0.23 has a generic API: chromedp.Do runs actions that return
// nothing, chromedp.Run runs one action and returns its value, and selectors
// are typed:
//
//	ctx := testpeers.Browser(t)
//	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.Click(chromedp.CSS("#go"))); err != nil {
//		t.Fatal(err)
//	}
//	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#out")))
func Browser(t testing.TB) context.Context {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		t.Fatalf("%v", err)
	}
	// Not t.TempDir: Chromium's helper processes can still write to the
	// directory for a moment after the browser stops, and the removal of a
	// t.TempDir fails the test then.
	dir, err := os.MkdirTemp("", "stateward-chromium-")
	if err != nil {
		t.Fatalf("browser user data dir: %v", err)
	}
	t.Cleanup(func() { removeAllPoll(dir) })

	output := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
		chromedp.CombinedOutput(output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc) // waits for the browser to exit
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	ctx, cancelTimeout := context.WithTimeout(browserCtx, BrowserTimeout)
	t.Cleanup(cancelTimeout)

	// Start the browser now, so that a broken installation fails here with
	// its output and not in the middle of the test.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v\noutput:\n%s", path, err, output.String())
	}
	return ctx
}

// chromiumPath finds the Chromium binary.
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", errors.New("CHROME_PATH=" + p + " does not exist; " + chromiumInstall)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New(chromiumInstall)
}

// removeAllPoll removes dir, trying again for a few seconds while processes
// that just stopped still write to it.
func removeAllPoll(dir string) {
	Poll(5*time.Second, 50*time.Millisecond, func() bool {
		return os.RemoveAll(dir) == nil
	})
}
