package load_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/emtm/internal/load"
	"github.com/emtm/emtm/services/emtm/internal/sampledata"
	"github.com/emtm/emtm/services/emtm/internal/stack"
	"github.com/emtm/emtm/services/emtm/internal/synthea"
)

// Three of the sample's beneficiaries, their figures checked by hand against
// the CSV files with an independent script (docs/sample-data.md):
//
//   - 1249b484: last fill 2021-02-09; 2021 year to date $729.66 -> projected
//     $4,377.96 >= the 2021 threshold $4,376.00 (+2); 5 drugs in 365 days (+1);
//     an inpatient stay ending 2021-02-05, 4 days before (+3): score 6, HIGH.
//     One core disease (familial Alzheimer's; coronary heart disease is not
//     chronic heart failure, prediabetes not diabetes): not MTM eligible.
//   - b4660d1f: last fill 2022-02-20; $783.81 -> $4,702.86 >= $4,696.00 (+2);
//     5 drugs (+1): score 3, MODERATE; CHF and hypertension: 2 of 3 diseases.
//   - 88f0cc20: last fill 2022-02-11; naproxen only in 2022, $20.14 -> $120.84:
//     score 0, LOW; osteoarthritis of the hand: bone disease-arthritis.
func TestSampleBeneficiariesScoreAsVerifiedByHand(t *testing.T) {
	redisURL, _ := testkit.StartRedis(t)
	ctx := context.Background()
	st, err := stack.Start(ctx, stack.Options{DataDir: t.TempDir(), RedisURL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	tel, _ := otelx.Setup(ctx, "test", nil)
	ingCC, _ := grpcx.Dial(st.Addrs["ingestion"], tel)
	riskCC, _ := grpcx.Dial(st.Addrs["risk-scoring"], tel)
	defer ingCC.Close()
	defer riskCC.Close()
	ref, _ := drugref.Load()
	ds, err := synthea.Load(sampledata.SyntheaCA50(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := load.Synthea(ctx, ds, ingestionv1.NewIngestionServiceClient(ingCC), load.SamplePlan, io.Discard); err != nil {
		t.Fatal(err)
	}
	nc, _ := nats.Connect(st.NATSURL)
	defer nc.Close()
	js, _ := jetstream.New(nc)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := bus.WaitIdle(wctx, js, 25*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	risk := riskv1.NewRiskScoringServiceClient(riskCC)
	tests := []struct {
		member, asOf string
		score        int32
		tier         riskv1.RiskTier
		factors      string
		chronic      string
		projected    string
	}{
		{"1249b484-f13b-89f3-eada-aa3fde29e256", "2021-02-09", 6, riskv1.RiskTier_RISK_TIER_HIGH,
			"DRUG_COUNT:1 PROJECTED_COST:2 RECENT_INPATIENT:3", "ALZHEIMERS", "projected $4377.96"},
		{"b4660d1f-ffbc-95e1-7b4f-69ccbdba8a7b", "2022-02-20", 3, riskv1.RiskTier_RISK_TIER_MODERATE,
			"DRUG_COUNT:1 PROJECTED_COST:2", "CHF HYPERTENSION", "projected $4702.86"},
		{"88f0cc20-0a5f-83a0-26a4-4340652f781d", "2022-02-11", 0, riskv1.RiskTier_RISK_TIER_LOW,
			"", "BONE_ARTHRITIS", "projected $120.84"},
	}
	for _, tt := range tests {
		resp, err := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: tt.member})
		if err != nil {
			t.Fatal(err)
		}
		a := resp.Profile.LatestAssessment
		var factors []string
		for _, f := range a.Factors {
			factors = append(factors, f.Code+":"+strconv.Itoa(int(f.Points)))
		}
		got := civil.FromProto(a.AsOf).String()
		if got != tt.asOf || a.Score != tt.score || a.Tier != tt.tier || strings.Join(factors, " ") != tt.factors ||
			strings.Join(resp.Profile.ChronicConditions, " ") != tt.chronic || a.Eligibility.Eligible ||
			!strings.Contains(strings.Join(a.Eligibility.Reasons, " "), tt.projected) {
			t.Errorf("%s: as of %s, score %d %s, factors %v, chronic %v, eligibility %v %v",
				tt.member[:8], got, a.Score, a.Tier, factors, resp.Profile.ChronicConditions, a.Eligibility.Eligible, a.Eligibility.Reasons)
		}
	}
}
