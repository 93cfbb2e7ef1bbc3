package stack

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/testkit"
)

// TestBadInputAtScale sends pharmacy systems' traffic mixed with every kind of
// bad input the bus can carry, and checks that each valid event is processed
// exactly once and each invalid one is a stored rejection with its reason.
func TestBadInputAtScale(t *testing.T) {
	t.Parallel()
	e := startEnvWith(t, map[string][]string{
		"ingestion": {"-reversal-overdue", "1s", "-sweep-interval", "200ms"},
	})
	ctx := context.Background()
	const (
		members    = 50
		valid      = 1000 // distinct claims, half protobuf, half JSON
		resent     = 200  // exact re-sends of valid claims: no effect
		reversed   = 40   // valid reversals of claims that exist
		perBadKind = 25
	)
	base := time.Now().UTC().AddDate(0, 0, -200)
	claim := func(i int) *claimsv1.PharmacyClaim {
		c := testClaim()
		c.Mbi, c.BirthDate = "", nil
		c.ClaimId = fmt.Sprintf("BAD-RX-%05d", i)
		c.MemberId = fmt.Sprintf("BAD-M-%03d", i%members)
		d := base.AddDate(0, 0, i/members*7)
		c.DateOfService = &typesv1.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}
		c.RxnormCode, c.Ingredients, c.DrugDescription = "617312", []string{"atorvastatin"}, "atorvastatin 40 MG Oral Tablet"
		return c
	}
	ms := make([]string, members)
	for i := range ms {
		ms[i] = fmt.Sprintf("BAD-M-%03d", i)
	}
	enroll(t, ingestionv1.NewIngestionServiceClient(e.conns["ingestion"]), "S9925", ms...)
	subject := func(kind string) string { return bus.RawPharmacySubject(pharmacy, kind) }
	type sent struct {
		subject, contentType string
		data                 []byte
	}
	var out []sent
	pb := func(kind string, m proto.Message) {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sent{subject(kind), bus.ContentProtobuf, b})
	}
	js := func(kind string, m proto.Message) {
		b, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sent{subject(kind), bus.ContentJSON, b})
	}
	raw := func(subj, ct, data string) { out = append(out, sent{subj, ct, []byte(data)}) }

	// want counts rejections by the reason of their first violation.
	want := map[string]int{}
	for i := 0; i < valid; i++ {
		if i%2 == 0 {
			pb(bus.KindClaim, claim(i))
		} else {
			js(bus.KindClaim, claim(i))
		}
	}
	for i := 0; i < resent; i++ {
		out = append(out, out[(i*7)%valid])
	}
	firstBad := len(out)
	for i := 0; i < perBadKind; i++ {
		raw(subject(bus.KindClaim), bus.ContentProtobuf, fmt.Sprintf("\x0f%c not protobuf", 'a'+i%26)) // wire type 7
		raw(subject(bus.KindClaim), bus.ContentJSON, fmt.Sprintf(`{"claimId": "BAD-JSON-%d", "memberId":`, i))
		raw(subject(bus.KindClaim), bus.ContentJSON, fmt.Sprintf(`{"claimId": %d, "daysSupply": "thirty"}`, i))
		raw(subject(bus.KindClaim), bus.ContentJSON, fmt.Sprintf(`{"claimId": "BIG-%d", "drugDescription": "%s"}`, i, strings.Repeat("x", 70<<10)))
		raw(subject(bus.KindClaim), "text/csv", fmt.Sprintf("claim_id,member_id\nBAD-CSV-%d,M\n", i))
		raw(subject("prescription"), bus.ContentProtobuf, fmt.Sprintf("rx-%d", i))
		want["MALFORMED_PAYLOAD"] += 2 // malformed protobuf, malformed JSON
		want["MALFORMED_PAYLOAD"]++    // wrong types
		want["OVERSIZED"]++
		want["UNSUPPORTED_CONTENT_TYPE"]++
		want["UNKNOWN_KIND"]++

		c := claim(valid + i)
		c.PrescriberNpi = "1234567890" // wrong check digit
		pb(bus.KindClaim, c)
		want["NPI_CHECK_DIGIT"]++
		c = claim(valid + perBadKind + i)
		c.DaysSupply = 400
		js(bus.KindClaim, c)
		want["DAYS_SUPPLY_RANGE"]++
		c = claim(valid + 2*perBadKind + i)
		c.PharmacyNpi = prescriber // another pharmacy than the sender in the subject
		pb(bus.KindClaim, c)
		want["SENDER_MISMATCH"]++
		c = claim(i) // an accepted claim id with other content
		c.TotalCents++
		pb(bus.KindClaim, c)
		want["DUPLICATE_CONFLICT"]++
		pb(bus.KindReversal, &claimsv1.ClaimReversal{ClaimId: fmt.Sprintf("NEVER-%d", i), MemberId: "BAD-M-000",
			ContractId: "S9925", PbpId: "001", PharmacyNpi: pharmacy, ReversalDate: claim(0).DateOfService})
		want["UNKNOWN_CLAIM"]++
	}
	for i := 0; i < reversed; i++ {
		c := claim(i * 3)
		pb(bus.KindReversal, &claimsv1.ClaimReversal{ClaimId: c.ClaimId, MemberId: c.MemberId, ContractId: c.ContractId,
			PbpId: c.PbpId, PharmacyNpi: pharmacy, ReversalDate: c.DateOfService})
	}
	// Every refused submission sent again: the same submission refused for the
	// same reasons is one stored rejection, not two.
	badEnd := len(out)
	out = append(out, out[firstBad:badEnd]...)
	invalid := 0
	for _, n := range want {
		invalid += n
	}

	for i, s := range out {
		m := &nats.Msg{Subject: s.subject, Data: s.data, Header: nats.Header{}}
		if s.contentType != "" {
			m.Header.Set(bus.HeaderContentType, s.contentType)
		}
		if _, err := e.js.PublishMsgAsync(m); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publishes not acknowledged within 30s")
	}
	// Over the raw stream's limit the server refuses the publish: the sender knows at once.
	if _, err := e.js.Publish(ctx, subject(bus.KindClaim), make([]byte, bus.MaxRawBytes+1)); err == nil {
		t.Fatalf("a %d-byte submission was stored", bus.MaxRawBytes+1)
	}

	// Wait until every rejection is stored (the unknown-claim reversals wait 1s).
	ing := ingestionv1.NewIngestionServiceClient(e.conns["ingestion"])
	var rejs []*ingestionv1.Rejection
	deadline := time.Now().Add(90 * time.Second)
	for {
		e.idle(t)
		rejs = testkit.Decode(t, e.js, bus.StreamRejections, func() *ingestionv1.Rejection { return &ingestionv1.Rejection{} })
		if len(rejs) >= invalid || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // another sweep: nothing may be rejected twice
	e.idle(t)
	rejs = testkit.Decode(t, e.js, bus.StreamRejections, func() *ingestionv1.Rejection { return &ingestionv1.Rejection{} })

	got := map[string]int{}
	ids := map[string]bool{}
	for _, r := range rejs {
		if len(r.Violations) == 0 || r.Violations[0].Reason == "" || r.Violations[0].Description == "" {
			t.Fatalf("rejection %s without a reason: %v", r.RejectionId, r.Violations)
		}
		if ids[r.RejectionId] {
			t.Fatalf("rejection %s stored twice", r.RejectionId)
		}
		ids[r.RejectionId] = true
		if len(r.Payload) == 0 && r.Violations[0].Reason != "UNKNOWN_KIND" {
			t.Fatalf("rejection %s (%s) keeps no payload", r.RejectionId, r.Violations[0].Reason)
		}
		got[r.Violations[0].Reason]++
	}
	report(t, want, got)
	for reason, n := range want {
		if got[reason] != n {
			t.Errorf("%s: %d rejections, want %d", reason, got[reason], n)
		}
	}
	if len(rejs) != invalid {
		t.Errorf("%d rejections, want %d", len(rejs), invalid)
	}
	list, err := ing.ListRejections(ctx, &ingestionv1.ListRejectionsRequest{Limit: 1000})
	if err != nil || len(list.Rejections) != invalid {
		t.Errorf("ListRejections: %d (%v), want %d", len(list.GetRejections()), err, invalid)
	}

	// Each valid claim once on the claims stream, each valid reversal once.
	paid, revs := map[string]int{}, map[string]int{}
	for _, m := range testkit.StreamMessages(t, e.js, bus.StreamClaims) {
		switch {
		case strings.HasSuffix(m.Subject, ".paid"):
			var c claimsv1.PharmacyClaim
			if err := proto.Unmarshal(m.Data, &c); err != nil {
				t.Fatal(err)
			}
			paid[c.ClaimId]++
		case strings.HasSuffix(m.Subject, ".reversed"):
			var r claimsv1.ClaimReversal
			if err := proto.Unmarshal(m.Data, &r); err != nil {
				t.Fatal(err)
			}
			revs[r.ClaimId]++
		}
	}
	if len(paid) != valid || len(revs) != reversed {
		t.Errorf("%d claims and %d reversals published, want %d and %d", len(paid), len(revs), valid, reversed)
	}
	for id, n := range paid {
		if n != 1 || !strings.HasPrefix(id, "BAD-RX-") {
			t.Errorf("claim %s published %d times", id, n)
		}
	}
	// Risk scoring counted each once: active = valid - reversed, reversed = reversed.
	risk := riskv1.NewRiskScoringServiceClient(e.conns["risk-scoring"])
	var active, rev int32
	for m := 0; m < members; m++ {
		p, err := risk.GetProfile(ctx, &riskv1.GetProfileRequest{MemberId: fmt.Sprintf("BAD-M-%03d", m)})
		if err != nil {
			t.Fatal(err)
		}
		active += p.Profile.ActiveClaims
		rev += p.Profile.ReversedClaims
	}
	if active != valid-reversed || rev != reversed {
		t.Errorf("risk-scoring holds %d active and %d reversed claims, want %d and %d", active, rev, valid-reversed, reversed)
	}
	if n := len(testkit.StreamMessages(t, e.js, bus.StreamDLQ)); n != 0 {
		t.Errorf("%d messages dead-lettered, want 0", n)
	}
	t.Logf("sent %d submissions: %d valid claims, %d exact re-sends, %d valid reversals, %d invalid; "+
		"published %d claims and %d reversals; stored %d rejections; refused 1 over %d bytes at publish",
		len(out), valid, resent, reversed, invalid, len(paid), len(revs), len(rejs), bus.MaxRawBytes)
}

func report(t *testing.T, want, got map[string]int) {
	t.Helper()
	var reasons []string
	for r := range want {
		reasons = append(reasons, r)
	}
	for r := range got {
		if _, ok := want[r]; !ok {
			reasons = append(reasons, r)
		}
	}
	sort.Strings(reasons)
	var b strings.Builder
	fmt.Fprintf(&b, "%-26s %6s %6s\n", "rejection reason", "want", "got")
	for _, r := range reasons {
		fmt.Fprintf(&b, "%-26s %6d %6d\n", r, want[r], got[r])
	}
	t.Log("\n" + b.String())
}
