package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// perfRecord is perf(1) sampling the server's stacks (Go binaries carry their
// symbols, so perf names the functions).
type perfRecord struct {
	cmd  *exec.Cmd
	file string
}

func startPerf(pid int, file string) (*perfRecord, error) {
	cmd := exec.Command("perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", file)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf record (apt-get install -y linux-perf): %w", err)
	}
	return &perfRecord{cmd: cmd, file: file}, nil
}

// stop ends the recording and prints the functions that took the most samples
// (self time) and the most including their callees.
func (p *perfRecord) stop(out io.Writer) {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	_ = p.cmd.Wait()
	for _, mode := range []string{"--no-children", "--children"} {
		var b bytes.Buffer
		cmd := exec.Command("perf", "report", "-i", p.file, "--stdio", mode, "--sort", "symbol", "-g", "none", "--percent-limit", "1.5")
		cmd.Stdout, cmd.Stderr = &b, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(out, "perf report: %v\n", err)
			return
		}
		fmt.Fprintf(out, "perf report %s (the server during the re-assert, %s), top 25:\n", mode, p.file)
		n := 0
		for _, line := range strings.Split(b.String(), "\n") {
			if line = strings.TrimSpace(strings.TrimRight(line, " -")); line == "" || strings.HasPrefix(line, "#") || n == 25 {
				continue
			}
			fmt.Fprintln(out, "  "+strings.Join(strings.Fields(line), " "))
			n++
		}
	}
}
