// Command swbench builds a large Stateward fixture once and measures a real
// `stateward serve` on it (issue 26, part 3): teams, Git stores and Destinations
// created through the CLI and the API, Works submitted through the API and
// written by the server's own writers to bare repositories that swbench serves
// with git http-backend; then steady-state RSS, restart to ready, the latency of
// the dashboard's pages and of the Works list with filters and search, and a full
// re-assert of every placement (commits, store reads, CPU time, the accept path
// beside it).
//
//	go run ./cmd/swbench million -dir /var/tmp/swbench -works 1000000
//
// The fixture lives in -dir (fixture.json says how far it got): a second run
// finds it and goes on (a larger -works grows it), then measures. Results are
// printed and appended to dir/results.txt. See BENCHMARKS.md.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "swbench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	mode                         string // million (build, then measure), build, measure
	dir, bin                     string
	works, teams, dests, stores  int
	db, kind                     string
	clients, requests, warm      int
	acceptClients, acceptSeconds int
	probeNames                   int           // Works the accept stream submits again (0: a new Work each time)
	minioScanner                 string        // MINIO_SCANNER_SPEED of the MinIO swbench starts
	perf                         bool          // record the server with perf during the re-assert alone
	pprof                        bool          // build the server with net/http/pprof and print its heap
	beside                       bool          // also re-assert with the accept stream beside it
	restartAfter                 bool          // restart the server before the stream alone after the re-asserts
	aloneAsLong                  bool          // finally stream alone as long as the stream beside the re-assert ran
	settle                       time.Duration // idle time before the steady-state RSS is read
}

func parse(args []string) (options, error) {
	var o options
	if len(args) == 0 || (args[0] != "million" && args[0] != "build" && args[0] != "measure") {
		return o, errors.New("usage: swbench million|build|measure [-dir DIR] [-works N] [-teams N] [-destinations N] [-stores N] [-db sqlite|postgres] [-kind git|bucket] (see BENCHMARKS.md)")
	}
	o.mode = args[0]
	fs := flag.NewFlagSet("swbench "+o.mode, flag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", "/var/tmp/swbench", "fixture directory (kept between runs)")
	fs.StringVar(&o.bin, "bin", "", "stateward binary (default: go build ./cmd/stateward into DIR/bin)")
	fs.IntVar(&o.works, "works", 1_000_000, "Works in the fixture")
	fs.IntVar(&o.teams, "teams", 100, "teams")
	fs.IntVar(&o.dests, "destinations", 1000, "Destinations in all (spread evenly over the teams)")
	fs.IntVar(&o.stores, "stores", 200, "Git stores in all (spread evenly over the teams)")
	fs.StringVar(&o.kind, "kind", "git", "git (repositories served by git http-backend), or bucket (buckets of a MinIO in DIR/minio)")
	fs.StringVar(&o.db, "db", "sqlite", "sqlite, or postgres (a PostgreSQL cluster in DIR/pg, started by swbench)")
	fs.IntVar(&o.clients, "clients", 16, "callers submitting the fixture's Works in parallel")
	fs.IntVar(&o.requests, "requests", 200, "timed requests per page")
	fs.IntVar(&o.warm, "warm", 20, "warm-up requests per page")
	fs.IntVar(&o.acceptClients, "accept-clients", 4, "callers of the accept-path stream during the re-assert")
	fs.IntVar(&o.acceptSeconds, "accept-seconds", 15, "length of the accept-path stream without a re-assert")
	fs.IntVar(&o.probeNames, "probe-names", 0, "the accept stream submits again the Works of this many names, with new contents, so the database does not grow during the measure (0: every submit a new Work, the stream as measured until session 12)")
	fs.StringVar(&o.minioScanner, "minio-scanner", "slowest", "MINIO_SCANNER_SPEED of the MinIO swbench starts: its data scanner, idle or not, starts a minute after MinIO and then takes 0.15 – 0.3 of a core of the machine's two for minutes at \"default\" (the measure until session 13), during the re-asserts and the stream after them but not the stream before")
	fs.BoolVar(&o.pprof, "pprof", false, "build stateward with net/http/pprof (an overlay, not in the repository), print its heap after the re-asserts and record its CPU profile during the re-assert alone and the streams alone (DIR/*.cpu.pprof)")
	fs.DurationVar(&o.settle, "settle", 150*time.Second, "after the re-asserts, how long the server idles before its steady-state RSS is read (Go returns freed memory to the system within a few GC cycles; one runs at least every 2 minutes)")
	fs.BoolVar(&o.beside, "beside", true, "after the re-assert alone, re-assert again with the accept stream beside it (false: stop after the first, a quicker measure of its CPU)")
	fs.BoolVar(&o.restartAfter, "restart-after", false, "restart the server before the stream alone after the re-asserts, as before the one before them: tells what the re-assert leaves in the process (its heap, its open clones) from what it leaves in the database")
	fs.BoolVar(&o.aloneAsLong, "alone-as-long", false, "after the stream alone after the re-asserts, stream alone once more for as long as the stream beside the re-assert ran, and compare the two: minutes of a stream see what 15 s rarely do (autovacuum, checkpoints, the readiness check every 5 minutes)")
	fs.BoolVar(&o.perf, "perf", false, "record the server with perf(1) during the first re-assert: DIR/reassert.perf.data")
	if err := fs.Parse(args[1:]); err != nil {
		return o, err
	}
	switch {
	case o.teams < 1 || o.dests < o.teams || o.stores < o.teams || o.dests%o.teams != 0 || o.stores%o.teams != 0:
		return o, errors.New("-destinations and -stores must be multiples of -teams")
	case o.stores/o.teams > o.dests/o.teams:
		return o, errors.New("a team needs at least as many Destinations as stores")
	case o.db != "sqlite" && o.db != "postgres":
		return o, errors.New("-db must be sqlite or postgres")
	case o.kind != "git" && o.kind != "bucket":
		return o, errors.New("-kind must be git or bucket")
	case !slices.Contains([]string{"fastest", "fast", "default", "slow", "slowest"}, o.minioScanner):
		// MinIO refuses any other value only once swbench has started it.
		return o, errors.New("-minio-scanner must be fastest, fast, default, slow or slowest")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(o.dir, "repos"), 0o755); err != nil {
		return err
	}
	results, err := os.OpenFile(filepath.Join(o.dir, "results.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer results.Close()
	out := io.MultiWriter(stdout, results)
	fmt.Fprintf(out, "\n=== swbench %s, %s, load average %s\n", o.mode, time.Now().UTC().Format(time.RFC3339), loadAvg())
	if err := diskReport(o.dir, out); err != nil {
		return err
	}
	if o.bin == "" {
		if o.bin, err = buildBinary(ctx, o.dir, o.pprof); err != nil {
			return err
		}
	}
	f, err := loadFixture(o.dir, fixture{Teams: o.teams, Destinations: o.dests, Stores: o.stores, DB: o.db, Kind: o.kind})
	if err != nil {
		return err
	}
	b, err := start(ctx, o, f, out)
	if err != nil {
		return err
	}
	defer b.close()
	if err := f.ensureTeams(ctx, o.bin, b.env, b.srv, b.git, b.minio, out); err != nil {
		return err
	}
	if o.mode != "measure" {
		if err := b.build(ctx, o, out); err != nil {
			return err
		}
	}
	if o.mode == "build" {
		return diskUsage(o.dir, out)
	}
	if f.Submitted > f.Written { // a build stopped half way: measure what it submitted, once written
		fmt.Fprintf(out, "the last build stopped after %d Works were accepted: waiting until they are written\n", f.Submitted)
		if err := waitWritten(ctx, b.srv, out); err != nil {
			return err
		}
		f.Written = f.Submitted
	}
	if f.Written == 0 {
		return errors.New("the fixture has no Works yet: run swbench build or million first")
	}
	if err := b.measure(ctx, o, out); err != nil {
		return err
	}
	return diskUsage(o.dir, out)
}

// bench is a running fixture: the Git server, PostgreSQL if any, and stateward.
type bench struct {
	f     *fixture
	git   *gitServer
	minio *minioServer // -kind bucket
	pg    *postgres
	srv   *server
	env   []string // for the CLI: the server's environment
	dbURL string
	data  string
	// pprofAddr is where the server serves net/http/pprof (-pprof).
	pprofAddr string
}

// start starts the Git server, PostgreSQL (-db postgres) and stateward on the
// fixture's fixed addresses (the stores' URLs name the Git server's).
func start(ctx context.Context, o options, f *fixture, out io.Writer) (_ *bench, err error) {
	b := &bench{f: f, data: filepath.Join(o.dir, "data")}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if f.GitAddr == "" {
		if f.GitAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		if f.ServeAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		if err := f.save(); err != nil {
			return nil, err
		}
	}
	if f.Kind == "bucket" && f.MinIOAddr == "" {
		if err := f.newMinIOCredentials(); err != nil {
			return nil, err
		}
		if err := f.save(); err != nil {
			return nil, err
		}
	}
	if f.Kind == "bucket" {
		if b.minio, err = startMinIO(ctx, filepath.Join(o.dir, "minio"), f, o.minioScanner); err != nil {
			return nil, err
		}
	}
	if b.git, err = startGitServer(filepath.Join(o.dir, "repos"), f.GitAddr); err != nil {
		return nil, err
	}
	if o.db == "postgres" {
		if b.pg, err = startPostgres(ctx, filepath.Join(o.dir, "pg")); err != nil {
			return nil, err
		}
		b.dbURL = b.pg.url
		if f.SecretKey == "" {
			key := make([]byte, 32)
			_, _ = rand.Read(key) // never fails (crypto/rand)
			f.SecretKey = base64.StdEncoding.EncodeToString(key)
			if err := f.save(); err != nil {
				return nil, err
			}
		}
	}
	logFile, err := os.OpenFile(filepath.Join(o.dir, "serve.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	b.srv = newServer(o.bin, b.data, f.ServeAddr, b.dbURL, f.SecretKey, logFile)
	b.env = b.srv.env
	if o.pprof {
		if b.pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		b.srv.env = append(b.srv.env, "SWBENCH_PPROF_ADDR="+b.pprofAddr)
	}
	ready, err := b.srv.start(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "stateward serve ready in %.2f s (pid %d, %s, log %s)\n", ready.Seconds(), b.srv.pid(), b.srv.base, logFile.Name())
	return b, nil
}

func (b *bench) close() {
	if b.srv != nil {
		_ = b.srv.stop()
		b.srv.log.Close()
	}
	if b.pg != nil {
		b.pg.stop()
	}
	if b.minio != nil {
		b.minio.stop()
	}
	if b.git != nil {
		b.git.close()
	}
	if b.f != nil {
		_ = b.f.save()
	}
}

// buildChunk is how many Works are submitted between two saves of the progress.
const buildChunk = 10_000

// build creates the teams and submits the Works the fixture does not hold yet,
// then waits until the server's writers have written them all.
func (b *bench) build(ctx context.Context, o options, out io.Writer) error {
	f := b.f
	if f.Written >= o.works {
		fmt.Fprintf(out, "fixture found: %d Works written, nothing to build\n", f.Written)
		return nil
	}
	step := buildStep{From: f.Written, To: o.works, Clients: o.clients}
	began := time.Now()
	for f.Submitted < o.works {
		to := min(o.works, (f.Submitted/buildChunk+1)*buildChunk)
		chunk := time.Now()
		if err := f.submitWorks(ctx, b.srv.base, f.Submitted, to, o.clients); err != nil {
			return err
		}
		rate := float64(to-f.Submitted) / time.Since(chunk).Seconds()
		f.Submitted = to
		if err := f.save(); err != nil {
			return err
		}
		rss, _, _ := b.srv.memory()
		left := time.Duration(float64(o.works-to) / rate * float64(time.Second))
		fmt.Fprintf(out, "submitted %d of %d Works (%.0f/s in this chunk; server RSS %d MB; submitting the rest: ~%s)\n",
			to, o.works, rate, rss>>20, left.Round(time.Second))
	}
	step.SubmitSecs = time.Since(began).Seconds()
	drain := time.Now()
	if err := waitWritten(ctx, b.srv, out); err != nil {
		return err
	}
	step.DrainSecs = time.Since(drain).Seconds()
	step.At, step.LoadAvg = time.Now().UTC().Format(time.RFC3339), loadAvg()
	f.Written = o.works
	f.Build = append(f.Build, step)
	_, hwm, _ := b.srv.memory()
	fmt.Fprintf(out, "built Works %d..%d: submitting %.0f s (%.0f/s, %d callers), then writing the rest %.0f s; server peak RSS %d MB; load average %s\n",
		step.From, step.To, step.SubmitSecs, float64(step.To-step.From)/step.SubmitSecs, step.Clients, step.DrainSecs, hwm>>20, step.LoadAvg)
	return f.save()
}

// measure restarts the server (restart to ready), times the pages, reads the
// RSS, and runs the full re-assert alone and beside an accept stream.
func (b *bench) measure(ctx context.Context, o options, out io.Writer) error {
	f, s := b.f, b.srv
	fmt.Fprintf(out, "\nfixture: %d Works over %d teams, %d Destinations, %d %s stores (%s)\n", f.Written, f.Teams, f.Destinations, f.Stores, f.Kind, f.DB)
	for i := range 3 {
		ready, err := s.restart(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "restart %d: process start to /readyz 200 in %.2f s (goal < 5 s)\n", i+1, ready.Seconds())
	}
	web, err := devLogin(s.base, benchEmail)
	if err != nil {
		return err
	}
	worst, err := timePages(ctx, s, web, team(0), f.Tokens[team(0)], f.Kind, f.storeName(0), o.warm, o.requests, out)
	if err != nil {
		return err
	}
	rss, hwm, err := s.memory()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nworst page p99 %s (goal < 50 ms)\nRSS after restart and the pages: VmRSS %d MB, VmHWM %d MB (goal < 500 MB)\n", ms(worst), rss>>20, hwm>>20)
	return b.measureReassert(ctx, o, out)
}

// measureReassert: the accept path alone, a full re-assert alone (its CPU time,
// commits and store reads), then a full re-assert with the accept path beside
// it, then the accept path alone again.
func (b *bench) measureReassert(ctx context.Context, o options, out io.Writer) error {
	f, s := b.f, b.srv
	peer := b.minio.cpu()
	alone, err := b.timedStream(ctx, o, "before", time.Duration(o.acceptSeconds)*time.Second, out)
	if err != nil {
		return err
	}
	peerAlone := b.minio.meanwhile(peer)
	stream := "each a new Work"
	if o.probeNames > 0 {
		stream = fmt.Sprintf("the Works of %d names submitted again", o.probeNames)
	}
	fmt.Fprintf(out, "\naccept path alone (%s): %d submits by %d callers in %d s, %.0f/s, p50 %s, p99 %s%s\n", stream, len(alone), o.acceptClients,
		o.acceptSeconds, float64(len(alone))/float64(o.acceptSeconds), ms(alone.pct(0.5)), ms(alone.pct(0.99)), peerAlone)
	var rec *perfRecord
	if o.perf {
		if rec, err = startPerf(s.pid(), filepath.Join(o.dir, "reassert.perf.data")); err != nil {
			return err
		}
	}
	var profiled func(io.Writer)
	if b.pprofAddr != "" {
		profiled = cpuProfile(ctx, b.pprofAddr, filepath.Join(o.dir, "reassert.cpu.pprof"), "the re-assert", 30, "-top", "-top -cum")
	}
	r1, err := f.reassert(ctx, s, b, out)
	if rec != nil {
		rec.stop(out)
	}
	if profiled != nil {
		profiled(out)
	}
	if err != nil {
		return err
	}
	r1.print(out, "full re-assert, nothing else running")
	if !o.beside {
		return b.printMemory(ctx, o, out)
	}
	stop2 := make(chan struct{})
	var during latencies
	var streamErr error
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		during, streamErr = f.acceptStream(ctx, s.base, o.acceptClients, o.probeNames, stop2)
	}()
	r2, err := f.reassert(ctx, s, b, out)
	close(stop2)
	<-streamDone
	if err != nil {
		return err
	}
	if streamErr != nil {
		return streamErr
	}
	r2.print(out, "full re-assert, accept stream beside it")
	fmt.Fprintf(out, "accept path during the re-assert: %d submits in %.1f s, %.0f/s, p50 %s, p99 %s "+
		"(p50 %+.0f%%, p99 %+.0f%% against alone; goal ≤ +20%%)\n",
		len(during), r2.wall.Seconds(), float64(len(during))/r2.wall.Seconds(), ms(during.pct(0.5)), ms(during.pct(0.99)),
		change(alone.pct(0.5), during.pct(0.5)), change(alone.pct(0.99), during.pct(0.99)))
	// The stream alone again, after: the stream beside a paced re-assert runs
	// for minutes and grows the probe team by as many Works (1.45 million at
	// the million), so the database it ends on is not the one the first
	// 15 seconds alone saw.
	if o.restartAfter {
		ready, err := b.srv.restart(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "server restarted before the stream after (-restart-after): ready in %.2f s\n", ready.Seconds())
	}
	peer = b.minio.cpu()
	after, err := b.timedStream(ctx, o, "after", time.Duration(o.acceptSeconds)*time.Second, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "accept path alone, after: %d submits in %d s, %.0f/s, p50 %s, p99 %s%s; "+
		"during the re-assert against it: p50 %+.0f%%, p99 %+.0f%%\n",
		len(after), o.acceptSeconds, float64(len(after))/float64(o.acceptSeconds), ms(after.pct(0.5)), ms(after.pct(0.99)), b.minio.meanwhile(peer),
		change(after.pct(0.5), during.pct(0.5)), change(after.pct(0.99), during.pct(0.99)))
	// The stream alone slowed down over minutes by itself (p50 1.6 to 2.2 ms,
	// p99 7.4 to 8.8 ms in nine windows of 15 s back to back on the MinIO
	// fixture, no re-assert; most of it MinIO's data scanner, which
	// -minio-scanner now slows, session 13): both windows alone together
	// bracket the one beside it.
	both := append(slices.Clone(alone), after...)
	fmt.Fprintf(out, "accept path alone, before and after together: p50 %s, p99 %s; during the re-assert against it: p50 %+.0f%%, p99 %+.0f%%\n",
		ms(both.pct(0.5)), ms(both.pct(0.99)), change(both.pct(0.5), during.pct(0.5)), change(both.pct(0.99), during.pct(0.99)))
	if o.aloneAsLong {
		// The windows alone last 15 s, the one beside minutes: its p99 also
		// holds what comes by every few minutes whether or not a re-assert
		// runs. The same length alone, right after, tells the two apart.
		// The server's CPU meanwhile, against the re-assert's beside the
		// stream: what the re-assert added to the process.
		cpu0, err := s.cpu()
		if err != nil {
			return err
		}
		peer = b.minio.cpu()
		long, err := b.timedStream(ctx, o, "as-long", r2.wall, out)
		if err != nil {
			return err
		}
		cpu1, err := s.cpu()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "accept path alone as long as beside (-alone-as-long): %d submits in %.1f s, %.0f/s, p50 %s, p99 %s, "+
			"%.1f CPU-seconds of the server%s; during the re-assert against it: p50 %+.0f%%, p99 %+.0f%%\n",
			len(long), r2.wall.Seconds(), float64(len(long))/r2.wall.Seconds(), ms(long.pct(0.5)), ms(long.pct(0.99)),
			(cpu1 - cpu0).Seconds(), b.minio.meanwhile(peer), change(long.pct(0.5), during.pct(0.5)), change(long.pct(0.99), during.pct(0.99)))
	}
	return b.printMemory(ctx, o, out)
}

// timedStream runs the accept stream alone for d; with -pprof it records the
// server's CPU profile meanwhile (DIR/stream-<when>.cpu.pprof: compare two
// with go tool pprof -diff_base).
func (b *bench) timedStream(ctx context.Context, o options, when string, d time.Duration, out io.Writer) (latencies, error) {
	var profiled func(io.Writer)
	if b.pprofAddr != "" {
		profiled = cpuProfile(ctx, b.pprofAddr, filepath.Join(o.dir, "stream-"+when+".cpu.pprof"), "the stream "+when, int(d.Seconds()))
	}
	stop := make(chan struct{})
	timer := time.AfterFunc(d, func() { close(stop) })
	defer timer.Stop()
	lat, err := b.f.acceptStream(ctx, b.srv.base, o.acceptClients, o.probeNames, stop)
	if profiled != nil {
		profiled(out)
	}
	return lat, err
}

// printMemory prints the server's memory right after the re-asserts, its heap
// with -pprof, and its RSS once it idled for o.settle (the steady state).
func (b *bench) printMemory(ctx context.Context, o options, out io.Writer) error {
	rss, hwm, err := b.srv.memory()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "RSS right after the re-asserts: VmRSS %d MB, VmHWM %d MB\n", rss>>20, hwm>>20)
	if b.pprofAddr != "" {
		heapTop(ctx, b.pprofAddr, out)
	}
	if o.settle <= 0 {
		return nil
	}
	select {
	case <-time.After(o.settle): // the server idles: nothing here to synchronise with
	case <-ctx.Done():
		return ctx.Err()
	}
	if rss, _, err = b.srv.memory(); err != nil {
		return err
	}
	fmt.Fprintf(out, "RSS after %s idle (steady state): VmRSS %d MB (goal < 500 MB)\n", o.settle, rss>>20)
	return nil
}

func change(from, to time.Duration) float64 { return (float64(to)/float64(from) - 1) * 100 }

// buildBinary builds stateward from the module swbench runs in, with pprof
// when asked (another binary, so that the plain one stays plain).
func buildBinary(ctx context.Context, dir string, pprof bool) (string, error) {
	bin := filepath.Join(dir, "bin", "stateward")
	args := []string{"build", "-o", bin}
	if pprof {
		bin += "-pprof"
		overlay, err := overlayPprof(dir)
		if err != nil {
			return "", err
		}
		args = []string{"build", overlay, "-o", bin}
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/stateward")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/stateward (run swbench from the repository's root, or pass -bin): %w", err)
	}
	return bin, nil
}

// freeAddr is a free loopback address, kept for the fixture's life.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// diskReport prints the free space where the fixture lives.
func diskReport(dir string, out io.Writer) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	fmt.Fprintf(out, "free disk at %s: %.1f GiB\n", dir, float64(free)/(1<<30))
	return nil
}

// diskUsage prints what the fixture takes on disk, by part.
func diskUsage(dir string, out io.Writer) error {
	var parts []string
	for _, p := range []string{"data", "repos", "pg", "minio"} {
		var n int64
		_ = filepath.WalkDir(filepath.Join(dir, p), func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
		parts = append(parts, fmt.Sprintf("%s %.2f GiB", p, float64(n)/(1<<30)))
	}
	fmt.Fprintf(out, "fixture on disk: %v\n", parts)
	return nil
}
