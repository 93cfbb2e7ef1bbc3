package careplan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	gotime "time"

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
			return p.ID == "phcp-bundle-example" && p.PatientID == "phcp-patient-example" && p.PharmacistNPI == "9941339108" &&
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
