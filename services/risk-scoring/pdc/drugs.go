package pdc

import (
	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
)

// Classify maps each PDC class a fill counts toward to its ingredients in that
// class (rule 4: lisinopril/hydrochlorothiazide counts toward RASA as lisinopril).
// Unknown ingredients are returned apart.
func Classify(ref *drugref.Reference, ingredients []string) (drugs map[string][]string, unknown []string) {
	for _, n := range ingredients {
		ing, ok := ref.Ingredient(n)
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		if ing.PDCClass != "" {
			if drugs == nil {
				drugs = map[string][]string{}
			}
			drugs[ing.PDCClass] = append(drugs[ing.PDCClass], ing.Name)
		}
	}
	return drugs, unknown
}

// Dispensing is a fill's date and ingredients.
type Dispensing struct {
	Date        civil.Date
	Ingredients []string
}

// UserExclusions finds the exclusions the fills of year themselves prove (rule
// 8): an insulin fill (out of DIAB), a sacubitril/valsartan fill (out of RASA).
func UserExclusions(ref *drugref.Reference, year int, fills []Dispensing) Exclusions {
	var ex Exclusions
	for _, f := range fills {
		if f.Date.Year != year {
			continue
		}
		for _, n := range f.Ingredients {
			if ing, ok := ref.Ingredient(n); ok {
				ex.InsulinUser = ex.InsulinUser || ing.Insulin
				ex.SacubitrilUse = ex.SacubitrilUse || ing.Sacubitril
			}
		}
	}
	return ex
}
