package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/emtm/emtm/libs/bus"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/payment-reconciliation/service"
)

const pharmacy = "1245319599"

func api(t *testing.T, addr string) ledgerv1.PaymentReconciliationServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return ledgerv1.NewPaymentReconciliationServiceClient(cc)
}

func fieldOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) > 0 {
			return br.FieldViolations[0].Field
		}
	}
	return ""
}

// TestLedgerExactlyOnceAcrossDuplicatesAndARestart delivers every encounter,
// some twice, stops the service while it is booking and starts it again: the
// ledger holds each fee once, on the stream and in the totals.
func TestLedgerExactlyOnceAcrossDuplicatesAndARestart(t *testing.T) {
	t.Parallel()
	env := testkit.StartWith(t, testkit.Options{SyncAlways: true}) // the ledger is synced before it is acknowledged
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tel, _ := otelx.Setup(ctx, "test", nil)
	pub := bus.NewPublisher(env.JS, tel, "test")
	const n = 300
	enc := func(i int) *encountersv1.MtmEncounter {
		member := fmt.Sprintf("M%d", i%37)
		return &encountersv1.MtmEncounter{Meta: &typesv1.EventMeta{EventId: fmt.Sprintf("encounter/E%d", i)}, EncounterId: fmt.Sprintf("E%d", i),
			MemberId: member, ContractId: "S9925", PbpId: "001", ServiceDate: &typesv1.Date{Year: 2021, Month: int32(1 + i%12), Day: 10},
			ServiceCodes: []string{"430193006"}, PharmacistNpi: "1234567893", PharmacyNpi: pharmacy, Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED}
	}
	publish := func(i int, msgID string) {
		e := enc(i)
		if _, err := pub.Publish(ctx, bus.Out{Subject: bus.EncounterSubject(bus.Partition(e.MemberId, 4)), MsgID: msgID, Msg: e}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		publish(i, fmt.Sprintf("encounter/E%d", i))
	}
	addr, stop := env.StartService(t, service.Definition, "-clock", "events", "-sweep-interval", "1h")
	pay := api(t, addr)
	// Stop while booking: as soon as some entries are in.
	deadline := time.Now().Add(30 * time.Second)
	var atStop int64
	for time.Now().Before(deadline) {
		tot, err := pay.GetLedgerTotals(ctx, &ledgerv1.GetLedgerTotalsRequest{})
		if err == nil && tot.Entries >= 20 {
			atStop = tot.Entries
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	t.Logf("stopped after %d of %d entries", atStop, n)
	if atStop == 0 {
		t.Fatal("no entries were booked within 30s")
	}
	// While it is down, a third of the encounters arrive again (a pharmacy system's retry, new message ids).
	for i := 0; i < n; i += 3 {
		publish(i, fmt.Sprintf("retry/E%d", i))
	}
	addr, _ = env.StartService(t, service.Definition, "-clock", "events", "-sweep-interval", "1h")
	pay = api(t, addr)
	if err := bus.WaitIdle(ctx, env.JS, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	tot, err := pay.GetLedgerTotals(ctx, &ledgerv1.GetLedgerTotalsRequest{})
	if err != nil || tot.Entries != n || tot.TotalCents != n*4000 || tot.Balances["pharmacy_fees_payable:"+pharmacy] != -n*4000 {
		t.Fatalf("totals %v %v: want %d entries of $40", tot, err, n)
	}
	ids := map[string]int{}
	for _, m := range testkit.StreamMessages(t, env.JS, bus.StreamLedger) {
		ids[m.Header.Get("Nats-Msg-Id")]++
	}
	if len(ids) != n {
		t.Fatalf("%d distinct entries on the ledger stream, want %d", len(ids), n)
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("entry %s is on the stream %d times", id, c)
		}
	}

	// The API: a statement traces every figure to its entries.
	st, err := pay.GetStatement(ctx, &ledgerv1.GetStatementRequest{ContractId: "S9925", PbpId: "001", Month: &typesv1.YearMonth{Year: 2021, Month: 3}})
	if err != nil || st.Statement.FeesCents != 25*4000 || st.Statement.NetCents != -25*4000 || len(st.Statement.Lines) != 2 || len(st.Statement.Lines[0].EntryIds) != 25 {
		t.Fatalf("statement %v %v", st, err)
	}
	rem, err := pay.GetRemittance(ctx, &ledgerv1.GetRemittanceRequest{ContractId: "S9925", PbpId: "001", Month: &typesv1.YearMonth{Year: 2021, Month: 3}, PharmacyNpi: pharmacy})
	if err != nil || rem.TotalCents != 25*4000 || len(rem.Entries) != 25 {
		t.Fatalf("remittance %v %v", rem, err)
	}
	for _, tt := range []struct {
		err   error
		code  codes.Code
		field string
	}{
		{func() error {
			_, err := pay.GetStatement(ctx, &ledgerv1.GetStatementRequest{ContractId: "S9925", PbpId: "001", Month: &typesv1.YearMonth{Year: 2021, Month: 13}})
			return err
		}(), codes.InvalidArgument, "month"},
		{func() error {
			_, err := pay.GetStatement(ctx, &ledgerv1.GetStatementRequest{PbpId: "001", Month: &typesv1.YearMonth{Year: 2021, Month: 1}})
			return err
		}(), codes.InvalidArgument, "contract_id"},
		{func() error {
			_, err := pay.GetRemittance(ctx, &ledgerv1.GetRemittanceRequest{ContractId: "S9925", PbpId: "001", Month: &typesv1.YearMonth{Year: 2021, Month: 1}, PharmacyNpi: "1245319590"})
			return err
		}(), codes.InvalidArgument, "pharmacy_npi"},
		{func() error {
			_, err := pay.GetPerformance(ctx, &ledgerv1.GetPerformanceRequest{ContractId: "S9925", PbpId: "001", Year: 1999})
			return err
		}(), codes.InvalidArgument, "year"},
		{func() error {
			_, err := pay.GetPerformance(ctx, &ledgerv1.GetPerformanceRequest{ContractId: "S1111", PbpId: "001", Year: 2019})
			return err
		}(), codes.NotFound, ""},
	} {
		if status.Code(tt.err) != tt.code || fieldOf(tt.err) != tt.field {
			t.Errorf("want %s on %q, got %v", tt.code, tt.field, tt.err)
		}
	}
	// Rebuild into a shadow of the ledger: equal.
	rb, err := pay.RebuildLedger(ctx, &ledgerv1.RebuildLedgerRequest{})
	if err != nil || !rb.Equal || rb.Rebuilt.Entries != n || rb.LedgerMessages != n {
		t.Fatalf("rebuild %v %v", rb, err)
	}
}
