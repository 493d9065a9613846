package writers

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stateward/stateward/tenants"
)

// RunnerMetrics are the Runner's Prometheus metrics. A nil *RunnerMetrics records
// nothing.
type RunnerMetrics struct {
	running  prometheus.Gauge
	jobs     *prometheus.CounterVec
	commits  *prometheus.CounterVec
	objects  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewRunnerMetrics registers the Runner's metrics with reg.
func NewRunnerMetrics(reg prometheus.Registerer) *RunnerMetrics {
	m := &RunnerMetrics{
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stateward_jobs_running", Help: "Write jobs running in this process.",
		}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stateward_jobs_total", Help: "Write jobs finished, by store kind and outcome (succeeded, failed).",
		}, []string{"kind", "outcome"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stateward_writes_changed_total", Help: "Writes that changed the store (Git commits, bucket writes), by store kind.",
		}, []string{"kind"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stateward_objects_total", Help: "Files written or deleted in stores, by store kind and operation.",
		}, []string{"kind", "op"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stateward_job_duration_seconds", Help: "Time to run one write job, by store kind.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}, []string{"kind"}),
	}
	reg.MustRegister(m.running, m.jobs, m.commits, m.objects, m.duration)
	return m
}

// started counts a job in flight until the returned func is called.
func (m *RunnerMetrics) started() func() {
	if m == nil {
		return func() {}
	}
	m.running.Inc()
	return m.running.Dec
}

func (m *RunnerMetrics) finished(kind string, res tenants.JobResult, took time.Duration) {
	if m == nil {
		return
	}
	outcome := "succeeded"
	if res.Err != "" {
		outcome = "failed"
	}
	m.jobs.WithLabelValues(kind, outcome).Inc()
	if res.Changed {
		m.commits.WithLabelValues(kind).Inc()
	}
	m.objects.WithLabelValues(kind, "put").Add(float64(res.Puts))
	m.objects.WithLabelValues(kind, "delete").Add(float64(res.Deletes))
	m.duration.WithLabelValues(kind).Observe(took.Seconds())
}

// PlacementCounter counts every tenant's placements by state (package db
// implements it).
type PlacementCounter interface {
	PlacementStateCounts(ctx context.Context) (map[string]int, error)
}

// RegisterPlacementGauge registers stateward_placements{state}: placements of all
// tenants by state, one series for each of tenants.PlacementStates (zero when
// none), read from the database at each scrape so every replica agrees.
func RegisterPlacementGauge(reg prometheus.Registerer, src PlacementCounter) {
	reg.MustRegister(placementCollector{src: src, desc: prometheus.NewDesc("stateward_placements",
		"Placements by state (pending, writing, retrying, written, failed, proposed, rejected), all tenants.", []string{"state"}, nil)})
}

type placementCollector struct {
	src  PlacementCounter
	desc *prometheus.Desc
}

func (c placementCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c placementCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.src.PlacementStateCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err) // the scrape fails: unknown, not zero
		return
	}
	for _, st := range tenants.PlacementStates {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), st)
	}
}
