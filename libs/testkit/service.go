package testkit

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/pseudonym"
)

// RunService runs one service against e's NATS and Redis until the test ends
// and returns its gRPC address. Extra args are the service's own flags.
func (e *Env) RunService(t testing.TB, def app.Definition, args ...string) string {
	t.Helper()
	addr, _ := e.StartService(t, def, args...)
	return addr
}

// StartService is RunService with a stop function, for tests that restart a
// service: stop shuts it down gracefully (as on SIGTERM) and waits; it is
// also called when the test ends, and a second call does nothing.
func (e *Env) StartService(t testing.TB, def app.Definition, args ...string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	all := append([]string{"-nats-url", e.NATSURL, "-redis-url", e.RedisURL, "-grpc-addr", "127.0.0.1:0", "-partitions", "4"}, args...)
	p, err := def.Prepare(all, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("testkit: %s: %v", def.ServiceName(), err)
	}
	tel, err := otelx.Setup(ctx, def.ServiceName(), nil)
	if err != nil {
		t.Fatal(err)
	}
	hasher, _ := pseudonym.New("")
	rt, err := app.Start(ctx, p.Name, p.Common, tel, app.NewLogger(io.Discard, "text", p.Name), hasher)
	if err != nil {
		t.Fatalf("testkit: start %s: %v", def.ServiceName(), err)
	}
	if err := p.Register(ctx, rt); err != nil {
		rt.Close()
		t.Fatalf("testkit: register %s: %v", def.ServiceName(), err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s stopped with %v", def.ServiceName(), err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("%s did not stop within 20s", def.ServiceName())
			}
			_ = tel.Shutdown(context.Background())
		})
	}
	t.Cleanup(stop)
	return rt.GRPCAddr().String(), stop
}
