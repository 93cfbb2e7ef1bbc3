// Package drugref is emtm's drug reference: ingredients with their therapeutic
// class and the flags the adherence and drug-therapy-problem rules use, an
// RxNorm code → ingredients map, and a parser that finds known ingredients in a
// drug description when a code is unknown. The data are versioned CSV files in
// this directory; their headers cite the sources.
package drugref

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"
	"sync"
)

//go:embed ingredients.csv
var ingredientsCSV []byte

//go:embed rxnorm.csv
var rxnormCSV []byte

//go:embed synonyms.csv
var synonymsCSV []byte

//go:embed mme.csv
var mmeCSV []byte

// Ingredient is one active ingredient and its flags.
type Ingredient struct {
	Name             string
	TherapeuticClass string
	// PDCClass is DIAB, RASA, STATIN or "".
	PDCClass        string
	Insulin         bool
	Sacubitril      bool
	Opioid          bool
	Benzodiazepine  bool
	ZDrug           bool
	Anticholinergic bool
	// CNSClass is antiepileptic, antipsychotic, benzodiazepine, z-drug, opioid, ssri, snri, tca or "".
	CNSClass  string
	Beers     bool
	BeersNote string
	// OnlyAboveMgPerDay, when set, limits Anticholinergic and Beers to a
	// daily dose above it (doxepin: 6 mg/day).
	OnlyAboveMgPerDay *big.Rat
	// BeersNotRoutes are routes for which Beers does not apply (estradiol: vaginal).
	BeersNotRoutes []string
	// BeersUnlessClasses are therapeutic classes whose use in the same year
	// lifts the Beers flag (sulfonylureas: not first- or second-line therapy).
	BeersUnlessClasses []string
	// MME lists the ingredient's MME conversion factors by form (mme.csv).
	MME []MMEFactor
	// Source names the source of this row's flags where it differs from the
	// file's column sources.
	Source string
}

// MMEFactor is one opioid conversion factor (mme.csv).
type MMEFactor struct {
	Form   string // "" for every form without a row of its own
	Unit   string // mg, mcg or mcg/hr
	Factor *big.Rat
	Source string
}

// Reference is a loaded drug reference.
type Reference struct {
	Version  string
	byName   map[string]*Ingredient
	rx       map[string][]string
	synonyms map[string]string
	// phrases are the names and aliases to look for in descriptions, longest first.
	phrases []string
}

var (
	loadOnce sync.Once
	loaded   *Reference
	loadErr  error
)

// Load returns the embedded reference (parsed once).
func Load() (*Reference, error) {
	loadOnce.Do(func() { loaded, loadErr = Parse(ingredientsCSV, rxnormCSV, synonymsCSV, mmeCSV) })
	return loaded, loadErr
}

func readCSV(name string, data []byte, header string) ([][]string, string, error) {
	var version string
	var body bytes.Buffer
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			if i := strings.Index(line, "version "); i >= 0 && version == "" {
				version = strings.TrimSpace(line[i+len("version "):])
			}
			continue
		}
		body.WriteString(line)
	}
	r := csv.NewReader(&body)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, "", fmt.Errorf("%s: header: %w", name, err)
	}
	if strings.Join(head, ",") != header {
		return nil, "", fmt.Errorf("%s: header is %q, want %q", name, strings.Join(head, ","), header)
	}
	var rows [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		if len(rec) != len(head) {
			line, _ := r.FieldPos(0)
			return nil, "", fmt.Errorf("%s line %d: %d fields, want %d", name, line, len(rec), len(head))
		}
		rows = append(rows, rec)
	}
	return rows, version, nil
}

const (
	ingredientsHeader = "ingredient,therapeutic_class,pdc_class,insulin,sacubitril,opioid,benzodiazepine,z_drug,anticholinergic,cns_class,beers,beers_note,only_above_mg_per_day,beers_not_routes,beers_unless_classes,source"
	rxnormHeader      = "rxcui,ingredients,description"
	synonymsHeader    = "alias,ingredient"
	mmeHeader         = "ingredient,form,unit,factor,source"
)

// list splits a ";"-separated column.
func list(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ";") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// Parse builds a Reference from the four CSV files.
func Parse(ingredients, rxnorm, synonyms, mme []byte) (*Reference, error) {
	rows, version, err := readCSV("ingredients.csv", ingredients, ingredientsHeader)
	if err != nil {
		return nil, err
	}
	ref := &Reference{Version: version, byName: map[string]*Ingredient{}, rx: map[string][]string{}, synonyms: map[string]string{}}
	yes := func(s string) bool { return s == "yes" }
	classes := map[string]bool{}
	for _, r := range rows {
		classes[r[1]] = true
	}
	for i, r := range rows {
		ing := &Ingredient{
			Name: r[0], TherapeuticClass: r[1], PDCClass: r[2], Insulin: yes(r[3]), Sacubitril: yes(r[4]),
			Opioid: yes(r[5]), Benzodiazepine: yes(r[6]), ZDrug: yes(r[7]), Anticholinergic: yes(r[8]),
			CNSClass: r[9], Beers: yes(r[10]), BeersNote: r[11], BeersNotRoutes: list(r[13]), BeersUnlessClasses: list(r[14]), Source: r[15],
		}
		if r[12] != "" {
			v, ok := new(big.Rat).SetString(r[12])
			if !ok || v.Sign() <= 0 || strings.ContainsAny(r[12], "/eE") {
				return nil, fmt.Errorf("ingredients.csv row %d (%s): only_above_mg_per_day %q is not a positive decimal", i+1, r[0], r[12])
			}
			ing.OnlyAboveMgPerDay = v
		}
		for _, route := range ing.BeersNotRoutes {
			if !knownRoute(route) {
				return nil, fmt.Errorf("ingredients.csv row %d (%s): beers_not_routes %q is not one of %s", i+1, r[0], route, strings.Join(Routes, ", "))
			}
		}
		for _, c := range ing.BeersUnlessClasses {
			if !classes[c] {
				return nil, fmt.Errorf("ingredients.csv row %d (%s): beers_unless_classes names %q, no therapeutic class of the file", i+1, r[0], c)
			}
		}
		switch ing.PDCClass {
		case "", "DIAB", "RASA", "STATIN":
		default:
			return nil, fmt.Errorf("ingredients.csv row %d (%s): pdc_class %q is not DIAB, RASA or STATIN", i+1, r[0], ing.PDCClass)
		}
		if ing.Name == "" || ing.Name != strings.ToLower(strings.TrimSpace(ing.Name)) {
			return nil, fmt.Errorf("ingredients.csv row %d: ingredient %q must be lower case, not empty, without surrounding spaces", i+1, ing.Name)
		}
		if _, dup := ref.byName[ing.Name]; dup {
			return nil, fmt.Errorf("ingredients.csv row %d: %s is listed twice", i+1, ing.Name)
		}
		ref.byName[ing.Name] = ing
		ref.phrases = append(ref.phrases, ing.Name)
	}
	if err := ref.parseMME(mme); err != nil {
		return nil, err
	}
	syn, _, err := readCSV("synonyms.csv", synonyms, synonymsHeader)
	if err != nil {
		return nil, err
	}
	for _, r := range syn {
		if r[0] == "" || r[0] != strings.ToLower(strings.TrimSpace(r[0])) {
			return nil, fmt.Errorf("synonyms.csv: synonym %q must be lower case, not empty, without surrounding spaces", r[0])
		}
		if _, ok := ref.byName[r[1]]; !ok {
			return nil, fmt.Errorf("synonyms.csv: %s maps to unknown ingredient %q", r[0], r[1])
		}
		ref.synonyms[r[0]] = r[1]
		ref.phrases = append(ref.phrases, r[0])
	}
	sort.Slice(ref.phrases, func(i, j int) bool {
		if len(ref.phrases[i]) != len(ref.phrases[j]) {
			return len(ref.phrases[i]) > len(ref.phrases[j])
		}
		return ref.phrases[i] < ref.phrases[j]
	})
	rx, _, err := readCSV("rxnorm.csv", rxnorm, rxnormHeader)
	if err != nil {
		return nil, err
	}
	for _, r := range rx {
		var ings []string
		for _, n := range strings.Split(r[1], " / ") {
			if _, ok := ref.byName[n]; !ok {
				return nil, fmt.Errorf("rxnorm.csv: %s names unknown ingredient %q", r[0], n)
			}
			ings = append(ings, n)
		}
		ref.rx[r[0]] = ings
	}
	return ref, nil
}

// parseMME reads mme.csv into the ingredients' factors.
func (r *Reference) parseMME(data []byte) error {
	rows, _, err := readCSV("mme.csv", data, mmeHeader)
	if err != nil {
		return err
	}
	for i, row := range rows {
		ing, ok := r.byName[row[0]]
		switch {
		case !ok:
			return fmt.Errorf("mme.csv row %d: unknown ingredient %q", i+1, row[0])
		case !ing.Opioid:
			return fmt.Errorf("mme.csv row %d: %s is not marked opioid in ingredients.csv", i+1, row[0])
		case row[1] != "" && !knownRoute(row[1]):
			return fmt.Errorf("mme.csv row %d (%s): form %q is not one of %s", i+1, row[0], row[1], strings.Join(Routes, ", "))
		case row[2] != "mg" && row[2] != "mcg" && row[2] != "mcg/hr":
			return fmt.Errorf("mme.csv row %d (%s): unit %q is not mg, mcg or mcg/hr", i+1, row[0], row[2])
		case row[4] == "":
			return fmt.Errorf("mme.csv row %d (%s): every factor needs its source", i+1, row[0])
		}
		f, ok := new(big.Rat).SetString(row[3])
		if !ok || f.Sign() <= 0 || strings.ContainsAny(row[3], "/eE") {
			return fmt.Errorf("mme.csv row %d (%s): factor %q is not a positive decimal", i+1, row[0], row[3])
		}
		for _, m := range ing.MME {
			if m.Form == row[1] {
				return fmt.Errorf("mme.csv row %d: %s has two factors for form %q", i+1, row[0], row[1])
			}
		}
		ing.MME = append(ing.MME, MMEFactor{Form: row[1], Unit: row[2], Factor: f, Source: row[4]})
	}
	return nil
}

// Ingredient looks an ingredient up by name (case-insensitive; synonyms allowed).
func (r *Reference) Ingredient(name string) (*Ingredient, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if s, ok := r.synonyms[n]; ok {
		n = s
	}
	ing, ok := r.byName[n]
	return ing, ok
}

// Len is the number of ingredients.
func (r *Reference) Len() int { return len(r.byName) }

// ByRxNorm returns the ingredients of an RxNorm concept, when the reference knows it.
func (r *Reference) ByRxNorm(rxcui string) ([]string, bool) {
	ings, ok := r.rx[rxcui]
	return ings, ok
}

// ParseDescription finds the known ingredients named in a drug description,
// e.g. "Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet" →
// [acetaminophen oxycodone]. Longer names win ("ethinyl estradiol" before
// "estradiol"). The result is sorted; nil when nothing is known.
func (r *Reference) ParseDescription(desc string) []string {
	text := " " + normalize(desc) + " "
	found := map[string]bool{}
	for _, p := range r.phrases {
		needle := " " + p + " "
		for {
			i := strings.Index(text, needle)
			if i < 0 {
				break
			}
			name := p
			if s, ok := r.synonyms[p]; ok {
				name = s
			}
			found[name] = true
			text = text[:i+1] + strings.Repeat("#", len(p)) + text[i+1+len(p):]
		}
	}
	if len(found) == 0 {
		return nil
	}
	out := make([]string, 0, len(found))
	for n := range found {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func normalize(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		default:
			b = append(b, ' ')
		}
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// Source says how Resolve found the ingredients.
type Source string

// Resolve sources.
const (
	FromRxNorm      Source = "rxnorm"
	FromDescription Source = "description"
	Unknown         Source = "unknown"
)

// Resolve returns the ingredients of a drug from its RxNorm code, else from its description.
func (r *Reference) Resolve(rxcui, desc string) ([]string, Source) {
	if ings, ok := r.ByRxNorm(rxcui); ok {
		return ings, FromRxNorm
	}
	if ings := r.ParseDescription(desc); len(ings) > 0 {
		return ings, FromDescription
	}
	return nil, Unknown
}
