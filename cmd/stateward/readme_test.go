package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeSession returns the shell blocks of README.md's "A first session" section,
// in order, exactly as a reader would paste them.
func readmeSession(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	i := strings.Index(text, "## A first session")
	if i < 0 {
		t.Fatal("README.md has no section \"A first session\"")
	}
	text = text[i:]
	if j := strings.Index(text[3:], "\n## "); j >= 0 {
		text = text[:j+3]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text, -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) < 4 {
		t.Fatalf("found %d sh blocks in the first session, want at least 4", len(blocks))
	}
	return blocks
}

// TestReadmeFirstSessionRunsAsWritten runs every command of the README's first
// session with bash against a running server, changing only what a test must: the
// binary (built here instead of go run), the port and the repository's location. It
// then checks what the reader is told to expect: real paths in the dry run, the
// Work's commit in the bare repository, and the webhook's Work written too.
func TestReadmeFirstSessionRunsAsWritten(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "openssl", "git", "grep", "sed", "cut"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's first session needs %s: install it (apt-get install %s)", tool, tool)
		}
	}
	in := start(t)
	bin := filepath.Join(t.TempDir(), "stateward")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	repo := filepath.Join(t.TempDir(), "stateward-gitops.git")
	work := t.TempDir()
	script := strings.Join(readmeSession(t), "\n")
	script = strings.NewReplacer(
		"go run ./cmd/stateward", bin,
		"http://127.0.0.1:8080", in.URL,
		"/tmp/stateward-gitops.git", repo,
	).Replace(script)

	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "STATEWARD_DATA_DIR="+in.DataDir)
	out, err := cmd.CombinedOutput()
	t.Logf("session output:\n%s", out)
	if err != nil {
		t.Fatalf("the first session failed: %v", err)
	}
	for _, want := range []string{
		`"ready": true`,
		`"dryRun": true`,
		`"field": "spec.path"`,
		`"destinations/dev/resources/default/redis/my-request/5058f/redis.yaml"`,
		`"paths":["destinations/dev/resources/default/redis/from-ci/5058f/redis.yaml"]`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the session's output lacks %s", want)
		}
	}
	if strings.Contains(string(out), `"placements": []`) || regexp.MustCompile(`"error": ?"[^"]`).Match(out) {
		t.Errorf("the session placed nothing or answered an error")
	}
	// Both Works land in the bare repository (the writers run in the background).
	deadline := time.Now().Add(30 * time.Second)
	for {
		files, _ := exec.Command("git", "--git-dir", repo, "ls-tree", "-r", "--name-only", "main").Output()
		if strings.Contains(string(files), "my-request/5058f/redis.yaml") && strings.Contains(string(files), "from-ci/5058f/redis.yaml") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("files on main after 30 s:\n%s", files)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
