package drugref

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// Routes are the routes and forms the reference distinguishes, read from a
// drug description: the forms of mme.csv and the routes of beers_not_routes.
var Routes = []string{"vaginal", "transdermal", "nasal spray", "oral spray", "film", "buccal", "sublingual"}

func knownRoute(s string) bool {
	for _, r := range Routes {
		if r == s {
			return true
		}
	}
	return false
}

// RouteOf reads the route or form of a drug from its description and
// strength: "" when none of Routes applies (an oral tablet, an injection).
// The order matters: a vaginal ring is dosed per hour but is not a patch; a
// buccal film is a film; a sublingual spray is an oral spray.
func RouteOf(description, strength string) string {
	s := strings.ToLower(description + " " + strength)
	switch {
	case strings.Contains(s, "vaginal"):
		return "vaginal"
	case strings.Contains(s, "/hr") || strings.Contains(s, "transdermal") || strings.Contains(s, "patch"):
		return "transdermal"
	case strings.Contains(s, "nasal"):
		return "nasal spray"
	case strings.Contains(s, "spray"):
		return "oral spray"
	case strings.Contains(s, "film"):
		return "film"
	case strings.Contains(s, "buccal"):
		return "buccal"
	case strings.Contains(s, "sublingual"):
		return "sublingual"
	}
	return ""
}

// Use is one dispensing, as a claim states it.
type Use struct {
	Description   string
	Strength      string // per unit, e.g. "10 MG", "25 MCG/HR" (used for a single-ingredient drug)
	QuantityMilli int64  // units dispensed, in thousandths
	DaysSupply    int
}

// Dispensed is one ingredient of a dispensing with the flags that hold for
// this dose and route.
type Dispensed struct {
	Name string
	// Ingredient is nil when the reference does not know the name.
	Ingredient      *Ingredient
	Anticholinergic bool
	Beers           bool
	// MME is the morphine milligram equivalents per day in ten-thousandths
	// (MMEScale); HasMME is false when no factor applies or the strength or
	// quantity is unknown.
	MME    int64
	HasMME bool
	// Note says why a flag of the ingredient does not hold for this dispensing.
	Note string
}

// MMEScale is the number of Dispensed.MME units per MME.
const MMEScale = 10000

// Dispense applies the reference to the ingredients of one dispensing: the
// dose and route conditions of the anticholinergic and Beers flags, and the
// MME per day (strength x units per day x the factor of the drug's form).
func (r *Reference) Dispense(ingredients []string, u Use) []Dispensed {
	route := RouteOf(u.Description, u.Strength)
	segments := strings.Split(u.Description, " / ")
	out := make([]Dispensed, 0, len(ingredients))
	for _, name := range ingredients {
		ing, ok := r.Ingredient(name)
		d := Dispensed{Name: strings.ToLower(strings.TrimSpace(name))}
		if !ok {
			out = append(out, d)
			continue
		}
		d.Name, d.Ingredient = ing.Name, ing
		d.Anticholinergic, d.Beers = ing.Anticholinergic, ing.Beers
		st, found := strengthOf(ing.Name, segments, u.Strength, len(ingredients) == 1)
		if ing.OnlyAboveMgPerDay != nil && (d.Anticholinergic || d.Beers) {
			dose, known := st.mgPerDay(u)
			if !known || dose.Cmp(ing.OnlyAboveMgPerDay) <= 0 {
				d.Anticholinergic, d.Beers = false, false
				if known {
					d.Note = fmt.Sprintf("%s %s mg/day is not above %s mg/day", ing.Name, dose.FloatString(2), ing.OnlyAboveMgPerDay.FloatString(0))
				} else {
					d.Note = fmt.Sprintf("%s: the claim does not show the daily dose (flags only above %s mg/day)", ing.Name, ing.OnlyAboveMgPerDay.FloatString(0))
				}
			}
		}
		for _, not := range ing.BeersNotRoutes {
			if d.Beers && route == not {
				d.Beers = false
				d.Note = fmt.Sprintf("%s by the %s route is not a Beers criterion", ing.Name, route)
			}
		}
		if ing.Opioid && found {
			d.MME, d.HasMME = st.mme(ing, route, u)
		}
		out = append(out, d)
	}
	return out
}

// strength is one ingredient's strength per unit.
type strength struct {
	amount  *big.Rat
	unit    string // MG or MCG
	perHour bool
}

// strengthRE finds a strength in a description segment: "10 MG", "0.025 MG/HR", "25 MCG/HR".
var strengthRE = regexp.MustCompile(`(?i)([0-9]+(?:\.[0-9]+)?)\s*(MG|MCG)(/HR)?\b`)

// strengthOf reads an ingredient's strength from its segment of the
// description (segments are separated by " / "), or from the claim's
// strength for a single-ingredient drug.
func strengthOf(name string, segments []string, field string, single bool) (strength, bool) {
	for _, seg := range segments {
		if strings.Contains(strings.ToLower(seg), name) {
			if s, ok := parseStrength(seg); ok {
				return s, true
			}
			break
		}
	}
	if single {
		return parseStrength(field)
	}
	return strength{}, false
}

func parseStrength(s string) (strength, bool) {
	m := strengthRE.FindStringSubmatch(s)
	if m == nil {
		return strength{}, false
	}
	v, ok := new(big.Rat).SetString(m[1])
	if !ok || v.Sign() <= 0 {
		return strength{}, false
	}
	return strength{amount: v, unit: strings.ToUpper(m[2]), perHour: m[3] != ""}, true
}

// in returns the amount in mg or mcg.
func (s strength) in(unit string) *big.Rat {
	v := new(big.Rat).Set(s.amount)
	switch {
	case s.unit == "MG" && unit == "mcg":
		v.Mul(v, big.NewRat(1000, 1))
	case s.unit == "MCG" && unit == "mg":
		v.Quo(v, big.NewRat(1000, 1))
	}
	return v
}

// unitsPerDay is quantity / days supply (false when either is unknown).
func unitsPerDay(u Use) (*big.Rat, bool) {
	if u.QuantityMilli <= 0 || u.DaysSupply <= 0 {
		return nil, false
	}
	return big.NewRat(u.QuantityMilli, int64(u.DaysSupply)*1000), true
}

// mgPerDay is the daily dose in mg: strength x quantity / days supply.
func (s strength) mgPerDay(u Use) (*big.Rat, bool) {
	if s.amount == nil || s.perHour {
		return nil, false
	}
	per, ok := unitsPerDay(u)
	if !ok {
		return nil, false
	}
	return per.Mul(per, s.in("mg")), true
}

// mme is the MME per day in ten-thousandths, rounded half up, by the factor
// of the drug's form (or the ingredient's form-less factor).
func (s strength) mme(ing *Ingredient, route string, u Use) (int64, bool) {
	var f *MMEFactor
	for i := range ing.MME {
		if ing.MME[i].Form == route {
			f = &ing.MME[i]
			break
		}
		if ing.MME[i].Form == "" && f == nil {
			f = &ing.MME[i]
		}
	}
	if f == nil {
		return 0, false
	}
	var v *big.Rat
	switch {
	case f.Unit == "mcg/hr" && s.perHour: // a patch: the factor applies to its hourly rate
		v = new(big.Rat).Mul(s.in("mcg"), f.Factor)
	case f.Unit != "mcg/hr" && !s.perHour:
		per, ok := unitsPerDay(u)
		if !ok {
			return 0, false
		}
		v = per.Mul(per, s.in(f.Unit))
		v.Mul(v, f.Factor)
	default:
		return 0, false
	}
	v.Mul(v, big.NewRat(MMEScale, 1))
	n := new(big.Int).Quo(new(big.Int).Add(new(big.Int).Mul(v.Num(), big.NewInt(2)), v.Denom()), new(big.Int).Mul(v.Denom(), big.NewInt(2)))
	if !n.IsInt64() || n.Int64() > 1<<50 {
		return 0, false
	}
	return n.Int64(), true
}
