package redisproc

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestMissingBinarySaysWhatToInstall(t *testing.T) {
	_, err := LookPath("redis-server-that-does-not-exist")
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get install -y redis-server") {
		t.Fatalf("got %v", err)
	}
	if _, err := Start(context.Background(), Options{Dir: t.TempDir(), Binary: "redis-server-that-does-not-exist"}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start with a missing binary: %v", err)
	}
}

func TestStartServesAndStops(t *testing.T) {
	if _, err := LookPath(""); err != nil {
		t.Fatal(err) // .ci/run installs redis-server; a developer machine needs it too
	}
	s, err := Start(context.Background(), Options{Dir: t.TempDir(), AppendOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !ping(s.Addr) {
		t.Fatal("no PONG")
	}
	s.Stop()
	if ping(s.Addr) {
		t.Fatal("still answering after Stop")
	}
}
