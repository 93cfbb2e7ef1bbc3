// Package claimscsv reads the CSV claims format for sponsors' own extracts
// (docs/claims-csv.md): one row per paid claim or reversal, a header naming
// the columns (in any order), dates as YYYY-MM-DD, money in dollars with at
// most two decimals. A row that cannot be read is reported with its line and
// column; the rows around it are still read.
package claimscsv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	"github.com/emtm/emtm/libs/money"
)

// Columns of the format. Required ones must be in the header; the others may be.
var (
	Required = []string{"claim_id", "member_id", "contract_id", "pbp_id", "date_of_service", "days_supply",
		"prescriber_npi", "pharmacy_npi", "total"}
	Optional = []string{"status", "reversal_date", "mbi", "ndc", "rxnorm", "ingredients", "drug_description", "strength",
		"quantity", "fill_number", "ingredient_cost", "dispensing_fee", "patient_pay", "birth_date"}
)

// Record is one row: a paid claim or a reversal.
type Record struct {
	Line     int
	Claim    *claimsv1.PharmacyClaim
	Reversal *claimsv1.ClaimReversal
}

// Member is the member id of the record.
func (r Record) Member() string {
	if r.Claim != nil {
		return r.Claim.MemberId
	}
	return r.Reversal.MemberId
}

// Error is a row (or header) that cannot be read.
type Error struct {
	Line   int
	Column string
	Reason string // stable code, e.g. CSV_DATE
	Msg    string
}

func (e *Error) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d, column %s: %s", e.Line, e.Column, e.Msg)
}

// Reader reads records.
type Reader struct {
	r    *csv.Reader
	cols map[string]int
}

// NewReader reads and checks the header.
func NewReader(in io.Reader) (*Reader, error) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	head, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Line: 1, Reason: "CSV_HEADER", Msg: "empty file: the first line must be the header"}
		}
		return nil, &Error{Line: 1, Reason: "CSV_HEADER", Msg: err.Error()}
	}
	known := map[string]bool{}
	for _, c := range append(append([]string{}, Required...), Optional...) {
		known[c] = true
	}
	cols := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !known[h] {
			return nil, &Error{Line: 1, Column: h, Reason: "CSV_HEADER", Msg: fmt.Sprintf("unknown column %q (see docs/claims-csv.md)", h)}
		}
		if _, dup := cols[h]; dup {
			return nil, &Error{Line: 1, Column: h, Reason: "CSV_HEADER", Msg: fmt.Sprintf("column %q appears twice", h)}
		}
		cols[h] = i
	}
	var missing []string
	for _, c := range Required {
		if _, ok := cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, &Error{Line: 1, Reason: "CSV_HEADER", Msg: "missing required column(s): " + strings.Join(missing, ", ")}
	}
	return &Reader{r: r, cols: cols}, nil
}

// Next returns the next record, an *Error for a row that cannot be read (call
// Next again to go on), or io.EOF.
func (rd *Reader) Next() (Record, error) {
	row, err := rd.r.Read()
	if errors.Is(err, io.EOF) {
		return Record{}, io.EOF
	}
	if err != nil {
		line := 0
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			line = pe.StartLine
		}
		return Record{}, &Error{Line: max(line, 2), Reason: "CSV_SYNTAX", Msg: err.Error()}
	}
	line, _ := rd.r.FieldPos(0) // only valid after a successful Read
	if len(row) != len(rd.cols) {
		return Record{}, &Error{Line: line, Reason: "CSV_FIELDS", Msg: fmt.Sprintf("%d fields, the header has %d", len(row), len(rd.cols))}
	}
	p := rowParser{row: row, cols: rd.cols, line: line}
	status := strings.ToLower(p.str("status"))
	switch status {
	case "", "paid":
		c := &claimsv1.PharmacyClaim{
			ClaimId: p.str("claim_id"), MemberId: p.str("member_id"), Mbi: p.str("mbi"),
			ContractId: p.str("contract_id"), PbpId: p.str("pbp_id"), DateOfService: p.date("date_of_service").Proto(),
			Ndc11: p.str("ndc"), RxnormCode: p.str("rxnorm"), Ingredients: p.list("ingredients"),
			DrugDescription: p.str("drug_description"), Strength: p.str("strength"),
			QuantityMilli: p.fixed("quantity", 3), DaysSupply: p.int32("days_supply"), FillNumber: p.int32("fill_number"),
			PrescriberNpi: p.str("prescriber_npi"), PharmacyNpi: p.str("pharmacy_npi"),
			IngredientCostCents: p.fixed("ingredient_cost", 2), DispensingFeeCents: p.fixed("dispensing_fee", 2),
			PatientPayCents: p.fixed("patient_pay", 2), TotalCents: p.fixed("total", 2),
			BirthDate: p.date("birth_date").Proto(), Status: claimsv1.ClaimStatus_CLAIM_STATUS_PAID,
		}
		if p.err != nil {
			return Record{}, p.err
		}
		return Record{Line: line, Claim: c}, nil
	case "reversed":
		when := p.date("reversal_date")
		if when.IsZero() {
			when = p.date("date_of_service")
		}
		r := &claimsv1.ClaimReversal{ClaimId: p.str("claim_id"), MemberId: p.str("member_id"), ContractId: p.str("contract_id"),
			PbpId: p.str("pbp_id"), PharmacyNpi: p.str("pharmacy_npi"), ReversalDate: when.Proto()}
		if p.err != nil {
			return Record{}, p.err
		}
		return Record{Line: line, Reversal: r}, nil
	}
	return Record{}, &Error{Line: line, Column: "status", Reason: "CSV_STATUS", Msg: fmt.Sprintf("status %q must be paid or reversed", status)}
}

// rowParser reads typed fields of one row, keeping the first error.
type rowParser struct {
	row  []string
	cols map[string]int
	line int
	err  *Error
}

func (p *rowParser) str(col string) string {
	i, ok := p.cols[col]
	if !ok {
		return ""
	}
	return strings.TrimSpace(p.row[i])
}

func (p *rowParser) fail(col, reason, format string, args ...any) {
	if p.err == nil {
		p.err = &Error{Line: p.line, Column: col, Reason: reason, Msg: fmt.Sprintf(format, args...)}
	}
}

func (p *rowParser) date(col string) civil.Date {
	s := p.str(col)
	if s == "" {
		return civil.Date{}
	}
	d, err := civil.Parse(s)
	if err != nil || !d.Valid() {
		p.fail(col, "CSV_DATE", "%q is not a date (YYYY-MM-DD)", s)
	}
	return d
}

func (p *rowParser) int32(col string) int32 {
	s := p.str(col)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		p.fail(col, "CSV_INTEGER", "%q is not a whole number", s)
	}
	return int32(n)
}

// fixed reads a decimal in units of 10^-places (dollars to cents with 2, quantity to thousandths with 3).
func (p *rowParser) fixed(col string, places int) int64 {
	s := p.str(col)
	if s == "" {
		return 0
	}
	v, err := money.ParseFixed(strings.TrimPrefix(s, "$"), places, false)
	if err != nil {
		p.fail(col, "CSV_NUMBER", "%v", err)
	}
	return v
}

func (p *rowParser) list(col string) []string {
	s := p.str(col)
	if s == "" {
		return nil
	}
	var out []string
	for _, part := range strings.Split(s, " / ") {
		if t := strings.TrimSpace(part); t != "" {
			out = append(out, t)
		}
	}
	return out
}
