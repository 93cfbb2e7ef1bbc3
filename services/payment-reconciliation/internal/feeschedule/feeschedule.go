// Package feeschedule is what the sponsor pays pharmacies per MTM service:
// rules keyed by SNOMED CT service code, each with an effective date. Fees are
// contracted between the sponsor and its pharmacies; they are configuration,
// not CMS rates.
package feeschedule

import (
	"fmt"
	"sort"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/identifiers"
)

// Rule pays FeeCents for a service code from EffectiveFrom on.
type Rule struct {
	Code          string // SNOMED CT concept id
	Service       string // e.g. "CMR", "TMR", "MEDREC"
	Description   string
	FeeCents      int64
	EffectiveFrom civil.Date
}

// Name identifies the rule on ledger entries, e.g. "fee:430193006:MEDREC:2017-01-01".
func (r Rule) Name() string {
	return fmt.Sprintf("fee:%s:%s:%s", r.Code, r.Service, r.EffectiveFrom)
}

// Schedule is a validated set of rules.
type Schedule struct {
	Name  string
	rules map[string][]Rule // by code, latest effective date first
}

// New validates rules and builds a schedule.
func New(name string, rules []Rule) (*Schedule, error) {
	s := &Schedule{Name: name, rules: map[string][]Rule{}}
	seen := map[string]bool{}
	for i, r := range rules {
		if _, err := identifiers.SNOMED(r.Code); err != nil {
			return nil, fmt.Errorf("fee rule %d: code: %v", i+1, err)
		}
		if r.FeeCents < 0 {
			return nil, fmt.Errorf("fee rule %d (%s): fee must not be negative", i+1, r.Code)
		}
		if !r.EffectiveFrom.Valid() {
			return nil, fmt.Errorf("fee rule %d (%s): effective date is not a calendar date", i+1, r.Code)
		}
		if r.Service == "" {
			return nil, fmt.Errorf("fee rule %d (%s): service is required", i+1, r.Code)
		}
		k := r.Code + "@" + r.EffectiveFrom.String()
		if seen[k] {
			return nil, fmt.Errorf("fee rule %d: %s has two rules effective %s", i+1, r.Code, r.EffectiveFrom)
		}
		seen[k] = true
		s.rules[r.Code] = append(s.rules[r.Code], r)
	}
	for _, rs := range s.rules {
		sort.Slice(rs, func(i, j int) bool { return rs[i].EffectiveFrom.After(rs[j].EffectiveFrom) })
	}
	return s, nil
}

// Lookup returns the rule for code in effect on date.
func (s *Schedule) Lookup(code string, on civil.Date) (Rule, bool) {
	for _, r := range s.rules[code] {
		if !r.EffectiveFrom.After(on) {
			return r, true
		}
	}
	return Rule{}, false
}

// Sample is the fee schedule the demo and tests use. The amounts are
// illustrative, not CMS rates or any sponsor's contract.
func Sample() *Schedule {
	from := civil.Date{Year: 2017, Month: 1, Day: 1} // the Enhanced MTM model's first performance year
	s, err := New("sample-2017", []Rule{
		{Code: "314530002", Service: "MEDREVIEW", Description: "Medication review done", FeeCents: 7500, EffectiveFrom: from},
		{Code: "430193006", Service: "MEDREC", Description: "Medication reconciliation", FeeCents: 4000, EffectiveFrom: from},
		{Code: "428191000124101", Service: "MEDLIST", Description: "Documentation of current medications", FeeCents: 1500, EffectiveFrom: from},
	})
	if err != nil {
		// The sample rules are constants checked by the package's tests.
		return &Schedule{Name: "invalid-sample", rules: map[string][]Rule{}}
	}
	return s
}
