package problems

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/emtm/emtm/libs/drugref"
)

// strengthRE finds a strength in a description segment: "10 MG", "0.025 MG/HR", "25 MCG/HR".
var strengthRE = regexp.MustCompile(`(?i)([0-9]+(?:\.[0-9]+)?)\s*(MG|MCG)(/HR)?\b`)

// MMEPerDay is a fill's opioid dose in morphine milligram equivalents per day:
// strength per unit x units per day x the CDC 2022 conversion factor, summed
// over the fill's opioid ingredients (domain.md section 4). Transdermal
// fentanyl's factor applies to its mcg/hr. The strength of each ingredient is
// read from its segment of the drug description (segments are separated by
// " / "), or from strength for a single-ingredient drug. It returns 0 when no
// opioid has a factor (buprenorphine has none) or a strength is unknown.
func MMEPerDay(ref *drugref.Reference, ingredients []string, description, strength string, quantityMilli int64, days int) float64 {
	if days <= 0 {
		return 0
	}
	segments := strings.Split(description, " / ")
	total := 0.0
	for _, name := range ingredients {
		ing, ok := ref.Ingredient(name)
		if !ok || !ing.Opioid || ing.MMEFactor == 0 {
			continue
		}
		amount, perHour, found := 0.0, false, false
		for _, seg := range segments {
			if !strings.Contains(strings.ToLower(seg), ing.Name) {
				continue
			}
			amount, perHour, found = parseStrength(seg)
			break
		}
		if !found && len(ingredients) == 1 {
			amount, perHour, found = parseStrength(strength)
		}
		if !found {
			continue
		}
		if perHour { // transdermal: the factor applies to mcg/hr, continuously
			total += amount * ing.MMEFactor
			continue
		}
		if quantityMilli <= 0 {
			continue
		}
		unitsPerDay := float64(quantityMilli) / 1000 / float64(days)
		total += amount * unitsPerDay * ing.MMEFactor
	}
	return total
}

// parseStrength returns mg per unit, or mcg per hour for a patch.
func parseStrength(s string) (amount float64, perHour, ok bool) {
	m := strengthRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) {
		return 0, false, false
	}
	unit := strings.ToUpper(m[2])
	if m[3] != "" { // per hour: express in mcg/hr
		if unit == "MG" {
			v *= 1000
		}
		return v, true, true
	}
	if unit == "MCG" {
		v /= 1000
	}
	return v, false, true
}
