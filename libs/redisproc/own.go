package redisproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emtm/emtm/libs/dirlock"
)

// A data directory has one owner. The emtm process that starts redis-server
// holds an exclusive lock on <dir>/emtm-redis.lock for the server's life, and
// records the server's pid in <dir>/redis-server.pid. A second start on the
// same directory while the owner lives is refused; a redis-server left
// running by an owner that died (kill -9 where the kernel's parent-death
// signal did not reach it) is found by its pid file and stopped before a new
// one starts, so two servers never write one directory.
const (
	lockName = "emtm-redis.lock"
	pidName  = "redis-server.pid"
)

func claim(dir string) (*dirlock.Lock, error) {
	l, err := dirlock.Take(dir, lockName, "its redis-server")
	if err != nil {
		return nil, fmt.Errorf("redisproc: %w", err)
	}
	return l, nil
}

// stopOrphan stops a redis-server whose pid the directory records and that
// still runs (its owner died). It reports what it did to say.
func stopOrphan(dir string, say func(string)) error {
	b, err := os.ReadFile(filepath.Join(dir, pidName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("redisproc: read %s: %w", pidName, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || !alive(pid) || !isRedis(pid) {
		_ = os.Remove(filepath.Join(dir, pidName))
		return nil
	}
	say(fmt.Sprintf("a redis-server (pid %d) left running on %s by an emtm that stopped abruptly: stopping it before starting another", pid, dir))
	_ = syscall.Kill(pid, syscall.SIGTERM) // redis-server writes its AOF and exits
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !alive(pid) {
			_ = os.Remove(filepath.Join(dir, pidName))
			return nil
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !alive(pid) {
			_ = os.Remove(filepath.Join(dir, pidName))
			return nil
		}
	}
	return fmt.Errorf("redisproc: the redis-server (pid %d) left on %s does not stop; stop it by hand (kill %d)", pid, dir, pid)
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A zombie (exited, not yet reaped by its parent) is not running.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return false
		}
	}
	return true
}

// isRedis checks the process's command line where /proc exists (elsewhere it
// trusts the pid file).
func isRedis(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return !dirExists("/proc")
	}
	return strings.Contains(string(b), "redis-server")
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
