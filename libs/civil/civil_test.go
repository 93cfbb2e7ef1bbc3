package civil

import (
	"strconv"
	"testing"
	"time"
)

func TestDates(t *testing.T) {
	leap := Date{2024, time.February, 29}
	if !leap.Valid() || (Date{2023, time.February, 29}).Valid() || (Date{2024, 13, 1}).Valid() {
		t.Fatal("validity of calendar days is wrong")
	}
	if got := (Date{2024, 1, 25}).AddDays(6); got != (Date{2024, 1, 31}) {
		t.Fatalf("AddDays: %v", got)
	}
	if n := (Date{2024, 12, 31}).DaysSince(Date{2024, 1, 1}); n != 365 {
		t.Fatalf("DaysSince over a leap year: %d, want 365", n)
	}
	if age := (Date{1950, 6, 15}).YearsOld(Date{2024, 6, 14}); age != 73 {
		t.Fatalf("age the day before a birthday: %d", age)
	}
	if age := (Date{1950, 6, 15}).YearsOld(Date{2024, 6, 15}); age != 74 {
		t.Fatalf("age on a birthday: %d", age)
	}
	d, err := Parse("2024-03-10")
	if err != nil || d.String() != "2024-03-10" || FromProto(d.Proto()) != d {
		t.Fatalf("round trip: %v %v", d, err)
	}
	if _, err := Parse("2024-3-10"); err == nil {
		t.Fatal("a malformed date was parsed")
	}
}

// FuzzParse: a parsed date is a real calendar day that prints back as its input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "2024-13-01", "", "0000-01-01", "2024-3-10", "9999-12-31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if !d.Valid() || d.String() != s {
			t.Fatalf("%q parsed as %v (valid %v)", s, d, d.Valid())
		}
	})
}

func TestYMDOrdersDatesAndReadsBack(t *testing.T) {
	d := Date{Year: 2024, Month: 2, Day: 29}
	if d.YMD() != 20240229 || FromYMD("20240229") != d || (Date{}).YMD() != 0 {
		t.Fatalf("YMD %d, FromYMD %v", d.YMD(), FromYMD("20240229"))
	}
	if !(d.YMD() < d.AddDays(1).YMD()) {
		t.Fatal("YMD does not order dates")
	}
	for _, bad := range []string{"", "x", "0", "-20240101"} {
		if !FromYMD(bad).IsZero() {
			t.Errorf("FromYMD(%q) = %v", bad, FromYMD(bad))
		}
	}
}

// FuzzFromYMD: no input panics; a date read back writes the same number.
func FuzzFromYMD(f *testing.F) {
	for _, s := range []string{"20240229", "0", "", "x", "99999999", "-1", "20241399"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := FromYMD(s)
		if d.IsZero() {
			return
		}
		if FromYMD(strconv.Itoa(d.YMD())) != d {
			t.Fatalf("%q read as %v, which writes %d", s, d, d.YMD())
		}
	})
}

func TestOfMicrosIsTheDateInTheZoneItWasWrittenIn(t *testing.T) {
	us := time.Date(2016, 12, 1, 2, 30, 0, 0, time.UTC).UnixMicro() // 2016-11-30 in the evening at -08:00
	for zone, want := range map[string]Date{"UTC": {2016, 12, 1}, "": {2016, 12, 1}, "-08:00": {2016, 11, 30},
		"America/Los_Angeles": {2016, 11, 30}, "+05:00": {2016, 12, 1}, "nonsense": {2016, 12, 1}} {
		if got := OfMicros(us, zone); got != want {
			t.Errorf("%q: %s, want %s", zone, got, want)
		}
	}
}
