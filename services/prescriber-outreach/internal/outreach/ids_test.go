package outreach

import (
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
)

func TestAnItemOrLetterIdNamesItsPrescriber(t *testing.T) {
	t.Parallel()
	on := civil.Date{Year: 2024, Month: 3, Day: 1}
	tests := []struct{ id, item, comm string }{
		{ItemID("1234567893", "M1", "DDI:a|b", on), "1234567893", ""},
		{CommID("S9925-001", "1234567893", "2024-03", 2), "", "1234567893"},
		{"out", "", ""},
		{"comm/S9925-001", "", ""},
		{"other/1234567893/x", "", ""},
	}
	for _, tt := range tests {
		if got := ItemNPI(tt.id); got != tt.item {
			t.Errorf("ItemNPI(%q) = %q, want %q", tt.id, got, tt.item)
		}
		if got := CommNPI(tt.id); got != tt.comm {
			t.Errorf("CommNPI(%q) = %q, want %q", tt.id, got, tt.comm)
		}
	}
}

func FuzzItemNPI(f *testing.F) {
	f.Add("1234567893", "M1", "DDI:a|b")
	f.Fuzz(func(t *testing.T, npi, member, pkey string) {
		if strings.Contains(npi, "/") {
			return // an NPI is ten digits
		}
		id := ItemID(npi, member, pkey, civil.Date{Year: 2024, Month: 1, Day: 2})
		if got := ItemNPI(id); got != npi {
			t.Fatalf("ItemNPI(ItemID(%q, ...)) = %q", npi, got)
		}
		_ = CommNPI(id)
	})
}
