package validate

import (
	"testing"

	"google.golang.org/protobuf/proto"

	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
)

// FuzzValidate: for any decodable message, validation names a field and a
// reason for every violation, never changes its input, and an accepted
// message's stored form is accepted again unchanged (normalisation is stable).
func FuzzValidate(f *testing.F) {
	good, _ := proto.Marshal(goodClaim())
	f.Add(uint8(0), good)
	f.Add(uint8(1), []byte{})
	f.Add(uint8(2), []byte{0x12, 0x02, 0x4d, 0x31})
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		type validator func(proto.Message) (proto.Message, []Violation)
		kinds := []struct {
			msg proto.Message
			v   validator
		}{
			{&claimsv1.PharmacyClaim{}, func(m proto.Message) (proto.Message, []Violation) { return Claim(m.(*claimsv1.PharmacyClaim), rules) }},
			{&claimsv1.ClaimReversal{}, func(m proto.Message) (proto.Message, []Violation) {
				return Reversal(m.(*claimsv1.ClaimReversal), rules)
			}},
			{&encountersv1.MtmEncounter{}, func(m proto.Message) (proto.Message, []Violation) {
				return Encounter(m.(*encountersv1.MtmEncounter), rules)
			}},
			{&enrollmentv1.Enrollment{}, func(m proto.Message) (proto.Message, []Violation) {
				return Enrollment(m.(*enrollmentv1.Enrollment), rules)
			}},
			{&medicalv1.PartsAbSummary{}, func(m proto.Message) (proto.Message, []Violation) {
				return PartsAbSummary(m.(*medicalv1.PartsAbSummary), rules)
			}},
			{&medicalv1.Condition{}, func(m proto.Message) (proto.Message, []Violation) { return Condition(m.(*medicalv1.Condition), rules) }},
		}
		kind := kinds[int(k)%len(kinds)]
		in := kind.msg
		if proto.Unmarshal(data, in) != nil {
			return
		}
		before := proto.Clone(in)
		out, v := kind.v(in)
		if !proto.Equal(before, in) {
			t.Fatal("validation changed its input")
		}
		for _, x := range v {
			if x.Field == "" || x.Reason == "" || x.Description == "" {
				t.Fatalf("incomplete violation %+v", x)
			}
		}
		if len(v) > 0 {
			return
		}
		again, v2 := kind.v(out)
		if len(v2) > 0 || !proto.Equal(again, out) {
			t.Fatalf("stored form not stable: %v then %v (%v)", out, again, v2)
		}
	})
}
