package bluebutton

import (
	"os"
	"strings"
	"testing"
)

// FuzzRead reads any bytes as FHIR JSON (a Bundle, a resource or NDJSON) and
// converts every EOB both ways: no panic, and every problem is an *Error with
// a FHIR path and a reason.
func FuzzRead(f *testing.F) {
	f.Add(olderShape)
	f.Add(oneLineJSON(olderShape) + "\n{}\n" + oneLineJSON(olderShape))
	f.Add(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + olderShape + `}]}`)
	b, err := os.ReadFile("../sampledata/ab2d-sample/sample-data-r4.first150.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(strings.SplitN(string(b), "\n", 2)[0])
	f.Fuzz(func(t *testing.T, text string) {
		rs, _, errs, err := Read(strings.NewReader(text))
		if err != nil {
			return
		}
		for _, e := range errs {
			if e.Path == "" || e.Reason == "" {
				t.Fatalf("error without a path or a reason: %+v", e)
			}
		}
		for _, r := range rs {
			if e, perr := PartD(r); perr != nil {
				if perr.Path == "" || perr.Reason == "" {
					t.Fatalf("conversion error without a path or a reason: %+v", perr)
				}
			} else if e.ClaimID == "" || e.BeneficiaryID == "" || !e.FillDate.Valid() {
				t.Fatalf("a Part D event without its id, beneficiary or date: %+v", e)
			}
			if s, perr := PartsAB(r); perr == nil && (s.EOBID == "" || !s.Start.Valid()) {
				t.Fatalf("a Parts A/B claim without its id or start: %+v", s)
			}
		}
	})
}
