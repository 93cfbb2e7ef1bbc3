// Package chronic maps diagnosis codes to the core chronic disease categories
// of Part D MTM targeting (42 CFR 423.153(d)(2); docs/domain.md section 2),
// from a versioned data file that cites its sources in its header.
package chronic

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"sort"
	"strings"
	"sync"
)

//go:embed conditions.csv
var conditionsCSV string

// Categories.
const (
	Alzheimers    = "ALZHEIMERS"
	BoneArthritis = "BONE_ARTHRITIS"
	CHF           = "CHF"
	Diabetes      = "DIABETES"
	Dyslipidemia  = "DYSLIPIDEMIA"
	ESRD          = "ESRD"
	HIVAIDS       = "HIV_AIDS"
	Hypertension  = "HYPERTENSION"
	MentalHealth  = "MENTAL_HEALTH"
	Respiratory   = "RESPIRATORY"
	Cancer        = "CANCER" // not an MTM category: excludes from the COB and OHD safety measures
)

// Exclusion categories: no MTM chronic disease, but each removes a
// beneficiary from safety measures (docs/domain.md section 4.1 rule 6; the
// names are those of package safety). CANCER and ESRD are exclusions too.
const (
	SickleCell  = "SICKLE_CELL"
	Palliative  = "PALLIATIVE_CARE"
	Seizure     = "SEIZURE_DISORDER"
	Rhabdo      = "RHABDOMYOLYSIS_MYOPATHY"
	Pregnancy   = "PREGNANCY_LACTATION_FERTILITY"
	Liver       = "LIVER_DISEASE"
	Prediabetes = "PREDIABETES"
	PCOS        = "PCOS"
)

// ExclusionCategories lists the categories that are safety-measure exclusions.
var ExclusionCategories = []string{Cancer, SickleCell, Palliative, Seizure, ESRD, Rhabdo, Pregnancy, Liver, Prediabetes, PCOS}

// CoreDiseases returns the core chronic diseases a sponsor may target in year:
// all ten from 2025; before 2025 the same list without HIV/AIDS (CY 2025 MTM
// Program Guidance).
func CoreDiseases(year int) []string {
	core := []string{Alzheimers, BoneArthritis, CHF, Diabetes, Dyslipidemia, ESRD, Hypertension, MentalHealth, Respiratory}
	if year >= 2025 {
		core = append(core, HIVAIDS)
		sort.Strings(core)
	}
	return core
}

// Names are the categories in words.
var Names = map[string]string{
	Alzheimers: "Alzheimer's disease", BoneArthritis: "bone disease-arthritis", CHF: "chronic heart failure",
	Diabetes: "diabetes", Dyslipidemia: "dyslipidemia", ESRD: "end-stage renal disease", HIVAIDS: "HIV/AIDS",
	Hypertension: "hypertension", MentalHealth: "mental health", Respiratory: "respiratory disease", Cancer: "cancer",
	SickleCell: "sickle cell disease", Palliative: "palliative care", Seizure: "seizure disorder", Rhabdo: "rhabdomyolysis or myopathy",
	Pregnancy: "pregnancy, lactation or fertility treatment", Liver: "liver disease", Prediabetes: "prediabetes", PCOS: "polycystic ovary syndrome",
}

// Systems of the map.
const (
	SNOMED = "SNOMED"
	ICD10  = "ICD10"
)

type rule struct {
	system, code, category string
	prefix                 bool
}

// Map is a loaded condition map.
type Map struct {
	exact  map[string]string // system|code -> category
	prefix []rule            // longest prefix first
}

var (
	once   sync.Once
	loaded *Map
	errMap error
)

// Load returns the embedded map.
func Load() (*Map, error) {
	once.Do(func() { loaded, errMap = Parse(conditionsCSV) })
	return loaded, errMap
}

// Parse reads a map in the CSV format of conditions.csv.
func Parse(text string) (*Map, error) {
	var body strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		if !strings.HasPrefix(l, "#") {
			body.WriteString(l)
		}
	}
	rows, err := csv.NewReader(strings.NewReader(body.String())).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("conditions.csv: %w", err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "system,match,code,category,description" {
		return nil, fmt.Errorf("conditions.csv: header must be system,match,code,category,description")
	}
	valid := map[string]bool{}
	for _, c := range append(CoreDiseases(2025), ExclusionCategories...) {
		valid[c] = true
	}
	m := &Map{exact: map[string]string{}}
	for i, r := range rows[1:] {
		if r[0] != SNOMED && r[0] != ICD10 {
			return nil, fmt.Errorf("conditions.csv row %d: system %q must be SNOMED or ICD10", i+1, r[0])
		}
		if !valid[r[3]] {
			return nil, fmt.Errorf("conditions.csv row %d: unknown category %q", i+1, r[3])
		}
		switch r[1] {
		case "exact":
			m.exact[r[0]+"|"+r[2]] = r[3]
		case "prefix":
			m.prefix = append(m.prefix, rule{system: r[0], code: strings.ToUpper(r[2]), category: r[3], prefix: true})
		default:
			return nil, fmt.Errorf("conditions.csv row %d: match %q must be exact or prefix", i+1, r[1])
		}
	}
	sort.Slice(m.prefix, func(i, j int) bool { return len(m.prefix[i].code) > len(m.prefix[j].code) })
	return m, nil
}

// Category returns the category of a code ("" when none).
func (m *Map) Category(system, code string) string {
	code = strings.ToUpper(strings.TrimSpace(code))
	if c, ok := m.exact[system+"|"+code]; ok {
		return c
	}
	if system == ICD10 {
		plain := strings.ReplaceAll(code, ".", "")
		for _, r := range m.prefix {
			if r.system == system && strings.HasPrefix(plain, strings.ReplaceAll(r.code, ".", "")) {
				return r.category
			}
		}
	}
	return ""
}
