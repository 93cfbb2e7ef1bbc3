// Command emtm runs the whole of emtm on one machine: an embedded NATS server,
// a local redis-server, the five services and a sample population.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	console "github.com/emtm/emtm/services/console/service"
	"github.com/emtm/emtm/services/emtm/internal/pipebench"
	"github.com/emtm/emtm/services/emtm/internal/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "emtm:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "emtm",
		Short:         "Enhanced Medication Therapy Management for a Part D sponsor, all in one process",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	o := runner.Options{Getenv: os.Getenv}
	run := &cobra.Command{
		Use:   "run",
		Short: "Start NATS, Redis and the five services, load the sample population, print a summary and serve",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runner.Run(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := run.Flags()
	f.StringVar(&o.DataDir, "data-dir", "var", "where NATS and Redis keep their data and the services their log")
	f.BoolVar(&o.Once, "once", false, "exit after the summary instead of serving")
	f.StringVar(&o.SummaryJSON, "summary-json", "", "also write the summary as JSON to this file")
	f.BoolVar(&o.Replay, "replay", false, "replay/backfill mode: do not fsync before acknowledging (faster, less durable)")
	f.IntVar(&o.NATSPort, "nats-port", 4222, "port of the embedded NATS server (0: a free port)")
	f.IntVar(&o.Partitions, "partitions", 4, "beneficiary partitions (fixed for a data dir)")
	f.StringVar(&o.SampleDir, "sample-dir", "", "load this Synthea CSV directory instead of the bundled sample")
	f.BoolVar(&o.NoSample, "no-sample", false, "load nothing")
	f.BoolVar(&o.WallClock, "wall-clock", false, "compare due dates with the calendar instead of the latest date of service seen (for live data)")
	f.StringVar(&o.NATSURL, "nats-url", "", "use this NATS server (JetStream enabled) instead of the embedded one")
	f.StringVar(&o.RedisURL, "redis-url", "", "use this Redis instead of starting redis-server")
	f.BoolVar(&o.FixedPorts, "fixed-ports", true, "serve gRPC on 127.0.0.1:7101..7105 (where emtmctl looks); false picks free ports")
	f.StringVar(&o.ConsoleAddr, "console-addr", console.DefaultAddr, "serve the web console here (off: not served)")
	var b pipebench.Options
	var cpuProfile string
	bench := &cobra.Command{
		Use:   "bench",
		Short: "Measure the whole pipeline on this machine: claims/s against the raw bus rate, latency at a fixed load, bytes per beneficiary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b.Progress, b.Out = cmd.ErrOrStderr(), cmd.OutOrStdout()
			if b.Members == 0 {
				b.Members = max(1, b.Claims/20)
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			r, err := pipebench.Run(cmd.Context(), b)
			if err != nil {
				return err
			}
			r.Print(cmd.OutOrStdout(), !b.Replay)
			return nil
		},
	}
	bf := bench.Flags()
	bf.IntVar(&b.Claims, "claims", 200000, "claims through the pipeline")
	bf.IntVar(&b.Members, "members", 0, "beneficiaries they belong to (default: claims / 20)")
	bf.IntVar(&b.Rate, "rate", 5000, "offered load of the latency phase, claims/s")
	bf.IntVar(&b.Seconds, "seconds", 10, "length of the latency phase")
	bf.BoolVar(&b.Replay, "replay", false, "replay mode: no fsync before acknowledging")
	bf.IntVar(&b.Partitions, "partitions", 4, "beneficiary partitions: durable consumers per stream and service, handled in parallel")
	bf.IntVar(&b.Workers, "workers", 16, "workers per durable consumer, one beneficiary's events in order on one worker")
	bf.IntVar(&b.Batch, "batch", 128, "events handled together by a batched durable (ingestion's raw submissions, risk-scoring's claims); 1: one at a time")
	bf.IntVar(&b.Window, "window", 64, "pipeline phase: publishes in flight before the publisher waits for acknowledgements")
	bf.StringVar(&b.DataDir, "data-dir", "", "where the servers keep their data (default: a temporary directory, removed)")
	bf.DurationVar(&b.Timeout, "timeout", 30*time.Minute, "bound on the whole run")
	bf.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process (all services run in it) to this file")
	root.AddCommand(run, bench)
	return root
}
