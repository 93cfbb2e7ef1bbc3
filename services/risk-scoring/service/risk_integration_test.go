package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/risk-scoring/internal/adapters"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
	"github.com/emtm/emtm/services/risk-scoring/service"
)

func claim(member, id string, month, day int, cents int64, ing string) *claimsv1.PharmacyClaim {
	return &claimsv1.PharmacyClaim{Meta: &typesv1.EventMeta{EventId: "claim/" + id}, ClaimId: id, MemberId: member, ContractId: "S9925", PbpId: "001",
		DateOfService: &typesv1.Date{Year: 2024, Month: int32(month), Day: int32(day)}, Ingredients: []string{ing}, DaysSupply: 30, QuantityMilli: 30000,
		PrescriberNpi: "1234567893", PharmacyNpi: "1245319599", TotalCents: cents, BirthDate: &typesv1.Date{Year: 1950, Month: 1, Day: 1}}
}

func start(t *testing.T) (*testkit.Env, riskv1.RiskScoringServiceClient, *bus.Publisher) {
	t.Helper()
	env := testkit.Start(t)
	addr := env.RunService(t, service.Definition)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	tel, _ := otelx.Setup(context.Background(), "test", nil)
	return env, riskv1.NewRiskScoringServiceClient(cc), bus.NewPublisher(env.JS, tel, "test")
}

func idle(t *testing.T, env *testkit.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.WaitIdle(ctx, env.JS, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func TestRebuiltProfilesEqualTheLiveOnesAndRepairThem(t *testing.T) {
	t.Parallel()
	env, risk, pub := start(t)
	ctx := context.Background()
	var outs []bus.Out
	for m := 0; m < 6; m++ {
		member := fmt.Sprintf("M%d", m)
		p := bus.Partition(member, 4)
		for i, ing := range []string{"glyburide", "atorvastatin", "lisinopril", "oxycodone", "alprazolam"} {
			c := claim(member, fmt.Sprintf("%s-RX%d", member, i), 1+i, 5, int64(20000*(m+1)), ing)
			outs = append(outs, bus.Out{Subject: bus.ClaimPaidSubject(p), MsgID: c.Meta.EventId, Msg: c})
		}
		rev := &claimsv1.ClaimReversal{Meta: &typesv1.EventMeta{EventId: "reversal/" + member + "-RX1"}, ClaimId: member + "-RX1", MemberId: member, PharmacyNpi: "1245319599",
			ContractId: "S9925", PbpId: "001", ReversalDate: &typesv1.Date{Year: 2024, Month: 3, Day: 1}}
		cond := &medicalv1.Condition{Meta: &typesv1.EventMeta{EventId: "condition/" + member}, ConditionId: member + "-C", MemberId: member,
			CodeSystem: medicalv1.CodeSystem_CODE_SYSTEM_ICD10_CM, Code: "E11.9", OnsetDate: &typesv1.Date{Year: 2015, Month: 1, Day: 1}}
		stay := &medicalv1.PartsAbSummary{Meta: &typesv1.EventMeta{EventId: "medical/" + member}, SummaryId: member + "-H", MemberId: member,
			ServiceMonth: &typesv1.YearMonth{Year: 2024, Month: 4}, Setting: medicalv1.CareSetting_CARE_SETTING_INPATIENT, CostCents: 1200000,
			AdmitDate: &typesv1.Date{Year: 2024, Month: 4, Day: 20}, DischargeDate: &typesv1.Date{Year: 2024, Month: 4, Day: 25}}
		outs = append(outs,
			bus.Out{Subject: bus.ClaimReversedSubject(p), MsgID: rev.Meta.EventId, Msg: rev},
			bus.Out{Subject: bus.ConditionSubject(p), MsgID: cond.Meta.EventId, Msg: cond},
			bus.Out{Subject: bus.MedicalSubject(p), MsgID: stay.Meta.EventId, Msg: stay})
	}
	if _, err := pub.Publish(ctx, outs...); err != nil {
		t.Fatal(err)
	}
	idle(t, env)
	r, err := risk.RebuildProfiles(ctx, &riskv1.RebuildProfilesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r.EventsReplayed != 48 || r.ProfilesRebuilt != 6 || r.ProfilesLive != 6 || r.ProfilesEqual != 6 || len(r.Differences) != 0 {
		t.Fatalf("rebuild: %+v", r)
	}
	// Damage a live profile (a lost fill, a wrong tier), as a lost Redis write would.
	store := adapters.NewStore(env.Redis, adapters.LivePrefix, 4)
	if err := env.Redis.HDel(ctx, store.ProfileKey("M2"), profile.FillPrefix+"1245319599/M2-RX0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := env.Redis.HSet(ctx, store.ProfileKey("M3"), profile.FieldTier, "1").Err(); err != nil {
		t.Fatal(err)
	}
	r, err = risk.RebuildProfiles(ctx, &riskv1.RebuildProfilesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r.ProfilesEqual != 4 || len(r.Differences) != 2 || !strings.Contains(strings.Join(r.Differences, " "), "only rebuilt [c:…]") {
		t.Fatalf("after damage: %+v", r)
	}
	for _, d := range r.Differences {
		if strings.Contains(d, "M2") || strings.Contains(d, "M3") {
			t.Fatalf("a difference names a member id instead of its keyed hash: %q", d)
		}
	}
	if r, err = risk.RebuildProfiles(ctx, &riskv1.RebuildProfilesRequest{Apply: true}); err != nil || !r.Applied {
		t.Fatalf("apply: %+v %v", r, err)
	}
	r, err = risk.RebuildProfiles(ctx, &riskv1.RebuildProfilesRequest{})
	if err != nil || r.ProfilesEqual != 6 {
		t.Fatalf("after apply: %+v %v", r, err)
	}
	p, err := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M2"})
	if err != nil || p.Profile.ActiveClaims != 4 || p.Profile.ReversedClaims != 1 || p.Profile.Conditions != 1 || p.Profile.PartsAbEvents != 1 {
		t.Fatalf("repaired profile: %+v %v", p.GetProfile(), err)
	}
	// No shadow keys are left behind.
	if keys, _ := env.Redis.Keys(ctx, "rsrb:*").Result(); len(keys) != 0 {
		t.Fatalf("rebuild left %d keys", len(keys))
	}
}

func TestASaveFromAStaleSnapshotIsRefused(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t)
	ctx := context.Background()
	store := adapters.NewStore(env.Redis, adapters.LivePrefix, 4)
	f := profile.Fill{ClaimID: "a", Date: civil.Date{Year: 2024, Month: 1, Day: 2}, DaysSupply: 30, Ingredients: []string{"lisinopril"}}
	first, err := store.ApplyClaim(ctx, "M", f, "", "S9925-001")
	if err != nil {
		t.Fatal(err)
	}
	f.ClaimID = "b"
	second, err := store.ApplyClaim(ctx, "M", f, "", "S9925-001") // another event changed the profile
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := store.Save(ctx, first, "t2|e0|", 2, nil); err != nil || ok {
		t.Fatalf("a stale save was accepted (%v)", err)
	}
	if ok, err := store.Save(ctx, second, "t2|e0|", 2, nil); err != nil || !ok {
		t.Fatalf("a current save was refused (%v)", err)
	}
	if fp, _ := store.Fingerprint(ctx, "M"); fp != "t2|e0|" {
		t.Fatalf("fingerprint %q", fp)
	}
}

// Issue 11 item 4: hospice (from enrollment or a hospice Parts A/B summary)
// and excluding diagnoses reach the profile, and the assessment says which
// exclusion removed the member from which measure.
func TestExclusionsReachTheProfileAndSayWhichMeasureTheyRemove(t *testing.T) {
	t.Parallel()
	env, risk, pub := start(t)
	ctx := context.Background()
	opioidsAndBenzos := func(member string) []bus.Out {
		var outs []bus.Out
		p := bus.Partition(member, 4)
		for i, ing := range []string{"tramadol", "tramadol", "lorazepam", "lorazepam"} {
			c := claim(member, fmt.Sprintf("%s-RX%d", member, i), 1+i%2, 10, 1500, ing)
			outs = append(outs, bus.Out{Subject: bus.ClaimPaidSubject(p), MsgID: c.Meta.EventId, Msg: c})
		}
		return outs
	}
	// M1: hospice elected on 2024-06-01, from the enrollment feed; M2: a hospice stay on a Parts A/B
	// summary; M3: sickle cell disease (ICD-10-CM D57.1); M4: none.
	var outs []bus.Out
	for _, m := range []string{"M1", "M2", "M3", "M4"} {
		outs = append(outs, opioidsAndBenzos(m)...)
	}
	enr := &enrollmentv1.Enrollment{Meta: &typesv1.EventMeta{EventId: "enrollment/E1"}, EnrollmentId: "E1", MemberId: "M1", ContractId: "S9925", PbpId: "001",
		StartDate: &typesv1.Date{Year: 2020, Month: 1, Day: 1}, HospiceStart: &typesv1.Date{Year: 2024, Month: 6, Day: 1}}
	hospice := &medicalv1.PartsAbSummary{Meta: &typesv1.EventMeta{EventId: "medical/M2-HS"}, SummaryId: "M2-HS", MemberId: "M2",
		ServiceMonth: &typesv1.YearMonth{Year: 2024, Month: 9}, Setting: medicalv1.CareSetting_CARE_SETTING_HOSPICE, CostCents: 300000}
	sickle := &medicalv1.Condition{Meta: &typesv1.EventMeta{EventId: "condition/M3"}, ConditionId: "M3-C", MemberId: "M3",
		CodeSystem: medicalv1.CodeSystem_CODE_SYSTEM_ICD10_CM, Code: "D57.1", OnsetDate: &typesv1.Date{Year: 1990, Month: 1, Day: 1}}
	outs = append(outs, bus.Out{Subject: bus.EnrollmentSubject(bus.Partition("M1", 4)), MsgID: enr.Meta.EventId, Msg: enr},
		bus.Out{Subject: bus.MedicalSubject(bus.Partition("M2", 4)), MsgID: hospice.Meta.EventId, Msg: hospice},
		bus.Out{Subject: bus.ConditionSubject(bus.Partition("M3", 4)), MsgID: sickle.Meta.EventId, Msg: sickle})
	if _, err := pub.Publish(ctx, outs...); err != nil {
		t.Fatal(err)
	}
	idle(t, env)
	want := map[string]struct{ exclusion, source, cob string }{
		"M1": {"HOSPICE", "enrollment/E1", "EXCLUDED by HOSPICE"},
		"M2": {"HOSPICE", "partsab/M2-HS", "EXCLUDED by HOSPICE"},
		"M3": {"SICKLE_CELL", "condition ICD10 D57.1", "EXCLUDED by SICKLE_CELL"},
		"M4": {"", "", "problem"},
	}
	for member, w := range want {
		resp, err := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: member})
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Profile
		var cob *riskv1.SafetyMeasure
		for _, m := range p.LatestAssessment.Safety {
			if m.Measure == "COB" {
				cob = m
			}
		}
		if cob == nil || !cob.Numerator {
			t.Fatalf("%s: COB %+v (two opioid and two benzodiazepine dates, 30 days together)", member, p.LatestAssessment.Safety)
		}
		problem := false
		for _, pr := range p.LatestAssessment.Problems {
			problem = problem || pr.Code == "COB"
		}
		if w.exclusion == "" {
			if cob.Excluded || !problem || len(p.Exclusions) != 0 {
				t.Fatalf("%s: %+v, problem %v, exclusions %v", member, cob, problem, p.Exclusions)
			}
			continue
		}
		if !cob.Excluded || strings.Join(cob.ExcludedBy, ",") != w.exclusion || problem {
			t.Fatalf("%s: COB %+v, problem %v; want excluded by %s and no problem", member, cob, problem, w.exclusion)
		}
		if len(p.Exclusions) != 1 || p.Exclusions[0].Name != w.exclusion || p.Exclusions[0].Source != w.source {
			t.Fatalf("%s: exclusions %+v", member, p.Exclusions)
		}
	}
	// The hospice summary of September is a span of that month.
	resp, _ := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M2"})
	if e := resp.Profile.Exclusions[0]; civil.FromProto(e.Start).String() != "2024-09-01" || civil.FromProto(e.End).String() != "2024-09-30" {
		t.Fatalf("hospice span %v..%v", civil.FromProto(e.Start), civil.FromProto(e.End))
	}
	// A later version of the enrollment span without hospice removes the exclusion.
	enr2 := &enrollmentv1.Enrollment{Meta: &typesv1.EventMeta{EventId: "enrollment/E1/2"}, EnrollmentId: "E1", MemberId: "M1", ContractId: "S9925", PbpId: "001",
		StartDate: &typesv1.Date{Year: 2020, Month: 1, Day: 1}}
	if _, err := pub.Publish(ctx, bus.Out{Subject: bus.EnrollmentSubject(bus.Partition("M1", 4)), MsgID: enr2.Meta.EventId, Msg: enr2}); err != nil {
		t.Fatal(err)
	}
	idle(t, env)
	resp, _ = risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M1"})
	if len(resp.Profile.Exclusions) != 0 {
		t.Fatalf("exclusions after the correction: %+v", resp.Profile.Exclusions)
	}
	// An enrollment of a member without claims creates no profile.
	other := &enrollmentv1.Enrollment{Meta: &typesv1.EventMeta{EventId: "enrollment/E9"}, EnrollmentId: "E9", MemberId: "M9", ContractId: "S9925", PbpId: "001",
		StartDate: &typesv1.Date{Year: 2020, Month: 1, Day: 1}}
	if _, err := pub.Publish(ctx, bus.Out{Subject: bus.EnrollmentSubject(bus.Partition("M9", 4)), MsgID: other.Meta.EventId, Msg: other}); err != nil {
		t.Fatal(err)
	}
	idle(t, env)
	if _, err := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M9"}); err == nil {
		t.Fatal("an enrollment without hospice made a profile")
	}
	// The rebuild replays enrollment too: the profiles rebuild equal.
	r, err := risk.RebuildProfiles(ctx, &riskv1.RebuildProfilesRequest{})
	if err != nil || r.ProfilesEqual != 4 || len(r.Differences) != 0 {
		t.Fatalf("rebuild %+v %v", r, err)
	}
}

// Issue 12: two pharmacies' claims with the same claim id are two fills; a
// reversal reverses its own pharmacy's; an ingredient the drug reference
// does not know is reported and not counted as a drug.
func TestClaimsAreKeptByPharmacyAndUnknownDrugsAreReportedNotCounted(t *testing.T) {
	t.Parallel()
	env, risk, pub := start(t)
	ctx := context.Background()
	p := bus.Partition("M1", 4)
	a := claim("M1", "RX-7", 2, 1, 1000, "atorvastatin")
	b := claim("M1", "RX-7", 2, 3, 2000, "lisinopril")
	b.PharmacyNpi, b.Meta.EventId = "1003000126", "claim/1003000126/RX-7"
	a.Meta.EventId = "claim/1245319599/RX-7"
	made := claim("M1", "RX-8", 2, 5, 500, "zorblaxin")
	made.Ingredients = []string{"zorblaxin", "Metformin Hydrochloride"}
	made.Meta.EventId = "claim/1245319599/RX-8"
	rev := &claimsv1.ClaimReversal{Meta: &typesv1.EventMeta{EventId: "reversal/1003000126/RX-7"}, ClaimId: "RX-7", MemberId: "M1",
		PharmacyNpi: "1003000126", ContractId: "S9925", PbpId: "001", ReversalDate: &typesv1.Date{Year: 2024, Month: 2, Day: 10}}
	if _, err := pub.Publish(ctx, bus.Out{Subject: bus.ClaimPaidSubject(p), MsgID: a.Meta.EventId, Msg: a},
		bus.Out{Subject: bus.ClaimPaidSubject(p), MsgID: b.Meta.EventId, Msg: b},
		bus.Out{Subject: bus.ClaimPaidSubject(p), MsgID: made.Meta.EventId, Msg: made}); err != nil {
		t.Fatal(err)
	}
	idle(t, env)
	got, err := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M1"})
	if err != nil || got.Profile.ActiveClaims != 3 || got.Profile.TotalCostCents != 3500 {
		t.Fatalf("two pharmacies' RX-7 and RX-8: %+v %v, want 3 fills of $35.00", got.GetProfile(), err)
	}
	if strings.Join(got.Profile.Ingredients, ",") != "atorvastatin,lisinopril,metformin" || strings.Join(got.Profile.UnknownDrugs, ",") != "zorblaxin" {
		t.Fatalf("drugs %v, unknown %v; want the three known (metformin by its salt name) and zorblaxin unknown", got.Profile.Ingredients, got.Profile.UnknownDrugs)
	}
	for _, f := range got.Profile.LatestAssessment.GetFactors() {
		if f.Code == "DRUG_COUNT" && strings.Contains(f.Description, "zorblaxin") {
			t.Fatalf("an unknown drug was counted: %s", f.Description)
		}
	}
	if _, err := pub.Publish(ctx, bus.Out{Subject: bus.ClaimReversedSubject(p), MsgID: rev.Meta.EventId, Msg: rev}); err != nil {
		t.Fatal(err)
	}
	idle(t, env)
	got, err = risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: "M1"})
	if err != nil || got.Profile.ActiveClaims != 2 || got.Profile.ReversedClaims != 1 || got.Profile.TotalCostCents != 1500 ||
		strings.Join(got.Profile.Ingredients, ",") != "atorvastatin,metformin" {
		t.Fatalf("after pharmacy B reversed its RX-7: %+v %v, want A's RX-7 and RX-8 left", got.GetProfile(), err)
	}
}

// A member whose only claim is reversed has no dated event left; the
// assessment that says so is dated the reversal, not left without a date
// (scheduling and outreach refuse an assessment without as_of: found by a
// million-claim backfill, where two such assessments were dead-lettered).
func TestTheAssessmentAfterAMembersOnlyClaimIsReversedIsDatedTheReversal(t *testing.T) {
	t.Parallel()
	env, _, pub := start(t)
	ctx := context.Background()
	c := claim("MREV", "MREV-RX1", 3, 5, 400, "diazepam")
	rev := &claimsv1.ClaimReversal{Meta: &typesv1.EventMeta{EventId: "reversal/MREV-RX1"}, ClaimId: "MREV-RX1", MemberId: "MREV", PharmacyNpi: "1245319599",
		ContractId: "S9925", PbpId: "001", ReversalDate: &typesv1.Date{Year: 2024, Month: 3, Day: 9}}
	p := bus.Partition("MREV", 4)
	if _, err := pub.Publish(ctx, bus.Out{Subject: bus.ClaimPaidSubject(p), MsgID: c.Meta.EventId, Msg: c},
		bus.Out{Subject: bus.ClaimReversedSubject(p), MsgID: rev.Meta.EventId, Msg: rev}); err != nil {
		t.Fatal(err)
	}
	idle(t, env)
	cons, err := env.JS.OrderedConsumer(ctx, bus.StreamAssessments, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(10, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var dates []string
	for m := range batch.Messages() {
		a := &riskv1.RiskAssessment{}
		if err := proto.Unmarshal(m.Data(), a); err != nil {
			t.Fatal(err)
		}
		dates = append(dates, civil.FromProto(a.AsOf).String())
	}
	if strings.Join(dates, ",") != "2024-03-05,2024-03-09" {
		t.Fatalf("assessments dated %v; want the claim's date, then the reversal's", dates)
	}
}
