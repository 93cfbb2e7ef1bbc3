package cmr_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/services/risk-scoring/internal/cmr"
)

var sampleDir = flag.String("write-sample", "", "write the sample summary's HTML and PDF into this directory (make cmr-pages)")

func day(s string) civil.Date {
	d, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// sample is a CMR on 2024-03-01 of a member on a statin, an ACE inhibitor, a
// combination product and a drug that ran out months before.
func sample(t testing.TB) cmr.Summary {
	t.Helper()
	r := cmr.Review{EncounterID: "ENC-CMR-1", MemberID: "M100", ContractID: "S9925", PbpID: "001", Date: "2024-03-01",
		PharmacistNPI: "1234567893", Mode: "TELEPHONE", Problems: []cmr.Issue{
			{Code: "697958005", Text: "Non-adherence because patient forgets to take medication",
				Asked: []cmr.Ask{{PrescriberNPI: "1003000126", Text: "Switch lisinopril to a once-daily combination with the amlodipine"}}},
			{Code: "14760008", Text: "Constipation from the opioid", Resolved: true},
			{Code: "0", Text: "<script>alert(1)</script> takes ibuprofen & naproxen together"},
		}}
	fills := []cmr.Fill{
		{Date: day("2023-11-20"), DaysSupply: 90, PrescriberNPI: "1003000126", Ingredients: []string{"atorvastatin"}, Classes: []string{"STATIN"}},
		{Date: day("2024-02-18"), DaysSupply: 90, PrescriberNPI: "1003000126", Ingredients: []string{"atorvastatin"}, Classes: []string{"STATIN"}},
		{Date: day("2024-02-01"), DaysSupply: 30, PrescriberNPI: "1003000126", Ingredients: []string{"lisinopril"}, Classes: []string{"RASA"}},
		{Date: day("2024-02-10"), DaysSupply: 30, PrescriberNPI: "1497758544", Ingredients: []string{"hydrochlorothiazide", "amlodipine"}},
		{Date: day("2023-06-01"), DaysSupply: 30, PrescriberNPI: "1497758544", Ingredients: []string{"cephalexin"}}, // ran out in July
		{Date: day("2024-03-05"), DaysSupply: 30, PrescriberNPI: "1497758544", Ingredients: []string{"metformin"}},  // after the CMR
	}
	plan := cmr.Plan{Name: "Sample Region 25 PDP", Contact: "call the MTM pharmacist line at (555) 010-0100 (TTY 711), Monday to Friday, 8 a.m. to 8 p.m.",
		Signature: "The MTM pharmacists of Sample Region 25 PDP"}
	s, err := cmr.Build(r, day("1948-07-04"), fills, plan, day("2024-03-04"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTheMedicationListIsWhatWasInUseAtTheCMROneRowPerDrug(t *testing.T) {
	s := sample(t)
	var names []string
	for _, m := range s.Medications {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, "; "); got != "Amlodipine and hydrochlorothiazide; Atorvastatin; Lisinopril" {
		t.Fatalf("medications %q: want the three in use at the CMR, not the one that ran out nor the one filled after", got)
	}
	statin := s.Medications[1]
	if statin.Why != "For cholesterol" || !strings.Contains(statin.How, "February 18, 2024, for 90 days") ||
		!strings.Contains(statin.Started, "November 20, 2023") || statin.Prescriber != "NPI 1003000126" {
		t.Fatalf("atorvastatin row %+v: want its class's reason, its latest fill, its first fill and its prescriber", statin)
	}
	accented, _ := cmr.Build(cmr.Review{EncounterID: "E", MemberID: "M", Date: "2024-03-01"}, civil.Date{},
		[]cmr.Fill{{Date: day("2024-02-01"), DaysSupply: 30, Ingredients: []string{"éfavirenz"}}}, cmr.Plan{}, day("2024-03-01"))
	if name := accented.Medications[0].Name; name != "Éfavirenz" {
		t.Fatalf("a name that starts with a letter outside ASCII: %q", name)
	}
	if s.Medications[0].Why != "" {
		t.Fatalf("a drug of no adherence class got a reason: %q (left for the pharmacist or the member to write)", s.Medications[0].Why)
	}
}

func TestTheActionPlanSaysWhatWasAskedOfThePrescriberInPlainWords(t *testing.T) {
	s := sample(t)
	if len(s.Topics) != 3 {
		t.Fatalf("%d topics, want one per problem recorded at the CMR", len(s.Topics))
	}
	if !strings.HasPrefix(s.Topics[0].Talked, "Sometimes a dose of your medicine gets missed.") ||
		!strings.Contains(s.Topics[0].Do, "asked your prescriber (NPI 1003000126) to consider this: Switch lisinopril") {
		t.Fatalf("first topic %+v", s.Topics[0])
	}
	if !strings.HasPrefix(s.Topics[1].Do, "Nothing more for now") {
		t.Fatalf("a resolved problem: %+v", s.Topics[1])
	}
	none, err := cmr.Build(cmr.Review{EncounterID: "E", MemberID: "M", Date: "2024-03-01"}, civil.Date{}, nil, cmr.Plan{}, day("2024-03-01"))
	if err != nil || len(none.Topics) != 1 || !strings.Contains(none.Topics[0].Talked, "did not find a problem") {
		t.Fatalf("a CMR without problems: %v %+v", err, none.Topics)
	}
	if _, err := cmr.Build(cmr.Review{EncounterID: "E", Date: "2024-02-30"}, civil.Date{}, nil, cmr.Plan{}, day("2024-03-01")); err == nil {
		t.Fatal("a review with an impossible date built a summary")
	}
}

// Plain language: short sentences, no codes, nothing a member must decode.
func TestTheSummaryIsInPlainLanguage(t *testing.T) {
	text := sample(t).Text()
	for _, code := range []string{"697958005", "14760008", "SNOMED", "RASA", "STATIN", "ENC-CMR-1", "TELEPHONE"} {
		if strings.Contains(text, code) {
			t.Errorf("the summary prints %q", code)
		}
	}
	words, sentences, longest := 0, 0, ""
	for _, sent := range regexp.MustCompile(`[^.?!:\n]+[.?!:]`).FindAllString(text, -1) {
		n := len(strings.Fields(sent))
		words += n
		sentences++
		if n > len(strings.Fields(longest)) {
			longest = sent
		}
	}
	if avg := float64(words) / float64(sentences); avg > 16 {
		t.Errorf("sentences average %.1f words, want at most 16", avg)
	}
	if n := len(strings.Fields(longest)); n > 40 {
		t.Errorf("longest sentence has %d words: %q", n, longest)
	}
	for _, part := range []string{"Dear member:", "Medication Action Plan for Member ID M100, date of birth 07/04/1948", "Personal Medication List for Member ID M100",
		"What we talked about:", "What I need to do:", "What I did and when I did it:", "My follow-up plan", "Questions I want to ask",
		"Allergies or side effects:", "How I use it:", "Why I use it:", "Date I stopped using it:", "Other information:",
		"Sample Region 25 PDP MTM program", "(555) 010-0100", "Thank you for talking with me on March 1, 2024 by phone"} {
		if !strings.Contains(text, part) {
			t.Errorf("the summary lacks %q", part)
		}
	}
}

func TestTheHTMLEscapesWhatPharmaciesWrote(t *testing.T) {
	page, err := sample(t).HTML()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(page, []byte("<script>")) || !bytes.Contains(page, []byte("&lt;script&gt;alert(1)&lt;/script&gt; takes ibuprofen &amp; naproxen")) {
		t.Fatal("a pharmacist's text reached the page as markup")
	}
	if n := bytes.Count(page, []byte("<section")); n != 3 {
		t.Fatalf("%d sections, want the cover letter, the action plan and the medication list", n)
	}
	if !bytes.Contains(page, []byte(cmr.Form)) {
		t.Fatal("the page does not name the form")
	}
}

func TestThePDFHasTheThreePartsOnTheirOwnPagesAndIsTheSameEveryTime(t *testing.T) {
	s := sample(t)
	doc, pages, err := s.PDF()
	if err != nil {
		t.Fatal(err)
	}
	again, _, _ := s.PDF()
	if !bytes.Equal(doc, again) {
		t.Fatal("the same summary gave two different PDFs")
	}
	if !bytes.HasPrefix(doc, []byte("%PDF-1.")) || pages < 3 || pages > 8 {
		t.Fatalf("%d pages (%d bytes): want a PDF of 3 to 8 pages", pages, len(doc))
	}
	if n := bytes.Count(doc, []byte("/Type /Page\n")); n != pages {
		t.Fatalf("%d page objects, reported %d", n, pages)
	}
	for _, want := range []string{"Medication Action Plan for Member ID M100", "Personal Medication List for Member ID M100", "Dear member:",
		"Page 1 of " + string(rune('0'+pages)), "Atorvastatin", "Form CMS-10396"} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	if *sampleDir != "" {
		page, _ := s.HTML()
		for name, b := range map[string][]byte{"sample.pdf": doc, "sample.html": page} {
			if err := os.WriteFile(filepath.Join(*sampleDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
