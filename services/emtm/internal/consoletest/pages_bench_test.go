package consoletest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/planid"
	console "github.com/emtm/emtm/services/console/service"
	"github.com/emtm/emtm/services/emtm/internal/pipebench"
	"github.com/emtm/emtm/services/emtm/internal/runner"
	"github.com/emtm/emtm/services/emtm/internal/stack"
	"github.com/emtm/emtm/services/emtm/internal/summary"
)

// benchMembers is the population the page benchmark is measured on (issue 15: 10,000).
const benchMembers = 10_000

var (
	benchOnce  sync.Once
	benchURL   string
	benchRisk  riskv1.RiskScoringServiceClient
	benchErr   error
	benchClose = func() {}
)

// benchStack loads 10,000 members (three claims each) into a stack in replay
// mode and serves the console against it, once for every benchmark.
func benchStack(b *testing.B) (string, riskv1.RiskScoringServiceClient) {
	b.Helper()
	benchOnce.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "emtm-console-bench-")
		if err != nil {
			benchErr = err
			return
		}
		st, err := stack.Start(ctx, stack.Options{DataDir: dir, Partitions: 4, InstallRedis: true, Log: io.Discard, Out: io.Discard, ServiceArgs: stack.ReplayArgs})
		if err != nil {
			benchErr = err
			return
		}
		benchClose = func() { st.Stop(); _ = os.RemoveAll(dir) }
		start := time.Now()
		if benchErr = pipebench.Populate(ctx, st.NATSURL, benchMembers, 3); benchErr != nil {
			return
		}
		tel, _ := otelx.Setup(ctx, "bench", nil)
		conns := summary.Conns{}
		for name, addr := range st.Addrs {
			cc, err := grpcx.Dial(addr, tel)
			if err != nil {
				benchErr = err
				return
			}
			conns[name] = cc
		}
		nc, err := nats.Connect(st.NATSURL)
		if err != nil {
			benchErr = err
			return
		}
		js, _ := jetstream.New(nc)
		if benchErr = runner.Settle(ctx, js, conns); benchErr != nil {
			return
		}
		fmt.Fprintf(os.Stderr, "console bench: loaded %d members (%d claims) through the pipeline in %s\n", benchMembers, 3*benchMembers, time.Since(start).Round(time.Second))
		benchRisk = riskv1.NewRiskScoringServiceClient(conns["risk-scoring"])
		tc, err := schedulingv1.NewInterventionSchedulingServiceClient(conns["intervention-scheduling"]).GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{})
		if err != nil {
			benchErr = err
			return
		}
		oc, err := outreachv1.NewPrescriberOutreachServiceClient(conns["prescriber-outreach"]).GetOutreachCounts(ctx, &outreachv1.GetOutreachCountsRequest{})
		if err != nil {
			benchErr = err
			return
		}
		fmt.Fprintf(os.Stderr, "console bench: %d tasks scheduled, %d outreach items\n", tc.Scheduled, oc.Items)
		c := console.Config{Services: st.Addrs, NATSURL: st.NATSURL, Addr: "127.0.0.1:0", Plans: []planid.ID{plan}}
		s, err := console.Start(ctx, c, tel, slog.New(slog.DiscardHandler))
		if err != nil {
			benchErr = err
			return
		}
		go func() { _ = s.Serve(ctx) }()
		benchURL = s.URL
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchURL, benchRisk
}

// BenchmarkConsolePages renders each page server-side (the HTTP round trip
// on loopback included) for a population of 10,000 members; the baseline is
// one GetProfile call to risk-scoring in the same run, and each page reports
// its cost as a ratio to it (ms/op is the figure issue 15 bounds: 200 ms).
func BenchmarkConsolePages(b *testing.B) {
	base, risk := benchStack(b)
	b.Run("baseline=one GetProfile call", func(b *testing.B) {
		for b.Loop() {
			if _, err := risk.GetProfile(context.Background(), &riskv1.GetProfileRequest{MemberId: "bench-000042"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, p := range []struct{ name, path string }{
		{"overview", "/"}, {"members in a tier", "/members?tier=LOW"}, {"member", "/members/bench-000042"}, {"tasks", "/tasks"},
		{"outreach", "/outreach"}, {"payments", "/payments"}, {"operations", "/operations"}, {"claim journey", "/claims/B-42"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := http.Get(base + p.path)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", p.path, resp.StatusCode)
				}
			}
		})
	}
}
