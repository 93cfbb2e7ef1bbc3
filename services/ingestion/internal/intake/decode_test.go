package intake

import (
	"os"
	"testing"

	"github.com/emtm/emtm/libs/bus"
)

// A JSON submission that cannot be read names the field the decoder blames,
// by its proto name, so that the rejection says which field to fix.
func TestAJSONDecodingRejectionNamesTheField(t *testing.T) {
	tests := []struct {
		name, contentType, payload string
		reason, field              string
	}{
		{"a string where a number goes", bus.ContentJSON, `{"claimId": "RX-1", "daysSupply": "thirty"}`, "MALFORMED_PAYLOAD", "days_supply"},
		{"the proto name", bus.ContentJSON, `{"claim_id": "RX-1", "days_supply": true}`, "MALFORMED_PAYLOAD", "days_supply"},
		{"a number where a string goes", bus.ContentJSON, `{"claimId": 5}`, "MALFORMED_PAYLOAD", "claim_id"},
		{"an unknown field", bus.ContentJSON, `{"claimId": "RX-1", "copay": 5}`, "MALFORMED_PAYLOAD", "copay"},
		{"a field twice", bus.ContentJSON, `{"claimId": "RX-1", "claimId": "RX-2"}`, "MALFORMED_PAYLOAD", "claim_id"},
		{"a nested field", bus.ContentJSON, `{"dateOfService": {"year": "x"}}`, "MALFORMED_PAYLOAD", "year"},
		{"broken JSON names no field", bus.ContentJSON, `{"claimId": `, "MALFORMED_PAYLOAD", ""},
		{"JSON with its charset", "application/json; charset=utf-8", `{"claimId": true}`, "MALFORMED_PAYLOAD", "claim_id"},
		{"another charset", "application/json; charset=iso-8859-1", `{}`, "UNSUPPORTED_CONTENT_TYPE", ""},
		{"not a content type we read", "text/csv", `claim_id`, "UNSUPPORTED_CONTENT_TYPE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, bad := Decode(bus.KindClaim, tt.contentType, []byte(tt.payload))
			if bad == nil {
				t.Fatalf("decoded %v", msg)
			}
			if bad.Reason != tt.reason || bad.Field != tt.field {
				t.Errorf("reason %s field %q (%s); want %s field %q", bad.Reason, bad.Field, bad.Description, tt.reason, tt.field)
			}
		})
	}
	if _, bad := Decode(bus.KindClaim, "application/json; charset=UTF-8", []byte(`{"claimId": "RX-1"}`)); bad != nil {
		t.Errorf("JSON with charset=UTF-8 refused: %+v", bad)
	}
}

func TestACarePlanIsReadAsFHIRJSONOnly(t *testing.T) {
	doc, err := os.ReadFile("../../../../libs/careplan/testdata/careplan-flow.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range []string{"application/fhir+json", "application/fhir+json; charset=utf-8", "application/json"} {
		e, v := DecodeCarePlan(ct, doc)
		if len(v) != 0 || e.GetEncounterId() != "CP-M-0001-2024-02-10" || len(e.GetProblems()) != 2 {
			t.Errorf("%s: %v %v", ct, e, v)
		}
	}
	for _, ct := range []string{"", "application/protobuf", "application/fhir+xml"} {
		if _, v := DecodeCarePlan(ct, doc); len(v) != 1 || v[0].Reason != "UNSUPPORTED_CONTENT_TYPE" {
			t.Errorf("%q: %v", ct, v)
		}
	}
	if _, v := DecodeCarePlan("application/fhir+json", []byte(`{"resourceType":"Bundle","type":"documentt"}`)); len(v) == 0 || v[0].Field == "" {
		t.Errorf("a Bundle of no type: %v", v)
	}
	if MemberKey(bus.KindCarePlan, "application/fhir+json", doc) != "M-0001" {
		t.Error("a care plan is not ordered by its member")
	}
}
