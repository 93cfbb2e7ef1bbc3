package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/emtm/emtm/libs/civil"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
)

// Hop is one thing a claim caused, in one service.
type Hop struct {
	Service string
	What    string
	At      string
	IDs     []string
	Detail  string
	Link    string
}

// Journey is one accepted claim's path (one per pharmacy that used the claim id).
type Journey struct {
	Record  *ingestionv1.ClaimRecord
	Hops    []Hop
	Trace   *Waterfall
	NoTrace string
	// JaegerLink opens the trace in Jaeger's UI.
	JaegerLink string
	Services   []string
}

// JourneyView is the claim's page.
type JourneyView struct {
	ClaimID    string
	Journeys   []Journey
	Rejections []*ingestionv1.Rejection
}

// findClaim opens the claim named in the search box.
func (h *handler) findClaim(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("claim_id"))
	if id == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/claims/"+url.PathEscape(id), http.StatusSeeOther)
}

func (h *handler) claim(ctx context.Context, p *Page, r *http.Request) error {
	id := r.PathValue("claim_id")
	if id == "" || len(id) > 64 {
		return httpError{code: http.StatusBadRequest, msg: "claim_id: 1 to 64 characters"}
	}
	found, err := h.b.Ingestion.FindClaim(ctx, &ingestionv1.FindClaimRequest{ClaimId: id})
	if err != nil {
		return fromRPC("ingestion", err)
	}
	v := &JourneyView{ClaimID: id}
	if p.Viewer.Operator {
		v.Rejections = found.Rejections
	}
	for _, rec := range found.Claims {
		if !p.Viewer.MaySee(rec.ContractId) {
			continue
		}
		j, err := h.journey(ctx, rec)
		if err != nil {
			return err
		}
		v.Journeys = append(v.Journeys, j)
	}
	if len(v.Journeys) == 0 && len(v.Rejections) == 0 {
		return notFound("ingestion: no claim with claim_id %q", id)
	}
	if len(v.Journeys) > 1 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d pharmacies used claim id %s: each claim's journey is shown", len(v.Journeys), id))
	}
	p.Title = "Claim " + id
	p.Data = v
	return nil
}

// journey follows one accepted claim through the five services by the ids
// each event carries: the claim's event caused an assessment (its causation
// id), which caused tasks and outreach items (their assessment id); an item
// is sent in a letter and, once accepted, booked as a fee.
func (h *handler) journey(ctx context.Context, rec *ingestionv1.ClaimRecord) (Journey, error) {
	j := Journey{Record: rec}
	at := func(t interface{ AsTime() time.Time }) string {
		return t.AsTime().UTC().Format("2006-01-02 15:04:05.000")
	}
	j.Hops = append(j.Hops,
		Hop{Service: "ingestion", What: "raw submission stored", IDs: []string{fmt.Sprintf("EMTM_RAW #%d", rec.RawSequence)},
			Detail: "from pharmacy " + rec.PharmacyNpi},
		Hop{Service: "ingestion", What: "canonical claim published", At: at(rec.RecordedAt),
			IDs:    []string{rec.EventId, fmt.Sprintf("EMTM_CLAIMS #%d", rec.ClaimSequence)},
			Detail: fmt.Sprintf("member %s, plan %s-%s, dispensed %s", rec.MemberId, rec.ContractId, rec.PbpId, civil.FromProto(rec.DateOfService))})
	prof, err := h.b.Risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: rec.MemberId})
	if err != nil {
		return j, fromRPC("risk-scoring", err)
	}
	inProfile := "not in the profile now (reversed, or dropped as stale)"
	for _, f := range prof.Profile.Fills {
		if f.ClaimId == rec.ClaimId && (f.PharmacyNpi == "" || f.PharmacyNpi == rec.PharmacyNpi) {
			inProfile = fmt.Sprintf("fill of %s, %d days, prescriber %s", strings.Join(f.Ingredients, " + "), f.DaysSupply, f.PrescriberNpi)
		}
	}
	j.Hops = append(j.Hops, Hop{Service: "risk-scoring", What: "profile changed", IDs: []string{"member " + rec.MemberId}, Detail: inProfile,
		Link: "/members/" + rec.MemberId})
	as, err := h.b.Risk.ListAssessments(ctx, &riskv1.ListAssessmentsRequest{MemberId: rec.MemberId})
	if err != nil {
		return j, fromRPC("risk-scoring", err)
	}
	caused := map[string]bool{}
	prescribers := map[string]bool{}
	for _, a := range as.Assessments {
		if a.GetMeta().GetCausationId() != rec.EventId {
			continue
		}
		caused[a.AssessmentId] = true
		var codes []string
		for _, pr := range a.Problems {
			codes = append(codes, pr.Code)
			for _, n := range pr.PrescriberNpis {
				prescribers[n] = true
			}
		}
		was := enumName(a.PreviousTier)
		if a.PreviousTier == riskv1.RiskTier_RISK_TIER_UNSPECIFIED {
			was = "none"
		}
		detail := fmt.Sprintf("tier %s (was %s), score %d", enumName(a.Tier), was, a.Score)
		if len(codes) > 0 {
			detail += ", problems " + strings.Join(codes, ", ")
		}
		j.Hops = append(j.Hops, Hop{Service: "risk-scoring", What: "assessment published", At: at(a.GetMeta().GetRecordedAt()),
			IDs: []string{a.AssessmentId}, Detail: detail})
	}
	if len(caused) == 0 {
		j.Hops = append(j.Hops, Hop{Service: "risk-scoring", What: "no new assessment", Detail: "the claim changed neither the tier nor the problems"})
	}
	tasks, err := h.b.Scheduling.ListTasks(ctx, &schedulingv1.ListTasksRequest{MemberId: rec.MemberId, ContractId: rec.ContractId, PbpId: rec.PbpId, Limit: 1000})
	if err != nil {
		return j, fromRPC("intervention-scheduling", err)
	}
	for _, t := range tasks.Tasks {
		if caused[t.AssessmentId] {
			j.Hops = append(j.Hops, Hop{Service: "intervention-scheduling", What: "task " + enumName(t.Kind), At: at(t.GetMeta().GetRecordedAt()),
				IDs: []string{t.TaskId}, Detail: fmt.Sprintf("%s, due %s: %s", enumName(t.Status), civil.FromProto(t.DueDate), t.Reason)})
		}
	}
	var npis []string
	for n := range prescribers {
		npis = append(npis, n)
	}
	sort.Strings(npis)
	var entryIDs []string
	for _, npi := range npis {
		items, err := h.b.Outreach.ListOutreach(ctx, &outreachv1.ListOutreachRequest{PrescriberNpi: npi, Limit: outreachRead})
		if err != nil {
			return j, fromRPC("prescriber-outreach", err)
		}
		mine := map[string]bool{}
		for _, it := range items.Items {
			if !caused[it.AssessmentId] || it.MemberId != rec.MemberId {
				continue
			}
			mine[it.ItemId] = true
			entryIDs = append(entryIDs, "le/accepted/"+it.ItemId)
			j.Hops = append(j.Hops, Hop{Service: "prescriber-outreach", What: "outreach item " + it.ProblemCode, At: at(it.GetMeta().GetRecordedAt()),
				IDs: []string{it.ItemId}, Detail: fmt.Sprintf("%s, to prescriber %s", enumName(it.Status), npi)})
		}
		if len(mine) == 0 {
			continue
		}
		comms, err := h.b.Outreach.ListCommunications(ctx, &outreachv1.ListCommunicationsRequest{PrescriberNpi: npi, Limit: 100})
		if err != nil {
			return j, fromRPC("prescriber-outreach", err)
		}
		for _, c := range comms.Communications {
			for _, it := range c.Items {
				if mine[it.ItemId] {
					j.Hops = append(j.Hops, Hop{Service: "prescriber-outreach", What: "letter to the prescriber", At: at(c.GetMeta().GetRecordedAt()),
						IDs: []string{c.CommunicationId}, Detail: fmt.Sprintf("period %s, carrying item %s", c.Period, it.ItemId)})
					break
				}
			}
		}
	}
	if len(entryIDs) > 0 {
		es, err := h.b.Payment.ListLedgerEntries(ctx, &ledgerv1.ListLedgerEntriesRequest{EntryIds: entryIDs})
		if err != nil {
			return j, fromRPC("payment-reconciliation", err)
		}
		for _, e := range es.Entries {
			j.Hops = append(j.Hops, Hop{Service: "payment-reconciliation", What: "ledger entry " + enumName(e.Kind), At: at(e.GetMeta().GetRecordedAt()),
				IDs: []string{e.EntryId}, Detail: fmt.Sprintf("%s to %s: %s", fmtCents(e.AmountCents), e.CreditAccount, e.Memo)})
		}
	}
	seen := map[string]bool{}
	for _, hop := range j.Hops {
		if !seen[hop.Service] {
			seen[hop.Service] = true
			j.Services = append(j.Services, hop.Service)
		}
	}
	h.trace(ctx, &j)
	return j, nil
}

func fmtCents(c int64) string { return funcs["dollars"].(func(int64) string)(c) }

// ---- the trace, from Jaeger's query API ----

var traceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Waterfall is a trace drawn as bars: one row per span, in start order.
type Waterfall struct {
	TraceID    string
	DurationMS string
	Rows       []SpanRow
	Services   []string
}

// SpanRow is one span's bar; X and W are per-mille of the trace's duration.
type SpanRow struct {
	Service, Name string
	Depth         int
	X, W          int
	DurationMS    string
	Error         bool
}

// jaegerTrace is what Jaeger's /api/traces/{id} answers.
type jaegerTrace struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			SpanID        string `json:"spanID"`
			OperationName string `json:"operationName"`
			References    []struct {
				RefType string `json:"refType"`
				SpanID  string `json:"spanID"`
			} `json:"references"`
			StartTime int64  `json:"startTime"`
			Duration  int64  `json:"duration"`
			ProcessID string `json:"processID"`
			Tags      []struct {
				Key   string `json:"key"`
				Value any    `json:"value"`
			} `json:"tags"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

var errTraceGone = errors.New("not in the trace store")

// trace fills the journey's waterfall, or says why there is none.
func (h *handler) trace(ctx context.Context, j *Journey) {
	id := strings.ToLower(j.Record.TraceId)
	switch {
	case id == "" || !traceIDPattern.MatchString(id) || strings.Trim(id, "0") == "":
		j.NoTrace = "this claim was accepted without a trace"
		return
	case h.b.JaegerURL == "":
		j.NoTrace = "no trace store is configured (-jaeger-url); the trace id is " + id
		return
	}
	j.JaegerLink = h.b.JaegerURL + "/trace/" + id
	w, err := h.fetchTrace(ctx, id)
	switch {
	case errors.Is(err, errTraceGone):
		j.NoTrace = "the trace " + id + " is not in the trace store (aged out, or not exported yet)"
	case err != nil:
		j.NoTrace = "the trace store did not answer: " + err.Error()
	default:
		j.Trace = w
	}
}

func (h *handler) fetchTrace(ctx context.Context, id string) (*Waterfall, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.b.JaegerURL+"/api/traces/"+id, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, errTraceGone
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var t jaegerTrace
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&t); err != nil {
		return nil, fmt.Errorf("trace unreadable: %w", err)
	}
	if len(t.Data) == 0 || len(t.Data[0].Spans) == 0 {
		return nil, errTraceGone
	}
	return waterfall(t), nil
}

// waterfall lays the spans out: parents before children, siblings by start.
func waterfall(t jaegerTrace) *Waterfall {
	d := t.Data[0]
	byID := map[string]int{}
	for i, s := range d.Spans {
		byID[s.SpanID] = i
	}
	children := map[int][]int{}
	var roots []int
	start, end := int64(1<<62), int64(0)
	for i, s := range d.Spans {
		start, end = min(start, s.StartTime), max(end, s.StartTime+s.Duration)
		parent := -1
		for _, r := range s.References {
			if p, ok := byID[r.SpanID]; ok && r.RefType == "CHILD_OF" {
				parent = p
			}
		}
		if parent < 0 {
			roots = append(roots, i)
		} else {
			children[parent] = append(children[parent], i)
		}
	}
	byStart := func(ids []int) {
		sort.Slice(ids, func(a, b int) bool { return d.Spans[ids[a]].StartTime < d.Spans[ids[b]].StartTime })
	}
	total := max(end-start, 1)
	w := &Waterfall{TraceID: d.TraceID, DurationMS: fmt.Sprintf("%.1f", float64(total)/1000)}
	seen := map[string]bool{}
	var walk func(i, depth int)
	walk = func(i, depth int) {
		s := d.Spans[i]
		svc := d.Processes[s.ProcessID].ServiceName
		if !seen[svc] {
			seen[svc] = true
			w.Services = append(w.Services, svc)
		}
		x := min(max(int(float64(s.StartTime-start)*1000/float64(total)), 0), 1000)
		row := SpanRow{Service: svc, Name: s.OperationName, Depth: min(depth, 12),
			X: x, W: max(min(int(float64(s.Duration)*1000/float64(total)), 1000-x), 2),
			DurationMS: fmt.Sprintf("%.2f", float64(s.Duration)/1000)}
		for _, tag := range s.Tags {
			if (tag.Key == "error" && tag.Value == true) || (tag.Key == "otel.status_code" && tag.Value == "ERROR") {
				row.Error = true
			}
		}
		w.Rows = append(w.Rows, row)
		kids := children[i]
		byStart(kids)
		for _, k := range kids {
			if len(w.Rows) < 2000 {
				walk(k, depth+1)
			}
		}
	}
	byStart(roots)
	for _, r := range roots {
		walk(r, 0)
	}
	return w
}
