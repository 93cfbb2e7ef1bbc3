package intake

import (
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
