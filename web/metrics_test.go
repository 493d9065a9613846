package web_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stateward/stateward/web"
)

func metricsServer(t *testing.T, token string) *httptest.Server {
	d := openDB(t, testDBOptions(t))
	srv := httptest.NewServer(web.New(web.Deps{Config: web.Config{PublicURL: "http://127.0.0.1", OIDCIssuer: "http://127.0.0.1:1/oidc",
		MetricsToken: token}, Store: d, Works: d, Log: slog.New(slog.NewTextHandler(tlog{t}, nil)), Registry: prometheus.NewRegistry()}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func scrape(t *testing.T, url, token string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsMethodCardinality: 5,000 requests with invented methods add one
// series ("other"), not 5,000.
func TestMetricsMethodCardinality(t *testing.T) {
	srv := metricsServer(t, "")
	client := srv.Client()
	for i := range 5000 {
		req, _ := http.NewRequest(fmt.Sprintf("X%05d", i), srv.URL+"/healthz", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	_, body := scrape(t, srv.URL, "")
	series := 0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "stateward_http_requests_total{") {
			series++
			if strings.Contains(line, `method="X`) {
				t.Fatalf("an invented method became a label value: %s", line)
			}
		}
	}
	t.Logf("stateward_http_requests_total series after 5,000 invented-method requests: %d", series)
	if series > 3 || !strings.Contains(body, `method="other"`) {
		t.Errorf("%d series, want at most 3 with method=\"other\":\n%s", series, body)
	}
}

// TestMetricsToken: with STATEWARD_METRICS_TOKEN set, /metrics needs it.
func TestMetricsToken(t *testing.T) {
	srv := metricsServer(t, "m3trics-t0ken")
	for _, c := range []struct {
		token string
		want  int
	}{{"", 401}, {"wrong", 401}, {"m3trics-t0ken", 200}} {
		code, body := scrape(t, srv.URL, c.token)
		if code != c.want || (code == 200) != strings.Contains(body, "stateward_http_requests_total") {
			t.Errorf("token %q: %d, want %d (%.100s)", c.token, code, c.want, body)
		}
	}
	if code, _ := scrape(t, metricsServer(t, "").URL, ""); code != 200 {
		t.Errorf("no token configured: %d, want 200", code)
	}
}

// failingCollector is a metric whose source cannot answer.
type failingCollector struct{ desc *prometheus.Desc }

func (c failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("count placements: context deadline exceeded"))
}

// TestMetricsServeTheRestWhenOneFails: a metric that cannot be read is left
// out of the scrape (unknown, not zero); every other metric is served, 200.
func TestMetricsServeTheRestWhenOneFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(failingCollector{prometheus.NewDesc("stateward_test_failing", "A metric whose source fails.", nil, nil)})
	d := openDB(t, testDBOptions(t))
	srv := httptest.NewServer(web.New(web.Deps{Config: web.Config{PublicURL: "http://127.0.0.1", OIDCIssuer: "http://127.0.0.1:1/oidc"},
		Store: d, Works: d, Log: slog.New(slog.NewTextHandler(tlog{t}, nil)), Registry: reg}).Handler())
	t.Cleanup(srv.Close)
	code, body := scrape(t, srv.URL, "")
	if code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics with one failing metric: %d, want 200 with the others:\n%.300s", code, body)
	}
	if strings.Contains(body, "stateward_test_failing ") {
		t.Errorf("the failing metric was served with a value:\n%s", body)
	}
}
