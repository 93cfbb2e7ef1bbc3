// Package assess is risk-scoring's use case: apply a claim, reversal,
// condition or Parts A/B event to the beneficiary's profile (one atomic,
// idempotent script), score the profile, and emit an assessment only when the
// tier, the eligibility or the problems change. The save is conditional on the
// profile's version, so two events of one beneficiary handled at once (claims
// and medical events arrive on different streams) cannot leave a stale
// assessment behind: the loser recomputes.
package assess

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/pseudonym"
	"github.com/emtm/emtm/services/risk-scoring/internal/chronic"
	"github.com/emtm/emtm/services/risk-scoring/internal/cmr"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
	"github.com/emtm/emtm/services/risk-scoring/internal/scoring"
	"github.com/emtm/emtm/services/risk-scoring/safety"
)

// Store keeps the profiles. Each Apply is one atomic change that returns the
// profile as it left it; Save is conditional on the snapshot's version
// (false: another event changed the profile meanwhile).
type Store interface {
	ApplyClaim(ctx context.Context, member string, f profile.Fill, birth, plan string) (profile.Snapshot, error)
	// ApplyClaims is ApplyClaim for the claims of several beneficiaries (at
	// most one each) in one round trip; each has its snapshot or its error.
	ApplyClaims(ctx context.Context, claims []ClaimFill) ([]profile.Snapshot, []error)
	ApplyReversal(ctx context.Context, member, fillKey, on, plan string) (profile.Snapshot, error)
	ApplyCondition(ctx context.Context, member string, c profile.Condition) (profile.Snapshot, error)
	ApplyMedical(ctx context.Context, member string, m profile.MedicalEvent, plan string) (profile.Snapshot, error)
	ApplySpan(ctx context.Context, member string, sp profile.Span) (profile.Snapshot, error)
	ApplyProblem(ctx context.Context, member string, pr profile.Problem, plan string) (profile.Snapshot, error)
	Save(ctx context.Context, snap profile.Snapshot, fingerprint string, tier int, stale []string) (bool, error)
	// Load reads a profile; found is false when the beneficiary is unknown.
	Load(ctx context.Context, member string) (snap profile.Snapshot, found bool, err error)
	// Fields are the stored fields without the version (what two stores are compared by).
	Fields(ctx context.Context, member string) (map[string]string, error)
	Fingerprint(ctx context.Context, member string) (string, error)
	// Size is the bytes the profile takes in the store.
	Size(ctx context.Context, member string) (int64, error)
	// RecordAssessment keeps an assessment emitted for a member (idempotent by
	// its id); Assessments lists them, oldest first.
	RecordAssessment(ctx context.Context, member string, a *riskv1.RiskAssessment) error
	Assessments(ctx context.Context, member string) ([]*riskv1.RiskAssessment, error)
	// Summaries are the fingerprints of many profiles, read together, and
	// their sizes when withBytes (Redis's MEMORY USAGE of every field: slow).
	Summaries(ctx context.Context, members []string, withBytes bool) ([]Summary, error)
	Members(ctx context.Context) ([]string, error)
	MembersByTier(ctx context.Context, contract, pbp string, tier int) ([]string, error)
	// Shadow is an empty store beside this one, for a rebuild.
	Shadow() Store
	// ReplaceFrom makes a shadow's profiles the live ones.
	ReplaceFrom(ctx context.Context, shadow Store) error
	// Drop deletes every profile of the store.
	Drop(ctx context.Context) error
	// RecordReview keeps a completed CMR (idempotent by its encounter id);
	// Review finds one by its encounter id.
	RecordReview(ctx context.Context, r cmr.Review) error
	Review(ctx context.Context, encounterID string) (r cmr.Review, found bool, err error)
}

// Assessor runs the use case.
type Assessor struct {
	store      Store
	pub        bus.Events // nil: assess and save, never publish (a rebuild)
	refs       scoring.References
	policies   *scoring.Policies
	partitions int
	hasher     *pseudonym.Hasher
}

// New returns an Assessor.
func New(store Store, pub bus.Events, refs scoring.References, policies *scoring.Policies, partitions int, hasher *pseudonym.Hasher) *Assessor {
	return &Assessor{store: store, pub: pub, refs: refs, policies: policies, partitions: partitions, hasher: hasher}
}

// FillOf is the profile's view of a claim: ingredients from the claim, or from
// the drug reference by RxNorm code or description; each ingredient with the
// safety-measure groups, the Beers flag and the MME per day that hold for
// this claim's dose and route (the reference as of the claim's profiling: a
// changed reference reaches old claims through a rebuild).
func (a *Assessor) FillOf(c *claimsv1.PharmacyClaim) profile.Fill {
	ings := c.Ingredients
	if len(ings) == 0 {
		ings, _ = a.refs.Drugs.Resolve(c.RxnormCode, c.DrugDescription)
	}
	ings = a.canonical(ings)
	f := profile.Fill{
		ClaimID: c.ClaimId, PharmacyNPI: c.PharmacyNpi, Date: civil.FromProto(c.DateOfService), DaysSupply: int(c.DaysSupply),
		CostCents: c.TotalCents, PrescriberNPI: c.PrescriberNpi, Ingredients: ings, Drugs: []profile.Drug{},
	}
	var mme int64
	for _, d := range a.refs.Drugs.Dispense(ings, drugref.Use{Description: c.DrugDescription, Strength: c.Strength, QuantityMilli: c.QuantityMilli, DaysSupply: int(c.DaysSupply)}) {
		if d.Ingredient == nil {
			f.Drugs = append(f.Drugs, profile.Drug{Name: d.Name, Unknown: true})
			continue
		}
		f.Drugs = append(f.Drugs, profile.Drug{Name: d.Name, Groups: safety.GroupsOf(d), Beers: d.Beers, MME: d.MME, HasMME: d.HasMME})
		mme += d.MME
	}
	f.MME10 = int((mme + safety.MMEScale/20) / (safety.MMEScale / 10))
	return f
}

// canonical names each ingredient as the drug reference does: by name or
// synonym, else the one known ingredient its words name ("metformin
// hydrochloride" is metformin); a name the reference does not know stays as
// sent and is kept as unknown (reported, never counted as a drug).
func (a *Assessor) canonical(ings []string) []string {
	out := make([]string, 0, len(ings))
	seen := map[string]bool{}
	for _, name := range ings {
		n := strings.ToLower(strings.TrimSpace(name))
		if ing, ok := a.refs.Drugs.Ingredient(n); ok {
			n = ing.Name
		} else if found := a.refs.Drugs.ParseDescription(n); len(found) == 1 {
			n = found[0]
		}
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// OnClaim applies a paid claim.
func (a *Assessor) OnClaim(ctx context.Context, c *claimsv1.PharmacyClaim) error {
	a.tag(ctx, c.MemberId)
	snap, err := a.store.ApplyClaim(ctx, c.MemberId, a.FillOf(c), profile.EncodeDate(civil.FromProto(c.BirthDate)), planid.Of(c).String())
	if err != nil {
		return err
	}
	return a.settle(ctx, snap, c.GetMeta().GetEventId(), civil.FromProto(c.DateOfService))
}

// ClaimFill is a paid claim as a profile keeps it: the fill, and the
// beneficiary's birth date and plan it states.
type ClaimFill struct {
	Member      string
	Fill        profile.Fill
	Birth, Plan string
}

// OnClaims applies the paid claims of several beneficiaries (at most one
// claim each, as a batch of the bus holds): their fills in one round trip,
// then, for each, what OnClaim does after applying it, at the same time
// (most claims change no assessment and need nothing more). ctxs are the
// claims' own contexts (their traces); ctx is the batch's.
func (a *Assessor) OnClaims(ctx context.Context, ctxs []context.Context, cs []*claimsv1.PharmacyClaim) []error {
	fills := make([]ClaimFill, len(cs))
	for i, c := range cs {
		a.tag(ctxs[i], c.MemberId)
		fills[i] = ClaimFill{Member: c.MemberId, Fill: a.FillOf(c), Birth: profile.EncodeDate(civil.FromProto(c.BirthDate)), Plan: planid.Of(c).String()}
	}
	snaps, errs := a.store.ApplyClaims(ctx, fills)
	var wg sync.WaitGroup
	for i, c := range cs {
		if errs[i] != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.settle(ctxs[i], snaps[i], c.GetMeta().GetEventId(), civil.FromProto(c.DateOfService))
		}()
	}
	wg.Wait()
	return errs
}

// OnReversal applies a claim reversal.
func (a *Assessor) OnReversal(ctx context.Context, r *claimsv1.ClaimReversal) error {
	a.tag(ctx, r.MemberId)
	snap, err := a.store.ApplyReversal(ctx, r.MemberId, profile.FillKey(r.PharmacyNpi, r.ClaimId), profile.EncodeDate(civil.FromProto(r.ReversalDate)), planid.Of(r).String())
	if err != nil {
		return err
	}
	return a.settle(ctx, snap, r.GetMeta().GetEventId(), civil.FromProto(r.ReversalDate))
}

// OnCondition applies a diagnosis. Only diagnoses that map to a chronic
// disease category (or to cancer) are kept: no rule reads the others, and
// leaving them out keeps profiles small. A change of the condition map takes
// effect on the past through a rebuild.
func (a *Assessor) OnCondition(ctx context.Context, c *medicalv1.Condition) error {
	a.tag(ctx, c.MemberId)
	system := chronic.SNOMED
	if c.CodeSystem == medicalv1.CodeSystem_CODE_SYSTEM_ICD10_CM {
		system = chronic.ICD10
	}
	if a.refs.Chronic.Category(system, c.Code) == "" {
		return nil
	}
	snap, err := a.store.ApplyCondition(ctx, c.MemberId, profile.Condition{ID: c.ConditionId, System: system, Code: c.Code,
		Onset: civil.FromProto(c.OnsetDate), Resolved: civil.FromProto(c.ResolvedDate)})
	if err != nil {
		return err
	}
	return a.settle(ctx, snap, c.GetMeta().GetEventId(), civil.FromProto(c.OnsetDate))
}

// OnEncounter keeps the medication-related problems a pharmacist recorded
// (an MTM encounter's problems, from a Pharmacist eCare Plan), open or
// resolved, with the recommendations made to prescribers about them; the
// latest encounter's word on a problem wins; and keeps a completed CMR for
// its written summary (reviewOf). Any other encounter without problems
// changes nothing here.
func (a *Assessor) OnEncounter(ctx context.Context, e *encountersv1.MtmEncounter) error {
	a.tag(ctx, e.MemberId)
	if r, ok := reviewOf(e); ok {
		if err := a.store.RecordReview(ctx, r); err != nil {
			return err
		}
	}
	if len(e.Problems) == 0 {
		return nil
	}
	date := civil.FromProto(e.ServiceDate)
	recs := map[string][]profile.ProblemRec{}
	for _, r := range e.Recommendations {
		recs[r.ProblemId] = append(recs[r.ProblemId], profile.ProblemRec{NPI: r.PrescriberNpi, Text: r.Text, Code: r.Code})
	}
	plan := ""
	if e.ContractId != "" {
		plan = planid.Of(e).String()
	}
	snap, _, err := a.store.Load(ctx, e.MemberId)
	if err != nil {
		return err
	}
	for _, pr := range e.Problems {
		stored := profile.Problem{ID: pr.ProblemId, Code: pr.Code, Description: pr.Description, Resolved: pr.Resolved,
			Onset: profile.EncodeDate(civil.FromProto(pr.OnsetDate)), Date: profile.EncodeDate(date), Encounter: e.EncounterId, Recs: recs[pr.ProblemId]}
		if old, ok := a.storedProblem(snap, pr.ProblemId); ok && old.Date > stored.Date {
			continue // an older encounter arriving late does not undo a later one
		}
		if snap, err = a.store.ApplyProblem(ctx, e.MemberId, stored, plan); err != nil {
			return err
		}
	}
	if snap.Profile == nil {
		return nil
	}
	return a.settle(ctx, snap, e.GetMeta().GetEventId(), date)
}

// MedicationReviewDone is SNOMED CT 314530002, the service of a CMR (and of a TMR).
const MedicationReviewDone = "314530002"

// reviewOf is the CMR an encounter records: a completed encounter named a
// CMR, or a completed medication review named no kind (our reading: a
// pharmacy that sends no task names its TMRs neither; a summary is written
// only when asked for by the encounter's id).
func reviewOf(e *encountersv1.MtmEncounter) (cmr.Review, bool) {
	if e.Outcome != encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED || e.EncounterId == "" {
		return cmr.Review{}, false
	}
	switch e.TaskKind {
	case "CMR":
	case "":
		if !slices.Contains(e.ServiceCodes, MedicationReviewDone) {
			return cmr.Review{}, false
		}
	default:
		return cmr.Review{}, false
	}
	r := cmr.Review{EncounterID: e.EncounterId, MemberID: e.MemberId, ContractID: e.ContractId, PbpID: e.PbpId,
		Date: civil.FromProto(e.ServiceDate).String(), PharmacistNPI: e.PharmacistNpi, PharmacyNPI: e.PharmacyNpi}
	if e.DeliveryMode != encountersv1.DeliveryMode_DELIVERY_MODE_UNSPECIFIED {
		r.Mode = strings.TrimPrefix(e.DeliveryMode.String(), "DELIVERY_MODE_")
	}
	for _, p := range e.Problems {
		is := cmr.Issue{Code: p.Code, Text: p.Description, Resolved: p.Resolved}
		for _, rec := range e.Recommendations {
			if rec.ProblemId == p.ProblemId {
				is.Asked = append(is.Asked, cmr.Ask{PrescriberNPI: rec.PrescriberNpi, Text: rec.Text})
			}
		}
		r.Problems = append(r.Problems, is)
	}
	return r, true
}

// Review is a completed CMR, found by its encounter id.
func (a *Assessor) Review(ctx context.Context, encounterID string) (cmr.Review, bool, error) {
	return a.store.Review(ctx, encounterID)
}

// Summary is the written summary of a CMR in CMS's Standardized Format,
// from the review, the member's profile and the plan policy's letters.
func (a *Assessor) Summary(ctx context.Context, r cmr.Review, prepared civil.Date) (cmr.Summary, error) {
	snap, _, err := a.store.Load(ctx, r.MemberID)
	if err != nil {
		return cmr.Summary{}, err
	}
	var birth civil.Date
	var fills []cmr.Fill
	if p := snap.Profile; p != nil {
		birth = p.BirthDate
		for _, f := range p.Fills {
			cf := cmr.Fill{Date: f.Date, DaysSupply: f.DaysSupply, PrescriberNPI: f.PrescriberNPI, Ingredients: f.Ingredients}
			for _, name := range f.Known() {
				if in, ok := a.refs.Drugs.Ingredient(name); ok && in.PDCClass != "" {
					cf.Classes = append(cf.Classes, in.PDCClass)
				}
			}
			fills = append(fills, cf)
		}
	}
	l := a.policies.For(r.ContractID, r.PbpID).Letters
	return cmr.Build(r, birth, fills, cmr.Plan{Name: l.PlanName, Contact: l.Contact, Signature: l.Signature}, prepared)
}

// storedProblem is the problem as the latest snapshot holds it.
func (a *Assessor) storedProblem(snap profile.Snapshot, id string) (profile.Problem, bool) {
	if snap.Profile == nil {
		return profile.Problem{}, false
	}
	for _, p := range snap.Profile.Problems {
		if p.ID == id {
			return p, true
		}
	}
	return profile.Problem{}, false
}

// OnPartsAB applies a Parts A/B claim summary. Inpatient stays and emergency
// visits are kept (the score reads recent ones); a hospice period becomes a
// HOSPICE exclusion span (from admission, or the service month's first day,
// to discharge, or the service month's last day). Payment-reconciliation
// keeps the spending.
func (a *Assessor) OnPartsAB(ctx context.Context, s *medicalv1.PartsAbSummary) error {
	a.tag(ctx, s.MemberId)
	admit := civil.FromProto(s.AdmitDate)
	var month civil.Date
	if s.ServiceMonth != nil {
		month = civil.Date{Year: int(s.ServiceMonth.Year), Month: time.Month(s.ServiceMonth.Month), Day: 1}
	}
	if admit.IsZero() {
		admit = month
	}
	var setting string
	switch s.Setting {
	case medicalv1.CareSetting_CARE_SETTING_INPATIENT:
		setting = profile.Inpatient
	case medicalv1.CareSetting_CARE_SETTING_EMERGENCY:
		setting = profile.Emergency
	case medicalv1.CareSetting_CARE_SETTING_HOSPICE:
		end := civil.FromProto(s.DischargeDate)
		if end.IsZero() && !month.IsZero() {
			end = month.AddDays(32)
			end = civil.Date{Year: end.Year, Month: end.Month, Day: 1}.AddDays(-1)
		}
		return a.applySpan(ctx, s.MemberId, profile.Span{ID: "partsab/" + s.SummaryId, Name: safety.Hospice, Start: admit, End: end}, s.GetMeta().GetEventId())
	default:
		return nil
	}
	plan := ""
	if s.ContractId != "" {
		plan = planid.Of(s).String()
	}
	snap, err := a.store.ApplyMedical(ctx, s.MemberId, profile.MedicalEvent{ID: s.SummaryId, Setting: setting, Admit: admit,
		Discharge: civil.FromProto(s.DischargeDate), CostCents: s.CostCents}, plan)
	if err != nil {
		return err
	}
	return a.settle(ctx, snap, s.GetMeta().GetEventId(), admit)
}

// OnEnrollment applies the hospice election an enrollment span records, as
// a HOSPICE exclusion span to the enrollment span's end; a later version of
// the enrollment span without one removes it. An enrollment without hospice
// changes no profile.
func (a *Assessor) OnEnrollment(ctx context.Context, e *enrollmentv1.Enrollment) error {
	a.tag(ctx, e.MemberId)
	span := profile.Span{ID: "enrollment/" + e.EnrollmentId}
	if e.HospiceStart != nil {
		span.Name, span.Start, span.End = safety.Hospice, civil.FromProto(e.HospiceStart), civil.FromProto(e.EndDate)
	}
	return a.applySpan(ctx, e.MemberId, span, e.GetMeta().GetEventId())
}

func (a *Assessor) applySpan(ctx context.Context, member string, span profile.Span, causeID string) error {
	snap, err := a.store.ApplySpan(ctx, member, span)
	if err != nil || len(snap.Hash) == 0 {
		return err // no profile: nothing to assess
	}
	return a.settle(ctx, snap, causeID, span.Start) // also when redelivered: settling twice publishes nothing twice
}

// tag puts the keyed hash of the beneficiary (never the id) on the span.
func (a *Assessor) tag(ctx context.Context, member string) {
	a.hasher.Tag(ctx, member)
}

// errBusy means a profile kept changing under the assessment.
var errBusy = errors.New("the profile kept changing while it was assessed; will retry")

// settle prunes, assesses, publishes an assessment when the fingerprint
// changed and saves, retrying on a concurrent change. A redelivered event
// derives the same assessment id, so a crash between publishing and saving
// cannot emit it twice (the stream drops the duplicate).
// on is the cause's date: an assessment's as-of date when the profile has no
// dated event left (its only fills reversed), so that it still says when.
func (a *Assessor) settle(ctx context.Context, snap profile.Snapshot, causeID string, on civil.Date) error {
	if causeID == "" {
		return bus.Permanent(errors.New("event without an event id"))
	}
	for attempt := 0; attempt < 5; attempt++ {
		p := snap.Profile
		stale := p.Stale(snap.Hash)
		prune(p, stale)
		r := scoring.Assess(p, a.refs, a.policies.For(p.ContractID, p.PbpID))
		fp := r.Fingerprint()
		changed := fp != p.Fingerprint && (p.Fingerprint != "" || len(p.Fills) > 0)
		if !changed && len(stale) == 0 {
			return nil
		}
		save := ""
		if changed {
			save = fp
			id := "asmt/" + causeID
			if attempt > 0 {
				id = fmt.Sprintf("asmt/%s/%d", causeID, attempt)
			}
			msg := ToProto(p, r)
			if civil.FromProto(msg.AsOf).IsZero() && on.Valid() {
				msg.AsOf = on.Proto()
			}
			msg.Meta = &typesv1.EventMeta{EventId: id, CausationId: causeID} // a rebuild publishes nothing
			msg.AssessmentId = id
			msg.PreviousTier = riskv1.RiskTier(p.Tier)
			if a.pub != nil {
				msg.Meta = a.pub.Meta(ctx, id, causeID)
				if _, err := a.pub.Publish(ctx, bus.Out{Subject: bus.AssessmentSubject(bus.Partition(p.MemberID, a.partitions)), MsgID: id, Msg: msg}); err != nil {
					return err
				}
			}
			// Kept before the profile is saved: a crash between the two
			// redelivers the event, which records the same id again.
			if err := a.store.RecordAssessment(ctx, p.MemberID, Compact(msg)); err != nil {
				return err
			}
		}
		ok, err := a.store.Save(ctx, snap, save, r.Tier, stale)
		if err != nil || ok {
			return err
		}
		var found bool
		if snap, found, err = a.store.Load(ctx, p.MemberID); err != nil || !found {
			return err
		}
	}
	return errBusy
}

// prune drops what Stale named from the in-memory profile.
func prune(p *profile.Profile, stale []string) {
	if len(stale) == 0 {
		return
	}
	gone := map[string]bool{}
	for _, f := range stale {
		gone[f] = true
	}
	fills := p.Fills[:0]
	for _, f := range p.Fills {
		if !gone[profile.FillPrefix+f.Key()] {
			fills = append(fills, f)
		}
	}
	p.Fills = fills
	med := p.Medical[:0]
	for _, m := range p.Medical {
		if !gone[profile.MedicalPrefix+m.ID] {
			med = append(med, m)
		}
	}
	p.Medical = med
}

// Compact is what is kept of an emitted assessment for its member's history
// (ListAssessments, the console's claim journey): its ids, causation and
// trace, date, score, tier, eligibility, each factor's code and points and
// each problem's code, key, claims and prescribers. The texts, PDC and safety
// measures of the moment are in the stream's copy (EMTM_ASSESSMENTS).
func Compact(a *riskv1.RiskAssessment) *riskv1.RiskAssessment {
	out := &riskv1.RiskAssessment{Meta: a.Meta, AssessmentId: a.AssessmentId, MemberId: a.MemberId, ContractId: a.ContractId, PbpId: a.PbpId,
		AsOf: a.AsOf, Score: a.Score, Tier: a.Tier, PreviousTier: a.PreviousTier}
	if e := a.Eligibility; e != nil {
		out.Eligibility = &riskv1.Eligibility{Eligible: e.Eligible, Year: e.Year}
	}
	for _, f := range a.Factors {
		out.Factors = append(out.Factors, &riskv1.RiskFactor{Code: f.Code, Points: f.Points})
	}
	for _, p := range a.Problems {
		out.Problems = append(out.Problems, &riskv1.DrugTherapyProblem{Code: p.Code, Key: p.Key, ClaimIds: p.ClaimIds, PrescriberNpis: p.PrescriberNpis})
	}
	return out
}

// Assessments are the assessments emitted for a member, oldest first.
func (a *Assessor) Assessments(ctx context.Context, member string) ([]*riskv1.RiskAssessment, error) {
	return a.store.Assessments(ctx, member)
}

// Current scores a stored profile now (for the API).
func (a *Assessor) Current(p *profile.Profile) *riskv1.RiskAssessment {
	return ToProto(p, scoring.Assess(p, a.refs, a.policies.For(p.ContractID, p.PbpID)))
}

// Exclusions are the profile's exclusion spans, with where each comes from.
func (a *Assessor) Exclusions(p *profile.Profile) []*riskv1.ExclusionSpan {
	var out []*riskv1.ExclusionSpan
	for _, e := range scoring.Exclusions(p, a.refs) {
		out = append(out, &riskv1.ExclusionSpan{Name: e.Name, Start: e.Start.Proto(), End: e.End.Proto(), Source: e.Source})
	}
	return out
}

// Categories are the chronic disease categories (of the core list, 2025 on)
// of the profile's conditions; exclusions are listed apart.
func (a *Assessor) Categories(p *profile.Profile) []string {
	core := map[string]bool{}
	for _, c := range chronic.CoreDiseases(2025) {
		core[c] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range p.Conditions {
		if cat := a.refs.Chronic.Category(c.System, c.Code); core[cat] && !seen[cat] {
			seen[cat] = true
			out = append(out, cat)
		}
	}
	return out
}

// ToProto renders a scoring result as a RiskAssessment (without meta and ids).
func ToProto(p *profile.Profile, r scoring.Result) *riskv1.RiskAssessment {
	out := &riskv1.RiskAssessment{
		MemberId: p.MemberID, ContractId: p.ContractID, PbpId: p.PbpID,
		AsOf: r.AsOf.Proto(), Score: int32(r.Score), Tier: riskv1.RiskTier(r.Tier),
		Eligibility: &riskv1.Eligibility{Eligible: r.Eligibility.Eligible, Year: int32(r.Eligibility.Year), Reasons: r.Eligibility.Reasons},
	}
	for _, f := range r.Factors {
		out.Factors = append(out.Factors, &riskv1.RiskFactor{Code: f.Code, Description: f.Description, Points: int32(f.Points), Evidence: f.Evidence})
	}
	for _, pr := range r.Problems {
		out.Problems = append(out.Problems, &riskv1.DrugTherapyProblem{
			Code: pr.Code, Key: pr.Key, Description: pr.Description, Recommendation: pr.Recommendation,
			ClaimIds: pr.ClaimIDs, PrescriberNpis: pr.PrescriberNPIs, Source: pr.Source,
		})
	}
	for _, x := range r.Safety {
		out.Safety = append(out.Safety, &riskv1.SafetyMeasure{Measure: x.Measure, Numerator: x.Numerator, Excluded: x.Excluded, ExcludedBy: x.ExcludedBy, Detail: x.Detail})
	}
	for _, x := range r.PDC {
		out.Pdc = append(out.Pdc, &riskv1.PdcResult{Class: x.Class, InMeasure: x.InMeasure, Reason: x.Reason,
			Ipsd: x.IPSD.Proto(), End: x.End.Proto(), TreatmentDays: int32(x.TreatmentDays), CoveredDays: int32(x.CoveredDays),
			Pdc: x.Rounded(), Adherent: x.IsAdherent()})
	}
	return out
}

// Profile reads a beneficiary's profile and the bytes it takes in the store.
func (a *Assessor) Profile(ctx context.Context, member string) (p *profile.Profile, size int64, found bool, err error) {
	snap, found, err := a.store.Load(ctx, member)
	if err != nil || !found {
		return nil, 0, found, err
	}
	size, err = a.store.Size(ctx, member)
	return snap.Profile, size, true, err
}

// MembersByTier lists the beneficiaries of a plan in a tier.
func (a *Assessor) MembersByTier(ctx context.Context, contract, pbp string, tier int) ([]string, error) {
	return a.store.MembersByTier(ctx, contract, pbp, tier)
}

// Stats describe every profile: how many, their size, and the last
// assessments by tier and problem (a profile without fills has none).
type Stats struct {
	Profiles, TotalBytes, MaxBytes, Eligible int64
	ByTier                                   map[int]int64
	ByProblem                                map[string]int64
}

// Stats reads the statistics of every profile (contract ""), with their
// sizes, or of a plan's assessed members, without them.
func (a *Assessor) Stats(ctx context.Context, contract, pbp string) (Stats, error) {
	st := Stats{ByTier: map[int]int64{}, ByProblem: map[string]int64{}}
	var members []string
	if contract == "" {
		all, err := a.store.Members(ctx)
		if err != nil {
			return st, err
		}
		members = all
	} else {
		// A plan's members are those its tier indexes hold: every assessed profile.
		for _, t := range []int{scoring.TierLow, scoring.TierModerate, scoring.TierHigh} {
			ids, err := a.store.MembersByTier(ctx, contract, pbp, t)
			if err != nil {
				return st, err
			}
			members = append(members, ids...)
		}
	}
	for start := 0; start < len(members); start += statsBatch {
		batch := members[start:min(start+statsBatch, len(members))]
		sums, err := a.store.Summaries(ctx, batch, contract == "")
		if err != nil {
			return st, err
		}
		for _, s := range sums {
			st.Profiles++
			st.TotalBytes += s.Bytes
			st.MaxBytes = max(st.MaxBytes, s.Bytes)
			if s.Fingerprint == "" {
				continue // no assessment yet (no fills)
			}
			tier, eligible, codes := ParseFingerprint(s.Fingerprint)
			st.ByTier[tier]++
			if eligible {
				st.Eligible++
			}
			for _, c := range codes {
				st.ByProblem[c]++
			}
		}
	}
	return st, nil
}

// statsBatch is how many profiles Stats reads in one round trip.
const statsBatch = 500

// Summary is what Stats reads of one stored profile.
type Summary struct {
	Bytes       int64
	Fingerprint string
}

// ParseFingerprint reads tier, eligibility and problem codes back from a stored fingerprint.
func ParseFingerprint(fp string) (tier int, eligible bool, codes []string) {
	parts := strings.SplitN(fp, "|", 3)
	if len(parts) != 3 {
		return 0, false, nil
	}
	fmt.Sscanf(parts[0], "t%d", &tier)
	eligible = parts[1] == "e1"
	seen := map[string]bool{}
	for _, k := range strings.Split(parts[2], ",") {
		code, _, _ := strings.Cut(k, ":")
		if code != "" && !seen[code] {
			seen[code] = true
			codes = append(codes, code)
		}
	}
	return tier, eligible, codes
}
