package pipebench

import (
	"testing"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/identifiers"
)

func TestPopulationIsValidAndShapedLikeSynthea(t *testing.T) {
	cs := population(2000, 100)
	ids, members := map[string]bool{}, map[string]int{}
	for _, c := range cs {
		if ids[c.ClaimId] {
			t.Fatalf("claim id %s twice", c.ClaimId)
		}
		ids[c.ClaimId] = true
		members[c.MemberId]++
		for what, err := range map[string]error{
			"mbi":  func() error { _, err := identifiers.MBI(c.Mbi); return err }(),
			"npi":  func() error { _, err := identifiers.NPI(c.PrescriberNpi); return err }(),
			"npi2": func() error { _, err := identifiers.NPI(c.PharmacyNpi); return err }(),
		} {
			if err != nil {
				t.Fatalf("claim %s: %s: %v", c.ClaimId, what, err)
			}
		}
		if d := civil.FromProto(c.DateOfService); d.Year != 2024 || c.DaysSupply != 30 || len(c.Ingredients) != 1 {
			t.Fatalf("claim %+v", c)
		}
	}
	if len(members) != 100 || members["bench-000007"] != 20 {
		t.Fatalf("members %d, member 7 has %d claims", len(members), members["bench-000007"])
	}
	if m, err := publishMsg(cs[0]); err != nil || m.Header.Get("Nats-Msg-Id") != "bench/B-0" || m.Subject != "emtm.raw.pharmacy."+cs[0].PharmacyNpi+".claim" {
		t.Fatalf("message %v %v", m, err)
	}
}
