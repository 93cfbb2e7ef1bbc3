// Package feeschedule is what a sponsor pays pharmacies for MTM services:
// rules with effective dates, matched by the SNOMED CT codes of an encounter's
// services (and, when the encounter names the task it fulfils, the task's
// kind), or by an outcome such as a prescriber accepting a recommendation.
// Fees are contracted between the sponsor and its pharmacies: configuration,
// not CMS rates.
package feeschedule

import (
	"fmt"
	"sort"

	"github.com/emtm/emtm/libs/civil"
)

// Outcomes a rule can pay for besides services.
const (
	// OutcomePrescriberAccepted pays the pharmacy that obtained a prescriber's
	// acceptance of a recommended change (an outreach item answered ACCEPTED in an encounter).
	OutcomePrescriberAccepted = "PRESCRIBER_ACCEPTED"
)

// Rule pays FeeCents for a service from From on.
type Rule struct {
	Service     string // e.g. "CMR", "MEDREC", "PRESCRIBER_ACCEPTED"
	Description string
	// Codes are the SNOMED CT services the rule pays for; TaskKind, when set,
	// limits it to encounters that name a task of that kind (CMR, TMR, ...).
	Codes    []string
	TaskKind string
	// Outcome, instead of codes, pays for an outcome (OutcomePrescriberAccepted).
	Outcome  string
	FeeCents int64
	From     civil.Date
}

// Name identifies the rule on ledger entries, e.g. "fee:CMR:2017-01-01".
func (r Rule) Name() string { return fmt.Sprintf("fee:%s:%s", r.Service, r.From) }

// Schedule is a set of rules (validated by the policy that holds it).
type Schedule struct {
	rules []Rule // latest From first
}

// New returns a schedule of rules.
func New(rules []Rule) *Schedule {
	rs := append([]Rule(nil), rules...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].From.After(rs[j].From) })
	return &Schedule{rules: rs}
}

func has(codes []string, code string) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}

// ForService returns the rule in effect on a date for a service code: a rule
// for the task kind the encounter names wins over a rule for any encounter.
func (s *Schedule) ForService(code, taskKind string, on civil.Date) (Rule, bool) {
	if taskKind != "" {
		for _, r := range s.rules {
			if r.TaskKind == taskKind && has(r.Codes, code) && !r.From.After(on) {
				return r, true
			}
		}
	}
	for _, r := range s.rules {
		if r.TaskKind == "" && has(r.Codes, code) && !r.From.After(on) {
			return r, true
		}
	}
	return Rule{}, false
}

// ForOutcome returns the rule in effect on a date for an outcome.
func (s *Schedule) ForOutcome(outcome string, on civil.Date) (Rule, bool) {
	for _, r := range s.rules {
		if r.Outcome == outcome && !r.From.After(on) {
			return r, true
		}
	}
	return Rule{}, false
}

// Rules lists the rules, latest first.
func (s *Schedule) Rules() []Rule { return append([]Rule(nil), s.rules...) }
