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
	"google.golang.org/grpc"
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

// NewServer listens on addr and builds the server; register services on s.GRPC,
// then call Serve.
func NewServer(addr, serviceName string, tel *otelx.Telemetry) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("grpc listen on %s: %w", addr, err)
	}
	g := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(tel.TracerProvider),
			otelgrpc.WithPropagators(otel.GetTextMapPropagator()))),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
	)
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

// Dial connects a client with tracing over plaintext (loopback and in-cluster;
// TLS comes with the deployment work).
func Dial(target string, tel *otelx.Telemetry) (*grpc.ClientConn, error) {
	return grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(tel.TracerProvider),
			otelgrpc.WithPropagators(otel.GetTextMapPropagator()))),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
	)
}
