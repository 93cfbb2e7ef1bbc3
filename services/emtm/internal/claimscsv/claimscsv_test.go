package claimscsv

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

const header = "claim_id,member_id,contract_id,pbp_id,date_of_service,status,ndc,ingredients,quantity,days_supply,prescriber_npi,pharmacy_npi,total\n"

func readAll(t *testing.T, in string) ([]Record, []*Error) {
	t.Helper()
	rd, err := NewReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	var errs []*Error
	for i := 0; i < 1000; i++ {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return recs, errs
		}
		var e *Error
		if errors.As(err, &e) {
			errs = append(errs, e)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	t.Fatal("no end of file after 1000 rows")
	return nil, nil
}

func TestReadsClaimsAndReversals(t *testing.T) {
	recs, errs := readAll(t, header+
		"RX-1,M1,S9925,001,2024-03-10,paid,0002-3227-30,lisinopril / hydrochlorothiazide,30.5,30,1234567893,1245319599,$13.50\n"+
		"RX-2,M1,S9925,001,2024-03-12,,,atorvastatin,30,30,1234567893,1245319599,4.05\n"+
		"RX-1,M1,S9925,001,2024-03-10,reversed,,,,30,1234567893,1245319599,0\n")
	if len(errs) != 0 || len(recs) != 3 {
		t.Fatalf("records %d errors %v", len(recs), errs)
	}
	c := recs[0].Claim
	if c.TotalCents != 1350 || c.QuantityMilli != 30500 || c.DateOfService.Day != 10 || len(c.Ingredients) != 2 || recs[0].Line != 2 {
		t.Fatalf("claim %+v line %d", c, recs[0].Line)
	}
	if recs[1].Claim == nil || recs[1].Claim.TotalCents != 405 {
		t.Fatalf("default status: %+v", recs[1])
	}
	if r := recs[2].Reversal; r == nil || r.ClaimId != "RX-1" || r.ReversalDate.Day != 10 {
		t.Fatalf("reversal %+v", recs[2])
	}
}

func TestRowErrorsNameLineAndColumnAndReadingGoesOn(t *testing.T) {
	_, errs := readAll(t, header+
		"RX-1,M1,S9925,001,2024-02-30,paid,,,30,30,1234567893,1245319599,1.00\n"+ // not a date
		"RX-2,M1,S9925,001,2024-03-10,paid,,,30,thirty,1234567893,1245319599,1.00\n"+ // not a number
		"RX-3,M1,S9925,001,2024-03-10,paid,,,30,30,1234567893,1245319599,1.005\n"+ // three decimals of money
		"RX-4,M1,S9925,001,2024-03-10,refunded,,,30,30,1234567893,1245319599,1.00\n"+ // unknown status
		"RX-5,M1\n"+ // short row
		"RX-6,M1,S9925,001,2024-03-10,paid,,,30,30,1234567893,1245319599,1.00\n")
	want := []string{"2 date_of_service CSV_DATE", "3 days_supply CSV_INTEGER", "4 total CSV_NUMBER", "5 status CSV_STATUS", "6  CSV_FIELDS"}
	if len(errs) != len(want) {
		t.Fatalf("errors %v", errs)
	}
	for i, e := range errs {
		got := strings.Join([]string{strconv.Itoa(e.Line), e.Column, e.Reason}, " ")
		if got != want[i] {
			t.Errorf("error %d: %q (%v), want %q", i, got, e, want[i])
		}
	}
}

func TestHeaderProblems(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "empty file",
		"claim_id,member_id\n":          "missing required column(s): contract_id",
		header[:len(header)-1] + ",x\n": "unknown column",
		"claim_id,claim_id\n":           "appears twice",
	} {
		_, err := NewReader(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("header %q: %v, want %q", in, err, want)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add(header + "RX-1,M1,S9925,001,2024-03-10,paid,0002-3227-30,lisinopril,30,30,1234567893,1245319599,13.50\n")
	f.Add(header + "RX-1,M1,S9925,001,2024-03-10,reversed,,,,30,1234567893,1245319599,0\n")
	f.Add(header + "\"unterminated\n")
	f.Add("claim_id\n")
	f.Fuzz(func(t *testing.T, in string) {
		rd, err := NewReader(strings.NewReader(in))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" {
				t.Fatalf("header error without a reason: %v", err)
			}
			return
		}
		for i := 0; i < 10000; i++ {
			r, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Reason == "" || e.Line < 2 {
					t.Fatalf("row error without a reason or line: %v", err)
				}
				continue
			}
			if (r.Claim == nil) == (r.Reversal == nil) || r.Line < 2 {
				t.Fatalf("record %+v", r)
			}
		}
	})
}
