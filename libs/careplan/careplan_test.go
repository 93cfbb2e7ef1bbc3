package careplan

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	gotime "time"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/emtm/emtm/libs/civil"
)

func example(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "phcp-json", "r4-stu1", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEveryR4ExampleIsRead(t *testing.T) {
	files, err := filepath.Glob("testdata/phcp-json/r4-stu1/*.json")
	if err != nil || len(files) != 16 {
		t.Fatalf("%d examples: %v", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, vs := Read(b)
		if len(vs) != 0 || p == nil || p.ID == "" {
			t.Errorf("%s: %+v %v", f, p, vs)
		}
	}
}

func TestEachR4ExampleGivesWhatItCarries(t *testing.T) {
	day := func(y, m, d int) civil.Date { return civil.Date{Year: y, Month: gotime.Month(m), Day: d} }
	for _, tt := range []struct {
		name  string
		check func(p *Plan) bool
	}{
		{"phcp-medication-therapy-condition-example", func(p *Plan) bool {
			return len(p.Problems) == 1 && p.Problems[0].Code.Code == "697958005" && !p.Problems[0].Resolved &&
				p.Problems[0].Onset == day(2016, 8, 19) && strings.Contains(p.Problems[0].Text, "forgets")
		}},
		{"phcp-intervention-procedure-example", func(p *Plan) bool {
			return len(p.Services) == 1 && p.Services[0].Code.Code == "713116003" && p.Services[0].Completed && p.Date == day(2016, 11, 25)
		}},
		{"phcp-procedure-example", func(p *Plan) bool {
			return len(p.Services) == 1 && p.Services[0].Code.Code == "410123007" && p.Services[0].Date == day(2016, 1, 22)
		}},
		{"phcp-medicationdispense-example", func(p *Plan) bool {
			return len(p.Medications) == 1 && p.Medications[0].Code == "1049683"
		}},
		{"phcp-encounter-example", func(p *Plan) bool { return p.Class == "AMB" && p.Date == day(2016, 12, 25) }},
		{"phcp-patient-example", func(p *Plan) bool {
			return p.PatientID == "phcp-patient-example" && len(p.MemberIDs) == 1 && p.MemberIDs[0] == "1032702"
		}},
		{"phcp-practitioner-example", func(p *Plan) bool { return p.PharmacistNPI == "9941339108" }},
		{"phcp-organization-example", func(p *Plan) bool { return p.PharmacyNPI == "1144221847" }},
		// The Bundle's Organization spells the NPI system http://hl7.org.fhir/sid/us-npi: read as the NPI.
		{"phcp-bundle-example", func(p *Plan) bool {
			return p.ID == "urn:uuid:abfbbb1c-2574-4d2a-9f63-b5429e87222e" && p.MemberID == "1032702" && p.PatientID == "phcp-patient-example" && p.PharmacistNPI == "9941339108" &&
				p.PharmacyNPI == "1144221847" && p.Date == day(2016, 2, 28) && p.Resources["Composition"] == 1 && len(p.Resources) == 4
		}},
	} {
		p, vs := Read(example(t, tt.name))
		if len(vs) != 0 || !tt.check(p) {
			t.Errorf("%s: %+v %v", tt.name, p, vs)
		}
	}
}

func TestAnInvalidCarePlanNamesTheFHIRPathOfEachViolation(t *testing.T) {
	cond := string(example(t, "phcp-medication-therapy-condition-example"))
	for _, tt := range []struct {
		name, doc, path string
	}{
		{"no subject", strings.Replace(cond, `"subject"`, `"subjekt"`, 1), "Condition"},
		{"a date that is none", strings.Replace(cond, `"onsetDateTime": "2016-08-19"`, `"onsetDateTime": "2016-02-30"`, 1), "Condition.onset"},
		{"a problem not in SNOMED CT", strings.ReplaceAll(cond, "http://snomed.info/sct", "http://example.org/codes"), "Condition.code"},
		{"not JSON", "{", "(document)"},
	} {
		_, vs := Read([]byte(tt.doc))
		if len(vs) == 0 || !strings.HasPrefix(vs[0].Path, tt.path) || vs[0].Reason == "" {
			t.Errorf("%s: %+v, want a violation at %s", tt.name, vs, tt.path)
		}
	}
}

func TestACarePlanBecomesTheMTMEncounterItRecords(t *testing.T) {
	b, err := os.ReadFile("testdata/careplan-flow.json")
	if err != nil {
		t.Fatal(err)
	}
	p, vs := Read(b)
	if len(vs) != 0 {
		t.Fatal(vs)
	}
	e, vs := Encounter(p)
	if len(vs) != 0 {
		t.Fatal(vs)
	}
	// The recommendation's performer is referenced by its fullUrl, the problem by Condition/id.
	want := `encounter_id:"CP-M-0001-2024-02-10" member_id:"M-0001" contract_id:"S9925" pbp_id:"001" ` +
		`service_date:{year:2024 month:2 day:10} service_codes:"314530002" pharmacist_npi:"1000000004" pharmacy_npi:"1245319599" ` +
		`minutes:30 delivery_mode:DELIVERY_MODE_IN_PERSON outcome:ENCOUNTER_OUTCOME_COMPLETED problems_found:2 problems_resolved:1 ` +
		`problems:{problem_id:"mrp-1" code:"697958005" description:"Misses evening doses of glyburide" onset_date:{year:2024 month:1 day:20}} ` +
		`problems:{problem_id:"mrp-2" code:"14760008" description:"Constipation" resolved:true onset_date:{year:2024 month:1 day:5}} ` +
		`recommendations:{prescriber_npi:"1234567893" problem_id:"mrp-1" code:"183561008" text:"Consider a once-daily sulfonylurea or glipizide in the morning."}`
	// prototext varies its spacing on purpose: compare without spaces.
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), "") }
	if got := prototext.Format(e); squeeze(got) != squeeze(want) {
		t.Fatalf("encounter\n%s\nwant\n%s", got, want)
	}
	if len(p.Medications) != 1 || p.Medications[0].Code != "310534" {
		t.Fatalf("medications %v", p.Medications)
	}
}

func TestWhatASubmissionLacksIsNamedByItsFHIRElement(t *testing.T) {
	p, vs := Read(example(t, "phcp-bundle-example"))
	if len(vs) != 0 {
		t.Fatal(vs)
	}
	_, vs = Encounter(p)
	var paths []string
	for _, v := range vs {
		paths = append(paths, v.Path)
	}
	// HL7's Bundle example has the patient, pharmacist and pharmacy, and neither a plan nor a service.
	if got := strings.Join(paths, ","); got != "Coverage.class,Encounter.class,Procedure.status" {
		t.Fatalf("violations at %s: %v", got, vs)
	}
	for field, want := range map[string]string{"member_id": "Patient.identifier", "problems[2].code": "Condition[2].code",
		"recommendations[0].prescriber_npi": "ServiceRequest[0].performer", "service_codes[1]": "Procedure[1].code", "kind": "kind"} {
		if got := Path(field); got != want {
			t.Errorf("Path(%s) = %s, want %s", field, got, want)
		}
	}
}

func TestAPrescribersAnswerIsReadFromACommunication(t *testing.T) {
	b, err := os.ReadFile("testdata/careplan-flow.json")
	if err != nil {
		t.Fatal(err)
	}
	answer := `{"fullUrl": "urn:uuid:6f1c0d2e-0001-4000-8000-000000000015", "resource": {"resourceType": "Communication", "id": "ans-1", "status": "completed",
	  "subject": {"reference": "Patient/pt-1"}, "sender": {"reference": "Practitioner/md-1"}, "about": [{"reference": "Condition/mrp-1"}],
	  "reasonCode": [{"coding": [{"system": "` + ResponseSystem + `", "code": "accepted"}]}],
	  "payload": [{"contentString": "Switched to glipizide 5 mg each morning."}]}},`
	doc := strings.Replace(string(b), `"entry": [`, `"entry": [`+answer, 1)
	p, vs := Read([]byte(doc))
	if len(vs) != 0 {
		t.Fatal(vs)
	}
	e, _ := Encounter(p)
	if len(e.PrescriberResponses) != 1 || e.PrescriberResponses[0].ProblemKey != "PHCP:mrp-1" || !e.PrescriberResponses[0].Accepted ||
		e.PrescriberResponses[0].PrescriberNpi != "1234567893" || !strings.Contains(e.PrescriberResponses[0].Note, "glipizide") {
		t.Fatalf("responses %v", e.PrescriberResponses)
	}
	bad := strings.Replace(doc, `"code": "accepted"`, `"code": "maybe"`, 1)
	if _, vs := Read([]byte(bad)); len(vs) != 1 || vs[0].Path != "Bundle.entry[0].resource.reasonCode" {
		t.Fatalf("an answer that is neither: %v", vs)
	}
}

func TestACarePlanWrittenIsReadBackTheSame(t *testing.T) {
	b, err := os.ReadFile("testdata/careplan-flow.json")
	if err != nil {
		t.Fatal(err)
	}
	in, vs := Read(b)
	if len(vs) != 0 {
		t.Fatal(vs)
	}
	out, err := Write(in, "Region 25 Sample PDP")
	if err != nil {
		t.Fatal(err)
	}
	back, vs := Read(out)
	if len(vs) != 0 {
		t.Fatalf("the written plan is not read: %v\n%s", vs, out)
	}
	same := func(what string, a, b any) {
		t.Helper()
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: read back %+v, written %+v", what, b, a)
		}
	}
	same("id", in.ID, back.ID)
	same("date", in.Date, back.Date)
	same("member", in.MemberID, back.MemberID)
	same("plan", in.Contract+"-"+in.PBP, back.Contract+"-"+back.PBP)
	same("problems", in.Problems, back.Problems)
	same("recommendations", in.Recommendations, back.Recommendations)
	if back.PharmacistNPI != "" {
		t.Errorf("the prescriber %s was taken for the pharmacist", back.PharmacistNPI)
	}
	if _, err := Write(&Plan{ID: "x"}, "s"); err == nil {
		t.Error("a plan without member and date was written")
	}
}

func TestTheSTU3CarePlanBundleGivesWhatR4HasTheSameResourcesFor(t *testing.T) {
	b, err := os.ReadFile("testdata/phcp-json/stu3-ballot/Bundle-phcp.json")
	if err != nil {
		t.Fatal(err)
	}
	p, vs := ReadSTU3(b)
	if len(vs) != 0 {
		t.Fatal(vs)
	}
	var codes, meds []string
	for _, pr := range p.Problems {
		codes = append(codes, pr.Code.Code)
	}
	for _, m := range p.Medications {
		meds = append(meds, m.Code)
	}
	if p.ID != "urn:uuid:088078d7-9b80-4fbc-ad18-b3ebec6cb2ed" || p.Date != (civil.Date{Year: 2016, Month: 12, Day: 1}) || len(p.MemberIDs) != 3 ||
		strings.Join(codes, ",") != "14760008,702565001,702565001,425144005,37796009,5602001,160245001" ||
		len(p.Services) != 1 || p.Services[0].Code.Code != "410123007" || !p.Services[0].Completed ||
		!strings.Contains(strings.Join(meds, ","), "1049683") || strings.Count(strings.Join(meds, ","), "313820") != 1 ||
		p.Resources["Condition"] != 7 || p.Resources["RequestGroup"] != 5 {
		t.Fatalf("%+v\nproblems %v medications %v", p, codes, meds)
	}
	if p.Problems[1].Text != "Non-adherence because patient forgets to take medication" || p.Problems[1].Onset != (civil.Date{Year: 2016, Month: 8, Day: 19}) {
		t.Fatalf("problem %+v", p.Problems[1])
	}
	if _, vs := ReadSTU3([]byte(`{"resourceType":"Patient"}`)); len(vs) != 1 {
		t.Fatalf("a Patient alone: %v", vs)
	}
}
