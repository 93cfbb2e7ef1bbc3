package intake

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
)

var contentTypes = []string{bus.ContentJSON, bus.ContentProtobuf, "", "text/plain"}

// FuzzDecode: any bytes in any content type decode to a message of the kind or
// to a violation with a reason; never a panic, never both or neither.
func FuzzDecode(f *testing.F) {
	c := &claimsv1.PharmacyClaim{ClaimId: "RX-1", MemberId: "M1", DaysSupply: 30, DateOfService: &typesv1.Date{Year: 2024, Month: 3, Day: 10}}
	asJSON, _ := protojson.Marshal(c)
	asProto, _ := proto.Marshal(c)
	f.Add(uint8(0), uint8(0), asJSON)
	f.Add(uint8(0), uint8(1), asProto)
	f.Add(uint8(0), uint8(0), []byte(`{"claimId": 5}`))
	f.Add(uint8(2), uint8(2), []byte{0x0a, 0xff})
	f.Add(uint8(7), uint8(0), []byte(`{}`))
	f.Fuzz(func(t *testing.T, k, ct uint8, payload []byte) {
		kinds := append(append([]string{}, bus.Kinds...), "prescription")
		kind := kinds[int(k)%len(kinds)]
		msg, bad := Decode(kind, contentTypes[int(ct)%len(contentTypes)], payload)
		if (msg == nil) == (bad == nil) {
			t.Fatalf("msg %v, violation %v: want exactly one", msg, bad)
		}
		if bad != nil && (bad.Reason == "" || bad.Description == "") {
			t.Fatalf("violation without reason or description: %+v", bad)
		}
	})
}
