// Package testkit starts the real servers integration tests run against: an
// in-process nats-server with JetStream on a free port, and a real Redis —
// a container through testcontainers-go when a Docker engine answers, else a
// local redis-server on a free loopback port. When neither is possible the
// test fails and says what to install; it never skips silently.
package testkit

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/natsembed"
	"github.com/emtm/emtm/libs/redisproc"
)

// Env is a running test environment.
type Env struct {
	NATS     *server.Server
	NATSURL  string
	NC       *nats.Conn
	JS       jetstream.JetStream
	RedisURL string
	Redis    redis.UniversalClient
	// RedisKind says where Redis runs: "local" or "docker".
	RedisKind string
	natsDir   string
}

// Options adjust the environment.
type Options struct {
	// SyncAlways makes JetStream fsync before acknowledging (emtm's durable mode).
	SyncAlways bool
}

// Start starts NATS and Redis for t, creates emtm's streams, and stops
// everything when the test ends.
func Start(t testing.TB) *Env { return StartWith(t, Options{}) }

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Env {
	t.Helper()
	Integration(t)
	e := &Env{}
	e.startNATS(t, o)
	e.RedisURL, e.RedisKind = StartRedis(t)
	opt, err := redis.ParseURL(e.RedisURL)
	if err != nil {
		t.Fatalf("testkit: redis url: %v", err)
	}
	e.Redis = redis.NewClient(opt)
	t.Cleanup(func() { _ = e.Redis.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, e.JS, 1); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return e
}

func (e *Env) startNATS(t testing.TB, o Options) {
	t.Helper()
	e.natsDir = t.TempDir()
	ns, err := natsembed.Start(natsembed.Options{StoreDir: e.natsDir, SyncAlways: o.SyncAlways})
	if err != nil {
		t.Fatalf("testkit: start in-process NATS: %v", err)
	}
	e.NATS = ns
	e.NATSURL = ns.ClientURL()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect(e.NATSURL, nats.Name("testkit"))
	if err != nil {
		t.Fatalf("testkit: connect to NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	e.NC = nc
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testkit: jetstream: %v", err)
	}
	e.JS = js
}

// Integration marks t as an integration test (real servers, processes or a
// browser): `go test -short` (make test-short, the edit-test loop) skips it;
// make test runs it. Every starter of this package calls it.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (real servers): skipped with -short; make test runs it")
	}
}

// StartRedis starts a real Redis for t and returns its URL and kind.
// EMTM_TESTKIT_REDIS=local or =docker forces the choice.
func StartRedis(t testing.TB) (url, kind string) {
	t.Helper()
	Integration(t)
	mode := os.Getenv("EMTM_TESTKIT_REDIS")
	if mode == "docker" || (mode == "" && dockerAnswers()) {
		return startRedisContainer(t), "docker"
	}
	if _, err := redisproc.LookPath(""); err != nil {
		t.Fatalf("testkit: integration tests need a real Redis and none is available: %v; "+
			"or start a Docker engine, and testcontainers-go will run redis:7 (.ci/run installs redis-server)", err)
	}
	// Unix socket paths are limited to 108 bytes, so the data dir stays short.
	dir, err := os.MkdirTemp("", "emtm-redis-")
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rs, err := redisproc.Start(ctx, redisproc.Options{Dir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatalf("testkit: start redis-server: %v", err)
	}
	t.Cleanup(rs.Stop)
	return rs.URL(), "local"
}

// StartRedisCluster starts a Redis Cluster of three masters for t
// (redis-server processes in cluster mode on loopback ports, joined by
// redisproc.StartCluster) and returns its -redis-url: the masters' URLs,
// comma-separated.
func StartRedisCluster(t testing.TB) string {
	t.Helper()
	Integration(t)
	if _, err := redisproc.LookPath(""); err != nil {
		t.Fatalf("testkit: a Redis Cluster needs redis-server: %v", err)
	}
	dir, err := os.MkdirTemp("", "emtm-rc-")
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c, err := redisproc.StartCluster(ctx, dir, 3, redisproc.Options{})
	if err != nil {
		t.Fatalf("testkit: start a Redis Cluster: %v", err)
	}
	t.Cleanup(c.Stop)
	return c.URL()
}

// RedisClient starts a real Redis for t (StartRedis) and returns a client of
// it, closed when the test ends: for tests that need Redis alone.
func RedisClient(t testing.TB) redis.UniversalClient {
	t.Helper()
	url, _ := StartRedis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("testkit: redis url: %v", err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// FreePort is a TCP port free on loopback now (another process may take it
// before it is used; tests bind it at once).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is a free loopback address, 127.0.0.1:<FreePort>.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
