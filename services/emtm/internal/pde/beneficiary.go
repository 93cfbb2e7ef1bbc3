package pde

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/planid"
)

// months are the RIF beneficiary file's month names in its column names
// (PTD_CNTRCT_SEPT_ID: September has four letters).
var months = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEPT", "OCT", "NOV", "DEC"}

// Beneficiary is what a RIF beneficiary file says of one beneficiary.
type Beneficiary struct {
	ID    string
	Birth civil.Date
	Death civil.Date
	// Plans holds the Part D contract-PBP of each month (yyyy*100+mm), only
	// where it names a plan (the CCW's 0, N, X and blanks mean no Part D plan).
	Plans map[int]planid.ID
}

// Span is a run of consecutive months in one plan.
type Span struct {
	Beneficiary string
	Plan        planid.ID
	Start, End  civil.Date // End inclusive: the last day of the last month
	Deceased    bool       // the beneficiary died in the span's last month
}

// ID is the span's enrollment id: stable across imports of the same files.
func (s Span) ID() string {
	return fmt.Sprintf("rif/%s/%s/%04d-%02d", s.Beneficiary, s.Plan, s.Start.Year, int(s.Start.Month))
}

// ReadBeneficiaries reads one RIF beneficiary file (one reference year, its
// RFRNC_YR column) into bs, keyed by BENE_ID; files of several years merge.
func ReadBeneficiaries(in io.Reader, bs map[string]*Beneficiary) error {
	rd, err := newTable(in, []string{"BENE_ID", "RFRNC_YR"})
	if err != nil {
		return err
	}
	for {
		f, line, err := rd.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := parser{f: f, cols: rd.cols, line: line}
		id := p.str("BENE_ID")
		if id == "" {
			return &Error{Line: line, Column: "BENE_ID", Reason: "RIF_REQUIRED", Msg: "BENE_ID is empty"}
		}
		year := int(p.int32("RFRNC_YR"))
		if p.err == nil && (year < 2006 || year > 9999) {
			p.fail("RFRNC_YR", "RIF_YEAR", "RFRNC_YR %d is not a Part D year", year)
		}
		b := bs[id]
		if b == nil {
			b = &Beneficiary{ID: id, Plans: map[int]planid.ID{}}
			bs[id] = b
		}
		if s := p.str("BENE_BIRTH_DT"); s != "" {
			b.Birth = p.date("BENE_BIRTH_DT")
		}
		if s := p.str("DEATH_DT"); s != "" {
			b.Death = p.date("DEATH_DT")
		} else if s := p.str("BENE_DEATH_DT"); s != "" {
			b.Death = p.date("BENE_DEATH_DT")
		}
		if p.err != nil {
			return p.err
		}
		for i, m := range months {
			pl := planid.ID{Contract: strings.ToUpper(p.str("PTD_CNTRCT_" + m + "_ID")), PBP: p.str("PTD_PBP_" + m + "_ID")}
			key := year*100 + i + 1
			if pl.Valid() {
				b.Plans[key] = pl
			} else {
				delete(b.Plans, key)
			}
		}
	}
}

// Spans are the beneficiary's enrollment spans, in order: consecutive months
// in the same plan make one span.
func (b *Beneficiary) Spans() []Span {
	if len(b.Plans) == 0 {
		return nil
	}
	first, last := 1<<30, 0
	for k := range b.Plans {
		first, last = min(first, k), max(last, k)
	}
	var out []Span
	var cur *Span
	for k := first; k <= last; k = nextMonth(k) {
		pl, ok := b.Plans[k]
		start := civil.Date{Year: k / 100, Month: time.Month(k % 100), Day: 1}
		end := civil.Date{Year: start.Year, Month: start.Month, Day: 1}.AddDays(32)
		end = civil.Date{Year: end.Year, Month: end.Month, Day: 1}.AddDays(-1)
		switch {
		case ok && cur != nil && cur.Plan == pl:
			cur.End = end
		case ok:
			out = append(out, Span{Beneficiary: b.ID, Plan: pl, Start: start, End: end})
			cur = &out[len(out)-1]
		default:
			cur = nil
		}
	}
	if n := len(out); n > 0 && !b.Death.IsZero() {
		s := &out[n-1]
		if !b.Death.Before(s.Start) && !b.Death.After(s.End) {
			s.End, s.Deceased = b.Death, true
		}
	}
	return out
}

func nextMonth(k int) int {
	if k%100 == 12 {
		return (k/100+1)*100 + 1
	}
	return k + 1
}

// table reads a pipe-delimited file with a header.
type table struct {
	r    *Reader
	cols map[string]int
	n    int
}

func newTable(in io.Reader, required []string) (*table, error) {
	rd, err := open(in, required, nil)
	if err != nil {
		return nil, err
	}
	return &table{r: rd, cols: rd.cols, n: rd.n}, nil
}

func (t *table) next() ([]string, int, error) {
	for {
		if !t.r.sc.Scan() {
			if err := t.r.sc.Err(); err != nil {
				return nil, t.r.line + 1, &Error{Line: t.r.line + 1, Reason: "RIF_LINE", Msg: err.Error()}
			}
			return nil, 0, io.EOF
		}
		t.r.line++
		text := clean(t.r.sc.Text(), false)
		if strings.TrimSpace(text) == "" {
			continue
		}
		f := split(text)
		if len(f) == t.n+1 && f[t.n] == "" {
			f = f[:t.n]
		}
		if len(f) != t.n {
			return nil, t.r.line, &Error{Line: t.r.line, Reason: "RIF_FIELDS", Msg: fmt.Sprintf("%d fields, the header has %d", len(f), t.n)}
		}
		return f, t.r.line, nil
	}
}
