package testpeers

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// WebhookDelivery is one request that a WebhookRecorder received.
type WebhookDelivery struct {
	Header   http.Header
	Body     []byte
	Received time.Time
}

// WebhookRecorder is an HTTP server on 127.0.0.1 that records every request it
// gets, as the receiver of a Git host's webhooks, and answers 200.
type WebhookRecorder struct {
	srv *httptest.Server

	mu         sync.Mutex
	deliveries []WebhookDelivery
	changed    chan struct{} // closed and replaced at each delivery
}

// NewWebhookRecorder starts a WebhookRecorder; it closes at cleanup.
func NewWebhookRecorder(t testing.TB) *WebhookRecorder {
	t.Helper()
	r := &WebhookRecorder{changed: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.deliveries = append(r.deliveries, WebhookDelivery{Header: req.Header.Clone(), Body: body, Received: time.Now()})
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// URL returns the URL that the webhooks go to.
func (r *WebhookRecorder) URL() string { return r.srv.URL + "/hook" }

// Deliveries returns the requests received so far, oldest first.
func (r *WebhookRecorder) Deliveries() []WebhookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]WebhookDelivery(nil), r.deliveries...)
}

// Wait returns the first delivery for which match is true, waiting up to
// timeout for it to arrive; it fails the test after timeout.
func (r *WebhookRecorder) Wait(t testing.TB, timeout time.Duration, match func(WebhookDelivery) bool) WebhookDelivery {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		r.mu.Lock()
		for ; seen < len(r.deliveries); seen++ {
			if d := r.deliveries[seen]; match(d) {
				r.mu.Unlock()
				return d
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no matching webhook delivery after %s; got %d deliveries", timeout, len(r.Deliveries()))
		}
	}
}
