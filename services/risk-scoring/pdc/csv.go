package pdc

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
)

// CSVHeader is the input of `emtmctl pdc`: one fill per row. class may be
// empty (the drug reference classifies the ingredients); several ingredients
// are separated by " / ".
const CSVHeader = "beneficiary_id,fill_date,ingredient,class,days_supply"

// Row is one input row.
type Row struct {
	Line        int
	Beneficiary string
	Date        civil.Date
	Ingredients []string
	Class       string
	DaysSupply  int
}

// ReadCSV reads rows; a malformed file or row is an error naming its line.
func ReadCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 5
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("line 1: %w (the header must be %s)", err, CSVHeader)
	}
	if got := strings.TrimPrefix(strings.Join(head, ","), "\ufeff"); got != CSVHeader {
		return nil, fmt.Errorf("line 1: header %q, want %q", got, CSVHeader)
	}
	var rows []Row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		r := Row{Line: line, Beneficiary: strings.TrimSpace(rec[0]), Class: strings.ToUpper(strings.TrimSpace(rec[3]))}
		if r.Beneficiary == "" {
			return nil, fmt.Errorf("line %d: beneficiary_id is empty", line)
		}
		if r.Date, err = civil.Parse(strings.TrimSpace(rec[1])); err != nil {
			return nil, fmt.Errorf("line %d: fill_date: %w", line, err)
		}
		for _, ing := range strings.Split(rec[2], " / ") {
			if ing = strings.ToLower(strings.TrimSpace(ing)); ing != "" {
				r.Ingredients = append(r.Ingredients, ing)
			}
		}
		if len(r.Ingredients) == 0 {
			return nil, fmt.Errorf("line %d: ingredient is empty", line)
		}
		switch r.Class {
		case "", DIAB, RASA, STATIN:
		default:
			return nil, fmt.Errorf("line %d: class %q must be DIAB, RASA, STATIN or empty", line, rec[3])
		}
		if r.DaysSupply, err = strconv.Atoi(strings.TrimSpace(rec[4])); err != nil || r.DaysSupply < 1 || r.DaysSupply > 365 {
			return nil, fmt.Errorf("line %d: days_supply %q must be a whole number from 1 to 365", line, rec[4])
		}
		rows = append(rows, r)
	}
}

// Beneficiary results, in beneficiary order.
type Beneficiary struct {
	ID      string
	Results []Result
}

// FromRows computes every beneficiary's PDC for year. An explicit class puts
// the fill in that class through its ingredients the reference places there
// (or, when the reference knows none of them, through all its ingredients as
// one drug). Insulin and sacubitril/valsartan fills exclude (rule 8); ESRD and
// hospice are not in this input and are not applied. Ingredients the
// reference does not know are returned (counted by name).
func FromRows(rows []Row, ref *drugref.Reference, year int) ([]Beneficiary, map[string]int) {
	unknown := map[string]int{}
	fills := map[string][]Fill{}
	dispensed := map[string][]Dispensing{}
	for _, r := range rows {
		dispensed[r.Beneficiary] = append(dispensed[r.Beneficiary], Dispensing{Date: r.Date, Ingredients: r.Ingredients})
		drugs, unk := Classify(ref, r.Ingredients)
		for _, u := range unk {
			unknown[u]++
		}
		if r.Class != "" {
			in := drugs[r.Class]
			if len(in) == 0 && len(unk) == len(r.Ingredients) {
				in = []string{strings.Join(r.Ingredients, " / ")}
			}
			drugs = map[string][]string{r.Class: in}
		}
		id := fmt.Sprintf("line %d", r.Line)
		fills[r.Beneficiary] = append(fills[r.Beneficiary], Fill{ClaimID: id, Date: r.Date, DaysSupply: r.DaysSupply, Drugs: drugs})
	}
	ids := make([]string, 0, len(fills))
	for id := range fills {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]Beneficiary, 0, len(ids))
	for _, id := range ids {
		ex := UserExclusions(ref, year, dispensed[id])
		out = append(out, Beneficiary{ID: id, Results: Compute(fills[id], year, civil.Date{}, ex)})
	}
	return out, unknown
}

// WriteCSV prints beneficiary_id,class,ipsd,treatment_days,covered_days,pdc, one
// row per beneficiary and class in the measure, pdc rounded to 4 decimals.
func WriteCSV(w io.Writer, bs []Beneficiary) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"beneficiary_id", "class", "ipsd", "treatment_days", "covered_days", "pdc"})
	for _, b := range bs {
		for _, r := range b.Results {
			if !r.InMeasure {
				continue
			}
			_ = cw.Write([]string{b.ID, r.Class, r.IPSD.String(), strconv.Itoa(r.TreatmentDays), strconv.Itoa(r.CoveredDays), strconv.FormatFloat(r.Rounded(), 'f', 4, 64)})
		}
	}
	cw.Flush()
	return cw.Error()
}
