package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/stateward/stateward/testpeers"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// replicaChildEnv makes TestReplicaChild serve: a replica process the test kills.
const replicaChildEnv = "STATEWARD_TEST_REPLICA_CHILD"

// TestReplicaChild is a `stateward serve` process for the kill tests (startReplica);
// it does nothing unless that test starts it.
func TestReplicaChild(t *testing.T) {
	if os.Getenv(replicaChildEnv) == "" {
		return
	}
	if err := run(context.Background(), []string{"serve"}, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(2)
	}
}

// replicaProc is one replica process.
type replicaProc struct {
	addr, dataDir string
	env           []string
	cmd           *exec.Cmd
}

func (p *replicaProc) url() string { return "http://" + p.addr }

func (p *replicaProc) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplicaChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), replicaChildEnv+"=1"), p.env...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd = cmd
	var err error
	ready := testpeers.Poll(60*time.Second, 50*time.Millisecond, func() bool {
		var resp *http.Response
		if resp, err = http.Get(p.url() + "/readyz"); err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if !ready {
		t.Fatalf("replica on %s not ready: %v", p.addr, err)
	}
}

func (p *replicaProc) kill() {
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// teamAEditor creates team-a and an editor token for it with the CLI (on the
// database env names), and returns a caller of the API with that token.
func teamAEditor(t *testing.T, env map[string]string) caller {
	t.Helper()
	cli := func(args ...string) string {
		var out bytes.Buffer
		if err := run(context.Background(), args, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
			t.Fatalf("stateward %v: %v", args, err)
		}
		return strings.TrimSpace(out.String())
	}
	cli("tenant", "create", "team-a")
	tok := "Bearer " + cli("token", "create", "--tenant", "team-a", "--role", "editor")
	return func(method, url, body string, headers ...string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", tok)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// waitDB polls query (a count, with args) until it is 0 or within passes.
func waitDB(t *testing.T, pg *sql.DB, within time.Duration, query string, args ...any) {
	t.Helper()
	var n int
	var err error
	if !testpeers.Poll(within, 20*time.Millisecond, func() bool {
		n = 0
		err = pg.QueryRow(query, args...).Scan(&n)
		return err == nil && n == 0
	}) {
		t.Errorf("still %d after %v (%v): %s", n, within, err, query)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startReplica starts a replica process on a free loopback port with dataDir and
// env (NAME=value) and kills it when the test ends, before the peers it writes
// to stop (they were started first).
func startReplica(t *testing.T, dataDir string, env ...string) *replicaProc {
	t.Helper()
	p := &replicaProc{addr: freeAddr(t), dataDir: dataDir}
	p.env = append(append([]string{}, env...), "STATEWARD_ADDR="+p.addr, "STATEWARD_DATA_DIR="+dataDir)
	t.Cleanup(p.kill)
	p.start(t)
	return p
}

// caller is teamAEditor's caller of the API.
type caller = func(method, url, body string, headers ...string) (int, string)

// applyYAML applies a folder's YAML to the team at api (its /api/v1/tenants/SLUG).
func applyYAML(t *testing.T, call caller, api, yaml string) {
	t.Helper()
	if code, body := call(http.MethodPost, api+"/apply", yaml); code != 200 {
		t.Fatalf("apply: %d %s", code, body)
	}
}

// newHook creates a trigger (its JSON) for the team at api and returns its path,
// "/hooks/…", to post to on any replica.
func newHook(t *testing.T, call caller, api, trigger string) string {
	t.Helper()
	var trig struct {
		URL string `json:"url"`
	}
	if code, body := call(http.MethodPost, api+"/triggers", trigger); code != http.StatusCreated || json.Unmarshal([]byte(body), &trig) != nil {
		t.Fatalf("trigger: %d %s", code, body)
	}
	return trig.URL[strings.Index(trig.URL, "/hooks/"):]
}

// workJSON is a Work of promise redis for resource default/name, placed by the
// label to, with one file cm.yaml holding content.
func workJSON(name, to, content string) string {
	return fmt.Sprintf(`{"promise":"redis","resource":{"namespace":"default","name":%q},"destinationSelectors":{"to":%q},
"files":[{"path":"cm.yaml","content":%q}]}`, name, to, content)
}

// redisFile is where workJSON's file lands under a Destination at path dev of a
// store whose root is root ("gitops" in Git, "clusters" in a bucket).
func redisFile(root, name string) string {
	return root + "/dev/resources/default/redis/" + name + "/5058f/cm.yaml"
}
