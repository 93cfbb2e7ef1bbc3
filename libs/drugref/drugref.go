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
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed ingredients.csv
var ingredientsCSV []byte

//go:embed rxnorm.csv
var rxnormCSV []byte

//go:embed synonyms.csv
var synonymsCSV []byte

// Ingredient is one active ingredient and its flags.
type Ingredient struct {
	Name             string
	TherapeuticClass string
	// PDCClass is DIAB, RASA, STATIN or "".
	PDCClass        string
	Insulin         bool
	Sacubitril      bool
	Opioid          bool
	MMEFactor       float64 // CDC 2022 conversion factor; 0 when none applies
	Benzodiazepine  bool
	ZDrug           bool
	Anticholinergic bool
	// CNSClass is antiepileptic, antipsychotic, benzodiazepine, z-drug, opioid, ssri, snri, tca or "".
	CNSClass  string
	Beers     bool
	BeersNote string
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
	loadOnce.Do(func() { loaded, loadErr = Parse(ingredientsCSV, rxnormCSV, synonymsCSV) })
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
	ingredientsHeader = "ingredient,therapeutic_class,pdc_class,insulin,sacubitril,opioid,mme_factor,benzodiazepine,z_drug,anticholinergic,cns_class,beers,beers_note"
	rxnormHeader      = "rxcui,ingredients,description"
	synonymsHeader    = "alias,ingredient"
)

// Parse builds a Reference from the three CSV files.
func Parse(ingredients, rxnorm, synonyms []byte) (*Reference, error) {
	rows, version, err := readCSV("ingredients.csv", ingredients, ingredientsHeader)
	if err != nil {
		return nil, err
	}
	ref := &Reference{Version: version, byName: map[string]*Ingredient{}, rx: map[string][]string{}, synonyms: map[string]string{}}
	yes := func(s string) bool { return s == "yes" }
	for i, r := range rows {
		ing := &Ingredient{
			Name: r[0], TherapeuticClass: r[1], PDCClass: r[2], Insulin: yes(r[3]), Sacubitril: yes(r[4]),
			Opioid: yes(r[5]), Benzodiazepine: yes(r[7]), ZDrug: yes(r[8]), Anticholinergic: yes(r[9]),
			CNSClass: r[10], Beers: yes(r[11]), BeersNote: r[12],
		}
		if r[6] != "" {
			if ing.MMEFactor, err = strconv.ParseFloat(r[6], 64); err != nil || ing.MMEFactor <= 0 {
				return nil, fmt.Errorf("ingredients.csv row %d (%s): mme_factor %q is not a positive number", i+1, r[0], r[6])
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
