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
	Submitted  int            `json:"submitted"`
	Accepted   int            `json:"accepted"`
	Duplicates int            `json:"duplicates"`
	Rejected   map[string]int `json:"rejected_by_reason"`
	// Skipped are records outside the members' Medicare enrollment: a Part D
	// plan never receives them.
	Skipped map[string]int `json:"skipped_not_enrolled"`
	Seconds float64        `json:"seconds"`
}

type submission struct {
	kind string
	msg  proto.Message
}

// Synthea submits the Medicare members' data of ds.
func Synthea(ctx context.Context, ds *synthea.Dataset, client ingestionv1.IngestionServiceClient, plan Plan, progress io.Writer) (Result, error) {
	start := time.Now()
	res := Result{Rejected: map[string]int{}, Skipped: map[string]int{}}
	enrolled := map[string]bool{}
	var first []submission
	for _, s := range ds.Enrollment {
		enrolled[s.Patient] = true
		p := ds.Patients[s.Patient]
		e := &enrollmentv1.Enrollment{EnrollmentId: s.ID, MemberId: s.Patient, Mbi: synthea.SyntheticMBI(s.Patient),
			ContractId: plan.Contract, PbpId: plan.PBP, StartDate: s.Start.Proto(), EndDate: s.End.Proto(), BirthDate: p.Birth.Proto()}
		if s.Deceased {
			e.EndReason = enrollmentv1.EndReason_END_REASON_DECEASED
		}
		first = append(first, submission{"enrollment", e})
	}
	// Claims, grouped by member and in date order within a member.
	byMember := map[string][]submission{}
	for _, c := range ds.Claims {
		if !ds.Enrolled(c.Patient, c.FillDate) {
			res.Skipped["claim"]++
			continue
		}
		byMember[c.Patient] = append(byMember[c.Patient], submission{"claim", claimOf(ds, c, plan)})
	}
	var rest []submission
	for _, m := range ds.Medical {
		if !ds.Enrolled(m.Patient, m.Start) {
			res.Skipped["medical"]++
			continue
		}
		setting := medicalv1.CareSetting_CARE_SETTING_EMERGENCY
		var discharge *typesv1.Date
		if m.Inpatient {
			setting, discharge = medicalv1.CareSetting_CARE_SETTING_INPATIENT, m.Stop.Proto()
		}
		rest = append(rest, submission{"medical", &medicalv1.PartsAbSummary{
			SummaryId: m.ID, MemberId: m.Patient, Mbi: synthea.SyntheticMBI(m.Patient), ContractId: plan.Contract, PbpId: plan.PBP,
			ServiceMonth: &typesv1.YearMonth{Year: int32(m.Start.Year), Month: int32(m.Start.Month)},
			Setting:      setting, CostCents: m.CostCents, AdmitDate: m.Start.Proto(), DischargeDate: discharge,
		}})
	}
	for _, m := range ds.MTM {
		if !ds.Enrolled(m.Patient, m.Date) {
			res.Skipped["encounter"]++
			continue
		}
		rest = append(rest, submission{"encounter", &encountersv1.MtmEncounter{
			EncounterId: m.ID, MemberId: m.Patient, Mbi: synthea.SyntheticMBI(m.Patient), ContractId: plan.Contract, PbpId: plan.PBP,
			ServiceDate: m.Date.Proto(), ServiceCodes: []string{m.Code}, PharmacistNpi: m.PharmacistNPI,
			PharmacyNpi: synthea.PharmacyOf(m.Patient), Minutes: int32(m.Minutes),
			DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_IN_PERSON, Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED,
		}})
	}
	total := len(first) + len(rest)
	members := make([]string, 0, len(byMember))
	for m, subs := range byMember {
		members = append(members, m)
		total += len(subs)
	}
	sort.Strings(members)
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("loading sample"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish())
	var mu sync.Mutex
	submit := func(s submission) error {
		err := send(ctx, client, s)
		mu.Lock()
		defer mu.Unlock()
		_ = bar.Add(1)
		res.Submitted++
		switch {
		case err == nil:
			res.Accepted++
		case errors.Is(err, errDuplicate):
			res.Duplicates++
		default:
			var rej rejected
			if !errors.As(err, &rej) {
				return err
			}
			for _, r := range rej.reasons {
				res.Rejected[s.kind+":"+r]++
			}
		}
		return nil
	}
	for _, s := range first {
		if err := submit(s); err != nil {
			return res, err
		}
	}
	// Members in parallel, each member's claims in order.
	work := make(chan string)
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				for _, s := range byMember[m] {
					if err := submit(s); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	var ferr error
feed:
	for _, m := range members {
		select {
		case work <- m:
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
	for _, s := range rest {
		if err := submit(s); err != nil {
			return res, err
		}
	}
	_ = bar.Finish()
	res.Seconds = time.Since(start).Seconds()
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

var errDuplicate = errors.New("duplicate")

type rejected struct{ reasons []string }

func (r rejected) Error() string { return fmt.Sprintf("rejected: %v", r.reasons) }

// send submits one record, retrying while ingestion is unavailable (bounded).
func send(ctx context.Context, c ingestionv1.IngestionServiceClient, s submission) error {
	var acc *ingestionv1.Accepted
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		switch m := s.msg.(type) {
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
		default:
			return fmt.Errorf("load: unsupported %T", s.msg)
		}
		if status.Code(err) != codes.Unavailable {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(200<<attempt) * time.Millisecond):
		}
	}
	if err == nil {
		if acc.GetDuplicate() {
			return errDuplicate
		}
		return nil
	}
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		return fmt.Errorf("submit %s: %w", s.kind, err)
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
	return rej
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
