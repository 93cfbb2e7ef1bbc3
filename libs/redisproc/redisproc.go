// Package redisproc runs a real redis-server as a child process on a free
// loopback port: the embedded default of `emtm run` and the Redis of every
// integration test. It never fakes Redis.
package redisproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emtm/emtm/libs/dirlock"
	"github.com/emtm/emtm/libs/syncbuf"
)

// InstallHint tells a person how to get redis-server.
const InstallHint = "install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu), " +
	"or point emtm at an existing Redis with EMTM_REDIS_URL"

// ErrNotInstalled is returned when no redis-server binary is found.
var ErrNotInstalled = errors.New("redis-server not found on PATH: " + InstallHint)

// Options configure the child process.
type Options struct {
	// Dir holds the data files (AOF); it must be set.
	Dir string
	// Binary is the redis-server path; empty looks it up on PATH.
	Binary string
	// AppendOnly turns on the AOF with appendfsync everysec (durable mode).
	AppendOnly bool
	// FsyncAlways makes the AOF fsync every write before answering
	// (appendfsync always): a crash loses nothing that was acknowledged.
	FsyncAlways bool
	// Port: 0 picks a free one; a restart passes the port it had.
	Port int
	// Log receives the server's output; nil discards it.
	Log io.Writer
	// Say receives messages for the person running emtm (an orphaned server
	// stopped); nil discards them.
	Say func(string)
	// ClusterPort > 0 starts the server in cluster mode, its cluster bus on
	// this port (StartCluster joins such servers into a Redis Cluster).
	ClusterPort int
}

// Server is a running redis-server.
type Server struct {
	Addr string // host:port on loopback
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
	out  *syncbuf.Buffer
	lock *dirlock.Lock // the data directory's lock, held while the server runs
	dir  string
}

// URL is the go-redis URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// LookPath finds redis-server, or returns ErrNotInstalled.
func LookPath(binary string) (string, error) {
	if binary == "" {
		binary = "redis-server"
	}
	p, err := exec.LookPath(binary)
	if err != nil {
		return "", ErrNotInstalled
	}
	return p, nil
}

// EnsureInstalled finds redis-server; when it is missing and the process runs as
// root on a machine with apt-get, it installs the Debian package, reporting to out.
func EnsureInstalled(ctx context.Context, out io.Writer) (string, error) {
	if p, err := LookPath(""); err == nil {
		return p, nil
	}
	apt, aptErr := exec.LookPath("apt-get")
	if os.Geteuid() != 0 || aptErr != nil {
		return "", ErrNotInstalled
	}
	fmt.Fprintln(out, "redis-server is missing; installing it with apt-get (running as root)...")
	install := func() error {
		c := exec.CommandContext(ctx, apt, "install", "-y", "--no-install-recommends", "redis-server")
		c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		c.Stdout, c.Stderr = out, out
		return c.Run()
	}
	if err := install(); err != nil {
		upd := exec.CommandContext(ctx, apt, "update")
		upd.Stdout, upd.Stderr = out, out
		if uerr := upd.Run(); uerr != nil {
			return "", fmt.Errorf("apt-get update failed (%v); %s", uerr, InstallHint)
		}
		if err := install(); err != nil {
			return "", fmt.Errorf("apt-get install redis-server failed (%v); %s", err, InstallHint)
		}
	}
	return LookPath("")
}

// Start launches redis-server on a free loopback port and waits until it answers PING.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("redisproc: Dir is required")
	}
	bin, err := LookPath(o.Binary)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("redisproc: data dir: %w", err)
	}
	lock, err := claim(o.Dir)
	if err != nil {
		return nil, err
	}
	say := o.Say
	if say == nil {
		say = func(string) {}
	}
	if err := stopOrphan(o.Dir, say); err != nil {
		lock.Release()
		return nil, err
	}
	s, err := startPort(ctx, bin, o)
	if err != nil {
		lock.Release()
		return nil, err
	}
	s.lock, s.dir = lock, o.Dir
	if err := os.WriteFile(filepath.Join(o.Dir, pidName), []byte(strconv.Itoa(s.cmd.Process.Pid)+"\n"), 0o600); err != nil {
		s.Stop()
		return nil, fmt.Errorf("redisproc: record the server's pid: %w", err)
	}
	return s, nil
}

func startPort(ctx context.Context, bin string, o Options) (*Server, error) {
	if o.Port != 0 {
		return start(ctx, bin, o.Port, o)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := start(ctx, bin, port, o)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(ctx context.Context, bin string, port int, o Options) (*Server, error) {
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--dir", o.Dir,
		"--save", "",
		"--protected-mode", "yes",
		"--daemonize", "no",
		"--loglevel", "warning",
	}
	switch {
	case o.FsyncAlways:
		// Redis persistence docs: appendfsync always fsyncs every write before answering.
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	case o.AppendOnly:
		// Redis persistence docs: appendfsync everysec loses at most one second on a crash.
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
	default:
		args = append(args, "--appendonly", "no")
	}
	if o.ClusterPort > 0 {
		args = append(args, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(o.ClusterPort),
			"--cluster-config-file", filepath.Join(o.Dir, "nodes.conf"), "--cluster-node-timeout", "2000")
	}
	cmd := exec.Command(bin, args...)
	out := &syncbuf.Buffer{Limit: 64 << 10}
	var w io.Writer = out
	if o.Log != nil {
		w = io.MultiWriter(out, o.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redisproc: start %s: %w", bin, err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, done: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("redisproc: redis-server exited at start: %s", strings.TrimSpace(out.String()))
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		default:
		}
		if ping(s.Addr) {
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("redisproc: redis-server did not answer PING within 10s: %s", strings.TrimSpace(out.String()))
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 5s) and waits for it.
func (s *Server) Stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		s.disown()
	})
}

// disown removes the pid file and releases the directory once the server has exited.
func (s *Server) disown() {
	if s.dir != "" {
		_ = os.Remove(filepath.Join(s.dir, pidName))
	}
	s.lock.Release()
}

// Kill stops the server abruptly (kill -9), as a crash would.
func (s *Server) Kill() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		s.disown()
	})
}

// String describes the server without secrets.
func (s *Server) String() string { return "redis-server at " + s.Addr }

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, _ := io.ReadAtLeast(c, buf, 7)
	return bytes.HasPrefix(buf[:n], []byte("+PONG"))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redisproc: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
