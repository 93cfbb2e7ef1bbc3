package ports

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
)

func TestAnExportWindowKeepsEventsByTheirDatesAndSpansThatLastIntoIt(t *testing.T) {
	d := func(y, m, day int) *typesv1.Date {
		return &typesv1.Date{Year: int32(y), Month: int32(m), Day: int32(day)}
	}
	ev := func(subject string, m proto.Message) *ingestionv1.RecordedEvent {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return &ingestionv1.RecordedEvent{Subject: subject, Data: b}
	}
	paid, reversed := bus.ClaimPaid.Subject("p0"), bus.ClaimReversed.Subject("p0")
	w := window{from: civil.Date{Year: 2020, Month: 1, Day: 1}, to: civil.Date{Year: 2020, Month: 12, Day: 31}}
	for _, c := range []struct {
		name string
		ev   *ingestionv1.RecordedEvent
		want bool
	}{
		{"a claim on the first day", ev(paid, &claimsv1.PharmacyClaim{DateOfService: d(2020, 1, 1)}), true},
		{"a claim the day before", ev(paid, &claimsv1.PharmacyClaim{DateOfService: d(2019, 12, 31)}), false},
		{"a claim the day after", ev(paid, &claimsv1.PharmacyClaim{DateOfService: d(2021, 1, 1)}), false},
		{"a reversal within", ev(reversed, &claimsv1.ClaimReversal{ReversalDate: d(2020, 6, 1)}), true},
		{"an encounter after", ev(bus.Encounter.Subject("p1"), &encountersv1.MtmEncounter{ServiceDate: d(2021, 2, 1)}), false},
		{"a span that began before and lasts", ev(bus.Enrollment.Subject("p1"), &enrollmentv1.Enrollment{StartDate: d(2015, 1, 1)}), true},
		{"a span that ended before", ev(bus.Enrollment.Subject("p1"), &enrollmentv1.Enrollment{StartDate: d(2015, 1, 1), EndDate: d(2019, 12, 31)}), false},
		{"a span that begins after", ev(bus.Enrollment.Subject("p1"), &enrollmentv1.Enrollment{StartDate: d(2021, 1, 1)}), false},
		{"a chronic condition since 2010", ev(bus.Condition.Subject("p2"), &medicalv1.Condition{OnsetDate: d(2010, 3, 1)}), true},
		{"a condition resolved before", ev(bus.Condition.Subject("p2"), &medicalv1.Condition{OnsetDate: d(2010, 3, 1), ResolvedDate: d(2011, 1, 1)}), false},
		{"a stay admitted within", ev(bus.PartsAB.Subject("p3"), &medicalv1.PartsAbSummary{AdmitDate: d(2020, 12, 30)}), true},
		{"a month's total of the month before", ev(bus.PartsAB.Subject("p3"), &medicalv1.PartsAbSummary{ServiceMonth: &typesv1.YearMonth{Year: 2019, Month: 12}}), false},
		{"a month's total within", ev(bus.PartsAB.Subject("p3"), &medicalv1.PartsAbSummary{ServiceMonth: &typesv1.YearMonth{Year: 2020, Month: 12}}), true},
		{"an event that cannot be read", &ingestionv1.RecordedEvent{Subject: paid, Data: []byte{0xff, 0xff}}, true},
	} {
		if got := w.keeps(c.ev); got != c.want {
			t.Errorf("%s: kept %v, want %v", c.name, got, c.want)
		}
		if !(window{}).keeps(c.ev) {
			t.Errorf("%s: left out with no dates", c.name)
		}
	}
	if _, err := windowOf(&ingestionv1.ExportEventsRequest{From: d(2020, 2, 30)}); err == nil {
		t.Error("from 2020-02-30 accepted")
	}
}
