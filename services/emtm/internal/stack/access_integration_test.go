package stack

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
)

const otherPharmacy = "1679576722"

// user connects as a NATS user of a least-privilege stack and collects the
// server's asynchronous errors (permissions violations).
func user(t *testing.T, st *Stack, name string) (*nats.Conn, chan error) {
	t.Helper()
	errs := make(chan error, 16)
	url := strings.Replace(st.NATSURL, "admin:"+st.Passwords["admin"]+"@", "", 1)
	nc, err := nats.Connect(url, nats.UserInfo(name, st.Passwords[name]), nats.CustomInboxPrefix(bus.InboxPrefix(strings.TrimPrefix(name, "pharmacy-"))),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatalf("connect as %s: %v", name, err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// denied publishes subject as nc and expects the server to refuse it.
func denied(t *testing.T, nc *nats.Conn, errs chan error, subject string) {
	t.Helper()
	if err := nc.Publish(subject, []byte("x")); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	select {
	case err := <-errs:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") || !strings.Contains(err.Error(), subject) {
			t.Fatalf("publish to %s: %v, want a permissions violation", subject, err)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("%s may publish to %s", nc.Opts.User, subject)
	}
}

// TestLeastPrivilegeOnTheBus runs the five services each as its own NATS user
// with only bus.Grants, sends a claim and an encounter through them, and shows
// that a pharmacy cannot publish as another and a service cannot publish
// another's events, take another's messages or touch a stream.
func TestLeastPrivilegeOnTheBus(t *testing.T) {
	t.Parallel()
	redisURL, _ := testkit.StartRedis(t)
	ctx := context.Background()
	st, err := Start(ctx, Options{DataDir: t.TempDir(), RedisURL: redisURL, Partitions: 4, Log: io.Discard,
		LeastPrivilege: true, Pharmacies: []string{pharmacy, otherPharmacy}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	admin, err := nats.Connect(st.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	ajs, _ := jetstream.New(admin)

	enrollVia(t, st.Addrs["ingestion"], "S9925", "M-0001")

	// A pharmacy publishes its own claim with JetStream acknowledgement.
	pnc, perrs := user(t, st, "pharmacy-"+pharmacy)
	pjs, _ := jetstream.New(pnc)
	c := testClaim()
	data, _ := proto.Marshal(c)
	if _, err := pjs.Publish(ctx, bus.RawPharmacySubject(pharmacy, bus.KindClaim), data); err != nil {
		t.Fatalf("a pharmacy publishing its own claim: %v", err)
	}
	// ... and cannot publish as another pharmacy, or anything else.
	denied(t, pnc, perrs, bus.RawPharmacySubject(otherPharmacy, bus.KindClaim))
	denied(t, pnc, perrs, bus.ClaimPaidSubject("p0"))
	denied(t, pnc, perrs, "$JS.API.STREAM.INFO."+bus.StreamRaw)

	// The services did their work as their own users: a claim, an assessment,
	// and for an encounter a ledger entry.
	enc := testEncounter()
	data, _ = proto.Marshal(enc)
	if _, err := pjs.Publish(ctx, bus.RawPharmacySubject(pharmacy, bus.KindEncounter), data); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := bus.WaitIdle(wctx, ajs, 25*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := len(testkit.StreamMessages(t, ajs, bus.StreamClaims)); n != 1 {
		t.Fatalf("%d claims published, want 1", n)
	}
	if n := len(testkit.StreamMessages(t, ajs, bus.StreamAssessments)); n != 1 {
		t.Fatalf("%d assessments, want 1", n)
	}
	tel, _ := otelx.Setup(ctx, "access-test", nil)
	cc, err := grpcx.Dial(st.Addrs["payment-reconciliation"], tel)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	lt, err := ledgerv1.NewPaymentReconciliationServiceClient(cc).GetLedgerTotals(ctx, &ledgerv1.GetLedgerTotalsRequest{})
	if err != nil || lt.Entries != 1 || lt.TotalCents != 4000 {
		t.Fatalf("ledger totals %v (%v), want one $40.00 fee", lt, err)
	}
	if n := len(testkit.StreamMessages(t, ajs, bus.StreamDLQ)); n != 0 {
		t.Fatalf("%d messages dead-lettered: a service lacked a permission", n)
	}

	// A service cannot publish another's events, take another's messages or
	// change a stream.
	rnc, rerrs := user(t, st, "risk-scoring")
	denied(t, rnc, rerrs, bus.ClaimPaidSubject("p0"))
	denied(t, rnc, rerrs, bus.LedgerSubject("S9925"))
	denied(t, rnc, rerrs, bus.RawPharmacySubject(pharmacy, bus.KindClaim))
	denied(t, rnc, rerrs, "$JS.API.CONSUMER.MSG.NEXT."+bus.StreamRaw+".ingestion-pharmacy")
	denied(t, rnc, rerrs, "$JS.API.CONSUMER.MSG.NEXT."+bus.StreamLedger+".anyone") // a stream it does not read
	denied(t, rnc, rerrs, "$JS.API.STREAM.DELETE."+bus.StreamLedger)
	denied(t, rnc, rerrs, "$JS.API.STREAM.UPDATE."+bus.StreamClaims)
	pay, perr2 := user(t, st, "payment-reconciliation")
	denied(t, pay, perr2, "$JS.API.CONSUMER.MSG.NEXT."+bus.StreamEncounters+".scheduling-encounters-p0")
	denied(t, pay, perr2, "$JS.ACK."+bus.StreamEncounters+".outreach-encounters-p1.1.1.1.1.1")
	denied(t, pay, perr2, bus.AssessmentSubject("p0"))
	// Its own events it may publish (stored on the stream).
	rjs, _ := jetstream.New(rnc)
	if _, err := rjs.Publish(ctx, bus.AssessmentSubject("p3"), []byte("own")); err != nil {
		t.Fatalf("risk-scoring publishing an assessment: %v", err)
	}

	// Dead letters: each service reads back its own only, as its own user.
	poison := nats.NewMsg(bus.DeadLetterSubject("risk-scoring-claims-p1"))
	poison.Data = []byte("not a claim")
	for k, v := range map[string]string{bus.HeaderDLQStream: bus.StreamClaims, bus.HeaderDLQSubject: bus.ClaimPaidSubject("p1"),
		bus.HeaderDLQSequence: "7", bus.HeaderDLQDeliveries: "5", bus.HeaderDLQConsumer: "risk-scoring-claims-p1", bus.HeaderDLQError: "undecodable"} {
		poison.Header.Set(k, v)
	}
	if _, err := ajs.PublishMsg(ctx, poison); err != nil {
		t.Fatal(err)
	}
	dead := func(service string) *opsv1.ListDeadLettersResponse {
		cc, err := grpcx.Dial(st.Addrs[service], tel)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		r, err := opsv1.NewDeadLetterServiceClient(cc).ListDeadLetters(ctx, &opsv1.ListDeadLettersRequest{})
		if err != nil {
			t.Fatalf("%s listing its dead letters: %v", service, err)
		}
		return r
	}
	mine := dead("risk-scoring")
	if mine.Total != 1 || len(mine.DeadLetters) != 1 || mine.DeadLetters[0].Error != "undecodable" || mine.DeadLetters[0].StreamSequence != 7 {
		t.Fatalf("risk-scoring's dead letters: %v", mine)
	}
	if r := dead("payment-reconciliation"); r.Total != 0 || len(r.DeadLetters) != 0 {
		t.Fatalf("payment-reconciliation sees another service's dead letters: %v", r)
	}
	rcc, _ := grpcx.Dial(st.Addrs["risk-scoring"], tel)
	defer rcc.Close()
	_, err = opsv1.NewDeadLetterServiceClient(rcc).RedeliverDeadLetter(ctx, &opsv1.RedeliverDeadLetterRequest{Consumer: "risk-scoring-claims-p1", Sequence: mine.DeadLetters[0].Sequence})
	if err == nil || !strings.Contains(err.Error(), "failed again") {
		t.Fatalf("redelivering an undecodable dead letter: %v, want it to fail again", err)
	}
	denied(t, pay, perr2, "$JS.API.CONSUMER.CREATE."+bus.StreamDLQ+".x."+bus.DeadLetterSubject("risk-scoring-claims-p1"))
	// The console may read stream and consumer information, nothing else.
	cnc, cerrs := user(t, st, bus.ConsoleUser)
	cjs, _ := jetstream.New(cnc)
	if _, err := cjs.Stream(ctx, bus.StreamClaims); err != nil {
		t.Fatalf("the console reading stream info: %v", err)
	}
	denied(t, cnc, cerrs, "$JS.API.STREAM.MSG.GET."+bus.StreamClaims)
	denied(t, cnc, cerrs, "$JS.API.CONSUMER.CREATE."+bus.StreamDLQ)
	denied(t, cnc, cerrs, bus.ClaimPaidSubject("p0"))
}
