package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pprofFile is added to package main of cmd/stateward at build time (go build
// -overlay), never to the repository: with SWBENCH_PPROF_ADDR set, the binary
// serves net/http/pprof there, so that swbench can read the server's heap.
const pprofFile = `package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("SWBENCH_PPROF_ADDR"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, http.DefaultServeMux) }()
	}
}
`

// overlayPprof writes the overlay that adds pprofFile to cmd/stateward and
// returns the -overlay argument.
func overlayPprof(dir string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "bin", "swbench_pprof.go")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(src, []byte(pprofFile), 0o644); err != nil {
		return "", err
	}
	b, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(wd, "cmd", "stateward", "swbench_pprof.go"): src}})
	overlay := filepath.Join(dir, "bin", "overlay.json")
	return "-overlay=" + overlay, os.WriteFile(overlay, b, 0o644)
}

// heapTop prints the largest in-use allocations of the server's heap.
func heapTop(ctx context.Context, addr string, out io.Writer) {
	var b bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=25", "http://"+addr+"/debug/pprof/heap")
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(out, "heap profile: %v\n%s", err, b.String())
		return
	}
	fmt.Fprintln(out, "heap of the server (in use):")
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "Fetching") && !strings.HasPrefix(line, "Saved") {
			fmt.Fprintln(out, "  "+line)
		}
	}
}

// cpuProfile records the server's CPU profile of the first seconds of what
// into file; wait returns once it is written, then prints the functions that
// took the most, then including their callees (modes: pprof's "-top", "-top
// -cum"; none prints only where the profile is).
func cpuProfile(ctx context.Context, addr, file, what string, seconds int, modes ...string) (wait func(out io.Writer)) {
	done := make(chan error, 1)
	go func() {
		cmd := exec.CommandContext(ctx, "curl", "-sS", "-o", file, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds))
		done <- cmd.Run()
	}()
	return func(out io.Writer) {
		if err := <-done; err != nil {
			fmt.Fprintf(out, "CPU profile: %v\n", err)
			return
		}
		if len(modes) == 0 {
			fmt.Fprintf(out, "CPU profile of the server, first %d s of %s: %s\n", seconds, what, file)
		}
		for _, mode := range modes {
			var b bytes.Buffer
			args := append([]string{"tool", "pprof"}, strings.Fields(mode)...)
			cmd := exec.CommandContext(ctx, "go", append(args, "-nodecount=35", file)...)
			cmd.Stdout, cmd.Stderr = &b, &b
			_ = cmd.Run()
			fmt.Fprintf(out, "CPU profile of the server, first %d s of %s (%s, pprof %s):\n", seconds, what, file, mode)
			for _, line := range strings.Split(b.String(), "\n") {
				if strings.TrimSpace(line) != "" {
					fmt.Fprintln(out, "  "+line)
				}
			}
		}
	}
}
