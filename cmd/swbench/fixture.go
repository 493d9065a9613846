package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fixture is the state of a fixture directory, kept in dir/fixture.json so that a
// second run finds what the first built and goes on from there.
type fixture struct {
	Teams        int    `json:"teams"`
	Destinations int    `json:"destinations"` // in all, Destinations per team = Destinations/Teams
	Stores       int    `json:"stores"`       // in all, Git stores per team = Stores/Teams
	DB           string `json:"db"`           // sqlite or postgres
	Kind         string `json:"kind"`         // git or bucket stores
	GitAddr      string `json:"git_addr"`     // the stores' URLs name it: it must not change
	// SecretKey is STATEWARD_SECRET_KEY on PostgreSQL (SQLite: the key file in
	// the data dir).
	SecretKey string            `json:"secret_key,omitempty"`
	ServeAddr string            `json:"serve_addr"`
	Tokens    map[string]string `json:"tokens"`    // team slug → editor API token
	Applied   bool              `json:"applied"`   // stores and Destinations of every team
	Submitted int               `json:"submitted"` // Works 0..Submitted-1 were answered 202
	Written   int               `json:"written"`   // Works 0..Written-1 were all written
	Build     []buildStep       `json:"build"`     // how long each part of the build took
	Probes    int               `json:"probes"`    // unscheduled Works sent by accept-path measurements
	// MinIO (-kind bucket): its address, the counting proxy's (the stores'
	// endpoint) and the root credentials.
	MinIOAddr, StoreAddr, MinIOUser, MinIOPassword string

	path string
}

// buildStep is one stretch of submitting and writing, for the build rate.
type buildStep struct {
	From, To   int
	Clients    int     `json:"clients"`
	SubmitSecs float64 `json:"submit_secs"`  // submitting From..To-1
	DrainSecs  float64 `json:"drain_secs"`   // after the last submit, until all written
	At         string  `json:"at"`           // when it ended (RFC 3339)
	LoadAvg    string  `json:"load_average"` // /proc/loadavg when it ended
}

// loadFixture reads dir/fixture.json, or starts a new fixture with want's shape.
func loadFixture(dir string, want fixture) (*fixture, error) {
	f := &fixture{path: filepath.Join(dir, "fixture.json")}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		want.path, want.Tokens = f.path, map[string]string{}
		return &want, want.save()
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	if f.Kind == "" {
		f.Kind = "git" // fixtures from before -kind
	}
	if f.Teams != want.Teams || f.Destinations != want.Destinations || f.Stores != want.Stores || f.DB != want.DB || f.Kind != want.Kind {
		return nil, fmt.Errorf("%s holds a fixture of %d teams, %d Destinations, %d %s stores on %s; "+
			"use the same flags or another -dir", dir, f.Teams, f.Destinations, f.Stores, f.Kind, f.DB)
	}
	return f, nil
}

func (f *fixture) save() error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, f.path)
}

func (f *fixture) destsPerTeam() int  { return f.Destinations / f.Teams }
func (f *fixture) storesPerTeam() int { return f.Stores / f.Teams }

func team(t int) string { return fmt.Sprintf("team-%03d", t) }

// repoName is the bare repository of store s of team t.
func repoName(t, s int) string { return fmt.Sprintf("t%03d-s%d.git", t, s) }

// probeTeam receives the accept-path measurements' Works; it has no stores.
const probeTeam = "probe"

// benchEmail owns every team; the dashboard is measured signed in as them.
const benchEmail = "bench@example.com"

// work i of the fixture: team i%Teams, the team's (i/Teams)th Work, a resource
// request with one file for the Destination whose cluster label it selects.
// A Work's identity and content depend on i alone, so the fixture can grow.
func (f *fixture) work(i int) (string, []byte) {
	t, k := i%f.Teams, i/f.Teams
	d := k % f.destsPerTeam()
	body := map[string]any{
		"promise":              "app",
		"resource":             map[string]string{"namespace": fmt.Sprintf("ns-%02d", k%50), "name": fmt.Sprintf("r-%07d", k)},
		"destinationSelectors": map[string]string{"cluster": fmt.Sprintf("c%d", d)},
		"files": []map[string]string{{"path": "app.yaml", "content": fmt.Sprintf(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r-%07d\n  namespace: ns-%02d\ndata:\n  team: %s\n  index: \"%d\"\n",
			k, k%50, team(t), k)}},
	}
	b, _ := json.Marshal(body)
	return team(t), b
}

// bucketName is the bucket of store s of team t.
func bucketName(t, s int) string { return fmt.Sprintf("t%03d-s%d", t, s) }

// storeName is the name of a team's store s, also in the dashboard's store URL.
func (f *fixture) storeName(s int) string { return fmt.Sprintf("%s-%d", f.Kind, s) }

// storesYAML is a team's stores and Destinations: Destination d (label
// cluster=c<d>, path d<d>) on store d*stores/dests.
func (f *fixture) storesYAML(t int, git *gitServer) string {
	var b strings.Builder
	kind := "GitStateStore"
	for s := range f.storesPerTeam() {
		if f.Kind == "bucket" {
			kind = "BucketStateStore"
			fmt.Fprintf(&b, "apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata: {name: %s}\n"+
				"spec: {endpoint: %q, bucketName: %s, insecure: true, secretRef: {name: s3}}\n---\n", f.storeName(s), f.StoreAddr, bucketName(t, s))
			continue
		}
		fmt.Fprintf(&b, "apiVersion: platform.kratix.io/v1alpha1\nkind: GitStateStore\nmetadata: {name: %s}\n"+
			"spec: {url: %q, branch: main, authMethod: none, insecure: true}\n---\n", f.storeName(s), git.url(repoName(t, s)))
	}
	if f.Kind == "bucket" {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata: {name: s3}\nstringData: {accessKeyID: %s, secretAccessKey: %q}\n---\n",
			f.MinIOUser, f.MinIOPassword)
	}
	for d := range f.destsPerTeam() {
		fmt.Fprintf(&b, "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: d%d, labels: {cluster: c%d}}\n"+
			"spec: {path: d%d, stateStoreRef: {kind: %s, name: %s}}\n---\n", d, d, d, kind, f.storeName(d*f.storesPerTeam()/f.destsPerTeam()))
	}
	return b.String()
}

// ensureTeams creates every team, its editor token, its repositories, stores
// and Destinations, skipping what the fixture already holds.
func (f *fixture) ensureTeams(ctx context.Context, bin string, env []string, s *server, git *gitServer, m *minioServer, out io.Writer) error {
	for t := range f.Teams + 1 {
		slug := probeTeam
		if t < f.Teams {
			slug = team(t)
			for r := range f.storesPerTeam() {
				var err error
				if m != nil {
					err = m.ensureBucket(ctx, bucketName(t, r))
				} else {
					err = createRepo(git.root, repoName(t, r))
				}
				if err != nil {
					return err
				}
			}
		}
		if f.Tokens[slug] != "" {
			continue
		}
		if _, err := cli(ctx, bin, env, "tenant", "create", slug, "--owner", benchEmail); err != nil &&
			!strings.Contains(err.Error(), "exists") {
			return err
		}
		tok, err := cli(ctx, bin, env, "token", "create", "--tenant", slug, "--role", "editor", "--name", "swbench")
		if err != nil {
			return err
		}
		f.Tokens[slug] = strings.TrimSpace(tok)
		if err := f.save(); err != nil {
			return err
		}
		if t%10 == 9 {
			fmt.Fprintf(out, "teams: %d of %d created\n", t+1, f.Teams)
		}
	}
	if f.Applied {
		return nil
	}
	for t := range f.Teams {
		code, body, err := api(ctx, s.base, team(t), f.Tokens[team(t)], http.MethodPost, "/apply", "application/yaml", []byte(f.storesYAML(t, git)))
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("apply for %s: %d %s", team(t), code, body)
		}
	}
	f.Applied = true
	fmt.Fprintf(out, "stores and Destinations applied: %d %s stores, %d Destinations\n", f.Stores, f.Kind, f.Destinations)
	return f.save()
}

// cli runs a stateward command on the fixture's database.
func cli(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("stateward %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// apiClient keeps connections across the many calls of the build.
var apiClient = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// api sends one request to a team's JSON API with its token.
func api(ctx context.Context, base, slug, token, method, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+"/api/v1/tenants/"+slug+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// submitWorks sends Works from..to-1 through the API with clients callers in
// parallel, each answered 202 once durable.
func (f *fixture) submitWorks(ctx context.Context, base string, from, to, clients int) error {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				slug, body := f.work(i)
				if err := submitOne(ctx, base, slug, f.Tokens[slug], body); err != nil {
					errc <- fmt.Errorf("work %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	return ctx.Err()
}

// submitOne posts a Work and retries a 503 (the database busy) after its
// Retry-After, as a client should.
func submitOne(ctx context.Context, base, slug, token string, body []byte) error {
	for attempt := 0; ; attempt++ {
		code, answer, err := api(ctx, base, slug, token, http.MethodPost, "/works", "application/json", body)
		if err != nil {
			return err
		}
		switch {
		case code == http.StatusAccepted:
			return nil
		case code == http.StatusServiceUnavailable && attempt < 10:
			time.Sleep(time.Second) // the server asked to come back later
		default:
			return fmt.Errorf("%d %s", code, answer)
		}
	}
}

// waitWritten polls /metrics until no placement is pending, writing or retrying
// and no job is queued or running, printing progress every 10 s.
func waitWritten(ctx context.Context, s *server, out io.Writer) error {
	last := time.Now()
	for {
		var open float64
		for _, st := range []string{"pending", "writing", "retrying"} {
			n, err := s.metric("stateward_placements", `state="`+st+`"`)
			if err != nil {
				return err
			}
			open += n
		}
		q, err := s.metric("stateward_jobs_queued")
		if err != nil {
			return err
		}
		r, err := s.metric("stateward_jobs_running")
		if err != nil {
			return err
		}
		failed, err := s.metric("stateward_placements", `state="failed"`)
		if err != nil {
			return err
		}
		if failed > 0 {
			return fmt.Errorf("%v placements failed: see the server's log", failed)
		}
		if open == 0 && q == 0 && r == 0 {
			return nil
		}
		if time.Since(last) > 10*time.Second {
			fmt.Fprintf(out, "  waiting for the writers: %v placements not written, %v jobs queued, %v running\n", open, q, r)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
