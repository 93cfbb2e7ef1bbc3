// Package whatif replays a live program's recorded events under other
// policies and sets the figures of both side by side (`emtmctl whatif`).
//
// A shadow is a pipeline of its own: an in-process NATS JetStream and a
// private redis-server in a temporary directory, with the five services
// started under the what-if's policies (a policy not given: the live one, as
// GetPolicy returns it) on the event clock, as `emtm run` replays history.
// The live program is only read, through ingestion's ExportEvents (the
// validated events it published, merged in the order they were stored) and
// the services' read APIs; the shadow is stopped and its directory removed
// when the run ends, whatever its outcome.
package whatif

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/schollz/progressbar/v3"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/services/emtm/internal/acks"
	"github.com/emtm/emtm/services/emtm/internal/stack"
	"github.com/emtm/emtm/services/emtm/internal/summary"
)

// Options of a what-if.
type Options struct {
	// Policy files of the what-if ("": the live program's, read through GetPolicy).
	RiskPolicy, ProgramPolicy, PaymentPolicy, OutreachPolicy string
	// From and To keep the events dated within them (zero: open). With
	// either, the live column is a replay of the same events under the live
	// policies too, so that both columns count the same history.
	From, To civil.Date
	// Contract and PBP: the plan whose figures are compared.
	Contract, PBP string
	// Partitions of the shadow: the live program's (subjects carry them).
	Partitions int
	// Within bounds each shadow's run, from the first event copied to the last one handled.
	Within time.Duration
	// Progress receives the progress bars and messages (nil: none).
	Progress io.Writer
	// TempDir holds the shadows' directories ("": the system's).
	TempDir string
	// Window is how many copied events may await their acknowledgement at once.
	Window int
	// Step is how many events are copied at a time: the next are copied
	// once the shadow has handled them (0: 100). Each service's event clock
	// is the latest date seen on any of its streams; copied at once, the
	// streams' backlogs are consumed at different paces, and one stream's
	// events are judged against a date another stream reached long before
	// (measured on the sample: 38 TMRs instead of 3). In steps, the shadow
	// handles history as the live program did when it kept up.
	Step int
}

// windowed reports whether the what-if replays only events within dates.
func (o Options) windowed() bool { return !o.From.IsZero() || !o.To.IsZero() }

// Policy is one service's policy in a run: the file given, or the live one.
type Policy struct {
	Service string
	// Flag is the option that names it; File the file given ("": the live one).
	Flag, File string
	// Live is the live service's (its name and SHA-256).
	LiveName, LiveSHA256 string
	live                 []byte
}

// Result is a what-if's outcome.
type Result struct {
	Live, What Figures
	// LiveReplayed: the live column is a replay under the live policies (a window was given).
	LiveReplayed bool
	Policies     []Policy
	// Copied events (of Read read from Stored stored when the export began), per shadow.
	Copied, Read, Stored uint64
	Took                 time.Duration
}

// Rows lines the figures up.
func (r Result) Rows() []Row { return Compare(r.Live, r.What) }

// Run reads the live program's figures, replays its events into a shadow
// under o's policies and reads the shadow's figures.
func Run(ctx context.Context, o Options, live summary.Conns) (res Result, err error) {
	started := time.Now()
	if o.Partitions <= 0 {
		o.Partitions = 4
	}
	if o.Within <= 0 {
		o.Within = 2 * time.Hour
	}
	if o.Window <= 0 {
		o.Window = 256
	}
	if o.Step <= 0 {
		o.Step = 100
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if res.Policies, err = policies(ctx, o, live); err != nil {
		return res, err
	}
	dir, err := os.MkdirTemp(o.TempDir, "emtm-whatif-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	files := func(live bool) (map[string]string, error) {
		out := map[string]string{}
		for _, p := range res.Policies {
			if p.File != "" && !live {
				out[p.Service] = p.File
				continue
			}
			path := filepath.Join(dir, p.Service+".live.yaml")
			if err := os.WriteFile(path, p.live, 0o600); err != nil {
				return nil, err
			}
			out[p.Service] = path
		}
		return out, nil
	}
	if o.windowed() {
		fmt.Fprintln(o.Progress, "whatif: the live policies first, over the same events ...")
		lf, err := files(true)
		if err != nil {
			return res, err
		}
		res.LiveReplayed = true
		if res.Live, _, err = shadow(ctx, o, live, filepath.Join(dir, "live"), lf); err != nil {
			return res, err
		}
	} else if res.Live, err = Collect(ctx, live, o.Contract, o.PBP); err != nil {
		return res, fmt.Errorf("the live program: %w", err)
	}
	wf, err := files(false)
	if err != nil {
		return res, err
	}
	var n copyCounts
	if res.What, n, err = shadow(ctx, o, live, filepath.Join(dir, "whatif"), wf); err != nil {
		return res, err
	}
	res.Copied, res.Read, res.Stored = n.copied, n.read, n.stored
	res.Took = time.Since(started)
	return res, nil
}

// policies reads the live services' policies and checks the files given.
func policies(ctx context.Context, o Options, live summary.Conns) ([]Policy, error) {
	ps := []Policy{{Service: "risk-scoring", Flag: "--risk-policy", File: o.RiskPolicy},
		{Service: "intervention-scheduling", Flag: "--program-policy", File: o.ProgramPolicy},
		{Service: "prescriber-outreach", Flag: "--outreach-policy", File: o.OutreachPolicy},
		{Service: "payment-reconciliation", Flag: "--payment-policy", File: o.PaymentPolicy}}
	for i, p := range ps {
		if p.File != "" {
			if _, err := os.Stat(p.File); err != nil {
				return nil, fmt.Errorf("%s: %w", p.Flag, err)
			}
		}
		r, err := opsv1.NewPolicyServiceClient(live[p.Service]).GetPolicy(ctx, &opsv1.GetPolicyRequest{})
		if err != nil {
			return nil, fmt.Errorf("%s: its policy: %w", p.Service, err)
		}
		ps[i].LiveName, ps[i].LiveSHA256, ps[i].live = r.Name, r.Sha256, r.Text
	}
	return ps, nil
}

type copyCounts struct{ copied, read, stored uint64 }

// shadow runs a shadow pipeline in dir under the policy files by service,
// copies the live events into it, waits until it has handled them and reads
// its figures; it stops the shadow before it returns.
func shadow(ctx context.Context, o Options, live summary.Conns, dir string, files map[string]string) (f Figures, n copyCounts, err error) {
	rctx, cancel := context.WithTimeout(ctx, o.Within)
	defer cancel()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, n, err
	}
	fmt.Fprintln(o.Progress, "whatif: starting a shadow pipeline (its own NATS and redis-server, removed afterwards) ...")
	logf, err := os.Create(filepath.Join(dir, "shadow.log"))
	if err != nil {
		return f, n, err
	}
	defer logf.Close()
	args := map[string][]string{}
	for name, a := range stack.ReplayArgs {
		args[name] = append([]string(nil), a...)
	}
	for name, path := range files {
		args[name] = append(args[name], "-policy", path)
	}
	st, err := stack.Start(rctx, stack.Options{DataDir: filepath.Join(dir, "data"), Partitions: o.Partitions, Log: logf, ServiceArgs: args})
	if err != nil {
		return f, n, fmt.Errorf("shadow pipeline: %w", err)
	}
	defer st.Stop()
	tel, err := otelx.Setup(rctx, "emtm-whatif", func(string) string { return "" }) // the shadow's spans go nowhere
	if err != nil {
		return f, n, err
	}
	defer func() { _ = tel.Shutdown(context.WithoutCancel(ctx)) }()
	conns := summary.Conns{}
	for name, addr := range st.Addrs {
		cc, err := grpcx.Dial(addr, tel)
		if err != nil {
			return f, n, err
		}
		defer cc.Close()
		conns[name] = cc
	}
	nc, err := nats.Connect(st.NATSURL, nats.Name("emtm-whatif"))
	if err != nil {
		return f, n, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(o.Window))
	if err != nil {
		return f, n, err
	}
	if n, err = copyEvents(rctx, o, live, js); err != nil {
		return f, n, err
	}
	fmt.Fprintf(o.Progress, "whatif: %d events copied; waiting for the shadow pipeline to handle them ...\n", n.copied)
	if err := stack.Settle(rctx, js, conns, o.Within); err != nil {
		return f, n, fmt.Errorf("shadow pipeline: %w", err)
	}
	if f, err = Collect(rctx, conns, o.Contract, o.PBP); err != nil {
		return f, n, fmt.Errorf("the shadow: %w", err)
	}
	return f, n, nil
}

// copyEvents reads the live program's events through ingestion's
// ExportEvents and publishes each as it was stored (subject, headers, data)
// to the shadow's streams, at most o.Window awaiting their acknowledgement.
func copyEvents(ctx context.Context, o Options, live summary.Conns, js jetstream.JetStream) (n copyCounts, err error) {
	req := &ingestionv1.ExportEventsRequest{}
	if !o.From.IsZero() {
		req.From = o.From.Proto()
	}
	if !o.To.IsZero() {
		req.To = o.To.Proto()
	}
	stream, err := ingestionv1.NewIngestionServiceClient(live["ingestion"]).ExportEvents(ctx, req)
	if err != nil {
		return n, fmt.Errorf("ingestion: %w", err)
	}
	var bar *progressbar.ProgressBar
	win := &acks.Window{JS: js, Size: o.Window}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("ingestion: %w", err)
		}
		if bar == nil {
			n.stored = resp.Stored
			bar = progressbar.NewOptions64(int64(resp.Stored), progressbar.OptionSetWriter(o.Progress), progressbar.OptionSetDescription("events"),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
				progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond))
		}
		for _, ev := range resp.Events {
			if err := checkPartition(ev.Subject, o.Partitions); err != nil {
				return n, err
			}
			m := &nats.Msg{Subject: ev.Subject, Data: ev.Data, Header: nats.Header{}}
			for k, v := range ev.Headers {
				if strings.HasPrefix(k, "Nats-") && k != jetstream.MsgIDHeader {
					continue // the server's own (Nats-Expected-*, ...)
				}
				m.Header.Set(k, v)
			}
			if err := win.Publish(ctx, m); err != nil {
				return n, fmt.Errorf("shadow stream: %w", err)
			}
			n.copied++
			if n.copied%uint64(o.Step) == 0 {
				if err := win.Flush(ctx); err != nil {
					return n, fmt.Errorf("shadow stream: %w", err)
				}
				if err := bus.WaitIdle(ctx, js, 5*time.Millisecond); err != nil {
					return n, err
				}
			}
		}
		_ = bar.Set64(int64(resp.Read))
		n.read = resp.Read
	}
	if err := win.Flush(ctx); err != nil {
		return n, fmt.Errorf("shadow stream: %w", err)
	}
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(o.Progress)
	}
	return n, nil
}

// checkPartition refuses an event on a partition the shadow does not run
// (its subject's third token, p<N>): the live program runs more partitions.
func checkPartition(subject string, partitions int) error {
	toks := strings.Split(subject, ".")
	if len(toks) < 3 || !strings.HasPrefix(toks[2], "p") {
		return nil
	}
	n, err := strconv.Atoi(toks[2][1:])
	if err != nil || n < partitions {
		return nil
	}
	return fmt.Errorf("an event on partition p%d: the live program runs more than %d partitions; run the what-if with --partitions set to the live program's", n, partitions)
}
