package writers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stateward/stateward/egress"
	"github.com/stateward/stateward/tenants"
	"github.com/stateward/stateward/testpeers"
)

const (
	crashWorks = 300
	helperEnv  = "STATEWARD_TEST_HELPER"
)

func crashWork(i int) tenants.WorkRequest {
	return work(fmt.Sprintf("req-%03d", i), nil, "cm.yaml", fmt.Sprintf("n: %d\n", i))
}

// TestRunnerSurvivesKill9 runs a Runner in a child process that submits a burst of
// Works while draining them, kills it with SIGKILL mid-burst, and lets a fresh
// Runner on the same database file and clone cache finish: every accepted Work's
// file is in the repository with its content, nothing extra, in few commits.
func TestRunnerSurvivesKill9(t *testing.T) {
	e := newEngine(t)
	s, srv := gitUnderTest(t, e)
	e.destination(t, tenants.Destination{Name: "dst", Path: "d", StoreKind: s.kind, StoreName: "store"})

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=crash", "HELPER_DB="+e.dbPath, "HELPER_CACHE="+e.cacheDir,
		"HELPER_TENANT="+strconv.FormatInt(e.tenant, 10))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	submitted := make(chan int, crashWorks)
	go readSubmitted(out, submitted)

	// Kill once half the burst is accepted, the child has pushed at least once and
	// a job is running (a fresh Runner must take it over when its lease expires).
	last := 0
	testpeers.WaitFor(t, 60*time.Second, func() (bool, string) {
		for drained := false; !drained; {
			select {
			case n := <-submitted:
				last = n
			default:
				drained = true
			}
		}
		jobs, _ := e.db.Jobs(context.Background(), e.tenant, 1)
		running := len(jobs) == 1 && jobs[0].State == tenants.JobRunning
		return last >= crashWorks/2 && running && srv.Head(t, srv.Branch()) != "",
			fmt.Sprintf("child submitted %d Works, latest job running: %v", last, running)
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before := s.commits(t)

	works, err := e.db.Works(context.Background(), e.tenant)
	if err != nil || len(works) < last {
		t.Fatalf("works accepted = %d (%v), want at least %d", len(works), err, last)
	}
	t.Logf("killed after %d Works accepted (%d in the database, %d commits so far)", last, len(works), before)

	e.start(t, nil)
	e.drain(t, 90*time.Second)
	files := s.files(t)
	if len(files) != len(works) {
		t.Errorf("repository holds %d files, want one per accepted Work (%d)", len(files), len(works))
	}
	for i := range len(works) {
		key := fmt.Sprintf("st/d/resources/default/redis/req-%03d/5058f/cm.yaml", i)
		if want := fmt.Sprintf("n: %d\n", i); files[key] != want {
			t.Errorf("%s = %q, want %q", key, files[key], want)
		}
	}
	if n := s.commits(t); n > len(works)/2 {
		t.Errorf("%d commits for %d Works, want batched writes", n, len(works))
	}
}

// readSubmitted forwards the child's "submitted N" lines.
func readSubmitted(r io.Reader, ch chan<- int) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "submitted "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				ch <- v
			}
		}
	}
}

// TestHelperProcess is the child of TestRunnerSurvivesKill9: a Runner (short
// lease) on the parent's database that drains Works submitted in a burst until it is
// killed. It does nothing unless started by that test.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "model":
		runModelWriter(t)
		return
	case "crash":
	default:
		return
	}
	d := openEngineDB(t, os.Getenv("HELPER_DB"))
	tenant, _ := strconv.ParseInt(os.Getenv("HELPER_TENANT"), 10, 64)
	r := &Runner{DB: d, Lease: 2 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Factory: Factory{Egress: egress.Policy{AllowPrivate: true}, CacheDir: os.Getenv("HELPER_CACHE")}}
	go r.Run(context.Background())
	for i := range crashWorks {
		w, err := crashWork(i).Work()
		if err == nil {
			_, err = d.SubmitWork(context.Background(), tenant, w, false)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		r.Wake()
		fmt.Printf("submitted %d\n", i+1)
		time.Sleep(5 * time.Millisecond) // pace the burst so that writes overlap it
	}
	select {} // until killed
}
