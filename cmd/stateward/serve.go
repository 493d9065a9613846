package main

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/web"
	"github.com/stateward/stateward/writers"
)

// devClientID is the embedded development issuer's only client.
const devClientID = "stateward-dev"

// serve runs the service until ctx ends, then shuts down in reverse order of start.
func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	replica := newReplicaID()
	release, err := lockDataDir(cfg.DataDir, replica)
	if err != nil {
		return err
	}
	defer release()
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()

	wcfg, err := webConfig(cfg)
	if err != nil {
		return err
	}
	policy := egress.Policy{AllowPrivate: cfg.AllowPrivate}
	wcfg.Egress = policy
	fold, err := caseInsensitiveDir(cfg.DataDir)
	if err != nil {
		return err
	}
	localRepos := cfg.localRepos(fold)
	wcfg.LocalRepos = localRepos
	factory := writers.Factory{Egress: policy, CacheDir: filepath.Join(cfg.DataDir, "git"), LocalRepos: localRepos,
		AppTokens: &writers.AppTokens{}, Yield: &writers.Yielding{Busy: d.AcceptBusy}}
	reg := prometheus.NewRegistry()
	writers.RegisterReadinessGauge(reg, d)
	writers.RegisterPlacementGauge(reg, d)
	readiness := &writers.Readiness{Source: d, Factory: factory, Log: log, Now: d.Now,
		Turn: func(ctx context.Context, period time.Duration) (bool, error) {
			return d.TakeTurn(ctx, db.SweepReadiness, replica, period)
		}}
	runner := &writers.Runner{DB: reassertTurns{d, replica, cfg.ReassertInterval}, Factory: factory, Log: log, Owner: replica,
		ReassertInterval: cfg.ReassertInterval, Lease: cfg.JobLease,
		Metrics: writers.NewRunnerMetrics(reg)}
	readiness.Wake = runner.Wake // a passing check ends a store's backoff: write now
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stateward_jobs_queued", Help: "Write jobs waiting to run (all tenants).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := d.JobCounts(ctx)
		if err != nil {
			return math.NaN() // unknown, not zero
		}
		return float64(n[tenants.JobQueued])
	}))
	// Background work stops after the HTTP server (deferred in reverse order).
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stopBG(); wg.Wait(); readiness.Wait() }()
	wg.Add(3)
	go func() { defer wg.Done(); readiness.Run(bg) }()
	go func() { defer wg.Done(); runner.Run(bg) }()
	go func() { defer wg.Done(); prune(bg, d, replica, log) }()

	srv := &http.Server{
		Handler: web.New(web.Deps{Config: wcfg, Store: d, Works: d, Readiness: readiness, Writers: runner, Differ: runner, Log: log,
			Registry: reg}).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	for _, w := range cfg.warnings() {
		log.Warn(w)
	}
	log.Info("stateward listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "database", cfg.databaseName(),
		"dev_login", cfg.DevIssuer)
	if cfg.DevIssuer {
		fmt.Fprintf(stdout, "Stateward is running: open %s/ and sign in with any email (development login).\n", cfg.PublicURL)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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
