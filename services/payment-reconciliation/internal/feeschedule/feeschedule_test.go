package feeschedule

import (
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
)

func TestSampleIsValidAndEffectiveDated(t *testing.T) {
	s := Sample()
	if s.Name != "sample-2017" {
		t.Fatalf("sample schedule failed validation: %s", s.Name)
	}
	if r, ok := s.Lookup("430193006", civil.Date{Year: 2021, Month: 5, Day: 1}); !ok || r.FeeCents != 4000 {
		t.Fatalf("lookup: %+v %v", r, ok)
	}
	if _, ok := s.Lookup("430193006", civil.Date{Year: 2016, Month: 12, Day: 31}); ok {
		t.Fatal("a rule applied before its effective date")
	}
}

func TestLaterRuleWins(t *testing.T) {
	s, err := New("t", []Rule{
		{Code: "430193006", Service: "MEDREC", FeeCents: 4000, EffectiveFrom: civil.Date{Year: 2017, Month: 1, Day: 1}},
		{Code: "430193006", Service: "MEDREC", FeeCents: 4500, EffectiveFrom: civil.Date{Year: 2020, Month: 1, Day: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		on   civil.Date
		want int64
	}{{civil.Date{Year: 2019, Month: 12, Day: 31}, 4000}, {civil.Date{Year: 2020, Month: 1, Day: 1}, 4500}} {
		if r, _ := s.Lookup("430193006", tt.on); r.FeeCents != tt.want {
			t.Errorf("%s: fee %d, want %d", tt.on, r.FeeCents, tt.want)
		}
	}
}

func TestInvalidRules(t *testing.T) {
	d := civil.Date{Year: 2017, Month: 1, Day: 1}
	for _, tt := range []struct {
		r    Rule
		want string
	}{
		{Rule{Code: "430193007", Service: "X", EffectiveFrom: d}, "check digit"},
		{Rule{Code: "430193006", Service: "X", FeeCents: -1, EffectiveFrom: d}, "negative"},
		{Rule{Code: "430193006", Service: "X"}, "effective date"},
		{Rule{Code: "430193006", EffectiveFrom: d}, "service is required"},
	} {
		if _, err := New("t", []Rule{tt.r}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.r, err, tt.want)
		}
	}
}
