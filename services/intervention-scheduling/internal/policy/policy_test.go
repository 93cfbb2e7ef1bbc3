package policy

import (
	"testing"
	"time"

	"github.com/emtm/emtm/libs/civil"
)

func TestForTier(t *testing.T) {
	on := civil.Date{Year: 2024, Month: time.February, Day: 10}
	tests := []struct {
		tier   int
		kind   int
		period string
		due    string
	}{
		{TierHigh, KindCMR, "2024", "2024-04-10"},
		{TierModerate, KindTMR, "2024-Q1", "2024-03-31"},
	}
	for _, tt := range tests {
		got := ForTier(tt.tier, on)
		if len(got) != 1 || got[0].Kind != tt.kind || got[0].Period != tt.period || got[0].Due.String() != tt.due || got[0].Reason == "" {
			t.Errorf("tier %d: %+v", tt.tier, got)
		}
	}
	if q4 := ForTier(TierModerate, civil.Date{Year: 2024, Month: 12, Day: 31}); q4[0].Period != "2024-Q4" || q4[0].Due.String() != "2024-12-31" {
		t.Errorf("Q4: %+v", q4)
	}
	if len(ForTier(TierLow, on)) != 0 {
		t.Error("LOW scheduled work")
	}
}
