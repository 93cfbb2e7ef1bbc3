// Package load submits a population to ingestion over gRPC, the way a
// sponsor's bulk load would: enrollment first, then each member's claims in
// date order, then Parts A/B summaries and MTM encounters. It shows progress
// and returns counts; a rejection is counted by reason, never fatal.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/services/emtm/internal/synthea"
)

// Plan is the plan the population is enrolled in.
type Plan struct{ Contract, PBP string }

// SamplePlan is the fictional region-25 PDP of the demo.
var SamplePlan = Plan{Contract: "S9925", PBP: "001"}

// Result counts what happened.
type Result struct {
	// Read counts the records read, by kind (whether sent or not).
	Read       map[string]int `json:"read"`
	Submitted  int            `json:"submitted"`
	Accepted   int            `json:"accepted"`
	Duplicates int            `json:"duplicates"`
	// Held counts reversals kept until their claims arrive.
	Held int `json:"held"`
	// Awaiting counts claims and encounters kept until their member's enrollment arrives.
	Awaiting int            `json:"awaiting_enrollment"`
	Rejected map[string]int `json:"rejected_by_reason"`
	// Skipped are records not sent (for the sample: outside the members'
	// Medicare enrollment, which a Part D plan never receives).
	Skipped map[string]int `json:"skipped"`
	Seconds float64        `json:"seconds"`
}

// Submission is one record to submit.
type Submission struct {
	Kind string
	Msg  proto.Message
}

// Work is what to submit: First in order, then each member's records in order
// (members in parallel), then Last in order.
type Work struct {
	First    []Submission
	ByMember map[string][]Submission
	Last     []Submission
	Skipped  map[string]int
	Read     map[string]int
}

// Total is the number of submissions.
func (w Work) Total() int {
	n := len(w.First) + len(w.Last)
	for _, subs := range w.ByMember {
		n += len(subs)
	}
	return n
}

// SyntheaWork is the Medicare members' data of ds, for plan.
func SyntheaWork(ds *synthea.Dataset, plan Plan) Work {
	w := Work{ByMember: map[string][]Submission{}, Skipped: map[string]int{}, Read: map[string]int{}}
	for _, s := range ds.Enrollment {
		p := ds.Patients[s.Patient]
		e := &enrollmentv1.Enrollment{EnrollmentId: s.ID, MemberId: s.Patient, Mbi: synthea.SyntheticMBI(s.Patient),
			ContractId: plan.Contract, PbpId: plan.PBP, StartDate: s.Start.Proto(), EndDate: s.End.Proto(), BirthDate: p.Birth.Proto()}
		if s.Deceased {
			e.EndReason = enrollmentv1.EndReason_END_REASON_DECEASED
		}
		w.First = append(w.First, Submission{"enrollment", e})
	}
	for _, c := range ds.Conditions {
		if !ds.Member(c.Patient) {
			w.Skipped["condition"]++
			continue
		}
		w.First = append(w.First, Submission{"condition", &medicalv1.Condition{
			ConditionId: c.ID, MemberId: c.Patient, Mbi: synthea.SyntheticMBI(c.Patient),
			CodeSystem: medicalv1.CodeSystem_CODE_SYSTEM_SNOMED_CT, Code: c.Code, Description: c.Description,
			OnsetDate: c.Start.Proto(), ResolvedDate: c.Stop.Proto(),
		}})
	}
	for _, c := range ds.Claims {
		if !ds.Enrolled(c.Patient, c.FillDate) {
			w.Skipped["claim"]++
			continue
		}
		w.ByMember[c.Patient] = append(w.ByMember[c.Patient], Submission{"claim", claimOf(ds, c, plan)})
	}
	for _, m := range ds.Medical {
		if !ds.Enrolled(m.Patient, m.Start) {
			w.Skipped["medical"]++
			continue
		}
		setting := medicalv1.CareSetting_CARE_SETTING_EMERGENCY
		var discharge *typesv1.Date
		if m.Inpatient {
			setting, discharge = medicalv1.CareSetting_CARE_SETTING_INPATIENT, m.Stop.Proto()
		}
		w.Last = append(w.Last, Submission{"medical", &medicalv1.PartsAbSummary{
			SummaryId: m.ID, MemberId: m.Patient, Mbi: synthea.SyntheticMBI(m.Patient), ContractId: plan.Contract, PbpId: plan.PBP,
			ServiceMonth: &typesv1.YearMonth{Year: int32(m.Start.Year), Month: int32(m.Start.Month)},
			Setting:      setting, CostCents: m.CostCents, AdmitDate: m.Start.Proto(), DischargeDate: discharge,
		}})
	}
	for _, m := range ds.MTM {
		if !ds.Enrolled(m.Patient, m.Date) {
			w.Skipped["encounter"]++
			continue
		}
		w.Last = append(w.Last, Submission{"encounter", &encountersv1.MtmEncounter{
			EncounterId: m.ID, MemberId: m.Patient, Mbi: synthea.SyntheticMBI(m.Patient), ContractId: plan.Contract, PbpId: plan.PBP,
			ServiceDate: m.Date.Proto(), ServiceCodes: []string{m.Code}, PharmacistNpi: m.PharmacistNPI,
			PharmacyNpi: synthea.PharmacyOf(m.Patient), Minutes: int32(m.Minutes),
			DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_IN_PERSON, Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED,
		}})
	}
	w.Read["patient"] = len(ds.Patients)
	w.Read["enrollment"] = len(ds.Enrollment)
	w.Read["claim"] = len(ds.Claims)
	w.Read["medical"] = len(ds.Medical)
	w.Read["encounter"] = len(ds.MTM)
	w.Read["condition"] = len(ds.Conditions)
	return w
}

// Synthea submits the Medicare members' data of ds.
func Synthea(ctx context.Context, ds *synthea.Dataset, client ingestionv1.IngestionServiceClient, plan Plan, progress io.Writer) (Result, error) {
	return Submit(ctx, client, SyntheaWork(ds, plan), "loading", progress)
}

// Submit submits w's records: First in order, then each member's records
// in order (members in parallel), then Last in order. A rejection is
// counted, never fatal; an error ends it (what was submitted stays).
func Submit(ctx context.Context, client ingestionv1.IngestionServiceClient, w Work, label string, progress io.Writer) (Result, error) {
	members := make([]string, 0, len(w.ByMember))
	for m := range w.ByMember {
		members = append(members, m)
	}
	sort.Strings(members)
	next := 0
	source := func() (string, []Submission, error) {
		if next == len(members) {
			return "", nil, io.EOF
		}
		next++
		return members[next-1], w.ByMember[members[next-1]], nil
	}
	return submit(ctx, client, w.First, source, w.Last, w.Total(), w.Read, w.Skipped, label, progress)
}

// Submitters is how many members' records are submitted at once: each
// waits for ingestion's answer (a stored publish and its Redis round
// trips), so the load is bound by round trips, not by either side's CPU.
const Submitters = 16

// MemberSource gives one member's records at a time, in the order they are
// to be submitted; io.EOF ends it.
type MemberSource func() (member string, subs []Submission, err error)

// SubmitStream submits each member's records as source gives them (members
// in parallel, each member's in order), holding only a few members' records
// at a time. total sizes the progress bar (-1: unknown); read and skipped are
// the source's counts, read once source is done.
func SubmitStream(ctx context.Context, client ingestionv1.IngestionServiceClient, source MemberSource, total int, read, skipped map[string]int, label string, progress io.Writer) (Result, error) {
	return submit(ctx, client, nil, source, nil, total, read, skipped, label, progress)
}

func submit(ctx context.Context, client ingestionv1.IngestionServiceClient, first []Submission, source MemberSource, last []Submission,
	total int, read, skipped map[string]int, label string, progress io.Writer) (res Result, err error) {
	start := time.Now()
	res.Rejected = map[string]int{}
	defer func() { // the counts as they stand, also when it ends early
		res.Read, res.Skipped = read, skipped
		if res.Read == nil {
			res.Read = map[string]int{}
		}
		if res.Skipped == nil {
			res.Skipped = map[string]int{}
		}
		res.Seconds = time.Since(start).Seconds()
	}()
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription(label),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish())
	var mu sync.Mutex
	one := func(s Submission) error {
		out, err := send(ctx, client, s)
		mu.Lock()
		defer mu.Unlock()
		_ = bar.Add(1)
		res.Submitted++
		var rej rejected
		switch {
		case errors.As(err, &rej):
			for _, r := range rej.reasons {
				res.Rejected[s.Kind+":"+r]++
			}
		case err != nil:
			return err
		case out.GetAwaitingEnrollment():
			res.Awaiting++
		case out.GetHeld():
			res.Held++
		case out.GetDuplicate():
			res.Duplicates++
		default:
			res.Accepted++
		}
		return nil
	}
	for _, s := range first {
		if err := one(s); err != nil {
			return res, err
		}
	}
	// Members in parallel, each member's records in order; the source is
	// read a few members ahead of the submitters.
	work := make(chan []Submission, 2*Submitters)
	errc := make(chan error, Submitters+1)
	var wg sync.WaitGroup
	for i := 0; i < Submitters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for subs := range work {
				for _, s := range subs {
					if err := one(s); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	var ferr error
feed:
	for {
		_, subs, err := source()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			ferr = err
			break
		}
		select {
		case work <- subs:
		case ferr = <-errc:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if ferr == nil {
		select {
		case ferr = <-errc:
		default:
		}
	}
	if ferr != nil {
		return res, ferr
	}
	for _, s := range last {
		if err := one(s); err != nil {
			return res, err
		}
	}
	_ = bar.Finish()
	return res, nil
}

func claimOf(ds *synthea.Dataset, c synthea.Claim, plan Plan) *claimsv1.PharmacyClaim {
	return &claimsv1.PharmacyClaim{
		ClaimId: c.ClaimID, MemberId: c.Patient, Mbi: synthea.SyntheticMBI(c.Patient),
		ContractId: plan.Contract, PbpId: plan.PBP, DateOfService: c.FillDate.Proto(),
		RxnormCode: c.RxNorm, Ingredients: c.Ingredients, DrugDescription: c.Description,
		// Synthea gives no quantity: one unit a day is assumed.
		QuantityMilli: int64(c.DaysSupply) * 1000, DaysSupply: int32(c.DaysSupply),
		FillNumber: int32(min(c.Fill, 99)), PrescriberNpi: c.PrescriberNPI, PharmacyNpi: synthea.PharmacyOf(c.Patient),
		IngredientCostCents: c.CostCents, TotalCents: c.CostCents,
		BirthDate: ds.Patients[c.Patient].Birth.Proto(),
	}
}

type rejected struct{ reasons []string }

func (r rejected) Error() string { return fmt.Sprintf("rejected: %v", r.reasons) }

// send submits one record, retrying while ingestion is unavailable (bounded).
func send(ctx context.Context, c ingestionv1.IngestionServiceClient, s Submission) (*ingestionv1.Accepted, error) {
	var acc *ingestionv1.Accepted
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		switch m := s.Msg.(type) {
		case *claimsv1.PharmacyClaim:
			var r *ingestionv1.SubmitClaimResponse
			if r, err = c.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: m}); err == nil {
				acc = r.Accepted
			}
		case *enrollmentv1.Enrollment:
			var r *ingestionv1.SubmitEnrollmentResponse
			if r, err = c.SubmitEnrollment(ctx, &ingestionv1.SubmitEnrollmentRequest{Enrollment: m}); err == nil {
				acc = r.Accepted
			}
		case *medicalv1.PartsAbSummary:
			var r *ingestionv1.SubmitPartsAbSummaryResponse
			if r, err = c.SubmitPartsAbSummary(ctx, &ingestionv1.SubmitPartsAbSummaryRequest{Summary: m}); err == nil {
				acc = r.Accepted
			}
		case *encountersv1.MtmEncounter:
			var r *ingestionv1.SubmitEncounterResponse
			if r, err = c.SubmitEncounter(ctx, &ingestionv1.SubmitEncounterRequest{Encounter: m}); err == nil {
				acc = r.Accepted
			}
		case *medicalv1.Condition:
			var r *ingestionv1.SubmitConditionResponse
			if r, err = c.SubmitCondition(ctx, &ingestionv1.SubmitConditionRequest{Condition: m}); err == nil {
				acc = r.Accepted
			}
		case *claimsv1.ClaimReversal:
			var r *ingestionv1.SubmitReversalResponse
			if r, err = c.SubmitReversal(ctx, &ingestionv1.SubmitReversalRequest{Reversal: m}); err == nil {
				acc = r.Accepted
			}
		default:
			return nil, fmt.Errorf("load: unsupported %T", s.Msg)
		}
		if status.Code(err) != codes.Unavailable {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(200<<attempt) * time.Millisecond):
		}
	}
	if err == nil {
		return acc, nil
	}
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		return nil, fmt.Errorf("submit %s: %w", s.Kind, err)
	}
	var rej rejected
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				rej.reasons = append(rej.reasons, v.Reason)
			}
		}
	}
	if len(rej.reasons) == 0 {
		rej.reasons = []string{"INVALID"}
	}
	return nil, rej
}

// DateRange is the first and last date of service among submitted claims (for the summary).
func DateRange(ds *synthea.Dataset) (first, last civil.Date) {
	for _, c := range ds.Claims {
		if !ds.Enrolled(c.Patient, c.FillDate) {
			continue
		}
		if first.IsZero() || c.FillDate.Before(first) {
			first = c.FillDate
		}
		if c.FillDate.After(last) {
			last = c.FillDate
		}
	}
	return first, last
}

// Print writes the result for people: read, accepted, rejected by reason, seconds.
func (r Result) Print(w io.Writer) {
	fmt.Fprintf(w, "read        %s\n", counts(r.Read))
	fmt.Fprintf(w, "submitted   %d in %.1fs (%.0f records/s)\n", r.Submitted, r.Seconds, float64(r.Submitted)/max(r.Seconds, 1e-9))
	fmt.Fprintf(w, "accepted    %d\n", r.Accepted)
	fmt.Fprintf(w, "duplicates  %d (already accepted: nothing changed)\n", r.Duplicates)
	if r.Held > 0 {
		fmt.Fprintf(w, "held        %d (reversals waiting for their claims: bin/emtmctl reversals held)\n", r.Held)
	}
	if r.Awaiting > 0 {
		fmt.Fprintf(w, "waiting     %d (claims and encounters waiting for their member's enrollment: bin/emtmctl awaiting)\n", r.Awaiting)
	}
	fmt.Fprintf(w, "rejected    %d %s\n", total(r.Rejected), paren(counts(r.Rejected)))
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "not sent    %d %s\n", total(r.Skipped), paren(counts(r.Skipped)))
	}
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ")
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}
