// Package runner is `emtm run`: start the embedded stack, load the sample
// population, wait until the pipeline has finished, print a summary, and keep
// serving until interrupted (or stop at once with Once).
package runner

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/drugref"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	console "github.com/emtm/emtm/services/console/service"
	"github.com/emtm/emtm/services/emtm/internal/load"
	"github.com/emtm/emtm/services/emtm/internal/sampledata"
	"github.com/emtm/emtm/services/emtm/internal/stack"
	"github.com/emtm/emtm/services/emtm/internal/summary"
	"github.com/emtm/emtm/services/emtm/internal/synthea"
	"github.com/emtm/emtm/services/emtm/internal/whatif"
)

// Options of `emtm run`.
type Options struct {
	DataDir     string
	Once        bool
	SummaryJSON string
	// Replay turns off fsync-before-acknowledge (replay/backfill mode).
	Replay     bool
	NATSPort   int
	Partitions int
	// SampleDir loads a Synthea directory instead of the bundled sample; NoSample loads nothing.
	SampleDir string
	NoSample  bool
	// FixedPorts uses the default gRPC ports (127.0.0.1:7101..7105) so emtmctl finds them; off, free ports.
	FixedPorts bool
	// WallClock makes scheduling use the calendar; by default emtm run loads
	// history and uses the event clock (the latest date of service seen).
	WallClock bool
	// NATSURL and RedisURL use existing servers instead of the embedded ones.
	NATSURL  string
	RedisURL string
	// ConsoleAddr serves the web console ("" or "off": not served).
	ConsoleAddr string
	Getenv      func(string) string
}

// serviceArgs: a sample or a replay runs on the event clock unless WallClock is set.
func (o Options) serviceArgs() map[string][]string {
	if o.WallClock {
		return nil
	}
	return stack.ReplayArgs
}

// LocalJaeger is where `make dashboard` receives traces (OTLP/gRPC) and shows them.
const (
	LocalJaegerOTLP = "127.0.0.1:4317"
	LocalJaegerUI   = "http://127.0.0.1:16686"
)

// withLocalJaeger sends traces to a Jaeger on this machine when one answers
// and no OTLP endpoint is configured.
func withLocalJaeger(getenv func(string) string) (func(string) string, bool) {
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		return getenv, false
	}
	c, err := net.DialTimeout("tcp", LocalJaegerOTLP, 300*time.Millisecond)
	if err != nil {
		return getenv, false
	}
	_ = c.Close()
	return func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return "http://" + LocalJaegerOTLP
		}
		return getenv(k)
	}, true
}

// Run runs emtm until ctx is done (or once).
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	getenv, jaeger := withLocalJaeger(o.Getenv)
	o.Getenv = getenv
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	logPath := filepath.Join(o.DataDir, "emtm.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer logf.Close()
	mode := "durable: JetStream syncs every write to disk before acknowledging"
	if o.Replay {
		mode = "replay: JetStream flushes on its default interval (faster; re-run the load after a crash)"
	}
	fmt.Fprintf(stdout, "emtm: starting in %s\n      mode %s\n      service logs in %s\n", o.DataDir, mode, logPath)
	addrs := map[string]string{}
	if o.FixedPorts {
		addrs = stack.DefaultAddrs
	}
	started := time.Now()
	st, err := stack.Start(ctx, stack.Options{
		DataDir: o.DataDir, NATSURL: o.NATSURL, RedisURL: o.RedisURL, NATSPort: o.NATSPort, SyncAlways: !o.Replay, Partitions: o.Partitions,
		GRPCAddrs: addrs, InstallRedis: true, Getenv: o.Getenv, Log: logf, Out: stdout, ServiceArgs: o.serviceArgs(),
	})
	if err != nil {
		return err
	}
	defer st.Stop()
	fmt.Fprintf(stdout, "      NATS %s, Redis %s, started in %.1fs\n", st.NATSURL, st.RedisURL, time.Since(started).Seconds())
	switch {
	case jaeger:
		fmt.Fprintf(stdout, "      traces to the local Jaeger (%s): %s\n", LocalJaegerOTLP, LocalJaegerUI)
	case o.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "":
		fmt.Fprintf(stdout, "      traces to %s\n", o.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	default:
		fmt.Fprintln(stdout, "      traces recorded, not exported (`make dashboard` in another terminal starts Jaeger)")
	}
	for _, def := range stack.Services {
		fmt.Fprintf(stdout, "      %-24s gRPC %-16s metrics http://%s/metrics\n", def.ServiceName(), st.Addrs[def.ServiceName()], st.MetricsAddrs[def.ServiceName()])
	}

	tel, err := otelx.Setup(ctx, "emtm-runner", o.Getenv)
	if err != nil {
		return err
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	conns := summary.Conns{}
	for name, addr := range st.Addrs {
		cc, err := grpcx.Dial(addr, tel)
		if err != nil {
			return err
		}
		defer cc.Close()
		conns[name] = cc
	}
	if o.ConsoleAddr != "" && o.ConsoleAddr != "off" {
		jaegerURL := ""
		if jaeger {
			jaegerURL = LocalJaegerUI
		}
		url, stop, err := startConsole(ctx, o, st, conns, jaegerURL, logf)
		if err != nil {
			return err
		}
		defer stop() // before the stack stops: the console's calls end first
		fmt.Fprintf(stdout, "      console                  %s  (open: no client certificates, loopback only)\n", url)
	}

	nc, err := nats.Connect(st.NATSURL, nats.Name("emtm-runner"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	if !o.NoSample {
		if err := LoadSample(ctx, o.SampleDir, conns["ingestion"], stdout, stderr); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "emtm: waiting for the pipeline to finish ...")
	if err := Settle(ctx, js, conns); err != nil {
		return err
	}
	s, err := summary.Collect(ctx, js, conns, load.SamplePlan.Contract, load.SamplePlan.PBP)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nsummary")
	s.Print(stdout)
	if o.SummaryJSON != "" {
		if err := s.WriteJSON(o.SummaryJSON); err != nil {
			return fmt.Errorf("summary json: %w", err)
		}
		fmt.Fprintf(stdout, "summary written to %s\n", o.SummaryJSON)
	}
	if o.Once {
		return nil
	}
	fmt.Fprintln(stdout, "\nemtm: serving; try `bin/emtmctl status` in another terminal. Ctrl-C stops.")
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "emtm: stopping ...")
		return nil
	case err := <-st.Err():
		return err
	}
}

// Settle waits until every consumer is idle, runs the sweeps and waits again
// (stack.Settle), within 10 minutes.
func Settle(ctx context.Context, js jetstream.JetStream, conns summary.Conns) error {
	return stack.Settle(ctx, js, conns, 10*time.Minute)
}

// LoadSample loads the Synthea CSV directory dir ("": the bundled sample) through ingestion.
func LoadSample(ctx context.Context, dir string, ing *grpc.ClientConn, stdout, stderr io.Writer) error {
	ref, err := drugref.Load()
	if err != nil {
		return err
	}
	src, name := sampledata.SyntheaCA50(), "bundled synthea-ca-50"
	if dir != "" {
		src, name = os.DirFS(dir), dir
	}
	ds, err := synthea.Load(src, ref)
	if err != nil {
		return err
	}
	first, last := load.DateRange(ds)
	deceased := 0
	for _, p := range ds.Patients {
		if p.Death.Valid() {
			deceased++
		}
	}
	fmt.Fprintf(stdout, "emtm: loading %s: %d synthetic patients (%d living, %d deceased), of whom %d had Medicare coverage: the plan's members; claims %s .. %s, plan %s-%s\n",
		name, len(ds.Patients), len(ds.Patients)-deceased, deceased, countMembers(ds), first, last, load.SamplePlan.Contract, load.SamplePlan.PBP)
	res, err := load.Synthea(ctx, ds, ingestionv1.NewIngestionServiceClient(ing), load.SamplePlan, stderr)
	if err != nil {
		return err
	}
	res.Print(stdout)
	return nil
}

// startConsole serves the console beside the stack; stop ends it and waits.
func startConsole(ctx context.Context, o Options, st *stack.Stack, conns summary.Conns, jaegerURL string, log io.Writer) (url string, stop func(), err error) {
	set := config.New(console.Name, func(string) string { return "" })
	set.SetOutput(io.Discard)
	c := console.Flags(set)
	if err := set.Parse([]string{"-addr", o.ConsoleAddr, "-nats-url", st.NATSURL}); err != nil {
		return "", nil, err
	}
	for name, addr := range st.Addrs {
		c.Services[name] = addr
	}
	c.JaegerURL = jaegerURL
	c.WhatIf = ConsoleWhatIf(conns, o.Partitions)
	cctx, cancel := context.WithCancel(ctx)
	started := make(chan *console.Server, 1)
	errc := make(chan error, 1)
	go func() { errc <- console.Run(cctx, *c, o.Getenv, log, func(s *console.Server) { started <- s }) }()
	select {
	case s := <-started:
		return s.URL, func() { cancel(); <-errc }, nil
	case err := <-errc:
		cancel()
		return "", nil, fmt.Errorf("console: %w", err)
	}
}

func countMembers(ds *synthea.Dataset) int {
	m := map[string]bool{}
	for _, s := range ds.Enrollment {
		m[s.Patient] = true
	}
	return len(m)
}

// ConsoleWhatIf runs the console's what-ifs against the live services
// through live: each policy text goes to a file of its own (0600) for the
// shadow, removed afterwards.
func ConsoleWhatIf(live summary.Conns, partitions int) console.WhatIf {
	return func(ctx context.Context, r console.WhatIfRequest) (console.WhatIfResult, error) {
		o := whatif.Options{Contract: r.Plan.Contract, PBP: r.Plan.PBP, Partitions: partitions}
		for _, d := range []struct {
			value string
			dst   *civil.Date
		}{{r.From, &o.From}, {r.To, &o.To}} {
			if d.value == "" {
				continue
			}
			var err error
			if *d.dst, err = civil.Parse(d.value); err != nil {
				return console.WhatIfResult{}, err
			}
		}
		dir, err := os.MkdirTemp("", "emtm-whatif-policies-")
		if err != nil {
			return console.WhatIfResult{}, err
		}
		defer os.RemoveAll(dir)
		for name, dst := range map[string]*string{"risk": &o.RiskPolicy, "program": &o.ProgramPolicy, "outreach": &o.OutreachPolicy, "payment": &o.PaymentPolicy} {
			text, ok := r.Policies[name]
			if !ok {
				continue
			}
			*dst = filepath.Join(dir, name+".yaml")
			if err := os.WriteFile(*dst, []byte(text), 0o600); err != nil {
				return console.WhatIfResult{}, err
			}
		}
		res, err := whatif.Run(ctx, o, live)
		if err != nil {
			return console.WhatIfResult{}, err
		}
		out := console.WhatIfResult{Title: whatif.Title(o, res)}
		for _, row := range res.Rows() {
			out.Rows = append(out.Rows, [4]string{row.Figure, row.Live, row.What, row.Change})
		}
		return out, nil
	}
}
