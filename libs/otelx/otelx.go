// Package otelx sets up OpenTelemetry for one service.
//
// Each service gets its own TracerProvider and MeterProvider (so that the
// all-in-one runner, which hosts five services in one process, still reports
// five service names) and the process uses the W3C trace-context propagator.
// Spans are always recorded, so every event can carry its trace id; they are
// exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT (or
// ..._TRACES_ENDPOINT) is set. Metrics are exported for Prometheus to scrape,
// from the service's own registry (MetricsHandler).
package otelx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry is one service's telemetry.
type Telemetry struct {
	Service        string
	TracerProvider *sdktrace.TracerProvider
	MeterProvider  *sdkmetric.MeterProvider
	registry       *prometheus.Registry
	shutdown       []func(context.Context) error
}

// Option adjusts Setup.
type Option func(*settings)

type settings struct {
	processors []sdktrace.SpanProcessor
	getenv     func(string) string
}

// WithSpanProcessor adds a span processor (tests use an in-memory recorder).
func WithSpanProcessor(p sdktrace.SpanProcessor) Option {
	return func(s *settings) { s.processors = append(s.processors, p) }
}

// WithGetenv reads OTEL_* settings through getenv instead of the process environment.
func WithGetenv(getenv func(string) string) Option {
	return func(s *settings) { s.getenv = getenv }
}

var propagatorOnce sync.Once

// Setup builds the service's telemetry. The caller must call Shutdown.
func Setup(ctx context.Context, service string, getenv func(string) string, opts ...Option) (*Telemetry, error) {
	st := settings{getenv: getenv}
	for _, o := range opts {
		o(&st)
	}
	propagatorOnce.Do(func() {
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
			propagation.TraceContext{}, propagation.Baggage{}))
	})
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(
		semconv.SchemaURL, semconv.ServiceName(service), semconv.ServiceNamespace("emtm")))
	if err != nil {
		return nil, err
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.AlwaysSample())}
	t := &Telemetry{Service: service}
	if endpoint := traceEndpoint(st.getenv); endpoint != "" {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpoint)}
		if strings.EqualFold(strings.TrimSpace(st.getenv("OTEL_EXPORTER_OTLP_INSECURE")), "true") {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("OTLP exporter for %s: %w", endpoint, err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	for _, p := range st.processors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p))
	}
	t.TracerProvider = sdktrace.NewTracerProvider(tpOpts...)
	t.shutdown = append(t.shutdown, t.TracerProvider.Shutdown)

	t.registry = prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(t.registry), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	t.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exp))
	t.shutdown = append(t.shutdown, t.MeterProvider.Shutdown)
	return t, nil
}

// Meter returns a meter of this service.
func (t *Telemetry) Meter(name string) metric.Meter { return t.MeterProvider.Meter(name) }

// MetricsHandler serves the service's metrics in the Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// traceEndpoint is the OTLP/gRPC endpoint URL for traces, or "" for none.
// An http:// URL is sent in plaintext; https:// over TLS.
func traceEndpoint(getenv func(string) string) string {
	if getenv == nil {
		return ""
	}
	if e := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); e != "" {
		return e
	}
	return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

// Tracer returns a tracer of this service.
func (t *Telemetry) Tracer(name string) trace.Tracer { return t.TracerProvider.Tracer(name) }

// Shutdown flushes and stops the exporters.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// TraceID returns the W3C trace id of the span in ctx, or "" when there is none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}
