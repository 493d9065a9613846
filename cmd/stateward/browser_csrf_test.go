package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/stateward/stateward/testpeers"
)

// TestBrowserLoginCSRF: the attacker signs in through the development issuer in
// one Chromium browser context and stops at the callback; the victim, in a second
// browser context (its own cookies), opens that callback URL and is not signed in.
// A sign-in that stays in one browser still works.
func TestBrowserLoginCSRF(t *testing.T) {
	in := start(t)
	attacker := testpeers.Browser(t)
	if _, err := chromedp.Call(attacker, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: "*/auth/callback*", RequestStage: fetch.RequestStageRequest}}}); err != nil {
		t.Fatal(err)
	}
	callbacks := make(chan string, 1)
	go func() {
		for ev, err := range chromedp.Events(attacker, fetch.RequestPaused) {
			if err != nil {
				return
			}
			select {
			case callbacks <- ev.Request.URL:
			default:
			}
			_, _ = chromedp.Call(attacker, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonAborted})
		}
	}()
	signIn(t, attacker, in.URL, "mallory@example.com")
	var cb string
	select {
	case cb = <-callbacks:
	case <-time.After(30 * time.Second):
		t.Fatal("the attacker's browser never reached the callback")
	}

	victim, cancel := chromedp.NewContext(attacker, chromedp.WithNewBrowserContext())
	defer cancel()
	if err := chromedp.Do(victim, chromedp.Navigate(cb)); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(victim, chromedp.Text(chromedp.CSS("body")))
	if err != nil || !strings.Contains(text, "started in another browser") {
		t.Errorf("victim's page after the attacker's callback: %q %v", text, err)
	}
	if err := chromedp.Do(victim, chromedp.Navigate(in.URL+"/teams/new")); err != nil {
		t.Fatal(err)
	}
	waitPath(t, victim, "/authorize") // not signed in: sent to the issuer

	if _, err := chromedp.Call(attacker, fetch.Disable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	// The victim's visit used up that sign-in; a fresh one in the attacker's own
	// browser (which holds the login cookie) goes through.
	signIn(t, attacker, in.URL, "mallory@example.com")
	waitPath(t, attacker, "/teams/new")
}
