package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/money"
)

// Tiers in the order pages show them.
var tiers = []string{"HIGH", "MODERATE", "LOW"}

// Chart is what console.js draws with uPlot: bars of one or more series over labels.
type Chart struct {
	Title  string        `json:"title"`
	Labels []string      `json:"labels"`
	Series []ChartSeries `json:"series"`
	Money  bool          `json:"money,omitempty"`
}

// ChartSeries is one series of a chart.
type ChartSeries struct {
	Label  string  `json:"label"`
	Values []int64 `json:"values"`
}

var funcs = template.FuncMap{
	"dollars": money.Dollars,
	"num":     num,
	"pct": func(r float64) string {
		return fmt.Sprintf("%.1f%%", r*100)
	},
	"bp": func(bp int64) string { return fmt.Sprintf("%.2f%%", float64(bp)/100) },
	"date": func(d *typesv1.Date) string {
		if d == nil || d.Year == 0 {
			return ""
		}
		return civil.FromProto(d).String()
	},
	"ym": func(m *typesv1.YearMonth) string {
		if m == nil {
			return ""
		}
		return fmt.Sprintf("%04d-%02d", m.Year, m.Month)
	},
	"enum": enumName,
	// cmr is the CMR encounter whose written summary a task is about: the
	// CMR a task of kind CMR_SUMMARY follows ("" for any other task).
	"cmr": func(t *schedulingv1.InterventionTask) string {
		if t.GetKind() != schedulingv1.TaskKind_TASK_KIND_CMR_SUMMARY {
			return ""
		}
		return strings.TrimPrefix(t.GetPeriod(), "E")
	},
	"chart": func(c Chart) (string, error) {
		b, err := json.Marshal(c)
		return string(b), err
	},
	"ms":       func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) },
	"pathq":    url.PathEscape,
	"q":        url.QueryEscape,
	"join":     strings.Join,
	"statuses": func() []string { return TaskStatuses },
	"ages":     func() []string { return Ages },
	"sub":      func(a, b int64) int64 { return a - b },
	"add": func(n ...int64) int64 {
		var t int64
		for _, x := range n {
			t += x
		}
		return t
	},
}

// num writes an integer with thousands separators.
func num(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ---- overview ----

// Overview is the program at a glance for one plan.
type Overview struct {
	Today       *typesv1.Date
	Month       *typesv1.YearMonth
	ByTier      []Count
	Members     int64
	Eligible    int64
	Problems    []Count
	Tasks       []TaskRow
	TaskTotals  map[string]int64
	Outreach    *outreachv1.ResponseCounts
	Letters     int64
	Statement   *ledgerv1.Statement
	Consumers   []ConsumerRow
	DeadLetters int64
	Charts      []Chart
}

// Count is a labelled number.
type Count struct {
	Label string
	N     int64
}

// TaskRow is one kind's tasks by status.
type TaskRow struct {
	Kind     string
	ByStatus map[string]int64
	Total    int64
}

// TaskStatuses in the order tables show them.
var TaskStatuses = []string{"SCHEDULED", "LEASED", "COMPLETED", "DECLINED", "EXPIRED", "CANCELLED"}

// ConsumerRow is one durable consumer's backlog.
type ConsumerRow struct {
	Stream, Name                     string
	Pending, AckPending, Redelivered int64
	LastActive                       string
	Waiting                          int
}

func (h *handler) overview(ctx context.Context, p *Page, r *http.Request) error {
	p.Refresh = int(h.o.Refresh.Seconds())
	o := &Overview{TaskTotals: map[string]int64{}}
	plan := p.Plan
	var stats *riskv1.GetProfileStatsResponse
	var counts *schedulingv1.GetTaskCountsResponse
	var ost *outreachv1.GetOutreachStatsResponse
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		stats, err = h.b.Risk.GetProfileStats(gctx, &riskv1.GetProfileStatsRequest{ContractId: plan.Contract, PbpId: plan.PBP})
		return rpcErr("risk-scoring", err)
	})
	g.Go(func() (err error) {
		counts, err = h.b.Scheduling.GetTaskCounts(gctx, &schedulingv1.GetTaskCountsRequest{ContractId: plan.Contract, PbpId: plan.PBP})
		return rpcErr("intervention-scheduling", err)
	})
	g.Go(func() (err error) {
		ost, err = h.b.Outreach.GetOutreachStats(gctx, &outreachv1.GetOutreachStatsRequest{ContractId: plan.Contract, PbpId: plan.PBP})
		return rpcErr("prescriber-outreach", err)
	})
	if p.Viewer.Operator && h.b.JS != nil {
		g.Go(func() error {
			rows, dead, err := h.consumers(gctx)
			o.Consumers, o.DeadLetters = byDurable(rows), dead
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, t := range tiers {
		o.ByTier = append(o.ByTier, Count{Label: t, N: stats.ByTier[t]})
		o.Members += stats.ByTier[t]
	}
	o.Eligible = stats.Eligible
	o.Problems = sortedCounts(stats.ByProblem)
	o.Tasks = taskRows(counts.Counts, o.TaskTotals)
	o.Today = counts.Today
	o.Outreach, o.Letters = ost.Total, ost.Communications
	if o.Today != nil && o.Today.Year > 0 {
		o.Month = &typesv1.YearMonth{Year: o.Today.Year, Month: o.Today.Month}
		st, err := h.b.Payment.GetStatement(ctx, &ledgerv1.GetStatementRequest{ContractId: plan.Contract, PbpId: plan.PBP, Month: o.Month})
		if err != nil {
			return fromRPC("payment-reconciliation", err)
		}
		o.Statement = st.Statement
	}
	tierChart := Chart{Title: "Members by tier", Series: []ChartSeries{{Label: "members"}}}
	for _, c := range o.ByTier {
		tierChart.Labels = append(tierChart.Labels, c.Label)
		tierChart.Series[0].Values = append(tierChart.Series[0].Values, c.N)
	}
	o.Charts = append(o.Charts, tierChart)
	p.Data = o
	return nil
}

// rpcErr wraps a service's error for the page (nil stays nil).
func rpcErr(service string, err error) error {
	if err == nil {
		return nil
	}
	return fromRPC(service, err)
}

func sortedCounts(m map[string]int64) []Count {
	var out []Count
	for k, n := range m {
		out = append(out, Count{Label: k, N: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].N > out[j].N || out[i].N == out[j].N && out[i].Label < out[j].Label })
	return out
}

func taskRows(counts []*schedulingv1.TaskCount, totals map[string]int64) []TaskRow {
	rows := map[string]*TaskRow{}
	var kinds []string
	for _, c := range counts {
		k := enums.Name(c.Kind)
		if rows[k] == nil {
			rows[k] = &TaskRow{Kind: k, ByStatus: map[string]int64{}}
			kinds = append(kinds, k)
		}
		st := enums.Name(c.Status)
		rows[k].ByStatus[st] += c.Count
		rows[k].Total += c.Count
		totals[st] += c.Count
		totals["ALL"] += c.Count
	}
	sort.Strings(kinds)
	out := make([]TaskRow, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, *rows[k])
	}
	return out
}

// byDurable sums each durable's partitions (risk-scoring-claims-p0..p3 is one line).
func byDurable(rows []ConsumerRow) []ConsumerRow {
	var out []ConsumerRow
	at := map[string]int{}
	for _, r := range rows {
		name := r.Name
		if i := strings.LastIndex(name, "-p"); i > 0 {
			if _, err := strconv.Atoi(name[i+2:]); err == nil {
				name = name[:i]
			}
		}
		k := r.Stream + "/" + name
		j, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, ConsumerRow{Stream: r.Stream, Name: name})
			j = len(out) - 1
		}
		out[j].Pending += r.Pending
		out[j].AckPending += r.AckPending
		out[j].Redelivered += r.Redelivered
		out[j].Waiting += r.Waiting
	}
	return out
}

// consumers reads every durable consumer's info (monitoring) and the dead-letter count.
func (h *handler) consumers(ctx context.Context) ([]ConsumerRow, int64, error) {
	var out []ConsumerRow
	var dead int64
	names := h.b.JS.StreamNames(ctx)
	var streams []string
	for n := range names.Name() {
		streams = append(streams, n)
	}
	if err := names.Err(); err != nil {
		return nil, 0, fmt.Errorf("NATS stream names: %w", err)
	}
	sort.Strings(streams)
	for _, sn := range streams {
		st, err := h.b.JS.Stream(ctx, sn)
		if err != nil {
			return nil, 0, fmt.Errorf("NATS stream %s: %w", sn, err)
		}
		if sn == bus.StreamDLQ {
			dead = int64(st.CachedInfo().State.Msgs)
		}
		cs := st.ListConsumers(ctx)
		for ci := range cs.Info() {
			row := ConsumerRow{Stream: sn, Name: ci.Name, Pending: int64(ci.NumPending), AckPending: int64(ci.NumAckPending),
				Redelivered: int64(ci.NumRedelivered), Waiting: ci.NumWaiting}
			if ci.Delivered.Last != nil {
				row.LastActive = ci.Delivered.Last.UTC().Format(time.RFC3339)
			}
			out = append(out, row)
		}
		if err := cs.Err(); err != nil {
			return nil, 0, fmt.Errorf("NATS consumers of %s: %w", sn, err)
		}
	}
	return out, dead, nil
}

// ---- member ----

// MemberView is one member's page.
type MemberView struct {
	Profile  *riskv1.Profile
	Tasks    []*schedulingv1.InterventionTask
	Items    []*outreachv1.OutreachItem
	Letters  []Letter
	Problems []*riskv1.DrugTherapyProblem
}

// Letter is a letter to a prescriber, with only this member's items.
type Letter struct {
	ID, Prescriber, Period string
	Created                *typesv1.Date
	Items                  []*outreachv1.OutreachItem
}

// findMember opens the member named in the search box.
func (h *handler) findMember(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("member_id"))
	if id == "" {
		h.page("members", h.members)(w, r)
		return
	}
	http.Redirect(w, r, "/members/"+url.PathEscape(id), http.StatusSeeOther)
}

// MembersView lists a plan's members in a tier.
type MembersView struct {
	Tier  string
	IDs   []string
	Total int
	Shown int
	Tiers []string
}

// membersShown bounds the list (the ids come sorted from risk-scoring).
const membersShown = 500

func (h *handler) members(ctx context.Context, p *Page, r *http.Request) error {
	tier := strings.ToUpper(r.URL.Query().Get("tier"))
	if tier == "" {
		tier = "HIGH"
	}
	t, ok := riskv1.RiskTier_value["RISK_TIER_"+tier]
	if !ok || t == 0 {
		return httpError{code: http.StatusBadRequest, msg: fmt.Sprintf("tier: %q is not one of HIGH, MODERATE, LOW", tier)}
	}
	resp, err := h.b.Risk.ListByTier(ctx, &riskv1.ListByTierRequest{ContractId: p.Plan.Contract, PbpId: p.Plan.PBP, Tier: riskv1.RiskTier(t)})
	if err != nil {
		return fromRPC("risk-scoring", err)
	}
	v := &MembersView{Tier: tier, Total: len(resp.MemberIds), Tiers: tiers}
	v.IDs = resp.MemberIds[:min(len(resp.MemberIds), membersShown)]
	v.Shown = len(v.IDs)
	p.Title = fmt.Sprintf("Members in tier %s", tier)
	p.Data = v
	return nil
}

func (h *handler) member(ctx context.Context, p *Page, r *http.Request) error {
	id := r.PathValue("member_id")
	if id == "" || len(id) > 64 {
		return httpError{code: http.StatusBadRequest, msg: "member_id: 1 to 64 characters"}
	}
	prof, err := h.b.Risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: id})
	if err != nil {
		return fromRPC("risk-scoring", err)
	}
	pr := prof.Profile
	if !p.Viewer.MaySee(pr.ContractId) {
		return notFound("risk-scoring: no profile for member_id %q", id) // another sponsor's member is missing, as in the services
	}
	p.Title = "Member " + id
	v := &MemberView{Profile: pr}
	if a := pr.LatestAssessment; a != nil {
		v.Problems = a.Problems
	}
	tl, err := h.b.Scheduling.ListTasks(ctx, &schedulingv1.ListTasksRequest{MemberId: id, ContractId: pr.ContractId, PbpId: pr.PbpId, Limit: 200})
	if err != nil {
		return fromRPC("intervention-scheduling", err)
	}
	v.Tasks = tl.Tasks
	// Outreach items are kept by prescriber: those of this member's prescribers.
	npis := map[string]bool{}
	for _, f := range pr.Fills {
		if f.PrescriberNpi != "" {
			npis[f.PrescriberNpi] = true
		}
	}
	for _, prob := range v.Problems {
		for _, n := range prob.PrescriberNpis {
			npis[n] = true
		}
	}
	var list []string
	for n := range npis {
		list = append(list, n)
	}
	sort.Strings(list)
	if len(list) > 50 {
		list = list[:50]
		p.Notes = append(p.Notes, "outreach is shown for the member's first 50 prescribers")
	}
	mine := map[string]bool{}
	for _, npi := range list {
		items, err := h.b.Outreach.ListOutreach(ctx, &outreachv1.ListOutreachRequest{PrescriberNpi: npi, Limit: outreachRead})
		if err != nil {
			return fromRPC("prescriber-outreach", err)
		}
		if len(items.Items) == outreachRead {
			p.Notes = append(p.Notes, fmt.Sprintf("prescriber %s has more than %d items: only the latest are searched for this member's", npi, outreachRead))
		}
		for _, it := range items.Items {
			if it.MemberId == id {
				v.Items = append(v.Items, it)
				mine[it.ItemId] = true
			}
		}
		comms, err := h.b.Outreach.ListCommunications(ctx, &outreachv1.ListCommunicationsRequest{PrescriberNpi: npi, Limit: 100})
		if err != nil {
			return fromRPC("prescriber-outreach", err)
		}
		for _, c := range comms.Communications {
			l := Letter{ID: c.CommunicationId, Prescriber: c.PrescriberNpi, Period: c.Period, Created: c.CreatedOn}
			for _, it := range c.Items {
				if it.MemberId == id {
					l.Items = append(l.Items, it)
				}
			}
			if len(l.Items) > 0 {
				v.Letters = append(v.Letters, l)
			}
		}
	}
	p.Data = v
	return nil
}

// outreachRead bounds the items of one prescriber a page searches.
const outreachRead = 1000

// ---- tasks ----

// TasksView is the interventions page.
type TasksView struct {
	Today    *typesv1.Date
	Capacity []*schedulingv1.CapacityUse
	Rows     []TaskRow
	Totals   map[string]int64
	Backlog  []BacklogRow
	Overdue  []*schedulingv1.InterventionTask
	Measures []*schedulingv1.Measure
	Year     int32
	Charts   []Chart
}

// BacklogRow is one kind's open tasks by age.
type BacklogRow struct {
	Kind  string
	ByAge map[string]int64
}

// Ages of open tasks, in order.
var Ages = []string{"not_due", "overdue_1_7d", "overdue_8_30d", "overdue_31d_plus"}

func (h *handler) tasks(ctx context.Context, p *Page, _ *http.Request) error {
	plan := p.Plan
	v := &TasksView{Totals: map[string]int64{}}
	counts, err := h.b.Scheduling.GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{ContractId: plan.Contract, PbpId: plan.PBP})
	if err != nil {
		return fromRPC("intervention-scheduling", err)
	}
	v.Today, v.Rows, v.Capacity = counts.Today, taskRows(counts.Counts, v.Totals), counts.Capacity
	byKind := map[string]map[string]int64{}
	var kinds []string
	for _, b := range counts.Backlog {
		if byKind[b.Kind] == nil {
			byKind[b.Kind] = map[string]int64{}
			kinds = append(kinds, b.Kind)
		}
		byKind[b.Kind][b.Age] += b.Count
	}
	sort.Strings(kinds)
	chart := Chart{Title: "Open tasks by kind and age", Labels: kinds}
	for _, age := range Ages {
		s := ChartSeries{Label: age}
		for _, k := range kinds {
			s.Values = append(s.Values, byKind[k][age])
		}
		chart.Series = append(chart.Series, s)
	}
	for _, k := range kinds {
		v.Backlog = append(v.Backlog, BacklogRow{Kind: k, ByAge: byKind[k]})
	}
	v.Charts = []Chart{chart}
	od, err := h.b.Scheduling.ListTasks(ctx, &schedulingv1.ListTasksRequest{ContractId: plan.Contract, PbpId: plan.PBP, OverdueOnly: true, Limit: 50})
	if err != nil {
		return fromRPC("intervention-scheduling", err)
	}
	v.Overdue = od.Tasks
	if v.Today != nil && v.Today.Year > 0 {
		v.Year = v.Today.Year
		ms, err := h.b.Scheduling.GetMonitoringMeasures(ctx, &schedulingv1.GetMonitoringMeasuresRequest{ContractId: plan.Contract, PbpId: plan.PBP, Year: v.Year})
		if err != nil {
			return fromRPC("intervention-scheduling", err)
		}
		v.Measures = ms.Measures
	}
	p.Data = v
	return nil
}

// ---- outreach ----

// OutreachView is the outreach page.
type OutreachView struct {
	Stats   *outreachv1.GetOutreachStatsResponse
	Letters []*outreachv1.Communication
	Charts  []Chart
}

// lettersOf bounds the letters the outreach page reads: the latest few of
// the prescribers with the most items.
const lettersPrescribers, lettersEach = 20, 3

func (h *handler) outreach(ctx context.Context, p *Page, _ *http.Request) error {
	st, err := h.b.Outreach.GetOutreachStats(ctx, &outreachv1.GetOutreachStatsRequest{ContractId: p.Plan.Contract, PbpId: p.Plan.PBP})
	if err != nil {
		return fromRPC("prescriber-outreach", err)
	}
	c := Chart{Title: "Items by problem and answer"}
	series := map[string]*ChartSeries{}
	order := []string{"accepted", "declined", "no response", "awaiting"}
	for _, o := range order {
		series[o] = &ChartSeries{Label: o}
	}
	for _, b := range st.ByProblem {
		c.Labels = append(c.Labels, b.Key)
		series["accepted"].Values = append(series["accepted"].Values, b.Accepted)
		series["declined"].Values = append(series["declined"].Values, b.Declined)
		series["no response"].Values = append(series["no response"].Values, b.NoResponse)
		series["awaiting"].Values = append(series["awaiting"].Values, b.Pending+b.Sent)
	}
	for _, o := range order {
		c.Series = append(c.Series, *series[o])
	}
	v := &OutreachView{Stats: st, Charts: []Chart{c}}
	busiest := append([]*outreachv1.ResponseCounts(nil), st.ByPrescriber...)
	sort.SliceStable(busiest, func(i, j int) bool { return total(busiest[i]) > total(busiest[j]) })
	for _, pr := range busiest[:min(len(busiest), lettersPrescribers)] {
		cs, err := h.b.Outreach.ListCommunications(ctx, &outreachv1.ListCommunicationsRequest{PrescriberNpi: pr.Key, Limit: lettersEach})
		if err != nil {
			return fromRPC("prescriber-outreach", err)
		}
		for _, c := range cs.Communications {
			if len(c.Items) > 0 && c.Items[0].ContractId == p.Plan.Contract && c.Items[0].PbpId == p.Plan.PBP {
				v.Letters = append(v.Letters, c) // a letter carries one plan's items (outreach batches by plan and prescriber)
			}
		}
	}
	sort.SliceStable(v.Letters, func(i, j int) bool {
		return civil.FromProto(v.Letters[i].CreatedOn).Compare(civil.FromProto(v.Letters[j].CreatedOn)) > 0
	})
	p.Data = v
	return nil
}

func total(r *outreachv1.ResponseCounts) int64 {
	return r.Pending + r.Sent + r.Accepted + r.Declined + r.NoResponse + r.Superseded
}

// ---- payments ----

// PaymentsView is the payments page.
type PaymentsView struct {
	Year        int32
	Years       []int32
	Months      []*ledgerv1.Statement
	Selected    *ledgerv1.Statement
	Performance *ledgerv1.PerformanceCalculation
	Projection  Projection
	Charts      []Chart
}

// Projection is the performance-payment tracker's arithmetic.
type Projection struct {
	Known            bool
	MonthsElapsed    int32
	ProjectedCents   int64
	TargetCents      int64
	DistanceCents    int64
	ReductionPercent string
}

func (h *handler) payments(ctx context.Context, p *Page, r *http.Request) error {
	plan := p.Plan
	counts, err := h.b.Scheduling.GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{ContractId: plan.Contract, PbpId: plan.PBP})
	if err != nil {
		return fromRPC("intervention-scheduling", err)
	}
	today := counts.Today
	v := &PaymentsView{}
	if today == nil || today.Year == 0 {
		p.Notes = append(p.Notes, "the program has no date yet (no events): nothing to show")
		p.Data = v
		return nil
	}
	v.Year = today.Year
	last := today.Month
	for y := today.Year; y > today.Year-6; y-- {
		v.Years = append(v.Years, y)
	}
	if q := r.URL.Query().Get("year"); q != "" {
		y, err := strconv.Atoi(q)
		if err != nil || int32(y) > today.Year || int32(y) < 2006 {
			return httpError{code: http.StatusBadRequest, msg: fmt.Sprintf("year: %q is not a year from 2006 to %d", q, today.Year)}
		}
		if v.Year = int32(y); v.Year < today.Year {
			last = 12
		}
	}
	months := make([]*ledgerv1.Statement, last)
	g, gctx := errgroup.WithContext(ctx)
	for m := int32(1); m <= last; m++ {
		g.Go(func() error {
			st, err := h.b.Payment.GetStatement(gctx, &ledgerv1.GetStatementRequest{ContractId: plan.Contract, PbpId: plan.PBP,
				Month: &typesv1.YearMonth{Year: v.Year, Month: m}})
			if err != nil {
				return fromRPC("payment-reconciliation", err)
			}
			months[m-1] = st.Statement
			return nil
		})
	}
	var perf *ledgerv1.GetPerformanceResponse
	g.Go(func() (err error) {
		perf, err = h.b.Payment.GetPerformance(gctx, &ledgerv1.GetPerformanceRequest{ContractId: plan.Contract, PbpId: plan.PBP, Year: v.Year})
		return rpcErr("payment-reconciliation", err)
	})
	if err := g.Wait(); err != nil {
		return err
	}
	v.Months, v.Performance = months, perf.Calculation
	v.Selected = months[len(months)-1]
	if sel := r.URL.Query().Get("month"); sel != "" {
		for _, m := range months {
			if fmt.Sprintf("%04d-%02d", m.Month.GetYear(), m.Month.GetMonth()) == sel {
				v.Selected = m
			}
		}
	}
	c := Chart{Title: "Net by month", Money: true, Series: []ChartSeries{{Label: "prospective"}, {Label: "fees"}, {Label: "performance"}}}
	for _, m := range months {
		c.Labels = append(c.Labels, fmt.Sprintf("%04d-%02d", m.Month.GetYear(), m.Month.GetMonth()))
		c.Series[0].Values = append(c.Series[0].Values, m.ProspectiveCents+m.AdjustmentsCents)
		c.Series[1].Values = append(c.Series[1].Values, m.FeesCents)
		c.Series[2].Values = append(c.Series[2].Values, m.PerformanceCents)
	}
	v.Charts = []Chart{c}
	v.Projection = project(v.Performance, last)
	p.Data = v
	return nil
}

// project extends Parts A/B spending to date over the year and compares it
// with the benchmark less the target reduction (the model's 2 %; the
// threshold the payment policy states). The reading: spending accrues evenly
// over the months elapsed (a straight-line projection, no seasonality).
func project(c *ledgerv1.PerformanceCalculation, monthsElapsed int32) Projection {
	pr := Projection{MonthsElapsed: monthsElapsed}
	if c == nil || !c.HasBenchmark || c.AbSummaries == 0 || monthsElapsed <= 0 {
		return pr
	}
	pr.Known = true
	pr.ProjectedCents = c.PerMemberYearCents
	pr.TargetCents = c.BenchmarkCents - c.BenchmarkCents*c.ThresholdBp/10000
	pr.DistanceCents = pr.ProjectedCents - pr.TargetCents
	pr.ReductionPercent = fmt.Sprintf("%.2f%%", float64(c.ReductionBp)/100)
	return pr
}

// EntriesView lists the ledger entries behind one line of a statement.
type EntriesView struct {
	Month     string
	Line      *ledgerv1.StatementLine
	Entries   []*ledgerv1.LedgerEntry
	Missing   int
	Truncated int
}

// entriesShown bounds the entries of one line listed on a page.
const entriesShown = 1000

func (h *handler) entries(ctx context.Context, p *Page, r *http.Request) error {
	q := r.URL.Query()
	var y, m, line int
	if _, err := fmt.Sscanf(q.Get("month"), "%04d-%02d", &y, &m); err != nil || m < 1 || m > 12 {
		return httpError{code: http.StatusBadRequest, msg: fmt.Sprintf("month: %q is not YYYY-MM", q.Get("month"))}
	}
	line, err := strconv.Atoi(q.Get("line"))
	if err != nil || line < 0 {
		return httpError{code: http.StatusBadRequest, msg: fmt.Sprintf("line: %q is not a line number", q.Get("line"))}
	}
	st, err := h.b.Payment.GetStatement(ctx, &ledgerv1.GetStatementRequest{ContractId: p.Plan.Contract, PbpId: p.Plan.PBP,
		Month: &typesv1.YearMonth{Year: int32(y), Month: int32(m)}})
	if err != nil {
		return fromRPC("payment-reconciliation", err)
	}
	if line >= len(st.Statement.Lines) {
		return notFound("the statement of %04d-%02d has %d lines", y, m, len(st.Statement.Lines))
	}
	v := &EntriesView{Month: fmt.Sprintf("%04d-%02d", y, m), Line: st.Statement.Lines[line]}
	ids := v.Line.EntryIds
	if len(ids) > entriesShown {
		v.Truncated, ids = len(ids)-entriesShown, ids[:entriesShown]
	}
	if len(ids) > 0 {
		es, err := h.b.Payment.ListLedgerEntries(ctx, &ledgerv1.ListLedgerEntriesRequest{EntryIds: ids})
		if err != nil {
			return fromRPC("payment-reconciliation", err)
		}
		v.Entries, v.Missing = es.Entries, len(ids)-len(es.Entries)
	}
	p.Title = fmt.Sprintf("Entries of %s: %s", v.Month, v.Line.Label)
	p.Data = v
	return nil
}

// ---- operations ----

// OperationsView is the operations page (operators only).
type OperationsView struct {
	Health      []Count
	HealthText  map[string]string
	Consumers   []ConsumerRow
	DeadLetters int64
	Dead        []DeadLetterRow
	Rejections  []RejectionRow
}

// DeadLetterRow is a dead letter and the service whose consumer gave up on it.
type DeadLetterRow struct {
	Service string
	D       *opsv1.DeadLetter
}

// RejectionRow is a stored rejection with its status.
type RejectionRow struct {
	R      *ingestionv1.Rejection
	Status *ingestionv1.RejectionStatus
}

func (h *handler) operations(ctx context.Context, p *Page, r *http.Request) error {
	if !p.Viewer.Operator {
		return forbidden("operations are for operators (a certificate with OU *)")
	}
	if done := h.signedOutcome(r); done != "" {
		p.Notes = append(p.Notes, "Last action: "+done)
	}
	v := &OperationsView{HealthText: map[string]string{}}
	var names []string
	for n := range h.b.Health {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		resp, err := h.b.Health[n].Check(ctx, &healthpb.HealthCheckRequest{})
		st := "NOT ANSWERING"
		if err == nil {
			st = resp.GetStatus().String()
		}
		v.HealthText[n] = st
		ok := int64(0)
		if st == healthpb.HealthCheckResponse_SERVING.String() {
			ok = 1
		}
		v.Health = append(v.Health, Count{Label: n, N: ok})
	}
	if h.b.JS != nil {
		var err error
		if v.Consumers, v.DeadLetters, err = h.consumers(ctx); err != nil {
			return err
		}
	} else {
		p.Notes = append(p.Notes, "no NATS connection: consumer backlogs are not shown")
	}
	for _, n := range names {
		dc := h.b.DeadLetters[n]
		if dc == nil {
			continue
		}
		dl, err := dc.ListDeadLetters(ctx, &opsv1.ListDeadLettersRequest{Limit: 50})
		if err != nil {
			return fromRPC(n, err)
		}
		for _, d := range dl.DeadLetters {
			v.Dead = append(v.Dead, DeadLetterRow{Service: n, D: d})
		}
	}
	sort.SliceStable(v.Dead, func(i, j int) bool { return v.Dead[i].D.Sequence > v.Dead[j].D.Sequence })
	rej, err := h.b.Ingestion.ListRejections(ctx, &ingestionv1.ListRejectionsRequest{Limit: 50})
	if err != nil {
		return fromRPC("ingestion", err)
	}
	for i, r := range rej.Rejections {
		row := RejectionRow{R: r}
		if i < len(rej.Statuses) {
			row.Status = rej.Statuses[i]
		}
		v.Rejections = append(v.Rejections, row)
	}
	p.Data = v
	return nil
}

// redeliver hands a dead letter to its consumer again (operators only; a POST from this origin).
func (h *handler) redeliver(w http.ResponseWriter, r *http.Request) {
	v, err := h.viewer(r)
	if err != nil || !v.Operator {
		h.fail(w, r, Page{Viewer: v}, forbidden("redelivering a dead letter is for operators"))
		return
	}
	dc := h.b.DeadLetters[r.PathValue("service")]
	seq, err := strconv.ParseUint(r.PathValue("sequence"), 10, 64)
	if dc == nil || err != nil {
		h.fail(w, r, Page{Viewer: v}, notFound("no such service or dead letter"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.CallTimeout)
	defer cancel()
	msg := ""
	if _, err := dc.RedeliverDeadLetter(ctx, &opsv1.RedeliverDeadLetterRequest{Consumer: r.PathValue("consumer"), Sequence: seq}); err != nil {
		msg = "not redelivered: " + fromRPC(r.PathValue("service"), err).Error()
	} else {
		msg = fmt.Sprintf("dead letter %d handled again by %s", seq, r.PathValue("consumer"))
	}
	http.Redirect(w, r, h.outcome(msg, "dead"), http.StatusSeeOther)
}

// resubmit resubmits a stored rejection (operators only; a POST from this origin).
// cmrSummary sends a CMR's written summary (CMS Standardized Format) as a
// PDF download, for a viewer who may see the member's contract; any other
// viewer finds nothing, as in the services.
func (h *handler) cmrSummary(w http.ResponseWriter, r *http.Request) {
	v, err := h.viewer(r)
	if err != nil {
		h.fail(w, r, Page{Name: "error", Title: "Not allowed"}, forbidden("%v", err))
		return
	}
	p := Page{Viewer: v, Plans: h.plans(v)}
	id := r.PathValue("encounter_id")
	if id == "" || len(id) > 128 {
		h.fail(w, r, p, httpError{code: http.StatusBadRequest, msg: "encounter_id: 1 to 128 characters"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.CallTimeout)
	defer cancel()
	resp, err := h.b.Risk.GetCmrSummary(ctx, &riskv1.GetCmrSummaryRequest{EncounterId: id})
	if err != nil {
		h.fail(w, r, p, fromRPC("risk-scoring", err))
		return
	}
	if !v.MaySee(resp.ContractId) {
		h.fail(w, r, p, notFound("risk-scoring: no completed CMR has encounter_id %q", id))
		return
	}
	name := strings.Map(func(c rune) rune {
		if c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			return c
		}
		return '_'
	}, id)
	hd := w.Header()
	hd.Set("Content-Type", "application/pdf")
	hd.Set("Content-Disposition", `attachment; filename="cmr-summary-`+name+`.pdf"`)
	hd.Set("Cache-Control", "no-store") // it carries the member's id and birth date
	_, _ = w.Write(resp.Pdf)
}

func (h *handler) resubmit(w http.ResponseWriter, r *http.Request) {
	v, err := h.viewer(r)
	if err != nil || !v.Operator {
		h.fail(w, r, Page{Viewer: v}, forbidden("resubmitting a rejection is for operators"))
		return
	}
	id := r.PathValue("rejection_id")
	ctx, cancel := context.WithTimeout(r.Context(), h.o.CallTimeout)
	defer cancel()
	resp, err := h.b.Ingestion.ResubmitRejection(ctx, &ingestionv1.ResubmitRejectionRequest{RejectionId: id})
	msg := ""
	switch {
	case err != nil:
		msg = "not resubmitted: " + fromRPC("ingestion", err).Error()
	case resp.GetAccepted() != nil:
		msg = "resubmitted and accepted as " + resp.GetAccepted().GetEventId()
	default:
		msg = "resubmitted and rejected again as " + resp.GetRejection().GetRejectionId()
	}
	http.Redirect(w, r, h.outcome(msg, "rejections"), http.StatusSeeOther)
}

// enumName is a protobuf enum value's name without its type's prefix
// (RISK_TIER_HIGH -> HIGH), as enums.Name spells it.
func enumName(e protoreflect.Enum) string {
	vals := e.Descriptor().Values()
	v := vals.ByNumber(e.Number())
	if v == nil {
		return fmt.Sprint(e.Number())
	}
	prefix := strings.TrimSuffix(string(vals.Get(0).Name()), "UNSPECIFIED")
	return strings.TrimPrefix(string(v.Name()), prefix)
}
