package pde

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// FuzzReader reads any bytes as a PDE file: it never panics, every line is an
// event or an *Error naming a reason, and an event kept has its PDE_ID and,
// unless deleted, a calendar fill date.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"pde.csv", "pde-mct-sample.txt"} {
		b, err := os.ReadFile(samples + name)
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 4)
		f.Add(strings.Join(lines[:3], "\n"))
		f.Add(lines[1])
	}
	f.Add("\ufeffDML_IND|PDE_ID\r\n")
	f.Add("DELETE|-1|||\n")
	f.Fuzz(func(t *testing.T, text string) {
		rd, err := NewReader(strings.NewReader(text))
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Reason == "" {
				t.Fatalf("header error %v is no *Error with a reason", err)
			}
			return
		}
		var events []Event
		for range 10_000 {
			e, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var pe *Error
				if !errors.As(err, &pe) || pe.Reason == "" || pe.Line < 1 {
					t.Fatalf("line error %v is no *Error with a reason and a line", err)
				}
				continue
			}
			if e.ClaimID == "" || (e.DML != Delete && !e.FillDate.Valid()) {
				t.Fatalf("an event without its id or date: %+v", e)
			}
			events = append(events, e)
		}
		a := Apply(events)
		if len(a.Events)+len(a.Deleted) > len(events) {
			t.Fatalf("applying %d events gave %d", len(events), len(a.Events)+len(a.Deleted))
		}
	})
}

// FuzzBeneficiaries reads any bytes as a RIF beneficiary file: no panic, and
// every span runs forward within one plan.
func FuzzBeneficiaries(f *testing.F) {
	b, err := os.ReadFile(samples + "beneficiary/beneficiary_2015.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Add("DML_IND|BENE_ID|RFRNC_YR|DEATH_DT|PTD_CNTRCT_JAN_ID|PTD_PBP_JAN_ID\nINSERT|-9|2024|14-Jan-2024|S9925|001\n")
	f.Fuzz(func(t *testing.T, text string) {
		bs := map[string]*Beneficiary{}
		if err := ReadBeneficiaries(strings.NewReader(text), bs); err != nil {
			return
		}
		for _, b := range bs {
			for _, s := range b.Spans() {
				if s.End.Before(s.Start) || !s.Plan.Valid() {
					t.Fatalf("span %+v", s)
				}
			}
		}
	})
}
