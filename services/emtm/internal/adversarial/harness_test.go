// Package adversarial replays, against emtm's five services running as
// processes with mTLS and least-privilege NATS users, every attack of issue
// 12's table (A1-A12), and checks each refusal and that nothing changed.
// `make test-adversarial` runs it; `make test` includes it.
package adversarial

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/natsembed"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/redisproc"
	"github.com/emtm/emtm/libs/syncbuf"
	"github.com/emtm/emtm/libs/testkit"
)

const (
	pharmacyA  = "1245319599"
	pharmacyB  = "1003000126"
	prescriber = "1234567893"
)

var services = []string{"ingestion", "risk-scoring", "intervention-scheduling", "prescriber-outreach", "payment-reconciliation"}

// binaries builds the five services and emtm once per test binary.
func binaries(t *testing.T) string {
	t.Helper()
	return testkit.Binaries(t, testkit.ServicePackages("emtm"))
}

// system is NATS with a user per service, pharmacy and feed (in process),
// redis-server, and the five services as processes serving gRPC over mTLS.
type system struct {
	t         *testing.T
	dir       string
	ns        *server.Server
	natsURL   string // without credentials
	passwords map[string]string
	rs        *redisproc.Server
	rdb       *redis.Client
	certs     grpcx.DevCerts
	addrs     map[string]string
	tel       *otelx.Telemetry
	logs      map[string]*syncbuf.Buffer
	admin     jetstream.JetStream
}

func start(t *testing.T) *system {
	t.Helper()
	bin := binaries(t)
	s := &system{t: t, dir: t.TempDir(), passwords: map[string]string{}, addrs: map[string]string{}, logs: map[string]*syncbuf.Buffer{}}
	var err error
	s.certs, err = grpcx.WriteDevCerts(filepath.Join(s.dir, "certs"), filepath.Join(s.dir, "ca"), []string{"127.0.0.1", "localhost"}, []grpcx.Client{
		{Name: "operator", Contracts: []string{grpcx.AllContracts}},
		{Name: "sponsor-s9925", Contracts: []string{"S9925"}},
		{Name: "sponsor-h9999", Contracts: []string{"H9999"}},
		{Name: "pharmacy-a", Contracts: []string{"pharmacy:" + pharmacyA}},
		{Name: "pharmacy-b", Contracts: []string{"pharmacy:" + pharmacyB}},
		{Name: "feed-s9925", Contracts: []string{"feed:S9925"}},
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	users := bus.AuthUsers(4, []string{pharmacyA, pharmacyB}, "S9925")
	for i := range users {
		s.passwords[users[i].User] = rand.Text()
		users[i].PasswordRef = strconv.Quote(s.passwords[users[i].User])
	}
	s.ns, err = natsembed.Start(natsembed.Options{StoreDir: filepath.Join(s.dir, "nats"), SyncAlways: true, Authorization: bus.AuthConfig(users)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ns.Shutdown(); s.ns.WaitForShutdown() })
	s.natsURL = s.ns.ClientURL()
	nc, err := nats.Connect(s.userURL("admin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s.admin, _ = jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, s.admin, 1); err != nil {
		t.Fatal(err)
	}
	s.rs, err = redisproc.Start(context.Background(), redisproc.Options{Dir: filepath.Join(s.dir, "redis"), AppendOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.rs.Stop)
	opt, _ := redis.ParseURL(s.rs.URL())
	s.rdb = redis.NewClient(opt)
	t.Cleanup(func() { _ = s.rdb.Close() })
	s.tel, _ = otelx.Setup(context.Background(), "adversary", nil)
	for _, name := range services {
		s.addrs[name] = testkit.FreeAddr(t)
		s.logs[name] = &syncbuf.Buffer{Limit: 1 << 20}
		args := []string{"-nats-url", s.natsURL, "-nats-user", name, "-redis-url", s.rs.URL(), "-grpc-addr", s.addrs[name],
			"-metrics-addr", "off", "-partitions", "4", "-shutdown-timeout", "5s",
			"-tls-cert", s.certs.ServerCert, "-tls-key", s.certs.ServerKey, "-tls-client-ca", s.certs.CA}
		switch name {
		case "intervention-scheduling":
			args = append(args, "-clock", "events")
		case "prescriber-outreach", "payment-reconciliation":
			args = append(args, "-clock", "events", "-sweep-interval", "24h")
		case "ingestion":
			args = append(args, "-reversal-overdue", "2s", "-sweep-interval", "500ms")
		}
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Env = append(os.Environ(), "EMTM_NATS_PASSWORD="+s.passwords[name])
		cmd.Stdout, cmd.Stderr = s.logs[name], s.logs[name]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			for name, b := range s.logs {
				out := b.String()
				if len(out) > 3000 {
					out = out[len(out)-3000:]
				}
				t.Logf("--- %s log (tail)\n%s", name, out)
			}
		}
	})
	for _, name := range services {
		s.waitServing(name)
	}
	return s
}

func (s *system) userURL(user string) string {
	u, _ := url.Parse(s.natsURL)
	u.User = url.UserPassword(user, s.passwords[user])
	return u.String()
}

// conn is a gRPC connection to service as the holder of client's certificate.
func (s *system) conn(client, service string) *grpc.ClientConn {
	s.t.Helper()
	f := s.certs.Clients[client]
	cc, err := grpcx.Dial(s.addrs[service], s.tel, grpcx.TLS{CAFile: s.certs.CA, CertFile: f[0], KeyFile: f[1]})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func (s *system) waitServing(name string) {
	s.t.Helper()
	cc := s.conn("operator", name)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && r.Status == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s not serving within 30s: %v %v\n%s", name, r, err, s.logs[name].String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// idle waits until every consumer has caught up.
func (s *system) idle() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.WaitIdle(ctx, s.admin, 50*time.Millisecond); err != nil {
		s.t.Fatal(err)
	}
}

// pharmacyJS is a JetStream connection as a pharmacy's own NATS user.
func (s *system) pharmacyJS(npi string) (jetstream.JetStream, chan error) {
	s.t.Helper()
	errs := make(chan error, 16)
	user := "pharmacy-" + npi
	nc, err := nats.Connect(s.userURL(user), nats.CustomInboxPrefix(bus.InboxPrefix(npi)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	return js, errs
}

// state is what an attack must not change: the canonical streams, the
// services' own keys (ingestion's rejection bookkeeping aside) and the ledger.
type state struct {
	Streams map[string]uint64
	Keys    int64
}

func (s *system) state() state {
	s.t.Helper()
	s.idle()
	ctx := context.Background()
	st := state{Streams: map[string]uint64{}}
	for _, name := range []string{bus.StreamClaims, bus.StreamEncounters, bus.StreamEnrollment, bus.StreamMedical,
		bus.StreamAssessments, bus.StreamTasks, bus.StreamOutreach, bus.StreamLedger} {
		str, err := s.admin.Stream(ctx, name)
		if err != nil {
			s.t.Fatal(err)
		}
		info, err := str.Info(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		st.Streams[name] = info.State.Msgs
	}
	iter := s.rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		if !strings.HasPrefix(iter.Val(), "ing:rejected:") && !strings.HasPrefix(iter.Val(), "ing:{rej}:") &&
			!strings.HasPrefix(iter.Val(), "ing:{held}:") && !strings.HasPrefix(iter.Val(), "ing:idem:reversal:") {
			st.Keys++
		}
	}
	if err := iter.Err(); err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *system) unchanged(what string, before state) {
	s.t.Helper()
	after := s.state()
	for k, v := range before.Streams {
		if after.Streams[k] != v {
			s.t.Errorf("%s changed %s: %d -> %d messages", what, k, v, after.Streams[k])
		}
	}
	if after.Keys != before.Keys {
		s.t.Errorf("%s changed the services' Redis keys: %d -> %d", what, before.Keys, after.Keys)
	}
}
