package letter

import (
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
)

func comm(items ...*outreachv1.OutreachItem) *outreachv1.Communication {
	return &outreachv1.Communication{CommunicationId: "comm/S9925-001/1234567893/2024-W08/1", PrescriberNpi: "1234567893",
		Period: "2024-W08", CreatedOn: civil.Date{Year: 2024, Month: 2, Day: 19}.Proto(), Items: items}
}

var beers = &outreachv1.OutreachItem{ItemId: "out/1234567893/M1/BEERS:glyburide/20240212", MemberId: "M1", ContractId: "S9925", PbpId: "001",
	ProblemCode: "BEERS", Description: "glyburide at age 78", Recommendation: "Consider glipizide instead of glyburide",
	ClaimIds: []string{"C-100", "C-101"}, Source: "AGS Beers Criteria 2023"}

var header = Header{Letterhead: "Sample PDP MTM", ReplyTo: "Fax (555) 010-0199", RespondBy: civil.Date{Year: 2024, Month: 3, Day: 20}}

func TestLetterCarriesWhatAPrescriberNeeds(t *testing.T) {
	nonadh := &outreachv1.OutreachItem{ItemId: "out/1234567893/M2/NONADH:STATIN/20240213", MemberId: "M2", ContractId: "S9925", PbpId: "001",
		ProblemCode: "NONADH", Description: "STATIN PDC 0.61", Recommendation: "Ask about barriers", ClaimIds: []string{"C-200"}}
	text, html, err := Render(header, comm(beers, nonadh))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Sample PDP MTM", "Communication comm/S9925-001/1234567893/2024-W08/1", "Date:    2024-02-19", "Prescriber NPI 1234567893",
		"2 medication therapy concerns", "1. A medication to avoid in older adults (BEERS)", "member M1, plan S9925-001",
		"Recommendation: Consider glipizide instead of glyburide", "Evidence:       pharmacy claims C-100, C-101",
		"Source:         AGS Beers Criteria 2023", "Reference:      out/1234567893/M1/BEERS:glyburide/20240212",
		"2. Gaps in medication adherence (NONADH)", "[ ] Accept   [ ] Decline", "by 2024-03-20", "Fax (555) 010-0199",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text letter lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "[ ] Accept") != 2 || strings.Count(text, "Source:") != 1 {
		t.Errorf("one response line per item, a source line only where known:\n%s", text)
	}
	for _, want := range []string{
		`<input type="radio" name="out/1234567893/M1/BEERS:glyburide/20240212" value="ACCEPTED">`,
		`value="DECLINED"`, "<dd>pharmacy claims C-100, C-101</dd>", "<strong>2024-03-20</strong>", "<h2>2. Gaps in medication adherence (NONADH)</h2>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML letter lacks %q", want)
		}
	}
}

func TestLetterSingularAndEscaping(t *testing.T) {
	evil := &outreachv1.OutreachItem{ItemId: "out/x", MemberId: "M<1>", ProblemCode: "COB", Description: `<script>alert("x")</script> & more`,
		Recommendation: "Taper", ClaimIds: []string{"C-1"}}
	text, html, err := Render(header, comm(evil))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "1 medication therapy concern for") || !strings.Contains(html, "1 medication therapy concern for") {
		t.Errorf("one item is one concern")
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, "M&lt;1&gt;") {
		t.Errorf("HTML must escape item text:\n%s", html)
	}
	if !strings.Contains(text, `<script>alert("x")</script> & more`) {
		t.Errorf("plain text keeps the text as is")
	}
}

func TestProblemNames(t *testing.T) {
	for _, code := range []string{"SUPD", "OHD", "COB", "POLY-ACH", "POLY-CNS", "BEERS", "NONADH"} {
		if ProblemName(code) == code {
			t.Errorf("%s has no reader's name", code)
		}
	}
	if ProblemName("NEW") != "NEW" {
		t.Errorf("an unknown code names itself")
	}
}
