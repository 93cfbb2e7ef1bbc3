package redisproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
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

func TestASecondStartOnTheSameDirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, err := Start(context.Background(), Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use by another emtm (pid ") {
		t.Fatalf("a second server on the same directory: %v", err)
	}
	s.Stop()
	s2, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatalf("a start after the first stopped: %v", err)
	}
	s2.Stop()
}

func TestAServerLeftByADeadOwnerIsStoppedBeforeANewOneStarts(t *testing.T) {
	dir := t.TempDir()
	orphan, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(orphan.Kill)
	orphan.lock.Release() // its owner died; the server did not
	var said []string
	s, err := Start(context.Background(), Options{Dir: dir, Say: func(m string) { said = append(said, m) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	select {
	case <-orphan.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the orphaned redis-server still runs")
	}
	if len(said) != 1 || !strings.Contains(said[0], "left running") || !ping(s.Addr) {
		t.Fatalf("said %q; new server answers %v", said, ping(s.Addr))
	}
}

// TestTheServerDiesWithItsOwner: the owner is killed -9 (a child test
// process); its redis-server does not outlive it.
func TestTheServerDiesWithItsOwner(t *testing.T) {
	if os.Getenv("REDISPROC_OWNER_DIR") != "" {
		s, err := Start(context.Background(), Options{Dir: os.Getenv("REDISPROC_OWNER_DIR")})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("pid", s.cmd.Process.Pid)
		time.Sleep(time.Minute) // killed before this ends
		os.Exit(0)
	}
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's; elsewhere the next start stops an orphan (tested above)")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTheServerDiesWithItsOwner$")
	cmd.Env = append(os.Environ(), "REDISPROC_OWNER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "pid %d", &pid); err == nil {
			break
		}
		t.Logf("owner: %s", sc.Text())
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		t.Fatal("the owner did not start a redis-server")
	}
	_ = cmd.Process.Kill() // kill -9
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("redis-server (pid %d) outlived its owner by 10s", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And the next start on the directory is not refused.
	s, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatalf("start after the owner died: %v", err)
	}
	s.Stop()
}
