package testpeers

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc's CPU times (USER_HZ: 100 on Linux).
const clockTick = 10 * time.Millisecond

// CPUTime is the CPU time PostgreSQL's processes have used so far: the
// postmaster's own, that of its live children (the backends, the checkpointer,
// …), and that of the children it has reaped. Read from /proc; the difference
// of two readings is what the cluster spent between them (a backend that exits
// between the readings counts only once its postmaster has reaped it).
func (s *PostgresServer) CPUTime() (time.Duration, error) {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0, fmt.Errorf("testpeers: PostgreSQL is not running")
	}
	pid := s.cmd.Process.Pid
	total, err := procCPU(pid, true)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if ppid, err := procParent(child); err != nil || ppid != pid {
			continue
		}
		t, err := procCPU(child, false)
		if err != nil {
			continue // exited meanwhile: counted with the postmaster once reaped
		}
		total += t
	}
	return total, nil
}

// ChildrenCPUTime is the CPU time of this process's reaped children so far (the
// git http-backend and git processes a test ran, …).
func ChildrenCPUTime() time.Duration { return rusageCPU(syscall.RUSAGE_CHILDREN) }

// SelfCPUTime is the CPU time of this process so far.
func SelfCPUTime() time.Duration { return rusageCPU(syscall.RUSAGE_SELF) }

// rusageCPU is user plus system time of getrusage(who); 0 if it fails.
func rusageCPU(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStat returns the fields of /proc/pid/stat after the command's name.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("testpeers: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return nil, fmt.Errorf("testpeers: /proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

func procParent(pid int) (int, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1]) // field 4, ppid
}

// procCPU is utime+stime of pid, and with reaped its cutime+cstime too.
func procCPU(pid int, reaped bool) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	// Fields 14–17 (utime, stime, cutime, cstime) are f[11]–f[14].
	n := 2
	if reaped {
		n = 4
	}
	var ticks int64
	for _, v := range f[11 : 11+n] {
		t, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("testpeers: /proc/%d/stat: %w", pid, err)
		}
		ticks += t
	}
	return time.Duration(ticks) * clockTick, nil
}
