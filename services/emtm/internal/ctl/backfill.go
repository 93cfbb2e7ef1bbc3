package ctl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	"github.com/emtm/emtm/services/emtm/internal/acks"
	"github.com/emtm/emtm/services/emtm/internal/load"
	"github.com/emtm/emtm/services/emtm/internal/population"
	"github.com/emtm/emtm/services/emtm/internal/stack"
	"github.com/emtm/emtm/services/emtm/internal/summary"
)

// backfillCmd is `backfill population DIR`: a population's history published
// as raw submissions on the bus, as pharmacy systems and the sponsor's feed
// publish them, at the bus's pace.
func backfillCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "backfill", Short: "Load history through the bus at its pace (raw submissions, as pharmacies and the feed publish them)"}
	var window int
	var within time.Duration
	pop := &cobra.Command{
		Use:   "population DIR",
		Short: "Publish a population directory (emtmctl generate population) as raw submissions and wait until the pipeline has handled them",
		Long: "Publish a population directory's records as raw submissions on the bus, as their senders would: claims and\n" +
			"reversals on emtm.raw.pharmacy.<NPI>.<kind> (the claim's pharmacy), enrollment, diagnoses and Parts A/B\n" +
			"summaries on emtm.raw.feed.<contract>.<kind> (the sponsor's feed), protobuf, with --window publishes awaiting\n" +
			"their acknowledgement at once. In three passes, each once the pipeline has handled the last: enrollment and\n" +
			"diagnoses, then claims and reversals, then Parts A/B summaries (in one pass the feed's stays overtake the claims\n" +
			"they follow and the program differs from an in-order load). Ingestion validates them as any submission (stored\n" +
			"rejections, idempotency: a second backfill changes nothing). Then, as emtm run after a load, waits until every\n" +
			"consumer is idle, runs the scheduling, outreach and payment sweeps (operators; audited), waits again and prints\n" +
			"what the program gained. Needs a NATS user that may publish those subjects and read stream info (with least\n" +
			"privilege: the admin). Run emtm in the replay mode (bin/emtm run --replay) for history. docs/population.md",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			var m population.Manifest
			b, err := os.ReadFile(filepath.Join(dir, population.ManifestFile))
			if err == nil {
				err = json.Unmarshal(b, &m)
			}
			if err != nil || m.Contract == "" {
				return fmt.Errorf("%s: its manifest names no contract (%v): backfill reads a directory of emtmctl generate population", dir, err)
			}
			nc, js, err := g.jetstreamWith(jetstream.WithPublishAsyncMaxPending(window))
			if err != nil {
				return err
			}
			defer nc.Close()
			conns, closeConns, err := g.dialAll()
			if err != nil {
				return err
			}
			defer closeConns()
			ctx := cmd.Context()
			before, err := summary.Collect(ctx, js, conns, m.Contract, m.PBP)
			if err != nil {
				return err
			}
			start := time.Now()
			n := 0
			phases := backfillPhases(m.Counts)
			for i, ph := range phases {
				report := cmd.ErrOrStderr()
				if i > 0 {
					report = io.Discard // a line that cannot be read was reported in the first pass
				}
				src, _, _, _, closeAll, err := streamPopulation(dir, report)
				if err != nil {
					return err
				}
				k, err := backfill(ctx, js, src, ph, m.Contract, window, cmd.ErrOrStderr())
				closeAll()
				n += k
				if err != nil {
					return fmt.Errorf("after %d records: %w", n, err)
				}
				if i < len(phases)-1 {
					fmt.Fprintf(cmd.ErrOrStderr(), "%d %s published; waiting until the pipeline has handled them ...\n", k, ph.name)
					wctx, cancel := context.WithTimeout(ctx, within)
					err := bus.WaitIdle(wctx, js, 100*time.Millisecond)
					cancel()
					if err != nil {
						return err
					}
				}
			}
			published := time.Since(start)
			fmt.Fprintf(cmd.ErrOrStderr(), "published %d records in %s (%.0f a second); waiting for the pipeline ...\n",
				n, published.Round(time.Millisecond), float64(n)/published.Seconds())
			// As emtm run does after a load: idle, the sweeps (expiry,
			// letters, member months on the final clocks), idle again.
			if err := stack.Settle(ctx, js, conns, within); err != nil {
				return err
			}
			took := time.Since(start)
			after, err := summary.Collect(ctx, js, conns, m.Contract, m.PBP)
			if err != nil {
				return err
			}
			printBackfill(cmd.OutOrStdout(), n, published, took, before, after)
			return nil
		},
	}
	pop.Flags().IntVar(&window, "window", 256, "publishes awaiting their acknowledgement at once")
	pop.Flags().DurationVar(&within, "timeout", 2*time.Hour, "give up waiting for the pipeline after this")
	root.AddCommand(pop)
	return root
}

// phase is one pass over a population: the records it publishes.
type phase struct {
	name  string
	kinds []string
	total int
}

// backfillPhases are the passes of a backfill: every member's enrollment and
// diagnoses, then the claims and reversals, then the Parts A/B summaries,
// each once the pipeline has handled the last. The feed's and the
// pharmacies' submissions are two consumers: published together, a member's
// hospital stays reached scheduling before the claims they follow, moved its
// event clock ahead and scheduled work the member never needed (measured,
// 2,000 members: 3,501 tasks and 1,396 outreach items, against 2,309 and
// 1,131 when gRPC submits each member's records in order; enrollment and
// diagnoses first alone changed nothing; in these three passes, 2,309 and 1,131).
func backfillPhases(c population.Counts) []phase {
	return []phase{
		{name: "enrollment spans and diagnoses", kinds: []string{bus.KindEnrollment, bus.KindCondition}, total: c.Enrollments + c.Conditions},
		{name: "claims and reversals", kinds: []string{bus.KindClaim, bus.KindReversal}, total: c.Claims + c.Reversals},
		{name: "Parts A/B summaries", kinds: []string{bus.KindMedical}, total: c.Medical},
	}
}

// backfill publishes the records of ph's kinds that src gives, in its
// order, as raw submissions; at most window await their acknowledgement.
func backfill(ctx context.Context, js jetstream.JetStream, src load.MemberSource, ph phase, contract string, window int, progress io.Writer) (int, error) {
	bar := progressbar.NewOptions(ph.total, progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription(ph.name),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	win := &acks.Window{JS: js, Size: window, Acked: func() { _ = bar.Add(1) }}
	n := 0
	for {
		_, subs, err := src()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		for _, s := range subs {
			if !slices.Contains(ph.kinds, s.Kind) {
				continue
			}
			msg, err := rawSubmission(s, contract)
			if err != nil {
				return n, err
			}
			if err := win.Publish(ctx, msg); err != nil {
				return n, err
			}
			n++
		}
	}
	if err := win.Flush(ctx); err != nil {
		return n, err
	}
	_ = bar.Finish()
	return n, nil
}

// rawSubmission is s as its sender publishes it: a claim or reversal on its
// pharmacy's subject, the rest on the contract's feed subject, protobuf. Its
// Nats-Msg-Id is its content's hash, so a retried publish is dropped.
func rawSubmission(s load.Submission, contract string) (*nats.Msg, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(s.Msg)
	if err != nil {
		return nil, err
	}
	var subject string
	switch m := s.Msg.(type) {
	case *claimsv1.PharmacyClaim:
		subject = bus.RawPharmacy.Subject(m.GetPharmacyNpi(), bus.KindClaim)
	case *claimsv1.ClaimReversal:
		subject = bus.RawPharmacy.Subject(m.GetPharmacyNpi(), bus.KindReversal)
	default:
		subject = bus.RawFeed.Subject(contract, s.Kind)
	}
	sum := sha256.Sum256(data)
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(bus.HeaderContentType, bus.ContentProtobuf)
	msg.Header.Set(jetstream.MsgIDHeader, "backfill/"+s.Kind+"/"+hex.EncodeToString(sum[:16]))
	return msg, nil
}

// printBackfill writes what the streams gained.
func printBackfill(w io.Writer, n int, published, took time.Duration, before, after summary.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "records published\t%d in %s (%.0f a second)\n", n, published.Round(time.Millisecond), float64(n)/published.Seconds())
	fmt.Fprintf(tw, "pipeline finished\tafter %s (%.0f records a second, from the first publish until every consumer was idle)\n",
		took.Round(time.Millisecond), float64(n)/took.Seconds())
	fmt.Fprintf(tw, "claims accepted\t%d\n", after.ClaimsIngested-before.ClaimsIngested)
	fmt.Fprintf(tw, "reversals accepted\t%d\n", after.ClaimsReversed-before.ClaimsReversed)
	fmt.Fprintf(tw, "enrollment spans\t%d\n", after.Enrollments-before.Enrollments)
	fmt.Fprintf(tw, "diagnoses\t%d\n", after.Conditions-before.Conditions)
	fmt.Fprintf(tw, "Parts A/B summaries\t%d\n", after.PartsAB-before.PartsAB)
	var rej []string
	for k, v := range after.RejectedByKind {
		if d := v - before.RejectedByKind[k]; d > 0 {
			rej = append(rej, fmt.Sprintf("%s %d", k, d))
		}
	}
	r := "none"
	sort.Strings(rej)
	if len(rej) > 0 {
		r = strings.Join(rej, ", ") + " (bin/emtmctl rejects list)"
	}
	fmt.Fprintf(tw, "rejections\t%s\n", r)
	fmt.Fprintf(tw, "assessments\t%d\n", after.Assessments-before.Assessments)
	fmt.Fprintf(tw, "tasks scheduled\t%d\n", after.TasksScheduled-before.TasksScheduled)
	fmt.Fprintf(tw, "outreach items\t%d\n", after.OutreachItems-before.OutreachItems)
	fmt.Fprintf(tw, "prescriber letters\t%d\n", after.Communications-before.Communications)
	fmt.Fprintf(tw, "ledger entries\t%d\n", after.LedgerEntries-before.LedgerEntries)
	fmt.Fprintf(tw, "dead letters\t%d\n", after.DeadLetters-before.DeadLetters)
	_ = tw.Flush()
}
