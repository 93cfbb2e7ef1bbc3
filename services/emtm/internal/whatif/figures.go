package whatif

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/money"
	"github.com/emtm/emtm/services/emtm/internal/summary"
)

// Tiers are the risk tiers, highest first.
var Tiers = []string{"HIGH", "MODERATE", "LOW"}

// Figures are what a program did for a plan, read through the services' APIs.
type Figures struct {
	// MembersByTier: the plan's scored members by their tier now.
	MembersByTier map[string]int64
	// Tasks: the plan's interventions ever created, by kind.
	Tasks map[string]int64
	// PharmacistMinutes: Tasks times the program policy's minutes per task, by kind.
	PharmacistMinutes map[string]int64
	// TierTasks, TierMinutes and TierFeeCents: the tasks of the members in
	// each tier now, the pharmacist's minutes they take and what the plan's
	// fee schedule pays for them once done.
	TierTasks    map[string]int64
	TierFeeCents map[string]int64
	TierMinutes  map[string]int64
	// UnpricedTasks: tasks of kinds the fee schedule pays nothing for.
	UnpricedTasks map[string]int64
	// Ledger balances of every plan: pharmacy fees owed and prospective payments.
	PharmacyFeesCents, ProspectiveCents int64
	// Letters to prescribers and the outreach items they carried (the plan's).
	Letters, OutreachItems int64
}

// Collect reads a program's figures for the plan contract-pbp from its services.
func Collect(ctx context.Context, conns summary.Conns, contract, pbp string) (Figures, error) {
	f := Figures{MembersByTier: map[string]int64{}, Tasks: map[string]int64{}, PharmacistMinutes: map[string]int64{},
		TierTasks: map[string]int64{}, TierFeeCents: map[string]int64{}, TierMinutes: map[string]int64{}, UnpricedTasks: map[string]int64{}}
	scheduling := schedulingv1.NewInterventionSchedulingServiceClient(conns["intervention-scheduling"])
	tc, err := scheduling.GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{ContractId: contract, PbpId: pbp})
	if err != nil {
		return f, fmt.Errorf("intervention-scheduling: %w", err)
	}
	for _, c := range tc.Counts {
		f.Tasks[enums.Name(c.Kind)] += c.Count
	}
	for k, n := range f.Tasks {
		f.PharmacistMinutes[k] = n * int64(tc.PharmacistMinutes[k])
	}
	fs, err := ledgerv1.NewPaymentReconciliationServiceClient(conns["payment-reconciliation"]).GetFeeSchedule(ctx,
		&ledgerv1.GetFeeScheduleRequest{ContractId: contract, PbpId: pbp})
	if err != nil {
		return f, fmt.Errorf("payment-reconciliation: %w", err)
	}
	fee := FeesByKind(fs.Rules, tc.CompletedBy)
	// Each tier's members now, and every task each of them has had: a task
	// counts for the tier its member is in at the end (the tier a task was
	// scheduled in depends on which of two streams reached scheduling first).
	risk := riskv1.NewRiskScoringServiceClient(conns["risk-scoring"])
	for _, t := range Tiers {
		r, err := risk.ListByTier(ctx, &riskv1.ListByTierRequest{ContractId: contract, PbpId: pbp, Tier: enums.Of[riskv1.RiskTier](t)})
		if err != nil {
			return f, fmt.Errorf("risk-scoring: %w", err)
		}
		f.MembersByTier[t] = int64(len(r.MemberIds))
		for _, m := range r.MemberIds {
			ts, err := scheduling.ListTasks(ctx, &schedulingv1.ListTasksRequest{MemberId: m, ContractId: contract, PbpId: pbp, Limit: maxMemberTasks})
			if err != nil {
				return f, fmt.Errorf("intervention-scheduling: %w", err)
			}
			if len(ts.Tasks) >= maxMemberTasks {
				return f, fmt.Errorf("a member of the %s tier has %d tasks or more: more than a what-if reads", t, maxMemberTasks)
			}
			for _, task := range ts.Tasks {
				kind := enums.Name(task.Kind)
				f.TierTasks[t]++
				f.TierMinutes[t] += int64(tc.PharmacistMinutes[kind])
				cents, ok := fee[kind]
				if !ok {
					f.UnpricedTasks[kind]++
					continue
				}
				if f.TierFeeCents[t], err = money.Add(f.TierFeeCents[t], cents); err != nil {
					return f, fmt.Errorf("fees of the %s tier: %w", t, err)
				}
			}
		}
	}
	lt, err := ledgerv1.NewPaymentReconciliationServiceClient(conns["payment-reconciliation"]).GetLedgerTotals(ctx, &ledgerv1.GetLedgerTotalsRequest{})
	if err != nil {
		return f, fmt.Errorf("payment-reconciliation: %w", err)
	}
	f.PharmacyFeesCents, f.ProspectiveCents = lt.Balances["mtm_services_expense"], lt.Balances["prospective_payment_receivable"]
	os, err := outreachv1.NewPrescriberOutreachServiceClient(conns["prescriber-outreach"]).GetOutreachStats(ctx,
		&outreachv1.GetOutreachStatsRequest{ContractId: contract, PbpId: pbp})
	if err != nil {
		return f, fmt.Errorf("prescriber-outreach: %w", err)
	}
	t := os.GetTotal()
	f.Letters = os.Communications
	f.OutreachItems = t.GetPending() + t.GetSent() + t.GetAccepted() + t.GetDeclined() + t.GetNoResponse() + t.GetSuperseded()
	return f, nil
}

// maxMemberTasks bounds the tasks read of one member (ListTasks' largest page).
const maxMemberTasks = 1000

// FeesByKind is what a fee schedule pays for a task of each kind once done:
// for the first of the kind's completing services that has a rule, the latest
// rule for the task kind and that service, else the latest rule for the
// service (feeschedule.ForService's order). A kind with no rule is left out.
func FeesByKind(rules []*ledgerv1.FeeRule, completedBy []*schedulingv1.KindCodes) map[string]int64 {
	latest := func(match func(*ledgerv1.FeeRule) bool) (int64, bool) {
		var best *ledgerv1.FeeRule
		for _, r := range rules {
			if !match(r) {
				continue
			}
			if best == nil || dateKey(r) > dateKey(best) {
				best = r
			}
		}
		if best == nil {
			return 0, false
		}
		return best.Cents, true
	}
	out := map[string]int64{}
	for _, kc := range completedBy {
		kind := enums.Name(kc.Kind)
		for _, code := range kc.Codes {
			if c, ok := latest(func(r *ledgerv1.FeeRule) bool { return r.TaskKind == kind && slices.Contains(r.Codes, code) }); ok {
				out[kind] = c
				break
			}
			if c, ok := latest(func(r *ledgerv1.FeeRule) bool { return r.TaskKind == "" && slices.Contains(r.Codes, code) }); ok {
				out[kind] = c
				break
			}
		}
	}
	return out
}

func dateKey(r *ledgerv1.FeeRule) int32 {
	d := r.GetFrom()
	return d.GetYear()*10000 + d.GetMonth()*100 + d.GetDay()
}

// Row is one line of a comparison: a figure of the live program and of the what-if.
type Row struct {
	Figure     string
	Live, What string
	Change     string
}

// Compare lines the two programs' figures up.
func Compare(live, what Figures) []Row {
	var rows []Row
	count := func(name string, a, b int64) {
		rows = append(rows, Row{name, fmt.Sprint(a), fmt.Sprint(b), signed(b - a)})
	}
	cents := func(name string, a, b int64) {
		rows = append(rows, Row{name, money.Dollars(a), money.Dollars(b), signedDollars(b - a)})
	}
	hours := func(name string, a, b int64) {
		rows = append(rows, Row{name, hoursOf(a), hoursOf(b), signedHours(b - a)})
	}
	for _, t := range Tiers {
		count("members "+t, live.MembersByTier[t], what.MembersByTier[t])
	}
	for _, k := range kindsOf(live.Tasks, what.Tasks) {
		count("interventions "+k, live.Tasks[k], what.Tasks[k])
	}
	count("interventions, all", sum(live.Tasks), sum(what.Tasks))
	for _, k := range kindsOf(live.Tasks, what.Tasks) {
		hours("pharmacist hours "+k, live.PharmacistMinutes[k], what.PharmacistMinutes[k])
	}
	hours("pharmacist hours, all", sum(live.PharmacistMinutes), sum(what.PharmacistMinutes))
	cents("pharmacy fees owed (ledger)", live.PharmacyFeesCents, what.PharmacyFeesCents)
	cents("prospective payments (ledger)", live.ProspectiveCents, what.ProspectiveCents)
	count("prescriber letters", live.Letters, what.Letters)
	count("outreach items", live.OutreachItems, what.OutreachItems)
	for _, t := range Tiers {
		a, aok := per(live.TierFeeCents[t], live.MembersByTier[t])
		b, bok := per(what.TierFeeCents[t], what.MembersByTier[t])
		rows = append(rows, perRow("cost per member "+t, a, aok, b, bok, money.Dollars, signedDollars))
		a, aok = per(live.TierMinutes[t], live.MembersByTier[t])
		b, bok = per(what.TierMinutes[t], what.MembersByTier[t])
		rows = append(rows, perRow("pharmacist hours per member "+t, a, aok, b, bok, hoursOf, signedHours))
	}
	return rows
}

// per is a total over members, rounded half up (false: no members).
func per(total, members int64) (int64, bool) {
	if members == 0 {
		return 0, false
	}
	return roundedDiv(total, members), true
}

// perRow is a per-member figure's row ("-" where a tier has no members).
func perRow(name string, a int64, aok bool, b int64, bok bool, format, change func(int64) string) Row {
	r := Row{Figure: name, Live: "-", What: "-"}
	if aok {
		r.Live = format(a)
	}
	if bok {
		r.What = format(b)
	}
	if aok && bok {
		r.Change = change(b - a)
	}
	return r
}

// Print writes the comparison as a table.
func Print(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tlive\twhat-if\tchange\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.Figure, r.Live, r.What, r.Change)
	}
	return tw.Flush()
}

// WriteCSV writes the comparison as CSV (figure,live,whatif,change).
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"figure", "live", "whatif", "change"})
	for _, r := range rows {
		_ = cw.Write([]string{r.Figure, r.Live, r.What, r.Change})
	}
	cw.Flush()
	return cw.Error()
}

func kindsOf(ms ...map[string]int64) []string {
	var out []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func signed(n int64) string {
	if n > 0 {
		return fmt.Sprintf("+%d", n)
	}
	return fmt.Sprint(n)
}

func signedDollars(c int64) string {
	if c > 0 {
		return "+" + money.Dollars(c)
	}
	return money.Dollars(c)
}

// hoursOf writes minutes as hours with one decimal, rounded half up.
func hoursOf(min int64) string {
	tenths := roundedDiv(min, 6)
	return fmt.Sprintf("%d.%d", tenths/10, tenths%10)
}

func signedHours(min int64) string {
	if min < 0 {
		return "-" + hoursOf(-min)
	}
	if min > 0 {
		return "+" + hoursOf(min)
	}
	return "0.0"
}

// roundedDiv is a/b rounded half away from zero (b > 0), without overflow.
func roundedDiv(a, b int64) int64 {
	q, r := a/b, a%b
	if r < 0 {
		r = -r
	}
	if r >= b-r {
		if a < 0 {
			return q - 1
		}
		return q + 1
	}
	return q
}

// Title says which plan, policies and dates a what-if ran under.
func Title(o Options, r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "what-if for plan %s-%s", o.Contract, o.PBP)
	for _, p := range r.Policies {
		if p.File != "" {
			fmt.Fprintf(&b, "\n  %-24s %s (live: %s)", p.Service, p.File, p.LiveName)
		} else {
			fmt.Fprintf(&b, "\n  %-24s the live policy, %s (sha256 %.12s)", p.Service, p.LiveName, p.LiveSHA256)
		}
	}
	if o.windowed() {
		fmt.Fprintf(&b, "\n  events dated %s to %s; the live column is these events replayed under the live policies",
			orOpen(o.From.String(), o.From.IsZero()), orOpen(o.To.String(), o.To.IsZero()))
	}
	return b.String()
}

func orOpen(s string, open bool) string {
	if open {
		return "(open)"
	}
	return s
}
