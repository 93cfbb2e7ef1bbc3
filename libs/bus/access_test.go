package bus

import (
	"slices"
	"testing"
)

func TestServicePermissions(t *testing.T) {
	g, ok := GrantFor("risk-scoring")
	if !ok {
		t.Fatal("no grant for risk-scoring")
	}
	p := ServicePermissions(g, 4)
	allow := func(s string) bool { return slices.Contains(p.PublishAllow, s) }
	deny := func(s string) bool { return slices.Contains(p.PublishDeny, s) }
	tests := []struct {
		what string
		ok   bool
	}{
		{"its events may be published", allow("emtm.assessments.*") && !allow("emtm.claims.*.paid")},
		{"its dead letters, per partition", allow("emtm.dlq.risk-scoring-claims-p3") && !allow("emtm.dlq.ingestion-pharmacy")},
		{"it pulls from streams it reads", allow("$JS.API.CONSUMER.MSG.NEXT.EMTM_CLAIMS.*")},
		{"not from streams it does not read", !allow("$JS.API.CONSUMER.MSG.NEXT.EMTM_LEDGER.*")},
		{"others' durables are denied", deny("$JS.API.CONSUMER.MSG.NEXT.EMTM_MEDICAL.scheduling-medical-p0") && deny("$JS.ACK.EMTM_MEDICAL.payment-medical-p2.>")},
		{"its own durables are not denied", !deny("$JS.API.CONSUMER.MSG.NEXT.EMTM_CLAIMS.risk-scoring-claims-p0")},
		{"streams cannot be deleted", deny("$JS.API.STREAM.DELETE.>") && !allow("$JS.API.STREAM.UPDATE.*")},
		{"replies only under its own inbox; hears only its own instances", slices.Equal(p.SubscribeAllow, []string{"_INBOX_risk-scoring.>", "emtm.instances.risk-scoring.*"})},
		{"says it is alive only as itself", allow("emtm.instances.risk-scoring.*") && !allow("emtm.instances.*.*")},
		{"unpins its own durables, not others'", allow("$JS.API.CONSUMER.UNPIN.EMTM_CLAIMS.*") && deny("$JS.API.CONSUMER.UNPIN.EMTM_MEDICAL.payment-medical-p1")},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Error(tt.what + ": not so")
		}
	}
	if _, ok := GrantFor("nobody"); ok {
		t.Fatal("a grant for an unknown service")
	}
	ph := PharmacyPermissions("1245319599")
	if !slices.Equal(ph.PublishAllow, []string{"emtm.raw.pharmacy.1245319599.*"}) || len(ph.PublishDeny) != 0 {
		t.Fatalf("pharmacy permissions %+v", ph)
	}
	if PasswordEnv("pharmacy-1245319599") != "EMTM_NATS_PASSWORD_PHARMACY_1245319599" {
		t.Fatal(PasswordEnv("pharmacy-1245319599"))
	}
}
