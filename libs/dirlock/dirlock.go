// Package dirlock gives a data directory one owner: an exclusive lock on a
// file in it, held while the owner runs and released by the kernel when the
// owner dies, even by kill -9. The file records the owner's pid so that a
// refused start can say who holds the directory.
package dirlock

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Lock is a held directory lock.
type Lock struct{ f *os.File }

// Take locks dir/name for what (e.g. "emtm", "its redis-server"), or returns
// an error naming the pid that holds it.
func Take(dir, name, what string) (*Lock, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the data directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		_ = f.Close()
		holder := strings.TrimSpace(string(b[:n]))
		if holder == "" {
			holder = "unknown"
		}
		return nil, fmt.Errorf("the data directory %s is in use by another emtm (pid %s) running %s: stop it first, or use another data directory", dir, holder, what)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f}, nil
}

// Release drops the lock (the file stays; its content is informational).
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		_ = l.f.Close()
		l.f = nil
	}
}
