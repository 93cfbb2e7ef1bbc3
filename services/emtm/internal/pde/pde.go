// Package pde reads CMS Part D Event (PDE) files in the RIF layout the
// Chronic Conditions Warehouse sends to the Beneficiary FHIR Data server
// (pipe-delimited, 41 columns; docs/interchange.md), and the RIF beneficiary
// files' monthly Part D contract and PBP, into Part D events and enrollment
// spans.
//
// Readings (where the sources are silent, ours):
//   - the drug cost of a claim is TOT_RX_CST_AMT (CCW codebook: "Gross Drug
//     Cost"), never GDC_BLW_OOPT_AMT + GDC_ABV_OOPT_AMT: the two disagree in
//     synthetic files and a record is not rejected for it;
//   - DML_IND applies in file order by PDE_ID: an INSERT of a known PDE_ID
//     replaces it (a resend), an UPDATE of an unknown one inserts it, a DELETE
//     removes it; a DELETE of a PDE_ID the files never inserted is the
//     deletion of one imported before, sent as a reversal;
//   - identifiers stay strings, sign kept (BFD's synthetic ids are negative).
package pde

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/money"
)

// Layout is the RIF PDE layout's column order, for a file without a header.
var Layout = strings.Split("DML_IND|PDE_ID|CLM_GRP_ID|FINAL_ACTION|BENE_ID|SRVC_DT|PD_DT|SRVC_PRVDR_ID_QLFYR_CD|SRVC_PRVDR_ID|"+
	"PRSCRBR_ID_QLFYR_CD|PRSCRBR_ID|RX_SRVC_RFRNC_NUM|PROD_SRVC_ID|PLAN_CNTRCT_REC_ID|PLAN_PBP_REC_NUM|CMPND_CD|"+
	"DAW_PROD_SLCTN_CD|QTY_DSPNSD_NUM|DAYS_SUPLY_NUM|FILL_NUM|DSPNSNG_STUS_CD|DRUG_CVRG_STUS_CD|ADJSTMT_DLTN_CD|"+
	"NSTD_FRMT_CD|PRCNG_EXCPTN_CD|CTSTRPHC_CVRG_CD|GDC_BLW_OOPT_AMT|GDC_ABV_OOPT_AMT|PTNT_PAY_AMT|OTHR_TROOP_AMT|"+
	"LICS_AMT|PLRO_AMT|CVRD_D_PLAN_PD_AMT|NCVRD_PLAN_PD_AMT|TOT_RX_CST_AMT|RX_ORGN_CD|RPTD_GAP_DSCNT_NUM|"+
	"BRND_GNRC_CD|PHRMCY_SRVC_TYPE_CD|PTNT_RSDNC_CD|SUBMSN_CLR_CD", "|")

// required are the columns a header must name.
var required = []string{"PDE_ID", "BENE_ID", "SRVC_DT", "SRVC_PRVDR_ID", "PRSCRBR_ID", "PROD_SRVC_ID",
	"PLAN_CNTRCT_REC_ID", "PLAN_PBP_REC_NUM", "QTY_DSPNSD_NUM", "DAYS_SUPLY_NUM", "TOT_RX_CST_AMT"}

// DML operations.
const (
	Insert = "INSERT"
	Update = "UPDATE"
	Delete = "DELETE"
)

// Event is one Part D event, normalized: the audit print's columns and the
// fields a claim carries besides them. Its source is a RIF PDE line or a
// Blue Button pharmacy ExplanationOfBenefit.
type Event struct {
	Line          int    // the line (or resource) it came from
	DML           string // INSERT, UPDATE or DELETE
	ClaimID       string // PDE_ID
	BeneficiaryID string // BENE_ID
	FillDate      civil.Date
	NDC11         string
	DaysSupply    int32
	QuantityMilli int64
	TotalCents    int64 // gross drug cost, TOT_RX_CST_AMT
	PrescriberID  string
	PharmacyID    string
	Contract, PBP string
	FillNumber    int32
	PatientPay    int64 // PTNT_PAY_AMT in cents
	Description   string
}

// Error is a line (or resource) that cannot be read, naming its column.
type Error struct {
	Line   int
	Column string
	Reason string // stable code, e.g. PDE_DATE
	Msg    string
}

func (e *Error) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d, %s: %s", e.Line, e.Column, e.Msg)
}

// MaxLine bounds one line: a PDE line is a few hundred bytes.
const MaxLine = 64 << 10

// Reader reads a PDE file line by line.
type Reader struct {
	sc   *bufio.Scanner
	line int
	cols map[string]int
	n    int // columns per line
	// pending is a first line that was data, not a header.
	pending *string
}

// NewReader reads the header when the first line has one (a file without
// one is read in Layout's order). A byte-order mark and CRLF are tolerated.
func NewReader(in io.Reader) (*Reader, error) { return open(in, required, Layout) }

// open reads the header naming at least the required columns, or, when the
// first line is no header and layout is set, reads the file in its order.
func open(in io.Reader, required, layout []string) (*Reader, error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	rd := &Reader{sc: sc}
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, &Error{Line: 1, Reason: "PDE_LINE", Msg: err.Error()}
		}
		return nil, &Error{Line: 1, Reason: "PDE_HEADER", Msg: "empty file"}
	}
	rd.line = 1
	first := clean(sc.Text(), true)
	fields := split(first)
	if len(fields) > 0 && strings.EqualFold(strings.TrimSpace(fields[0]), "DML_IND") || layout == nil {
		cols := map[string]int{}
		for i, h := range fields {
			h = strings.ToUpper(strings.TrimSpace(h))
			if h == "" {
				continue
			}
			if _, dup := cols[h]; dup {
				return nil, &Error{Line: 1, Column: h, Reason: "PDE_HEADER", Msg: fmt.Sprintf("column %s appears twice", h)}
			}
			cols[h] = i
		}
		var missing []string
		for _, c := range required {
			if _, ok := cols[c]; !ok {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return nil, &Error{Line: 1, Reason: "PDE_HEADER", Msg: "the header lacks the column(s) " + strings.Join(missing, ", ")}
		}
		n := len(fields)
		if n > 1 && strings.TrimSpace(fields[n-1]) == "" {
			n-- // a header ending with |: its lines may end with one or not
		}
		rd.cols, rd.n = cols, n
		return rd, nil
	}
	rd.cols = map[string]int{}
	for i, c := range layout {
		rd.cols[c] = i
	}
	rd.n = len(layout)
	rd.line = 0
	rd.pending = &first
	return rd, nil
}

// clean drops a byte-order mark (first line) and a CR line end.
func clean(s string, first bool) string {
	if first {
		s = strings.TrimPrefix(s, "\ufeff")
	}
	return strings.TrimSuffix(s, "\r")
}

// split splits a line on |, dropping the one trailing empty field of files
// whose lines end with an extra |.
func split(s string) []string { return strings.Split(s, "|") }

// Next returns the next event, an *Error for a line that cannot be read (call
// Next again to go on), or io.EOF. Blank lines are skipped.
func (rd *Reader) Next() (Event, error) {
	for {
		var text string
		if rd.pending != nil {
			text, rd.pending = *rd.pending, nil
			rd.line++
		} else {
			if !rd.sc.Scan() {
				if err := rd.sc.Err(); err != nil {
					return Event{}, &Error{Line: rd.line + 1, Reason: "PDE_LINE", Msg: err.Error() + " (a line is at most 64 KiB)"}
				}
				return Event{}, io.EOF
			}
			rd.line++
			text = clean(rd.sc.Text(), rd.line == 1)
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		return ParseLine(text, rd.line, rd.cols, rd.n)
	}
}

// ParseLine reads one line given the header's columns and their count.
func ParseLine(text string, line int, cols map[string]int, n int) (Event, error) {
	f := split(text)
	if len(f) == n+1 && f[n] == "" {
		f = f[:n]
	}
	if len(f) != n {
		return Event{}, &Error{Line: line, Reason: "PDE_FIELDS", Msg: fmt.Sprintf("%d fields, the layout has %d", len(f), n)}
	}
	p := parser{f: f, cols: cols, line: line}
	e := Event{Line: line, DML: strings.ToUpper(p.str("DML_IND")), ClaimID: p.str("PDE_ID"), BeneficiaryID: p.str("BENE_ID"),
		NDC11: p.str("PROD_SRVC_ID"), PrescriberID: p.str("PRSCRBR_ID"), PharmacyID: p.str("SRVC_PRVDR_ID"),
		Contract: strings.ToUpper(p.str("PLAN_CNTRCT_REC_ID")), PBP: p.str("PLAN_PBP_REC_NUM")}
	switch e.DML {
	case Insert, Update, Delete:
	case "":
		e.DML = Insert
	default:
		p.fail("DML_IND", "PDE_DML", "DML_IND %q must be INSERT, UPDATE or DELETE", e.DML)
	}
	if e.ClaimID == "" {
		p.fail("PDE_ID", "PDE_REQUIRED", "PDE_ID is empty")
	}
	if e.DML != Delete {
		if e.BeneficiaryID == "" {
			p.fail("BENE_ID", "PDE_REQUIRED", "BENE_ID is empty")
		}
		e.FillDate = p.date("SRVC_DT")
		e.DaysSupply = p.int32("DAYS_SUPLY_NUM")
		e.FillNumber = p.int32("FILL_NUM")
		e.QuantityMilli = p.fixed("QTY_DSPNSD_NUM", 3)
		e.TotalCents = p.fixed("TOT_RX_CST_AMT", 2)
		e.PatientPay = p.fixed("PTNT_PAY_AMT", 2)
	}
	if p.err != nil {
		return Event{}, p.err
	}
	return e, nil
}

type parser struct {
	f    []string
	cols map[string]int
	line int
	err  *Error
}

func (p *parser) str(col string) string {
	i, ok := p.cols[col]
	if !ok || i >= len(p.f) {
		return ""
	}
	return strings.TrimSpace(p.f[i])
}

func (p *parser) fail(col, reason, format string, args ...any) {
	if p.err == nil {
		p.err = &Error{Line: p.line, Column: col, Reason: reason, Msg: fmt.Sprintf(format, args...)}
	}
}

func (p *parser) date(col string) civil.Date {
	s := p.str(col)
	d, err := ParseDate(s)
	if err != nil {
		p.fail(col, "PDE_DATE", "%v", err)
	}
	return d
}

func (p *parser) int32(col string) int32 {
	s := p.str(col)
	if s == "" {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		p.fail(col, "PDE_NUMBER", "%s %q is not a whole number", col, s)
	}
	return int32(v)
}

// fixed reads a decimal into units of 10^-places, rounding half away from zero.
func (p *parser) fixed(col string, places int) int64 {
	s := p.str(col)
	if s == "" {
		return 0
	}
	v, err := money.ParseFixed(s, places, true)
	if err != nil {
		p.fail(col, "PDE_NUMBER", "%s: %v", col, err)
	}
	return v
}

// ParseDate reads the dates of RIF files: dd-Mon-yyyy with the month in any
// case (10-Mar-2015, 01-APR-2015), yyyy-mm-dd and yyyymmdd.
func ParseDate(s string) (civil.Date, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return civil.Date{}, errors.New("the date is empty")
	}
	for _, layout := range []string{"02-Jan-2006", time.DateOnly, "20060102"} {
		in := s
		if layout == "02-Jan-2006" && len(s) == 11 {
			in = s[:3] + strings.ToUpper(s[3:4]) + strings.ToLower(s[4:6]) + s[6:]
		}
		if t, err := time.Parse(layout, in); err == nil {
			if d := civil.Of(t); d.Valid() {
				return d, nil
			}
			return civil.Date{}, fmt.Errorf("date %q: the year must be 0001..9999", s)
		}
	}
	return civil.Date{}, fmt.Errorf("date %q is not dd-Mon-yyyy, yyyy-mm-dd or yyyymmdd", s)
}

// Applied is the result of applying a file's events in order.
type Applied struct {
	// Events are the PDE_IDs' final states, in the order each first appeared.
	Events []Event
	// Deleted are DELETEs of PDE_IDs the files never inserted: deletions of
	// events imported before.
	Deleted []Event
}

// Apply applies INSERT, UPDATE and DELETE in order, keyed by PDE_ID.
func Apply(events []Event) Applied {
	order := []string{}
	last := map[string]*Event{}
	seen := map[string]bool{}
	var deleted []Event
	for i := range events {
		e := events[i]
		id := e.ClaimID
		if !seen[id] {
			seen[id] = true
			order = append(order, id)
		}
		switch e.DML {
		case Delete:
			if last[id] == nil {
				deleted = append(deleted, e)
			}
			delete(last, id)
		default:
			last[id] = &e
		}
	}
	var out Applied
	for _, id := range order {
		if e := last[id]; e != nil {
			out.Events = append(out.Events, *e)
		}
	}
	// A DELETE followed by a re-INSERT of the same id is not a deletion.
	for _, d := range deleted {
		if last[d.ClaimID] == nil {
			out.Deleted = append(out.Deleted, d)
		}
	}
	return out
}

// AuditHeader is the audit print's header (docs/interchange.md).
var AuditHeader = []string{"claim_id", "beneficiary_id", "fill_date", "ndc11", "days_supply", "quantity_milli", "total_cents", "prescriber_id", "pharmacy_id"}

// AuditRow is an event's audit print row.
func (e Event) AuditRow() []string {
	return []string{e.ClaimID, e.BeneficiaryID, e.FillDate.String(), e.NDC11, strconv.Itoa(int(e.DaysSupply)),
		strconv.FormatInt(e.QuantityMilli, 10), strconv.FormatInt(e.TotalCents, 10), e.PrescriberID, e.PharmacyID}
}
