package bus

import (
	"testing"

	"github.com/nats-io/nats.go"
)

func TestPartitionIsStableAndInRange(t *testing.T) {
	tests := []struct {
		member string
		n      int
		want   string
	}{
		// Pinned: a change here would move beneficiaries between partitions in a live deployment.
		{"member-1", 1024, "p769"},
		{"member-1", 4, "p1"},
		{"", 1, "p0"},
		{"anything", 1, "p0"},
	}
	for _, tt := range tests {
		if got := Partition(tt.member, tt.n); got != tt.want {
			t.Errorf("Partition(%q,%d) = %q, want %q", tt.member, tt.n, got, tt.want)
		}
	}
	seen := map[string]int{}
	for i := 0; i < 1000; i++ {
		seen[Partition(string(rune('a'+i%26))+string(rune(i)), 8)]++
	}
	if len(seen) != 8 {
		t.Fatalf("1000 members spread over %d of 8 partitions", len(seen))
	}
}

func TestRawPharmacySubject(t *testing.T) {
	s := RawPharmacySubject("1234567893", KindClaim)
	npi, kind, ok := ParseRawPharmacySubject(s)
	if s != "emtm.raw.pharmacy.1234567893.claim" || !ok || npi != "1234567893" || kind != KindClaim {
		t.Fatalf("round trip of %q gave %q %q %v", s, npi, kind, ok)
	}
	for _, bad := range []string{"emtm.raw.api.claim", "emtm.raw.pharmacy.1.claim.x", "x.raw.pharmacy.1.claim"} {
		if _, _, ok := ParseRawPharmacySubject(bad); ok {
			t.Errorf("%q parsed as a pharmacy subject", bad)
		}
	}
	if got := LedgerSubject("S1234.x y"); got != "emtm.ledger.S1234_x_y" {
		t.Errorf("unsafe token kept: %q", got)
	}
}

func TestHeaderCarrierKeepsCase(t *testing.T) {
	h := nats.Header{}
	c := HeaderCarrier(h)
	c.Set("traceparent", "00-abc-def-01")
	if _, ok := h["traceparent"]; !ok {
		t.Fatalf("key case changed: %v", h)
	}
	h2 := nats.Header{"Traceparent": []string{"v"}}
	if HeaderCarrier(h2).Get("traceparent") != "v" {
		t.Fatal("a canonicalised key from another writer was not found")
	}
}

func TestReplacePartition(t *testing.T) {
	if got := replacePartition("emtm.claims.{p}.>", "p3"); got != "emtm.claims.p3.>" {
		t.Fatal(got)
	}
}
