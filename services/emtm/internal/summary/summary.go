// Package summary reports what the pipeline has done: counts read from the
// streams (what was stored) and from each service's API (what its state says).
package summary

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/emtm/emtm/libs/bus"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/money"
)

// Summary is the state of the pipeline.
type Summary struct {
	ClaimsIngested    int64            `json:"claims_ingested"`
	ClaimsReversed    int64            `json:"claims_reversed"`
	ClaimsRejected    int64            `json:"claims_rejected"`
	RejectedByKind    map[string]int64 `json:"rejected_by_kind"`
	Enrollments       int64            `json:"enrollments"`
	PartsAB           int64            `json:"parts_ab_summaries"`
	Conditions        int64            `json:"conditions"`
	Encounters        int64            `json:"encounters"`
	Assessments       int64            `json:"assessments"`
	MembersByTier     map[string]int64 `json:"members_by_tier"`
	Profiles          int64            `json:"profiles"`
	ProfileBytesAvg   int64            `json:"profile_bytes_avg"`
	MTMEligible       int64            `json:"mtm_eligible"`
	ProblemsNow       map[string]int64 `json:"members_with_problem"`
	TasksScheduled    int64            `json:"tasks_scheduled"`
	TasksByKindStatus map[string]int64 `json:"tasks_by_kind_status"`
	OutreachItems     int64            `json:"outreach_items"`
	OutreachByProblem map[string]int64 `json:"outreach_by_problem"`
	OutreachByStatus  map[string]int64 `json:"outreach_by_status"`
	Communications    int64            `json:"outreach_communications"`
	LedgerEntries     int64            `json:"ledger_entries"`
	LedgerTotalCents  int64            `json:"ledger_total_cents"`
	LedgerBalances    map[string]int64 `json:"ledger_balances_cents"`
	LedgerByKind      map[string]int64 `json:"ledger_entries_by_kind"`
	DeadLetters       int64            `json:"dead_letters"`
}

// Conns are the gRPC connections to the services, by service name.
type Conns map[string]*grpc.ClientConn

// CollectStreams reads the counts the streams hold: what was stored.
func CollectStreams(ctx context.Context, js jetstream.JetStream) (Summary, error) {
	s := Summary{RejectedByKind: map[string]int64{}, MembersByTier: map[string]int64{}, TasksByKindStatus: map[string]int64{}}
	subjects := func(stream, filter string) (map[string]uint64, uint64, error) {
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return nil, 0, fmt.Errorf("stream %s: %w", stream, err)
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return nil, 0, fmt.Errorf("stream %s: %w", stream, err)
		}
		return info.State.Subjects, info.State.Msgs, nil
	}
	claims, _, err := subjects(bus.StreamClaims, bus.ClaimPaid.Filter())
	if err != nil {
		return s, err
	}
	for _, n := range claims {
		s.ClaimsIngested += int64(n)
	}
	reversed, _, err := subjects(bus.StreamClaims, bus.ClaimReversed.Filter())
	if err != nil {
		return s, err
	}
	for _, n := range reversed {
		s.ClaimsReversed += int64(n)
	}
	rej, _, err := subjects(bus.StreamRejections, bus.Rejection.Filter())
	if err != nil {
		return s, err
	}
	for subj, n := range rej {
		if kind, ok := bus.Rejection.Parse(subj); ok {
			s.RejectedByKind[kind[0]] += int64(n)
		}
	}
	s.ClaimsRejected = s.RejectedByKind[bus.KindClaim]
	for _, c := range []struct {
		topic bus.TopicSpec
		dst   *int64
	}{{bus.PartsAB.TopicSpec, &s.PartsAB}, {bus.Condition.TopicSpec, &s.Conditions}} {
		counts, _, err := subjects(c.topic.Stream, c.topic.Filter())
		if err != nil {
			return s, err
		}
		for _, n := range counts {
			*c.dst += int64(n)
		}
	}
	for _, c := range []struct {
		stream string
		dst    *int64
	}{
		{bus.StreamEnrollment, &s.Enrollments}, {bus.StreamEncounters, &s.Encounters},
		{bus.StreamAssessments, &s.Assessments}, {bus.StreamDLQ, &s.DeadLetters},
	} {
		st, err := js.Stream(ctx, c.stream)
		if err != nil {
			return s, err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return s, err
		}
		*c.dst = int64(info.State.Msgs)
	}
	return s, nil
}

// Collect reads the summary for the plan contract-pbp.
func Collect(ctx context.Context, js jetstream.JetStream, conns Conns, contract, pbp string) (Summary, error) {
	s, err := CollectStreams(ctx, js)
	if err != nil {
		return s, err
	}
	risk := riskv1.NewRiskScoringServiceClient(conns["risk-scoring"])
	for _, t := range []riskv1.RiskTier{riskv1.RiskTier_RISK_TIER_LOW, riskv1.RiskTier_RISK_TIER_MODERATE, riskv1.RiskTier_RISK_TIER_HIGH} {
		r, err := risk.ListByTier(ctx, &riskv1.ListByTierRequest{ContractId: contract, PbpId: pbp, Tier: t})
		if err != nil {
			return s, fmt.Errorf("risk-scoring: %w", err)
		}
		s.MembersByTier[enums.Name(t)] = int64(len(r.MemberIds))
	}
	ps, err := risk.GetProfileStats(ctx, &riskv1.GetProfileStatsRequest{})
	if err != nil {
		return s, fmt.Errorf("risk-scoring: %w", err)
	}
	s.Profiles, s.MTMEligible, s.ProblemsNow = ps.Profiles, ps.Eligible, ps.ByProblem
	if ps.Profiles > 0 {
		s.ProfileBytesAvg = ps.TotalBytes / ps.Profiles
	}
	if s.ProblemsNow == nil {
		s.ProblemsNow = map[string]int64{}
	}
	tc, err := schedulingv1.NewInterventionSchedulingServiceClient(conns["intervention-scheduling"]).GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{})
	if err != nil {
		return s, fmt.Errorf("intervention-scheduling: %w", err)
	}
	s.TasksScheduled = tc.Scheduled
	for _, c := range tc.Counts {
		s.TasksByKindStatus[enums.Name(c.Kind)+"/"+enums.Name(c.Status)] = c.Count
	}
	oc, err := outreachv1.NewPrescriberOutreachServiceClient(conns["prescriber-outreach"]).GetOutreachCounts(ctx, &outreachv1.GetOutreachCountsRequest{})
	if err != nil {
		return s, fmt.Errorf("prescriber-outreach: %w", err)
	}
	s.OutreachItems, s.OutreachByProblem = oc.Items, oc.ByProblem
	if s.OutreachByProblem == nil {
		s.OutreachByProblem = map[string]int64{}
	}
	ost, err := outreachv1.NewPrescriberOutreachServiceClient(conns["prescriber-outreach"]).GetOutreachStats(ctx, &outreachv1.GetOutreachStatsRequest{})
	if err != nil {
		return s, fmt.Errorf("prescriber-outreach: %w", err)
	}
	s.Communications = ost.Communications
	s.OutreachByStatus = map[string]int64{}
	for st, n := range map[string]int64{"PENDING": ost.Total.GetPending(), "SENT": ost.Total.GetSent(), "ACCEPTED": ost.Total.GetAccepted(),
		"DECLINED": ost.Total.GetDeclined(), "NO_RESPONSE": ost.Total.GetNoResponse(), "SUPERSEDED": ost.Total.GetSuperseded()} {
		if n > 0 {
			s.OutreachByStatus[st] = n
		}
	}
	lt, err := ledgerv1.NewPaymentReconciliationServiceClient(conns["payment-reconciliation"]).GetLedgerTotals(ctx, &ledgerv1.GetLedgerTotalsRequest{})
	if err != nil {
		return s, fmt.Errorf("payment-reconciliation: %w", err)
	}
	s.LedgerEntries, s.LedgerTotalCents, s.LedgerBalances, s.LedgerByKind = lt.Entries, lt.TotalCents, lt.Balances, lt.EntriesByKind
	if s.LedgerByKind == nil {
		s.LedgerByKind = map[string]int64{}
	}
	if s.LedgerBalances == nil {
		s.LedgerBalances = map[string]int64{}
	}
	return s, nil
}

// Dollars formats cents as dollars, e.g. 123456 -> "$1,234.56" (money.Dollars).
func Dollars(c int64) string { return money.Dollars(c) }

func joined(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// Print writes the summary for people.
func (s Summary) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "claims ingested\t%d\t(reversed %d, rejected %d)\n", s.ClaimsIngested, s.ClaimsReversed, s.ClaimsRejected)
	fmt.Fprintf(tw, "rejections\t%d\t(%s)\n", sum(s.RejectedByKind), joined(s.RejectedByKind))
	fmt.Fprintf(tw, "enrollment spans\t%d\t\n", s.Enrollments)
	fmt.Fprintf(tw, "Parts A/B summaries\t%d\t\n", s.PartsAB)
	fmt.Fprintf(tw, "conditions\t%d\t\n", s.Conditions)
	fmt.Fprintf(tw, "MTM encounters\t%d\t\n", s.Encounters)
	fmt.Fprintf(tw, "assessments\t%d\t(the %d members with a scored fill, by their tier now: %s)\n", s.Assessments, sum(s.MembersByTier), joined(s.MembersByTier))
	fmt.Fprintf(tw, "profiles\t%d\t(members with any claim, condition or Parts A/B record; %d bytes each on average; MTM eligible %d; with a problem now: %s)\n", s.Profiles, s.ProfileBytesAvg, s.MTMEligible, joined(s.ProblemsNow))
	fmt.Fprintf(tw, "tasks scheduled\t%d\t(%s)\n", s.TasksScheduled, joined(s.TasksByKindStatus))
	fmt.Fprintf(tw, "outreach items\t%d\t(%s)\n", s.OutreachItems, joined(s.OutreachByProblem))
	fmt.Fprintf(tw, "prescriber letters\t%d\t(items %s)\n", s.Communications, joined(s.OutreachByStatus))
	fmt.Fprintf(tw, "ledger entries\t%d\t(%s)\n", s.LedgerEntries, joined(s.LedgerByKind))
	fmt.Fprintf(tw, "prospective payment\t%s\t(%d member months)\n", Dollars(s.LedgerBalances["prospective_payment_receivable"]), s.LedgerByKind["PROSPECTIVE"]-s.LedgerByKind["PROSPECTIVE_ADJUSTMENT"])
	fmt.Fprintf(tw, "pharmacy fees owed\t%s\t(for %d services; %d more services are in suspense, unpaid: no fee rule on their date)\n", Dollars(s.LedgerBalances["mtm_services_expense"]), s.LedgerByKind["FEE"], s.LedgerByKind["SUSPENSE"])
	fmt.Fprintf(tw, "dead letters\t%d\t\n", s.DeadLetters)
	_ = tw.Flush()
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// WriteJSON writes the summary to path.
func (s Summary) WriteJSON(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
