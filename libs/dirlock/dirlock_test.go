package dirlock

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestADirectoryHasOneOwnerAtATime(t *testing.T) {
	dir := t.TempDir()
	l, err := Take(dir, "x.lock", "its servers")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Take(dir, "x.lock", "its servers")
	if err == nil || !strings.Contains(err.Error(), "in use by another emtm (pid "+strconv.Itoa(os.Getpid())+") running its servers") {
		t.Fatalf("a second owner: %v", err)
	}
	l.Release()
	l2, err := Take(dir, "x.lock", "its servers")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
	l2.Release() // twice is harmless
}
