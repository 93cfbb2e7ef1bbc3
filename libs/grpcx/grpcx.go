// Package grpcx builds emtm's gRPC servers and clients the same way everywhere:
// OpenTelemetry stats handlers, grpc.health.v1, server reflection, bounded
// message sizes and a graceful stop.
package grpcx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/emtm/emtm/libs/otelx"
)

// MaxMessageBytes bounds a request or response (a batch of claims fits easily).
const MaxMessageBytes = 4 << 20

// Server is a gRPC server with health and reflection.
type Server struct {
	GRPC   *grpc.Server
	Health *health.Server
	lis    net.Listener
	name   string
}

// ServerOptions secure a server.
type ServerOptions struct {
	// TLS: a certificate serves TLS; a client CA requires client certificates (mTLS).
	TLS TLS
	// Limit bounds each caller's requests (zero Rate: no limit).
	Limit RateLimit
	// Audit keeps a record of every call of an audited method (nil: none).
	Audit Auditor
}

// NewServer listens on addr and builds the server; register services on s.GRPC,
// then call Serve. A request over MaxMessageBytes is refused with
// RESOURCE_EXHAUSTED before it reaches a handler.
func NewServer(addr, serviceName string, tel *otelx.Telemetry, so ...ServerOptions) (*Server, error) {
	var o ServerOptions
	if len(so) > 0 {
		o = so[0]
	}
	opts := []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(tel.TracerProvider),
			otelgrpc.WithPropagators(otel.GetTextMapPropagator()))),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
	}
	if o.TLS.Enabled() {
		cfg, err := o.TLS.ServerConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	if o.Limit.Rate > 0 {
		l := &limiter{cfg: o.Limit, callers: map[string]*rate.Limiter{}}
		if l.cfg.Burst < 1 {
			l.cfg.Burst = 1
		}
		opts = append(opts, grpc.ChainUnaryInterceptor(l.unary), grpc.ChainStreamInterceptor(l.stream))
	}
	// Every method's declared permission (Permissions), after the rate limit.
	a := access{audit: o.Audit}
	opts = append(opts, grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream))
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("grpc listen on %s: %w", addr, err)
	}
	g := grpc.NewServer(opts...)
	h := health.NewServer()
	healthpb.RegisterHealthServer(g, h)
	reflection.Register(g)
	// Not serving until Serve is called: readiness follows the real state.
	h.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	h.SetServingStatus(serviceName, healthpb.HealthCheckResponse_NOT_SERVING)
	return &Server{GRPC: g, Health: h, lis: lis, name: serviceName}, nil
}

// Close releases the listener of a server that will not be served.
func (s *Server) Close() error { return s.lis.Close() }

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// Serve marks the server SERVING and serves until ctx is done; then it marks it
// NOT_SERVING and stops gracefully, forcing a stop after timeout.
func (s *Server) Serve(ctx context.Context, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.GRPC.Serve(s.lis) }()
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.Health.SetServingStatus(s.name, healthpb.HealthCheckResponse_SERVING)
	select {
	case err := <-errc:
		return fmt.Errorf("grpc serve: %w", err)
	case <-ctx.Done():
	}
	s.Health.Shutdown() // every service NOT_SERVING, so load balancers stop sending
	stopped := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(timeout):
		s.GRPC.Stop()
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Dial connects a client with tracing: over TLS when tlsOpt names a CA or a
// client certificate, else over plaintext (loopback, the embedded default).
func Dial(target string, tel *otelx.Telemetry, tlsOpt ...TLS) (*grpc.ClientConn, error) {
	var t TLS
	if len(tlsOpt) > 0 {
		t = tlsOpt[0]
	}
	return DialWith(target, tel, t)
}

// DialWith is Dial with more dial options (a client's own interceptors).
func DialWith(target string, tel *otelx.Telemetry, t TLS, more ...grpc.DialOption) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if t.Enabled() {
		cfg, err := t.ClientConfig()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(tel.TracerProvider),
			otelgrpc.WithPropagators(otel.GetTextMapPropagator()))),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
	}
	return grpc.NewClient(target, append(opts, more...)...)
}
