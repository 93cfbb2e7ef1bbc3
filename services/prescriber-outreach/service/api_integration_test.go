package service_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/prescriber-outreach/service"
)

const npi = "1234567893"

func fieldOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) > 0 {
			return br.FieldViolations[0].Field
		}
	}
	return ""
}

func TestOutreachAPIOverTheBus(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t)
	addr := env.RunService(t, service.Definition, "-clock", "events", "-sweep-interval", "1h")
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	api := outreachv1.NewPrescriberOutreachServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tel, _ := otelx.Setup(ctx, "test", nil)
	pub := bus.NewPublisher(env.JS, tel, "test")
	send := func(subject, id string, m proto.Message) {
		t.Helper()
		if _, err := pub.Publish(ctx, bus.Out{Subject: subject, MsgID: id, Msg: m}); err != nil {
			t.Fatal(err)
		}
		if err := bus.WaitIdle(ctx, env.JS, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	d := func(y, m, dd int32) *typesv1.Date { return &typesv1.Date{Year: y, Month: m, Day: dd} }
	p := bus.AssessmentSubject(bus.Partition("M1", 4))
	send(p, "asmt/1", &riskv1.RiskAssessment{Meta: &typesv1.EventMeta{EventId: "asmt/1"}, AssessmentId: "asmt/1", MemberId: "M1", ContractId: "S9925", PbpId: "001",
		AsOf: d(2024, 2, 12), Problems: []*riskv1.DrugTherapyProblem{{Code: "BEERS", Key: "BEERS:glyburide", Description: "glyburide at 78",
			Recommendation: "consider glipizide", ClaimIds: []string{"C-1"}, PrescriberNpis: []string{npi}}}})
	send(p, "asmt/2", &riskv1.RiskAssessment{Meta: &typesv1.EventMeta{EventId: "asmt/2"}, AssessmentId: "asmt/2", MemberId: "M1", ContractId: "S9925", PbpId: "001", AsOf: d(2024, 2, 21)})

	sw, err := api.Sweep(ctx, &outreachv1.SweepRequest{})
	if err != nil || sw.Communications != 1 || sw.Today.Day != 21 {
		t.Fatalf("sweep %v %v", sw, err)
	}
	letters, err := api.ListCommunications(ctx, &outreachv1.ListCommunicationsRequest{PrescriberNpi: npi})
	if err != nil || len(letters.Communications) != 1 || len(letters.Communications[0].Items) != 1 || letters.Communications[0].Text == "" {
		t.Fatalf("letters %v %v", letters, err)
	}
	itemID := letters.Communications[0].Items[0].ItemId

	// The pharmacist's encounter carries the prescriber's answer.
	send(bus.EncounterSubject(bus.Partition("M1", 4)), "enc/1", &encountersv1.MtmEncounter{EncounterId: "enc/1", MemberId: "M1", ServiceDate: d(2024, 3, 1),
		PrescriberResponses: []*encountersv1.PrescriberResponse{{PrescriberNpi: npi, ProblemKey: "BEERS:glyburide", Accepted: true}}})
	items, err := api.ListOutreach(ctx, &outreachv1.ListOutreachRequest{PrescriberNpi: npi})
	if err != nil || len(items.Items) != 1 || items.Items[0].Status != outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED || items.Items[0].RespondedBy != "encounter enc/1" {
		t.Fatalf("items %v %v", items, err)
	}

	// Bad requests name their field.
	for _, tt := range []struct {
		err   error
		code  codes.Code
		field string
	}{
		{func() error {
			_, err := api.RecordResponse(ctx, &outreachv1.RecordResponseRequest{ItemId: itemID, Status: outreachv1.OutreachStatus_OUTREACH_STATUS_SENT})
			return err
		}(), codes.InvalidArgument, "status"},
		{func() error { _, err := api.RecordResponse(ctx, &outreachv1.RecordResponseRequest{}); return err }(), codes.InvalidArgument, "item_id"},
		{func() error {
			_, err := api.RecordResponse(ctx, &outreachv1.RecordResponseRequest{ItemId: itemID, Status: outreachv1.OutreachStatus_OUTREACH_STATUS_DECLINED, RespondedOn: d(2024, 2, 30)})
			return err
		}(), codes.InvalidArgument, "responded_on"},
		{func() error {
			_, err := api.ListOutreach(ctx, &outreachv1.ListOutreachRequest{PrescriberNpi: "1234567890"})
			return err
		}(), codes.InvalidArgument, "prescriber_npi"},
		{func() error {
			_, err := api.ListCommunications(ctx, &outreachv1.ListCommunicationsRequest{PrescriberNpi: npi, Limit: 100000})
			return err
		}(), codes.InvalidArgument, "limit"},
	} {
		if status.Code(tt.err) != tt.code || fieldOf(tt.err) != tt.field {
			t.Errorf("want %s on %s, got %v", tt.code, tt.field, tt.err)
		}
	}
	if _, err := api.RecordResponse(ctx, &outreachv1.RecordResponseRequest{ItemId: "out/none", Status: outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown item: %v", err)
	}
	if _, err := api.RecordResponse(ctx, &outreachv1.RecordResponseRequest{ItemId: itemID, Status: outreachv1.OutreachStatus_OUTREACH_STATUS_DECLINED}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("contradicting answer: %v", err)
	}
	stats, err := api.GetOutreachStats(ctx, &outreachv1.GetOutreachStatsRequest{})
	if err != nil || stats.Communications != 1 || len(stats.ByPrescriber) != 1 || stats.ByPrescriber[0].AcceptanceRate != 1 ||
		len(stats.ByProblem) != 1 || stats.ByProblem[0].Key != "BEERS" || stats.Total.Accepted != 1 {
		t.Fatalf("stats %v %v", stats, err)
	}
}
