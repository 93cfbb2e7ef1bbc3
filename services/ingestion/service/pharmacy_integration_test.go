package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/ingestion/service"
)

const pharmacyNPI = "1245319599"

func claim(id string) *claimsv1.PharmacyClaim {
	return &claimsv1.PharmacyClaim{
		ClaimId: id, MemberId: "M1", ContractId: "S9925", PbpId: "001",
		DateOfService: &typesv1.Date{Year: 2024, Month: 3, Day: 10}, Ndc11: "00002322730",
		QuantityMilli: 30000, DaysSupply: 30, PrescriberNpi: "1234567893", PharmacyNpi: pharmacyNPI, TotalCents: 1350,
	}
}

// enrollM1 sends member M1's enrollment (S9925-001 from 2024) on the
// sponsor's feed and waits until ingestion has it: claims of a member without
// enrollment on file wait for it.
func enrollM1(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	e, _ := protojson.Marshal(&enrollmentv1.Enrollment{EnrollmentId: "E-M1", MemberId: "M1", ContractId: "S9925", PbpId: "001",
		StartDate: &typesv1.Date{Year: 2024, Month: 1, Day: 1}})
	publishRaw(t, js, bus.RawFeedSubject("S9925", bus.KindEnrollment), "application/json", e)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.WaitIdle(ctx, js, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func publishRaw(t *testing.T, js jetstream.JetStream, subject, contentType string, data []byte) {
	t.Helper()
	m := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	if contentType != "" {
		m.Header.Set("Content-Type", contentType)
	}
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func TestPharmacySubmissionsOverNATS(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t)
	env.RunService(t, service.Definition)
	js := env.JS
	enrollM1(t, js)
	subject := bus.RawPharmacySubject(pharmacyNPI, bus.KindClaim)

	asJSON, _ := protojson.Marshal(claim("RX-JSON"))
	asProto, _ := proto.Marshal(claim("RX-PROTO"))
	other := claim("RX-OTHER")
	other.PharmacyNpi = "1234567893" // another pharmacy's NPI on this pharmacy's subject
	asOther, _ := protojson.Marshal(other)
	publishRaw(t, js, subject, "application/json", asJSON)
	publishRaw(t, js, subject, "application/protobuf", asProto)
	publishRaw(t, js, subject, "application/json", asJSON) // the same claim again
	publishRaw(t, js, subject, "application/json", []byte(`{"claimId": "RX-BAD", "daysSupply": "thirty"`))
	publishRaw(t, js, subject, "application/json", asOther)
	publishRaw(t, js, bus.RawPharmacySubject(pharmacyNPI, "prescription"), "application/json", asJSON)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.WaitIdle(ctx, js, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	claims := testkit.StreamMessages(t, js, bus.StreamClaims)
	got := map[string]bool{}
	for _, m := range claims {
		var c claimsv1.PharmacyClaim
		if err := proto.Unmarshal(m.Data, &c); err != nil {
			t.Fatal(err)
		}
		got[c.ClaimId] = true
		if c.Meta.GetEventId() != "claim/"+pharmacyNPI+"/"+c.ClaimId || c.Meta.GetProducer() != "ingestion" {
			t.Errorf("claim meta %+v", c.Meta)
		}
	}
	if len(claims) != 2 || !got["RX-JSON"] || !got["RX-PROTO"] {
		t.Fatalf("published claims %v (%d messages), want RX-JSON and RX-PROTO once each", got, len(claims))
	}
	reasons := map[string]string{}
	for _, m := range testkit.StreamMessages(t, js, bus.StreamRejections) {
		var r ingestionv1.Rejection
		if err := proto.Unmarshal(m.Data, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Payload) == 0 || r.RawSequence == 0 || r.Channel != "nats" || r.Sender != pharmacyNPI {
			t.Errorf("rejection %s does not keep its raw submission: %+v", r.RejectionId, &r)
		}
		reasons[r.Violations[0].Reason] = r.Kind
	}
	want := map[string]string{"MALFORMED_PAYLOAD": "claim", "SENDER_MISMATCH": "claim", "UNKNOWN_KIND": "unknown"}
	if len(reasons) != len(want) {
		t.Fatalf("rejections %v, want %v", reasons, want)
	}
	for reason, kind := range want {
		if reasons[reason] != kind {
			t.Errorf("rejection %s: kind %q, want %q (all: %v)", reason, reasons[reason], kind, reasons)
		}
	}
	// Every raw submission is kept, the bad ones included.
	if n := len(testkit.StreamMessages(t, js, bus.StreamRaw)); n != 7 {
		t.Fatalf("%d raw submissions stored, want 7 (the enrollment and 6 from the pharmacy)", n)
	}
}
