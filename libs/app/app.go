// Package app is the runtime every emtm service runs in: one NATS connection
// with JetStream, one Redis client, one gRPC server with health and
// reflection, and the service's consumers, shut down in a fixed order:
// health NOT_SERVING → gRPC graceful stop → consumers drain → pending
// publishes complete → NATS drain → Redis close. Telemetry belongs to the
// caller, which shuts it down last.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/config"
	auditv1 "github.com/emtm/emtm/libs/gen/emtm/audit/v1"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/pseudonym"
	"github.com/emtm/emtm/libs/redisx"
)

// Runtime holds a service's connections.
type Runtime struct {
	Name   string
	Cfg    config.Common
	Tel    *otelx.Telemetry
	Log    *slog.Logger
	NC     *nats.Conn
	JS     jetstream.JetStream
	Redis  redis.UniversalClient
	GRPC   *grpcx.Server
	Pub    *bus.Publisher
	Hasher *pseudonym.Hasher
	// Members counts the service's live instances; each holds its share of the partitions.
	Members *bus.Members

	consumers  []*bus.Consumer
	subscribed []string
	loops      []func(context.Context) error
	metricsLn  net.Listener
}

// NewLogger returns a slog logger writing text or JSON to w, tagged with the service.
func NewLogger(w io.Writer, format, service string) *slog.Logger {
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, nil)
	} else {
		h = slog.NewTextHandler(w, nil)
	}
	return slog.New(h).With("service", service)
}

// Start connects to NATS and Redis, makes sure emtm's streams exist and
// listens for gRPC. On error everything opened so far is closed.
func Start(ctx context.Context, name string, cfg config.Common, tel *otelx.Telemetry, log *slog.Logger, hasher *pseudonym.Hasher) (rt *Runtime, err error) {
	rt = &Runtime{Name: name, Cfg: cfg, Tel: tel, Log: log, Hasher: hasher}
	defer func() {
		if err != nil {
			rt.closeConnections()
		}
	}()
	opts := []nats.Option{nats.Name("emtm-" + name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("NATS reconnected") }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Error("NATS error", "err", err) // a permissions violation shows here
		}),
	}
	if cfg.NATSUser != "" {
		// Replies arrive under the user's own inbox prefix, the only subjects it may subscribe to.
		opts = append(opts, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword), nats.CustomInboxPrefix(bus.InboxPrefix(cfg.NATSUser)))
	}
	rt.NC, err = nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return rt, fmt.Errorf("connect to NATS at %s as %q: %w", config.RedactURLs(cfg.NATSURL), cfg.NATSUser, err)
	}
	rt.JS, err = jetstream.New(rt.NC, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return rt, fmt.Errorf("jetstream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err = bus.EnsureStreams(sctx, rt.JS, cfg.StreamReplicas); err != nil {
		return rt, err
	}
	rt.Redis, err = redisx.Connect(ctx, cfg.RedisURL, cfg.RedisCluster, tel)
	if err != nil {
		return rt, err
	}
	rt.GRPC, err = grpcx.NewServer(cfg.GRPCAddr, "emtm."+name, tel, grpcx.ServerOptions{
		TLS:   grpcx.TLS{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, CAFile: cfg.TLSClientCA},
		Limit: grpcx.RateLimit{Rate: cfg.RateLimit, Burst: cfg.RateBurst},
		Audit: rt.audit,
	})
	if err != nil {
		return rt, err
	}
	rt.Pub = bus.NewPublisher(rt.JS, tel, name)
	opsv1.RegisterDeadLetterServiceServer(rt.GRPC.GRPC, deadLetters{rt: rt})
	if rt.Members, err = bus.NewMembers(rt.NC, name, time.Second); err != nil {
		return rt, err
	}
	if err = rt.listenMetrics(); err != nil {
		_ = rt.GRPC.Close()
		return rt, fmt.Errorf("metrics listen on %s: %w", cfg.MetricsAddr, err)
	}
	return rt, nil
}

// audit publishes one record of a privileged call on EMTM_AUDIT and waits for
// the stream's acknowledgement. A REQUESTED record that cannot be kept refuses
// the call (grpcx); a FINISHED one is logged as an error.
func (rt *Runtime) audit(ctx context.Context, r grpcx.AuditRecord) error {
	phase := auditv1.Phase_PHASE_FINISHED
	if r.Requested {
		phase = auditv1.Phase_PHASE_REQUESTED
	}
	id := fmt.Sprintf("audit/%s/%s/%s", rt.Name, r.CallID, phase)
	rec := &auditv1.AuditRecord{RecordId: id, CallId: r.CallID, Phase: phase, Service: rt.Name, At: timestamppb.New(r.At),
		Caller: r.Caller, Method: r.Method, Request: r.Request, Error: r.Error}
	if !r.Requested {
		rec.Code = code.Code(r.Code).String() // PERMISSION_DENIED, as google.rpc.Code spells it
	}
	err := errors.New("no publisher yet")
	if rt.Pub != nil {
		_, err = rt.Pub.Publish(ctx, bus.Out{Subject: bus.AuditSubject(rt.Name), MsgID: id, Msg: rec})
	}
	if err != nil {
		rt.Log.Error("audit record not written", "phase", phase.String(), "method", r.Method, "caller", r.Caller, "err", err)
	}
	return err
}

// GRPCAddr is the bound gRPC address.
func (rt *Runtime) GRPCAddr() net.Addr { return rt.GRPC.Addr() }

// Consume registers a durable consumer that runs with the service.
func (rt *Runtime) Consume(ctx context.Context, spec bus.ConsumerSpec, h bus.Handler) error {
	if spec.Workers == 0 {
		spec.Workers = rt.Cfg.Workers
	}
	if spec.BatchSize == 0 {
		spec.BatchSize = rt.Cfg.Batch
	}
	if spec.AckWait == 0 {
		spec.AckWait = rt.Cfg.AckWait
	}
	if spec.PinnedTTL == 0 {
		spec.PinnedTTL = rt.Cfg.PinTTL
	}
	if spec.Peers == nil && rt.Members != nil {
		spec.Peers = rt.Members
	}
	c, err := bus.NewConsumer(ctx, rt.JS, rt.Tel, rt.Log, rt.Pub, spec, h)
	if err != nil {
		return err
	}
	rt.consumers = append(rt.consumers, c)
	return nil
}

// Subscribe runs each subscription's durable consumer with the service. A
// durable must be one bus.Grants gives the service, and its handlers must
// cover its topics exactly (bus.Subscription.Check); Run refuses to start
// while a granted durable has no subscription.
func (rt *Runtime) Subscribe(ctx context.Context, subs ...bus.Subscription) error {
	g, ok := bus.GrantFor(rt.Name)
	if !ok {
		return fmt.Errorf("bus.Grants lists no access for %s", rt.Name)
	}
	for _, s := range subs {
		if !slices.ContainsFunc(g.Durables, func(d bus.Durable) bool { return d.Name == s.Durable.Name }) {
			return fmt.Errorf("%s: bus.Grants does not give it durable %s", rt.Name, s.Durable.Name)
		}
		if slices.Contains(rt.subscribed, s.Durable.Name) {
			return fmt.Errorf("%s: durable %s subscribed twice", rt.Name, s.Durable.Name)
		}
		if err := s.Check(); err != nil {
			return fmt.Errorf("%s: %w", rt.Name, err)
		}
		if err := rt.Consume(ctx, s.Spec(rt.Cfg.Partitions), s.Routes.Handle); err != nil {
			return err
		}
		rt.subscribed = append(rt.subscribed, s.Durable.Name)
	}
	return nil
}

// unsubscribed lists the durables bus.Grants gives the service that it has
// not subscribed: their events would wait forever.
func (rt *Runtime) unsubscribed() []string {
	g, _ := bus.GrantFor(rt.Name)
	var out []string
	for _, d := range g.Durables {
		if !slices.Contains(rt.subscribed, d.Name) {
			out = append(out, d.Name)
		}
	}
	return out
}

// Every runs f at start and then every interval while the service runs; it
// stops with the consumers. An error is logged, not fatal: the next tick retries.
func (rt *Runtime) Every(name string, interval time.Duration, f func(context.Context) error) {
	rt.loops = append(rt.loops, func(ctx context.Context) error {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				rt.Log.Warn("periodic task failed; will retry", "task", name, "err", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
}

// Run serves gRPC and runs the consumers until ctx is done, then shuts down in order.
func (rt *Runtime) Run(ctx context.Context) error {
	if missing := rt.unsubscribed(); len(missing) > 0 {
		rt.Close()
		return fmt.Errorf("%s: no handlers subscribed to the durables %v that bus.Grants gives it", rt.Name, missing)
	}
	metricsAt := "off"
	if a := rt.MetricsAddr(); a != nil {
		metricsAt = a.String()
	}
	rt.Log.Info("serving", "grpc", rt.GRPC.Addr().String(), "metrics", metricsAt, "consumers", len(rt.consumers), "instance", rt.Members.ID())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return rt.serveMetrics(gctx) })
	grpcDone := make(chan struct{})
	g.Go(func() error {
		defer close(grpcDone)
		return rt.GRPC.Serve(gctx, rt.timeout())
	})
	// Consumers and periodic tasks stop after gRPC has stopped taking requests.
	afterGRPC := func(run func(context.Context) error) func() error {
		return func() error {
			cctx, cancel := context.WithCancel(context.WithoutCancel(gctx))
			defer cancel()
			go func() {
				select {
				case <-grpcDone:
				case <-cctx.Done():
				}
				cancel()
			}()
			return run(cctx)
		}
	}
	for _, c := range rt.consumers {
		g.Go(afterGRPC(c.Run))
	}
	for _, l := range rt.loops {
		g.Go(afterGRPC(l))
	}
	g.Go(afterGRPC(rt.Members.Run))
	err := g.Wait()
	rt.Close()
	rt.Log.Info("stopped")
	return err
}

// Close finishes pending publishes, drains NATS and closes Redis.
func (rt *Runtime) Close() {
	if rt.Pub != nil {
		ctx, cancel := context.WithTimeout(context.Background(), rt.timeout())
		rt.Pub.WaitComplete(ctx)
		cancel()
	}
	rt.closeConnections()
}

func (rt *Runtime) timeout() time.Duration {
	if rt.Cfg.ShutdownTimeout > 0 {
		return rt.Cfg.ShutdownTimeout
	}
	return 15 * time.Second
}

func (rt *Runtime) closeConnections() {
	if rt.NC != nil && !rt.NC.IsClosed() {
		done := make(chan struct{})
		rt.NC.SetClosedHandler(func(*nats.Conn) { close(done) })
		if err := rt.NC.Drain(); err != nil {
			rt.NC.Close()
		} else {
			select {
			case <-done:
			case <-time.After(rt.timeout()):
				rt.NC.Close()
			}
		}
	}
	if rt.Redis != nil {
		if err := rt.Redis.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			rt.Log.Warn("redis close", "err", err)
		}
	}
}
