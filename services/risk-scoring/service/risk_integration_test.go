package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
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
		rev := &claimsv1.ClaimReversal{Meta: &typesv1.EventMeta{EventId: "reversal/" + member + "-RX1"}, ClaimId: member + "-RX1", MemberId: member,
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
	store := adapters.NewStore(env.Redis, adapters.LivePrefix)
	if err := env.Redis.HDel(ctx, store.ProfileKey("M2"), profile.FillPrefix+"M2-RX0").Err(); err != nil {
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
	env := testkit.Start(t)
	ctx := context.Background()
	store := adapters.NewStore(env.Redis, adapters.LivePrefix)
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
