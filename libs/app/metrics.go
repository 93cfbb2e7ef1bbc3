package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// listenMetrics opens the /metrics listener (nil when metrics are off).
func (rt *Runtime) listenMetrics() error {
	if rt.Cfg.MetricsAddr == "" || rt.Cfg.MetricsAddr == "off" {
		return nil
	}
	ln, err := net.Listen("tcp", rt.Cfg.MetricsAddr)
	if err != nil {
		return err
	}
	rt.metricsLn = ln
	return rt.observeConsumers()
}

// MetricsAddr is the bound /metrics address (nil when metrics are off).
func (rt *Runtime) MetricsAddr() net.Addr {
	if rt.metricsLn == nil {
		return nil
	}
	return rt.metricsLn.Addr()
}

// serveMetrics serves /metrics until ctx is done.
func (rt *Runtime) serveMetrics(ctx context.Context) error {
	if rt.metricsLn == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", rt.Tel.MetricsHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(rt.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// observeConsumers reports, on each scrape, what the server holds for each
// durable consumer: messages not yet delivered, delivered but not yet
// acknowledged, and redelivered.
func (rt *Runtime) observeConsumers() error {
	m := rt.Tel.Meter("emtm/app")
	pending, err := m.Int64ObservableGauge("emtm.consumer.pending", metric.WithDescription("messages of the stream not yet delivered to the consumer"))
	if err != nil {
		return err
	}
	ackPending, err := m.Int64ObservableGauge("emtm.consumer.ack_pending", metric.WithDescription("messages delivered and not yet acknowledged"))
	if err != nil {
		return err
	}
	redelivered, err := m.Int64ObservableGauge("emtm.consumer.redelivered", metric.WithDescription("messages delivered more than once and not yet acknowledged"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		for _, c := range rt.consumers {
			infos, err := c.Infos(ctx)
			if err != nil {
				return err
			}
			for _, ci := range infos {
				attrs := metric.WithAttributes(attribute.String("stream", ci.Stream), attribute.String("consumer", ci.Name))
				o.ObserveInt64(pending, int64(ci.NumPending), attrs)
				o.ObserveInt64(ackPending, int64(ci.NumAckPending), attrs)
				o.ObserveInt64(redelivered, int64(ci.NumRedelivered), attrs)
			}
		}
		return nil
	}, pending, ackPending, redelivered)
	return err
}
