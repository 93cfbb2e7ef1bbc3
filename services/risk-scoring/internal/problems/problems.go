// Package problems finds drug therapy problems in a medication profile. Each
// rule is a small pure function that cites its source; each finding names the
// claims that prove it and the prescribers who can act on it.
package problems

import (
	"fmt"
	"sort"

	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
)

// Problem is one finding.
type Problem struct {
	Code           string // SUPD, OHD, COB, POLY-ACH, POLY-CNS, BEERS, NONADH
	Key            string // stable per beneficiary, e.g. "BEERS:glyburide"
	Description    string
	Recommendation string
	Source         string
	ClaimIDs       []string
	PrescriberNPIs []string
}

// Beers finds drugs to avoid in adults 65 and older: a fill in year whose
// ingredient the reference flags under the AGS Beers Criteria (2023, Table 2),
// dispensed when the beneficiary was 65 or older. One problem per ingredient.
// Without a birth date the rule cannot apply and finds nothing.
func Beers(p *profile.Profile, ref *drugref.Reference, year int) []Problem {
	if p.BirthDate.IsZero() {
		return nil
	}
	type acc struct {
		claims, npis map[string]bool
		note         string
	}
	found := map[string]*acc{}
	for _, f := range p.Fills {
		if f.Date.Year != year || p.BirthDate.YearsOld(f.Date) < 65 {
			continue
		}
		for _, name := range f.Ingredients {
			ing, ok := ref.Ingredient(name)
			if !ok || !ing.Beers {
				continue
			}
			a := found[ing.Name]
			if a == nil {
				a = &acc{claims: map[string]bool{}, npis: map[string]bool{}, note: ing.BeersNote}
				found[ing.Name] = a
			}
			a.claims[f.ClaimID] = true
			if f.PrescriberNPI != "" {
				a.npis[f.PrescriberNPI] = true
			}
		}
	}
	out := make([]Problem, 0, len(found))
	for name, a := range found {
		out = append(out, Problem{
			Code:           "BEERS",
			Key:            "BEERS:" + name,
			Description:    fmt.Sprintf("%s is a potentially inappropriate medication in adults 65 and older (%s)", name, a.note),
			Recommendation: fmt.Sprintf("Review the need for %s; consider a safer alternative or deprescribing", name),
			Source:         "American Geriatrics Society 2023 Updated AGS Beers Criteria, Table 2",
			ClaimIDs:       sortedKeys(a.claims),
			PrescriberNPIs: sortedKeys(a.npis),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
