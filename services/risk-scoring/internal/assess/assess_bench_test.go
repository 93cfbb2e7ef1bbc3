package assess_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/drugref"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/risk-scoring/internal/adapters"
	"github.com/emtm/emtm/services/risk-scoring/internal/assess"
	"github.com/emtm/emtm/services/risk-scoring/internal/chronic"
	"github.com/emtm/emtm/services/risk-scoring/internal/scoring"
)

// roundTrips counts commands and pipelines sent to Redis.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

var drugs = []string{"lisinopril", "atorvastatin", "metformin", "amlodipine", "levothyroxine", "omeprazole", "sertraline", "gabapentin"}

// benchClaim is the i-th claim: 2,000 members, each with a fill of one of
// their drugs every few days through 2024, so that most claims change no
// assessment (the common case) and some do.
func benchClaim(i int) *claimsv1.PharmacyClaim {
	member := i % 2000
	n := i / 2000
	day := 1 + (n*7)%360
	return &claimsv1.PharmacyClaim{
		Meta: &typesv1.EventMeta{EventId: fmt.Sprintf("claim/B%d", i)}, ClaimId: fmt.Sprintf("B%d", i), MemberId: fmt.Sprintf("M%05d", member),
		ContractId: "S9925", PbpId: "001", DateOfService: &typesv1.Date{Year: 2024, Month: int32(1 + (day-1)/31), Day: int32(1 + (day-1)%28)},
		Ingredients: []string{drugs[(member+n)%len(drugs)]}, DaysSupply: 30, QuantityMilli: 30000,
		PrescriberNpi: "1234567893", PharmacyNpi: "1245319599", TotalCents: 2500, BirthDate: &typesv1.Date{Year: 1950, Month: 1, Day: 1},
	}
}

// BenchmarkScoreClaims measures claims scored per second (one core with -cpu 1)
// and Redis round trips per claim: the apply script returns the profile, so a
// claim that changes no assessment costs one round trip; one that does costs
// a second (the conditional save) and a publish.
//
//	go test -run=^$ -bench=ScoreClaims -cpu 1 ./internal/assess
func BenchmarkScoreClaims(b *testing.B) {
	env := testkit.Start(b)
	rt := &roundTrips{}
	env.Redis.AddHook(rt)
	tel, _ := otelx.Setup(context.Background(), "bench", nil)
	d, _ := drugref.Load()
	cm, _ := chronic.Load()
	ps, _ := scoring.DefaultPolicies()
	a := assess.New(adapters.NewStore(env.Redis, adapters.LivePrefix, 4), bus.NewPublisher(env.JS, tel, "risk-scoring"),
		scoring.References{Drugs: d, Chronic: cm}, ps, 4, nil)
	ctx := context.Background()
	claims := make([]*claimsv1.PharmacyClaim, b.N)
	for i := range claims {
		claims[i] = benchClaim(i)
	}
	b.ResetTimer()
	// Baseline in the same run: bare Redis round trips (PING), the bound of a
	// design that needs one round trip per claim.
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := env.Redis.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
	pings := float64(b.N) / time.Since(start).Seconds()
	rt.n.Store(0)
	start = time.Now()
	for i := 0; i < b.N; i++ {
		if err := a.OnClaim(ctx, claims[i]); err != nil {
			b.Fatal(err)
		}
	}
	scored := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(scored, "claims/s")
	b.ReportMetric(pings, "pings/s")
	b.ReportMetric(scored/pings, "ratio")
	b.ReportMetric(float64(rt.n.Load())/float64(b.N), "redis_rt/claim")
	// Bytes per beneficiary: Redis MEMORY USAGE of up to 200 profiles.
	var bytes, n int64
	for m := 0; m < min(b.N, 2000); m += 10 {
		if v, err := env.Redis.MemoryUsage(ctx, fmt.Sprintf("rs:p:M%05d", m)).Result(); err == nil {
			bytes += v
			n++
		}
	}
	if n > 0 {
		b.ReportMetric(float64(bytes)/float64(n), "bytes/beneficiary")
	}
}
