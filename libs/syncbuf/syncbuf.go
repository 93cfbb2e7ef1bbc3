// Package syncbuf is a buffer that several goroutines or processes' output
// pipes may write at once: what a child process or a set of services logged,
// kept for an error message or a test to read.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer collects writes under a lock. With Limit > 0 it keeps what arrives
// until it holds Limit bytes and then drops the rest, still reporting every
// write as done so that the writer never fails.
type Buffer struct {
	Limit int
	mu    sync.Mutex
	b     bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Limit > 0 && b.b.Len() >= b.Limit {
		return len(p), nil
	}
	return b.b.Write(p)
}

// String is what was kept.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
