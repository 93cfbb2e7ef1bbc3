package scoring

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/services/risk-scoring/internal/eligibility"
	"github.com/emtm/emtm/services/risk-scoring/internal/problems"
)

//go:embed policy.yaml
var defaultPolicyYAML []byte

// Step earns Points when the count is at least AtLeast.
type Step struct {
	AtLeast int `yaml:"at_least"`
	Points  int `yaml:"points"`
}

// Weights are the points of each factor.
type Weights struct {
	MTMEligible          int            `yaml:"mtm_eligible"`
	Problems             map[string]int `yaml:"problems"`
	NonAdherencePerClass int            `yaml:"nonadherence_per_class"`
	DrugCount            []Step         `yaml:"drug_count"`
	ProjectedCost        int            `yaml:"projected_cost"`
	RecentInpatient      int            `yaml:"recent_inpatient"`
	RecentEmergency      int            `yaml:"recent_emergency"`
	RecentDays           int            `yaml:"recent_days"`
}

// Tiers are the score cut-offs.
type Tiers struct {
	Moderate int `yaml:"moderate"`
	High     int `yaml:"high"`
}

// EligibilitySettings are the sponsor's MTM targeting settings.
type EligibilitySettings struct {
	MinChronicDiseases int           `yaml:"min_chronic_diseases"`
	MinDrugs           int           `yaml:"min_drugs"`
	CostThresholdCents map[int]int64 `yaml:"cost_threshold_cents"`
}

// Letters are what the member's letters say of the plan: the CMR's written
// summary in CMS's Standardized Format names the plan and how to reach its
// MTM program (Form CMS-10396).
type Letters struct {
	// PlanName is the Part D plan's name as members know it.
	PlanName string `yaml:"plan_name"`
	// Contact is how to reach the MTM program: phone, days and hours, TTY.
	Contact string `yaml:"contact"`
	// Signature closes the cover letter (the MTM provider's name and title).
	Signature string `yaml:"signature"`
}

// Policy is one plan's policy.
type Policy struct {
	Eligibility EligibilitySettings `yaml:"eligibility"`
	Weights     Weights             `yaml:"weights"`
	Tiers       Tiers               `yaml:"tiers"`
	Letters     Letters             `yaml:"letters"`
}

// Criteria are the eligibility criteria of year under this policy.
func (p Policy) Criteria(year int) eligibility.Criteria {
	c := eligibility.Defaults(year)
	c.MinChronic, c.MinDrugs = p.Eligibility.MinChronicDiseases, p.Eligibility.MinDrugs
	if t, ok := p.Eligibility.CostThresholdCents[year]; ok {
		c.CostThresholdCents = t
	}
	return c
}

type file struct {
	Version int               `yaml:"version"`
	Default Policy            `yaml:"default"`
	Plans   map[string]Policy `yaml:"plans"`
}

// Policies are the policies of every plan.
type Policies struct {
	Name  string
	def   Policy
	plans map[string]Policy
}

// For returns the policy of a plan (the default for a plan not listed).
func (ps *Policies) For(contract, pbp string) Policy {
	if p, ok := ps.plans[planid.Key(contract, pbp)]; ok {
		return p
	}
	return ps.def
}

// Plans lists the plans with their own policy.
func (ps *Policies) Plans() []string {
	out := make([]string, 0, len(ps.plans))
	for k := range ps.plans {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WithoutCostThreshold lists the policies ("default" and plans) that have no
// MTM cost threshold for year, neither CMS's known one nor their own: for
// them the cost criterion cannot be met that year (CMS publishes each year's
// threshold in its annual MTM memo; a sponsor sets it as
// eligibility.cost_threshold_cents).
func (ps *Policies) WithoutCostThreshold(year int) []string {
	var out []string
	if ps.def.Criteria(year).CostThresholdCents == 0 {
		out = append(out, "default")
	}
	for _, name := range ps.Plans() {
		if ps.plans[name].Criteria(year).CostThresholdCents == 0 {
			out = append(out, name)
		}
	}
	return out
}

// SampleName names the built-in sample policy.
const SampleName = "policy.yaml (built in)"

// SampleYAML is the text of the built-in sample policy.
func SampleYAML() string { return string(defaultPolicyYAML) }

// DefaultPolicies is the embedded sample policy.
func DefaultPolicies() (*Policies, error) {
	return ParsePolicies(SampleName, defaultPolicyYAML)
}

// LoadPolicies reads a policy file; an empty path selects the built-in sample.
func LoadPolicies(path string) (*Policies, error) {
	if path == "" {
		return DefaultPolicies()
	}
	return config.LoadWith(path, validated)
}

// ParsePolicies reads a policy from bytes.
func ParsePolicies(name string, data []byte) (*Policies, error) {
	return config.ParseWith(name, data, validated)
}

func validated(doc *config.Doc, f file) (*Policies, error) {
	check := func(at []string, p Policy) error { return validate(doc, at, p) }
	if err := config.CheckPlans(doc, f.Version, &f.Default, f.Plans, check); err != nil {
		return nil, err
	}
	return &Policies{Name: doc.Name, def: f.Default, plans: f.Plans}, nil
}

func validate(doc *config.Doc, at []string, p Policy) error {
	path := func(parts ...string) []string { return append(append([]string{}, at...), parts...) }
	e := p.Eligibility
	if e.MinChronicDiseases < 2 || e.MinChronicDiseases > 3 {
		return doc.Errorf(path("eligibility", "min_chronic_diseases"), "%d: CMS allows a sponsor to require 2 or 3 chronic diseases", e.MinChronicDiseases)
	}
	if e.MinDrugs < 2 || e.MinDrugs > 8 {
		return doc.Errorf(path("eligibility", "min_drugs"), "%d: CMS allows a sponsor to require 2 to 8 drugs", e.MinDrugs)
	}
	for y, c := range e.CostThresholdCents {
		if y < 2006 || y > 2100 || c <= 0 {
			return doc.Errorf(path("eligibility", "cost_threshold_cents"), "%d: %d cents: a year from 2006 and a positive amount are required", y, c)
		}
	}
	for name, v := range map[string]string{"plan_name": p.Letters.PlanName, "contact": p.Letters.Contact, "signature": p.Letters.Signature} {
		if strings.TrimSpace(v) == "" || len(v) > 300 || strings.ContainsAny(v, "\r\n") {
			return doc.Errorf(path("letters", name), "one line of 1 to 300 characters is required: members' letters (the CMR written summary) print it")
		}
	}
	w := p.Weights
	for name, v := range map[string]int{"mtm_eligible": w.MTMEligible, "nonadherence_per_class": w.NonAdherencePerClass,
		"projected_cost": w.ProjectedCost, "recent_inpatient": w.RecentInpatient, "recent_emergency": w.RecentEmergency} {
		if v < 0 {
			return doc.Errorf(path("weights", name), "points must not be negative, got %d", v)
		}
	}
	known := map[string]bool{}
	for _, c := range problems.Codes {
		known[c] = c != "NONADH"
	}
	for code, v := range w.Problems {
		if !known[code] {
			return doc.Errorf(path("weights", "problems", code), "unknown problem %q (SUPD, OHD, COB, POLY-ACH, POLY-CNS, BEERS; non-adherence has nonadherence_per_class)", code)
		}
		if v < 0 {
			return doc.Errorf(path("weights", "problems", code), "points must not be negative, got %d", v)
		}
	}
	last := 0
	for i, s := range w.DrugCount {
		if s.AtLeast <= last || s.Points < 0 {
			return doc.Errorf(path("weights", "drug_count"), "step %d: at_least must increase from step to step and points must not be negative", i+1)
		}
		last = s.AtLeast
	}
	if w.RecentDays < 1 || w.RecentDays > 365 {
		return doc.Errorf(path("weights", "recent_days"), "%d: use 1 to 365 days", w.RecentDays)
	}
	if p.Tiers.Moderate <= 0 || p.Tiers.High <= p.Tiers.Moderate {
		return doc.Errorf(path("tiers"), "need 0 < moderate < high, got moderate %d, high %d", p.Tiers.Moderate, p.Tiers.High)
	}
	for y := 2017; y <= 2030; y++ {
		if err := p.Criteria(y).Validate(); err != nil {
			return doc.Errorf(path("eligibility"), "%v", err)
		}
	}
	return nil
}

// Describe lists the policy in words (for logs and docs).
func (p Policy) Describe() string {
	return fmt.Sprintf("tiers MODERATE >= %d, HIGH >= %d; MTM eligible %d; problems %v; non-adherence %d per class; drugs %v; cost %d; inpatient %d, emergency %d within %d days",
		p.Tiers.Moderate, p.Tiers.High, p.Weights.MTMEligible, p.Weights.Problems, p.Weights.NonAdherencePerClass,
		p.Weights.DrugCount, p.Weights.ProjectedCost, p.Weights.RecentInpatient, p.Weights.RecentEmergency, p.Weights.RecentDays)
}
