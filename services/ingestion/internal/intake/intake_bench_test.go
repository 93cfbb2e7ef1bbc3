package intake_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/ingestion/internal/adapters"
	"github.com/emtm/emtm/services/ingestion/internal/intake"
	"github.com/emtm/emtm/services/ingestion/internal/validate"
)

const benchMembers = 5000

func benchClaim(i int) *claimsv1.PharmacyClaim {
	return &claimsv1.PharmacyClaim{
		ClaimId: fmt.Sprintf("RX-%09d", i), MemberId: fmt.Sprintf("M-%06d", i%benchMembers), Mbi: "1EG4TE5MK73",
		ContractId: "S9925", PbpId: "001", DateOfService: &typesv1.Date{Year: 2024, Month: 3, Day: 10},
		Ndc11: "00002322730", RxnormCode: "617310", Ingredients: []string{"atorvastatin"},
		DrugDescription: "atorvastatin 20 MG Oral Tablet", QuantityMilli: 30000, DaysSupply: 30,
		PrescriberNpi: "1234567893", PharmacyNpi: "1245319599", IngredientCostCents: 1200, DispensingFeeCents: 150, TotalCents: 1350,
		BirthDate: &typesv1.Date{Year: 1950, Month: 6, Day: 1},
	}
}

// BenchmarkIngestVersusRawPublish measures, on one NATS server in one run, the
// raw JetStream async publish rate of messages the size of a claim and the rate
// at which ingestion accepts claims (raw stored, validated, idempotency-checked
// in Redis, canonical claim stored), and reports their ratio. Run on one core:
//
//	go test -run=^$ -bench=IngestVersusRawPublish -cpu 1 ./internal/intake
func BenchmarkIngestVersusRawPublish(b *testing.B) {
	for _, mode := range []struct {
		name string
		sync bool
	}{{"replay", false}, {"durable", true}} {
		b.Run(mode.name, func(b *testing.B) {
			env := testkit.StartWith(b, testkit.Options{SyncAlways: mode.sync})
			tel, _ := otelx.Setup(context.Background(), "bench", nil)
			nc, err := nats.Connect(env.NATSURL)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
			store := adapters.NewStore(env.Redis, 4)
			in := intake.New(bus.NewPublisher(js, tel, "ingestion"), store, 4, time.UTC)
			payload, _ := proto.Marshal(benchClaim(0))
			ctx := context.Background()
			// The members' enrollment is on file (a claim of a member without it waits).
			for m := 0; m < benchMembers; m++ {
				if err := store.RecordSpan(ctx, fmt.Sprintf("M-%06d", m), "E", validate.Span{Contract: "S9925", PBP: "001", Start: civil.Date{Year: 2024, Month: 1, Day: 1}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()

			// Phase 1: the bus's own limit, asynchronous publishes of the same size.
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := js.PublishMsgAsync(&nats.Msg{Subject: "emtm.raw.api.bench", Data: payload},
					jetstream.WithMsgID(fmt.Sprintf("bench-%d", i))); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("raw publishes not acknowledged within a minute")
			}
			raw := float64(b.N) / time.Since(start).Seconds()

			// Phase 2: claims through ingestion, one after another as a gRPC handler would.
			start = time.Now()
			for i := 0; i < b.N; i++ {
				out, err := in.SubmitAPI(ctx, bus.KindClaim, benchClaim(i))
				if err != nil || out.Rejection != nil || out.AwaitingEnrollment {
					b.Fatalf("claim %d: %v %+v", i, err, out)
				}
			}
			claims := float64(b.N) / time.Since(start).Seconds()

			// Phase 3: the same through 32 concurrent submitters, as gRPC serves many pharmacies at once.
			const workers = 32
			start = time.Now()
			var wg sync.WaitGroup
			errc := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := b.N + w; i < 2*b.N; i += workers {
						out, err := in.SubmitAPI(ctx, bus.KindClaim, benchClaim(i))
						if err == nil && (out.Rejection != nil || out.AwaitingEnrollment) {
							err = fmt.Errorf("claim %d not published: %+v", i, out)
						}
						if err != nil {
							errc <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errc)
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			concurrent := float64(b.N) / time.Since(start).Seconds()
			b.StopTimer()
			b.ReportMetric(raw, "raw_msgs/s")
			b.ReportMetric(claims, "claims/s")
			b.ReportMetric(claims/raw, "ratio")
			b.ReportMetric(concurrent, "claims32/s")
			b.ReportMetric(concurrent/raw, "ratio32")
		})
	}
}
