package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	var all Buffer
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				if n, err := all.Write([]byte("line\n")); n != 5 || err != nil {
					t.Errorf("write: %d %v", n, err)
				}
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(all.String(), "line\n"); got != 800 {
		t.Fatalf("kept %d lines, want 800", got)
	}
	limited := Buffer{Limit: 12}
	for i := 0; i < 5; i++ {
		if n, err := limited.Write([]byte("abcde")); n != 5 || err != nil {
			t.Fatalf("write past the limit: %d %v", n, err)
		}
	}
	if got := limited.String(); got != "abcdeabcdeabcde" {
		t.Fatalf("kept %q: writes are kept until the limit is reached", got)
	}
}
