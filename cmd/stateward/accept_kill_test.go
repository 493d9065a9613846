package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/stateward/stateward/testpeers"
)

// TestAcceptedSurvivesKill9OnSQLite: on the embedded default (SQLite, group
// commit, checkpoints beside the commits), 32 webhook callers pour distinct Works
// at one `stateward serve` while its writers drain them to MinIO, and the process
// is killed with SIGKILL mid-stream. Every Work answered 202 is in the database
// afterwards, and once the server is started again every one of them is in the
// bucket with its content: a 202 means durable, and accepted means written.
func TestAcceptedSurvivesKill9OnSQLite(t *testing.T) {
	s3 := testpeers.MinIO(t)
	bucket := s3.NewBucket(t)
	dataDir := t.TempDir()
	call := teamAEditor(t, map[string]string{"STATEWARD_DATA_DIR": dataDir, "STATEWARD_SECRET_KEY": testKey})
	p := startReplica(t, dataDir, "STATEWARD_SECRET_KEY="+testKey, "STATEWARD_ALLOW_PRIVATE_ENDPOINTS=true")
	api := p.url() + "/api/v1/tenants/team-a"
	applyYAML(t, call, api, s3.StoreYAML(bucket)+`apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {to: s3}}
spec: {path: dev, stateStoreRef: {kind: BucketStateStore, name: minio}}
`)
	hook := p.url() + newHook(t, call, api, `{"name": "ci", "requireSignature": false}`)

	var next atomic.Int64
	var mu sync.Mutex
	accepted := map[string]string{} // resource name → content
	var wg sync.WaitGroup
	// The kill comes in the middle of the stream: once 600 Works were accepted.
	const killAfter = 600
	enough := make(chan struct{})
	var enoughOnce sync.Once
	stopAt := time.Now().Add(2 * time.Minute) // a server that never dies
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	for range 32 {
		wg.Go(func() {
			for time.Now().Before(stopAt) {
				i := next.Add(1)
				name, content := fmt.Sprintf("w-%05d", i), fmt.Sprintf("n: %d\n", i)
				resp, err := client.Post(hook, "application/json", strings.NewReader(workJSON(name, "s3", content)))
				if err != nil {
					return // the server is gone
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusAccepted:
					mu.Lock()
					accepted[name] = content
					if len(accepted) >= killAfter {
						enoughOnce.Do(func() { close(enough) })
					}
					mu.Unlock()
				case http.StatusServiceUnavailable, http.StatusTooManyRequests: // busy: the client may try again
				default:
					t.Errorf("Work %s: answered %d", name, resp.StatusCode)
				}
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(time.Minute):
		t.Errorf("fewer than %d Works accepted within a minute", killAfter)
	}
	p.kill()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(accepted) < 500 {
		t.Fatalf("only %d Works accepted before the kill; the test needs a stream", len(accepted))
	}

	// Every 202 is in the database the killed process left behind.
	dbh, err := sql.Open("sqlite3", "file:"+filepath.Join(dataDir, "stateward.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	rows, err := dbh.Query(`SELECT res_name FROM works`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		stored[n] = true
	}
	rows.Close()
	dbh.Close()
	for name := range accepted {
		if !stored[name] {
			t.Errorf("Work %s was answered 202 but is not in the database after kill -9", name)
		}
	}

	// Started again, the server writes every accepted Work.
	p.start(t)
	var missing []string
	testpeers.Poll(2*time.Minute, 500*time.Millisecond, func() bool {
		missing = missing[:0]
		for name, content := range accepted {
			key := redisFile("clusters", name)
			obj, err := s3.Client().GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
			var got []byte
			if err == nil {
				got, err = io.ReadAll(obj)
				obj.Close()
			}
			if err != nil || string(got) != content {
				missing = append(missing, key)
			}
		}
		return len(missing) == 0
	})
	if len(missing) > 0 {
		t.Errorf("%d of %d accepted Works not written after the restart, e.g. %s", len(missing), len(accepted), missing[0])
	}
	t.Logf("%d Works accepted before the kill, all in the database and written after the restart", len(accepted))
}
