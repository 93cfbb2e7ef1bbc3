// Package stack runs the whole of emtm in one process: a real NATS server with
// JetStream in-process, a real redis-server as a child process, and the five
// services, each with its own connections, telemetry and gRPC listener, as if
// they were separate processes. `emtm run` and the end-to-end tests use it.
package stack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/directory"
	"github.com/emtm/emtm/libs/dirlock"
	"github.com/emtm/emtm/libs/natsembed"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/pseudonym"
	"github.com/emtm/emtm/libs/redisproc"
	ingestion "github.com/emtm/emtm/services/ingestion/service"
	scheduling "github.com/emtm/emtm/services/intervention-scheduling/service"
	payment "github.com/emtm/emtm/services/payment-reconciliation/service"
	outreach "github.com/emtm/emtm/services/prescriber-outreach/service"
	risk "github.com/emtm/emtm/services/risk-scoring/service"
)

// ReplayArgs make the services that compare dates use the event clock: the
// latest date of service seen is "today", as when history is replayed.
// Outreach and payment sweep only when asked (the runner does once the load
// has settled), so that which letter an item lands in, and through which
// month member months are booked, do not depend on how fast the replay ran.
var ReplayArgs = map[string][]string{
	scheduling.Name: {"-clock", "events"},
	outreach.Name:   {"-clock", "events", "-sweep-interval", "24h"},
	payment.Name:    {"-clock", "events", "-sweep-interval", "24h"},
}

// Services are the five services, in start order.
var Services = []app.Definition{
	ingestion.Definition, risk.Definition, scheduling.Definition, outreach.Definition, payment.Definition,
}

// DefaultAddrs are the gRPC addresses `emtm run` uses (libs/directory), so emtmctl finds them.
var DefaultAddrs = func() map[string]string {
	m := map[string]string{}
	for _, d := range directory.All {
		m[d.Name] = d.GRPCAddr
	}
	return m
}()

// Options configure a stack.
type Options struct {
	// DataDir holds the embedded servers' data (nats/, redis/).
	DataDir string
	// NATSURL and RedisURL, when set, use existing servers instead of starting them.
	NATSURL  string
	RedisURL string
	// NATSPort is the embedded NATS port (0 picks a free one).
	NATSPort int
	// SyncAlways makes JetStream fsync before acknowledging (the durable mode).
	SyncAlways bool
	// Partitions of the beneficiary subjects.
	Partitions int
	// Workers per durable consumer (0: the services' default).
	Workers int
	// Batch bounds the batches of batched durables (0: the services' default; 1: none).
	Batch int
	// LeastPrivilege runs the embedded NATS with a user per service (random
	// passwords) whose permissions are bus.Grants; the streams are created by
	// the admin, whose credentials are in Stack.NATSURL.
	LeastPrivilege bool
	// Pharmacies are NPIs that get a NATS user each with LeastPrivilege.
	Pharmacies []string
	// Feeds are contracts whose enrollment and Parts A/B feed gets a NATS user each with LeastPrivilege.
	Feeds []string
	// GRPCAddrs by service name; a missing entry listens on a free loopback port.
	GRPCAddrs map[string]string
	// InstallRedis installs redis-server with apt-get when it is missing and the process runs as root.
	InstallRedis bool
	Getenv       func(string) string
	// Log receives the services' logs; Out receives messages for the person running it.
	Log io.Writer
	Out io.Writer
	// Telemetry options for every service (tests record spans).
	Telemetry []otelx.Option
	// ServiceArgs are extra flags by service name.
	ServiceArgs map[string][]string
}

// Stack is a running emtm.
type Stack struct {
	NATSURL  string
	RedisURL string
	// Addrs maps each service name to its bound gRPC address.
	Addrs map[string]string
	// MetricsAddrs maps each service name to its /metrics address.
	MetricsAddrs map[string]string
	// Passwords of the NATS users by name, with LeastPrivilege.
	Passwords map[string]string

	ns     *server.Server
	rs     *redisproc.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error
	tels   []*otelx.Telemetry
	once   sync.Once
	lock   *dirlock.Lock // the data directory, while the embedded servers run
}

// Start starts everything and returns when every service serves.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Partitions == 0 {
		o.Partitions = 4
	}
	s = &Stack{Addrs: map[string]string{}, MetricsAddrs: map[string]string{}, errc: make(chan error, len(Services))}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if o.DataDir != "" && (o.NATSURL == "" || o.RedisURL == "") {
		// One emtm per data directory: its NATS store and Redis files are not shared.
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return s, fmt.Errorf("data directory: %w", err)
		}
		if s.lock, err = dirlock.Take(o.DataDir, "emtm.lock", "its NATS and redis-server"); err != nil {
			return s, err
		}
		if err := checkDataFormat(o.DataDir); err != nil {
			return s, err
		}
	}
	serviceURL := o.NATSURL
	if s.NATSURL = o.NATSURL; s.NATSURL == "" {
		nopts := natsembed.Options{StoreDir: filepath.Join(o.DataDir, "nats"), Port: o.NATSPort, SyncAlways: o.SyncAlways}
		if o.LeastPrivilege {
			s.Passwords = map[string]string{}
			users := bus.AuthUsers(o.Partitions, o.Pharmacies, o.Feeds...)
			for i := range users {
				s.Passwords[users[i].User] = rand.Text()
				users[i].PasswordRef = strconv.Quote(s.Passwords[users[i].User])
			}
			nopts.Authorization = bus.AuthConfig(users)
		}
		s.ns, err = natsembed.Start(nopts)
		if err != nil {
			return s, err
		}
		s.NATSURL, serviceURL = s.ns.ClientURL(), s.ns.ClientURL()
		if o.LeastPrivilege {
			u, _ := url.Parse(s.NATSURL)
			u.User = url.UserPassword("admin", s.Passwords["admin"])
			s.NATSURL = u.String()
			if err := ensureStreams(ctx, s.NATSURL); err != nil {
				return s, err
			}
		}
	}
	if s.RedisURL = o.RedisURL; s.RedisURL == "" {
		if o.InstallRedis {
			if _, err = redisproc.EnsureInstalled(ctx, o.Out); err != nil {
				return s, err
			}
		}
		s.rs, err = redisproc.Start(ctx, redisproc.Options{Dir: filepath.Join(o.DataDir, "redis"), AppendOnly: true, FsyncAlways: o.SyncAlways, Log: o.Log,
			Say: func(m string) { fmt.Fprintln(o.Out, "emtm:", m) }})
		if err != nil {
			return s, err
		}
		s.RedisURL = s.rs.URL()
	}
	key := o.Getenv(app.HashKeyEnv)
	if key == "" && o.DataDir != "" {
		// A key of this data directory's own, made on first run (0600): the
		// pseudonyms in its logs and traces cannot be reversed with a public key.
		var created bool
		path := filepath.Join(o.DataDir, "telemetry-hash.key")
		if key, created, err = pseudonym.LoadOrCreateKey(path); err != nil {
			return s, err
		}
		if created {
			fmt.Fprintf(o.Out, "emtm: generated the telemetry hash key %s (set %s to use your own)\n", path, app.HashKeyEnv)
		}
	}
	hasher, err := pseudonym.New(orDevelopment(key))
	if err != nil {
		return s, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	for _, def := range Services {
		name := def.ServiceName()
		addr := o.GRPCAddrs[name]
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		metrics := "auto" // the fixed ports' metrics ports, 9101..9105
		if o.GRPCAddrs[name] == "" {
			metrics = "127.0.0.1:0"
		}
		args := []string{"-nats-url", serviceURL, "-redis-url", s.RedisURL, "-grpc-addr", addr, "-metrics-addr", metrics,
			"-partitions", strconv.Itoa(o.Partitions)}
		if o.Batch > 0 {
			args = append(args, "-batch", strconv.Itoa(o.Batch))
		}
		if o.Workers > 0 {
			args = append(args, "-workers", strconv.Itoa(o.Workers))
		}
		if o.LeastPrivilege {
			args = append(args, "-nats-user", name, "-nats-password", s.Passwords[name])
		}
		args = append(args, o.ServiceArgs[name]...)
		p, err := def.Prepare(args, o.Getenv, o.Log)
		if err != nil {
			return s, fmt.Errorf("%s: %w", name, err)
		}
		tel, err := otelx.Setup(ctx, name, o.Getenv, o.Telemetry...)
		if err != nil {
			return s, fmt.Errorf("%s telemetry: %w", name, err)
		}
		s.tels = append(s.tels, tel)
		rt, err := app.Start(ctx, name, p.Common, tel, app.NewLogger(o.Log, p.Common.LogFormat, name), hasher)
		if err != nil {
			return s, fmt.Errorf("%s: %w", name, err)
		}
		if err := p.Register(ctx, rt); err != nil {
			rt.Close()
			return s, fmt.Errorf("%s: %w", name, err)
		}
		s.Addrs[name] = rt.GRPCAddr().String()
		if a := rt.MetricsAddr(); a != nil {
			s.MetricsAddrs[name] = a.String()
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := rt.Run(sctx); err != nil {
				s.errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	return s, nil
}

// Err delivers the first error of a service that stopped on its own.
func (s *Stack) Err() <-chan error { return s.errc }

// Stop shuts the services down in order, flushes telemetry and stops the servers.
func (s *Stack) Stop() {
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "emtm: services did not stop within 30s")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var errs []error
		for _, t := range s.tels {
			errs = append(errs, t.Shutdown(ctx))
		}
		_ = errors.Join(errs...)
		if s.rs != nil {
			s.rs.Stop()
		}
		if s.ns != nil {
			s.ns.Shutdown()
			s.ns.WaitForShutdown()
		}
		s.lock.Release()
	})
}

// ensureStreams creates emtm's streams as the admin (services may not).
func ensureStreams(ctx context.Context, adminURL string) error {
	nc, err := nats.Connect(adminURL, nats.Name("emtm-admin"))
	if err != nil {
		return fmt.Errorf("connect as the NATS admin: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	return bus.EnsureStreams(ctx, js, 1)
}

// orDevelopment is key, or the public development key when none is set (a
// stack without a data directory: tests, all on loopback).
func orDevelopment(key string) string {
	if key == "" {
		return pseudonym.DevelopmentKey
	}
	return key
}

// DataFormat is the version of what the embedded servers keep. 2 (issue 12):
// a claim is identified by its pharmacy and claim id, in event ids and in the
// services' keys; data of format 1 would count its claims again.
const DataFormat = 2

const dataFormatFile = "emtm-data-format"

// checkDataFormat refuses a data directory written by an emtm whose data
// format differs, and marks a new one with the current format.
func checkDataFormat(dir string) error {
	path := filepath.Join(dir, dataFormatFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if v, _ := strconv.Atoi(strings.TrimSpace(string(b))); v != DataFormat {
			return fmt.Errorf("the data directory %s holds emtm data of format %s, this emtm writes format %d: move it aside or remove it (make clean-var), or use another --data-dir", dir, strings.TrimSpace(string(b)), DataFormat)
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("data format: %w", err)
	}
	for _, sub := range []string{"nats", "redis"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err == nil {
			return fmt.Errorf("the data directory %s holds data of an earlier emtm (before data format %d: claims are now identified by pharmacy and claim id): move it aside or remove it (make clean-var), or use another --data-dir", dir, DataFormat)
		}
	}
	return os.WriteFile(path, []byte(strconv.Itoa(DataFormat)+"\n"), 0o600)
}
