package synthea

import (
	"sort"
	"testing"
	"testing/fstest"

	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/services/emtm/internal/sampledata"
)

func TestParseCents(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"26.60", 2660, false}, {"26.6", 2660, false}, {"1306.55", 130655, false}, {"0", 0, false},
		{"13.3", 1330, false}, {".5", 50, false}, {"2191.712", 219171, false}, {"2191.715", 219172, false},
		{"3652.5600000000004", 365256, false}, {"", 0, true}, {"-1.00", 0, true}, {"1.2x", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseCents(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseCents(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestProrateRoundsHalfAwayFromZero(t *testing.T) {
	tests := []struct{ total, part, whole, want int64 }{
		{2660, 30, 81, 985}, // 985.19
		{2660, 21, 81, 690}, // 689.63
		{1, 1, 2, 1},        // 0.5 rounds away from zero
		{3, 1, 2, 2},        // 1.5
		{-1, 1, 2, -1},      // -0.5
		{0, 30, 81, 0},
	}
	for _, tt := range tests {
		if got := Prorate(tt.total, tt.part, tt.whole); got != tt.want {
			t.Errorf("Prorate(%d,%d,%d) = %d, want %d", tt.total, tt.part, tt.whole, got, tt.want)
		}
	}
}

func TestSyntheticIdentifiersAreValid(t *testing.T) {
	for i := 0; i < 2000; i++ {
		seed := string(rune('a'+i%26)) + string(rune(i))
		if _, err := identifiers.NPI(SyntheticNPI(seed)); err != nil {
			t.Fatalf("SyntheticNPI(%q) = %s: %v", seed, SyntheticNPI(seed), err)
		}
		if _, err := identifiers.MBI(SyntheticMBI(seed)); err != nil {
			t.Fatalf("SyntheticMBI(%q) = %s: %v", seed, SyntheticMBI(seed), err)
		}
	}
	if npi, again := SyntheticNPI("x"), SyntheticNPI("x"); npi != again {
		t.Fatal("not deterministic")
	}
	if mbi, again := SyntheticMBI("x"), SyntheticMBI("x"); mbi != again {
		t.Fatal("not deterministic")
	}
}

// The figures below were computed independently (a Python script over the
// same CSV files) and by hand for the first two rows.
func TestSampleConversion(t *testing.T) {
	ref, err := drugref.Load()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Load(sampledata.SyntheaCA50(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if ds.DataEnd.String() != "2022-02-24" {
		t.Errorf("data end %s, want 2022-02-24", ds.DataEnd)
	}
	if len(ds.Claims) != 31335 {
		t.Errorf("%d claims, want 31335", len(ds.Claims))
	}
	// Row 1: Ibuprofen 2013-12-18 .. 2014-03-09 = 81 days, TOTALCOST 26.60:
	// fills of 30, 30, 21 days costing 985 + 985 + 690 = 2660 cents.
	want := []struct {
		id   string
		date string
		days int
		cost int64
	}{
		{"synthea:ac71ad72-4172-803c-4e82-448f043d8db3:1:0", "2013-12-18", 30, 985},
		{"synthea:ac71ad72-4172-803c-4e82-448f043d8db3:1:1", "2014-01-17", 30, 985},
		{"synthea:ac71ad72-4172-803c-4e82-448f043d8db3:1:2", "2014-02-16", 21, 690},
		// Row 2: 2022-01-20T06:19Z .. 2022-01-30T00:19Z is 10 days: one fill of 10 days.
		{"synthea:ac71ad72-4172-803c-4e82-448f043d8db3:2:0", "2022-01-20", 10, 2529},
	}
	for i, w := range want {
		c := ds.Claims[i]
		if c.ClaimID != w.id || c.FillDate.String() != w.date || c.DaysSupply != w.days || c.CostCents != w.cost {
			t.Errorf("claim %d: %s %s %d days %d cents; want %+v", i, c.ClaimID, c.FillDate, c.DaysSupply, c.CostCents, w)
		}
	}
	if ds.Claims[0].Ingredients[0] != "ibuprofen" || ds.Claims[0].PrescriberNPI == "" {
		t.Errorf("claim 0: ingredients %v prescriber %q", ds.Claims[0].Ingredients, ds.Claims[0].PrescriberNPI)
	}
	if len(ds.Unknown) != 0 {
		t.Errorf("unknown drugs in the sample: %v", ds.Unknown)
	}
	members := map[string]bool{}
	for _, s := range ds.Enrollment {
		members[s.Patient] = true
	}
	if len(ds.Enrollment) != 89 || len(members) != 11 {
		t.Errorf("%d Medicare spans of %d members, want 89 of 11", len(ds.Enrollment), len(members))
	}
	var n int
	var cents int64
	for _, c := range ds.Claims {
		if ds.Enrolled(c.Patient, c.FillDate) {
			n++
			cents += c.CostCents
		}
	}
	if n != 1979 || cents != 8486806 {
		t.Errorf("%d claims for %d cents in Medicare enrollment, want 1979 for 8486806", n, cents)
	}
	var ab, mtm int
	for _, m := range ds.Medical {
		if ds.Enrolled(m.Patient, m.Start) {
			ab++
		}
	}
	for _, m := range ds.MTM {
		if ds.Enrolled(m.Patient, m.Date) {
			mtm++
		}
	}
	conds := 0
	for _, c := range ds.Conditions {
		if ds.Member(c.Patient) {
			conds++
		}
	}
	if len(ds.Conditions) != 1534 || conds != 469 {
		t.Errorf("%d conditions, %d of Medicare members; want 1534 and 469", len(ds.Conditions), conds)
	}
	if len(ds.Medical) != 192 || ab != 10 || len(ds.MTM) != 248 || mtm != 35 {
		t.Errorf("A/B %d (%d enrolled), MTM %d (%d enrolled); want 192 (10), 248 (35)", len(ds.Medical), ab, len(ds.MTM), mtm)
	}
}

// FuzzLoadMedications: any medications.csv loads or fails with an error,
// never panics; every claim made has a positive days supply of at most 30
// and a cost that is not negative.
func FuzzLoadMedications(f *testing.F) {
	head := "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION\n"
	f.Add(head + "2013-12-18T15:27:41Z,2014-03-09T15:27:41Z,p1,x,e1,198405,Ibuprofen 100 MG Oral Tablet,13.30,0.00,2,26.60,,\n")
	f.Add(head + "2022-01-20T06:19:41Z,,p1,x,e1,834061,Penicillin V Potassium 250 MG Oral Tablet,25.29,0.00,1,25.29,,\n")
	f.Add(head + "2022-01-20,2021-01-01,p1,x,e1,1,Mystery,1,0,1,-5,,\n")
	f.Add("START\n\"")
	ref, err := drugref.Load()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, meds string) {
		fsys := fstest.MapFS{
			"patients.csv":          {Data: []byte("Id,BIRTHDATE,DEATHDATE,GENDER\np1,1950-01-01,,F\n")},
			"encounters.csv":        {Data: []byte("Id,START,STOP,PATIENT,PROVIDER,ENCOUNTERCLASS,TOTAL_CLAIM_COST\n")},
			"medications.csv":       {Data: []byte(meds)},
			"payers.csv":            {Data: []byte("Id,NAME\n")},
			"payer_transitions.csv": {Data: []byte("PATIENT,START_YEAR,END_YEAR,PAYER\n")},
			"procedures.csv":        {Data: []byte("START,STOP,PATIENT,ENCOUNTER,CODE\n")},
			"conditions.csv":        {Data: []byte("START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n")},
		}
		ds, err := Load(fsys, ref)
		if err != nil {
			return
		}
		if len(ds.Claims) > 200000 {
			return // a fuzzed span of centuries: fine, but not worth checking one by one
		}
		for _, c := range ds.Claims {
			if c.DaysSupply < 1 || c.DaysSupply > 30 || c.CostCents < 0 {
				t.Fatalf("claim %+v", c)
			}
		}
	})
}

// FuzzLoadAnyTable: any one of the export's CSV files (the first byte picks
// which), the others well formed, loads or fails with an error, never
// panics; what loads keeps its invariants (enrollment spans in order, no
// negative cost).
func FuzzLoadAnyTable(f *testing.F) {
	good := map[string]string{
		"patients.csv":          "Id,BIRTHDATE,DEATHDATE,GENDER\np1,1950-01-01,,F\n",
		"encounters.csv":        "Id,START,STOP,PATIENT,PROVIDER,ENCOUNTERCLASS,TOTAL_CLAIM_COST\ne1,2020-01-01T10:00:00Z,2020-01-02T10:00:00Z,p1,pr1,inpatient,1000.00\n",
		"medications.csv":       "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION\n",
		"payers.csv":            "Id,NAME\nm,Medicare\n",
		"payer_transitions.csv": "PATIENT,START_YEAR,END_YEAR,PAYER\np1,2015,2022,m\n",
		"procedures.csv":        "START,STOP,PATIENT,ENCOUNTER,CODE\n",
		"conditions.csv":        "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n2016-01-01,,p1,e1,44054006,Diabetes\n",
	}
	names := make([]string, 0, len(good))
	for n := range good {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		f.Add(byte(i), good[n])
		f.Add(byte(i), good[n]+"\"unterminated,\n")
	}
	f.Add(byte(4), "PATIENT,START_YEAR,END_YEAR,PAYER\np1,2030,2010,m\np1,-5,99999999999,m\n")
	ref, err := drugref.Load()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pick byte, data string) {
		fsys := fstest.MapFS{}
		for n, d := range good {
			fsys[n] = &fstest.MapFile{Data: []byte(d)}
		}
		fsys[names[int(pick)%len(names)]] = &fstest.MapFile{Data: []byte(data)}
		ds, err := Load(fsys, ref)
		if err != nil {
			return
		}
		for _, e := range ds.Enrollment {
			if !e.End.IsZero() && e.End.Before(e.Start) {
				t.Fatalf("an enrollment span ends before it starts: %+v", e)
			}
		}
		for _, m := range ds.Medical {
			if m.CostCents < 0 {
				t.Fatalf("a negative Parts A/B cost: %+v", m)
			}
		}
	})
}
