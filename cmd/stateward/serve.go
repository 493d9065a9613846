package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/stateward/stateward/pressure"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stateward/stateward/db"
	"github.com/stateward/stateward/devissuer"
	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/forge"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/web"
	"github.com/stateward/stateward/writers"
)

// devClientID is the embedded development issuer's only client.
const devClientID = "stateward-dev"

// serve runs the service until ctx ends, then shuts down in reverse order of start.
func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := wire(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.close()
	return s.run(ctx, stdout)
}

// service is the binary's parts, built from the config by wire and run by run.
// What it opens or starts is stopped by close, in reverse order.
type service struct {
	cfg       config // with PublicURL filled in from the listener
	log       *slog.Logger
	replica   string
	ln        net.Listener
	db        *db.DB
	readiness *writers.Readiness
	runner    *writers.Runner
	accept    pressure.Meter // submits, for the writers to yield to
	srv       *http.Server
	stops     []func() // in order of start
}

// wire builds everything from the config: listener, data dir lock, database,
// writers, metrics and the HTTP server. On an error what it opened is closed.
func wire(ctx context.Context, cfg config, log *slog.Logger) (_ *service, err error) {
	s := &service{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	wcfg, err := webConfig(s.cfg)
	if err != nil {
		return nil, err
	}
	fold, err := caseInsensitiveDir(s.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	policy, localRepos := egress.Policy{AllowPrivate: s.cfg.AllowPrivate}, s.cfg.localRepos(fold)
	wcfg.Egress, wcfg.LocalRepos = policy, localRepos
	reg := prometheus.NewRegistry()
	s.newWriters(writers.Factory{Egress: policy, CacheDir: filepath.Join(s.cfg.DataDir, "git"), LocalRepos: localRepos,
		AppTokens: &writers.AppTokens{}, Yield: &writers.Yielding{Busy: s.accept.Busy}, Forges: forge.New}, reg)
	reg.MustRegister(queuedJobsGauge(s.db))
	reg.MustRegister(txRetriesCounter{s.db})
	s.srv = s.httpServer(wcfg, reg)
	return s, nil
}

// open listens, takes the data dir for this replica and opens the database, in
// this order; close releases them.
func (s *service) open(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.onClose(func() { ln.Close() })
	if s.cfg.PublicURL == "" {
		s.cfg.PublicURL = "http://" + ln.Addr().String()
	}
	s.replica = newReplicaID()
	release, err := lockDataDir(s.cfg.DataDir, s.replica)
	if err != nil {
		return err
	}
	s.onClose(release)
	d, err := openDB(ctx, s.cfg)
	if err != nil {
		return err
	}
	s.db = d
	s.onClose(func() { d.Close() })
	return nil
}

// newWriters builds the readiness checks and the write runner, with their gauges
// in reg; a passing readiness check wakes the runner.
func (s *service) newWriters(factory writers.Factory, reg *prometheus.Registry) {
	d, replica := s.db, s.replica
	writers.RegisterReadinessGauge(reg, d)
	writers.RegisterPlacementGauge(reg, d)
	s.readiness = &writers.Readiness{Source: d, Factory: factory, Log: s.log, Now: d.Now,
		Turn: func(ctx context.Context, period time.Duration) (bool, error) {
			return d.TakeTurn(ctx, db.SweepReadiness, replica, period)
		}}
	s.runner = &writers.Runner{DB: reassertTurns{d, replica, s.cfg.ReassertInterval}, Factory: factory, Log: s.log, Owner: replica,
		ReassertInterval: s.cfg.ReassertInterval, Lease: s.cfg.JobLease,
		Metrics: writers.NewRunnerMetrics(reg), PRs: d, PRPoll: s.cfg.PRPoll, PublicURL: s.cfg.PublicURL,
		CacheMax: s.cfg.cacheMax()}
	s.readiness.Wake = s.runner.Wake // a passing check ends a store's backoff: write now
}

// txRetriesCounter is stateward_db_transaction_retries_total: the write
// transactions PostgreSQL made run again, by cause (a deadlock costs its
// transactions a second first).
type txRetriesCounter struct{ d *db.DB }

var txRetriesDesc = prometheus.NewDesc("stateward_db_transaction_retries_total",
	"Write transactions run again after losing a race on PostgreSQL, by cause (deadlock, serialization, unique_violation, connection).",
	[]string{"cause"}, nil)

func (c txRetriesCounter) Describe(ch chan<- *prometheus.Desc) { ch <- txRetriesDesc }

func (c txRetriesCounter) Collect(ch chan<- prometheus.Metric) {
	for i, n := range c.d.Retries() {
		ch <- prometheus.MustNewConstMetric(txRetriesDesc, prometheus.CounterValue, float64(n), db.RetryCauseNames[i])
	}
}

// queuedJobsGauge is stateward_jobs_queued: NaN when the count is unknown.
func queuedJobsGauge(d *db.DB) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stateward_jobs_queued", Help: "Write jobs waiting to run (all tenants).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := d.JobCounts(ctx)
		if err != nil {
			return math.NaN() // unknown, not zero
		}
		return float64(n[tenants.JobQueued])
	})
}

// httpServer serves the web handler on the database, writers and metrics.
func (s *service) httpServer(wcfg web.Config, reg *prometheus.Registry) *http.Server {
	return &http.Server{
		Handler: web.New(web.Deps{Config: wcfg, Store: s.db, Works: s.db, Readiness: s.readiness, Writers: s.runner, PRs: s.runner, Differ: s.runner,
			Log: s.log, Registry: reg, Accept: &s.accept}).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// run starts the background work, says where the service listens and serves
// until ctx ends. The background work stops after the HTTP server, in close.
func (s *service) run(ctx context.Context, stdout io.Writer) error {
	s.startBackground()
	s.announce(stdout)
	return s.serveUntil(ctx)
}

// startBackground runs the readiness checks, the write runner and the pruning
// until close, which waits for them.
func (s *service) startBackground() {
	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.readiness.Run(bg) })
	wg.Go(func() { s.runner.Run(bg) })
	wg.Go(func() { prune(bg, s.db, s.replica, s.log) })
	s.onClose(func() { stop(); wg.Wait(); s.readiness.Wait() })
}

// announce logs the config's warnings and the listening line, and with the
// development login tells the user on stdout where to sign in.
func (s *service) announce(stdout io.Writer) {
	for _, w := range s.cfg.warnings() {
		s.log.Warn(w)
	}
	s.log.Info("stateward listening", "addr", s.ln.Addr().String(), "public_url", s.cfg.PublicURL, "database", s.cfg.databaseName(),
		"dev_login", s.cfg.DevIssuer)
	if s.cfg.DevIssuer {
		fmt.Fprintf(stdout, "Stateward is running: open %s/ and sign in with any email (development login).\n", s.cfg.PublicURL)
	}
}

// serveUntil serves HTTP until the server fails or ctx ends; then it shuts the
// server down, giving requests in flight 20 seconds.
func (s *service) serveUntil(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// onClose adds stop to what close runs, after everything added later.
func (s *service) onClose(stop func()) { s.stops = append(s.stops, stop) }

// close stops what was started and releases what was opened, in reverse order:
// background work, database, data dir lock, listener.
func (s *service) close() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// reassertTurns is the database as the Runner sees it, with the periodic
// re-assert (RequeueAll) run by one replica per interval: the others' ticks
// queue nothing.
type reassertTurns struct {
	*db.DB
	replica  string
	interval time.Duration
}

func (r reassertTurns) RequeueAll(ctx context.Context) (int, error) {
	ok, err := r.TakeTurn(ctx, db.SweepReassert, r.replica, r.interval)
	if !ok {
		return 0, err
	}
	return r.DB.RequeueAll(ctx)
}

// webConfig wires OIDC: an external issuer, or the embedded development issuer
// (loopback only, decided by loadConfig).
func webConfig(cfg config) (web.Config, error) {
	wc := web.Config{PublicURL: cfg.PublicURL, OIDCIssuer: cfg.OIDCIssuer, OIDCClientID: cfg.OIDCClientID,
		OIDCClientSecret: cfg.OIDCClientSecret, MetricsToken: cfg.MetricsToken, GroupsClaim: cfg.GroupsClaim,
		GroupsScope: cfg.GroupsScope}
	if !cfg.DevIssuer {
		return wc, nil
	}
	secret, _ := tenants.NewSecret()
	iss, err := devissuer.New(devissuer.Config{
		Issuer:       cfg.PublicURL + "/dev/oidc",
		ClientID:     devClientID,
		ClientSecret: secret,
		RedirectURIs: []string{cfg.PublicURL + "/auth/callback"},
	})
	if err != nil {
		return wc, err
	}
	wc.OIDCIssuer, wc.OIDCClientID, wc.OIDCClientSecret, wc.DevIssuer = cfg.PublicURL+"/dev/oidc", devClientID, secret, iss
	return wc, nil
}

// pruneInterval is how often one replica prunes expired rows.
const pruneInterval = time.Hour

// prune deletes expired sessions, login attempts, idempotency keys and old
// delivery records every hour, on one replica per hour.
func prune(ctx context.Context, d *db.DB, replica string, log *slog.Logger) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		if ok, err := d.TakeTurn(ctx, db.SweepPrune, replica, pruneInterval); err != nil && ctx.Err() == nil {
			log.Error("prune turn", "err", err)
		} else if !ok {
			log.Debug("another replica prunes this hour")
		} else if n, err := d.Prune(ctx); err != nil && ctx.Err() == nil {
			log.Error("prune expired rows", "err", err)
		} else if n > 0 {
			log.Info("pruned expired rows", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
