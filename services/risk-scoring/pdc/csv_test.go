package pdc

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/drugref"
)

func TestCSVRoundTrip(t *testing.T) {
	ref, _ := drugref.Load()
	in := CSVHeader + "\n" +
		"B2,2024-01-01,atorvastatin,,30\nB2,2024-01-25,atorvastatin,STATIN,30\nB2,2024-03-10,atorvastatin,,30\n" + // the worked example
		"B1,2024-01-01,lisinopril / hydrochlorothiazide,,90\nB1,2024-04-01,lisinopril,,90\n" + // a combination and its ingredient
		"B1,2024-01-01,metformin,,30\nB1,2024-02-01,metformin,,30\nB1,2024-03-01,insulin glargine,,30\n" + // insulin: out of DIAB
		"B3,2024-01-01,mystery,STATIN,30\nB3,2024-02-01,mystery,STATIN,30\n" // unknown drug with an explicit class
	rows, err := ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	bs, unknown := FromRows(rows, ref, 2024)
	var out bytes.Buffer
	if err := WriteCSV(&out, bs); err != nil {
		t.Fatal(err)
	}
	want := "beneficiary_id,class,ipsd,treatment_days,covered_days,pdc\n" +
		"B1,RASA,2024-01-01,366,180,0.4918\n" +
		"B2,STATIN,2024-01-01,366,90,0.2459\n" +
		"B3,STATIN,2024-01-01,366,60,0.1639\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	if unknown["mystery"] != 2 {
		t.Fatalf("unknown %v", unknown)
	}
}

func TestCSVErrorsNameTheLine(t *testing.T) {
	for in, want := range map[string]string{
		"a,b\n":                              "line 1",
		CSVHeader + "\nB,2024-13-01,x,,30\n": "line 2: fill_date",
		CSVHeader + "\nB,2024-01-01,x,LIPID,30\n":      "line 2: class",
		CSVHeader + "\nB,2024-01-01,x,,0\n":            "line 2: days_supply",
		CSVHeader + "\nB,2024-01-01,,,30\n":            "line 2: ingredient is empty",
		CSVHeader + "\nB,2024-01-01,x,,30,extra\n":     "wrong number of fields",
		CSVHeader + "\n,2024-01-01,atorvastatin,,30\n": "line 2: beneficiary_id is empty",
	} {
		if _, err := ReadCSV(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add(CSVHeader + "\nB2,2024-01-01,atorvastatin,,30\n")
	f.Add(CSVHeader + "\nB,2024-01-01,lisinopril / hydrochlorothiazide,RASA,365\n")
	f.Add("\"")
	ref, _ := drugref.Load()
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := ReadCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		bs, _ := FromRows(rows, ref, 2024)
		for _, b := range bs {
			for _, r := range b.Results {
				if r.InMeasure && (r.CoveredDays > r.TreatmentDays || r.PDC() < 0 || r.PDC() > 1) {
					t.Fatalf("%+v", r)
				}
			}
		}
	})
}
