package cmr_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emtm/emtm/services/risk-scoring/internal/cmr"
)

// FuzzSummary writes summaries of what pharmacies and plans may write (any
// text up to ingestion's bounds): a PDF of at least the three parts always
// comes out, and the HTML never carries their markup.
func FuzzSummary(f *testing.F) {
	f.Add("Forgets the evening dose", "Switch to once daily", "atorvastatin", "call (555) 010-0100.", 30)
	f.Add("<b>bold</b> & \"quoted\"", "", "", "", 0)
	f.Add(strings.Repeat("x", 300), strings.Repeat("Ünïcödé ✓ 中文 ", 120), "hydrochlorothiazide", "\u202e reversed", 10000)
	empty, err := cmr.Build(cmr.Review{EncounterID: "E1", MemberID: "M1", Date: "2024-03-01", Problems: []cmr.Issue{{Asked: []cmr.Ask{{}}}}},
		day("1950-01-01"), []cmr.Fill{{Date: day("2024-02-01")}}, cmr.Plan{}, day("2024-03-02"))
	if err != nil {
		f.Fatal(err)
	}
	skeleton, err := empty.HTML()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, problem, ask, drug, contact string, days int) {
		clip := func(s string, n int) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		}
		problem, ask, drug, contact = clip(problem, 256), clip(ask, 2000), clip(drug, 100), clip(contact, 300)
		r := cmr.Review{EncounterID: "E1", MemberID: "M1", Date: "2024-03-01", Problems: []cmr.Issue{{Text: problem, Asked: []cmr.Ask{{PrescriberNPI: "1003000126", Text: ask}}}}}
		contact = strings.NewReplacer("\n", " ", "\r", " ").Replace(contact) // the policy refuses line breaks
		fills := []cmr.Fill{{Date: day("2024-02-01"), DaysSupply: days % 10001}}
		if drug != "" {
			fills[0].Ingredients = []string{drug}
		}
		s, err := cmr.Build(r, day("1950-01-01"), fills, cmr.Plan{Name: "Plan", Contact: contact, Signature: "Pharmacists"}, day("2024-03-02"))
		if err != nil {
			t.Fatal(err)
		}
		page, err := s.HTML()
		if err != nil {
			t.Fatal(err)
		}
		// Markup in the input never reaches the page: it has exactly the
		// tags of the same summary written with empty texts.
		if got, want := bytes.Count(page, []byte("<")), bytes.Count(skeleton, []byte("<")); got != want {
			t.Fatalf("the page has %d tags, the skeleton %d: the input's markup reached it", got, want)
		}
		start := time.Now()
		doc, pages, err := s.PDF()
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("a PDF took %v for %q %q %q %q %d", took, problem, ask, drug, contact, days)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(doc, []byte("%PDF-")) || pages < 3 {
			t.Fatalf("%d pages", pages)
		}
	})
}
