package safety

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/emtm/emtm/libs/civil"
)

// The offline contract of docs/domain.md section 4.3: three CSV files in, one
// CSV report out. Everything is checked before anything is printed; the
// first error is reported as FILE:LINE: FIELD: reason.

// Input file headers (columns in any order, extra columns ignored).
var (
	ClaimColumns     = []string{"beneficiary_id", "fill_date", "drug", "days_supply", "groups", "mme_per_day"}
	MemberColumns    = []string{"beneficiary_id", "birth_date"}
	ExclusionColumns = []string{"beneficiary_id", "exclusion", "start_date", "end_date"}
)

// ReportHeader is the report's header line.
const ReportHeader = "beneficiary_id,measure,denominator,numerator,excluded"

// InputError is the first error in the input files.
type InputError struct {
	File   string // as given
	Line   int    // 1-based; the header is line 1
	Field  string
	Reason string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Reason)
}

// File is one named input.
type File struct {
	Name string // as given, for messages
	Data io.Reader
}

// Input is the checked content of the three files.
type Input struct {
	Births     map[string]civil.Date
	Claims     map[string][]Claim
	Exclusions map[string][]Span
}

// ReportRow is one line of the report.
type ReportRow struct {
	Beneficiary string
	Measure     string
	Numerator   bool
	Excluded    bool
}

// ParseYear reads a measurement year written as four digits.
func ParseYear(s string) (int, error) {
	if len(s) != 4 || strings.Trim(s, "0123456789") != "" || s == "0000" {
		return 0, fmt.Errorf("year %q: want four digits, e.g. 2024", s)
	}
	y, _ := strconv.Atoi(s)
	return y, nil
}

// table reads a CSV file with a header naming at least the columns wanted.
type table struct {
	file string
	r    *csv.Reader
	col  map[string]int
	rec  []string
}

func openTable(f File, wanted []string) (*table, error) {
	r := csv.NewReader(f.Data)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	t := &table{file: f.Name, r: r, col: map[string]int{}}
	head, err := t.next()
	if errors.Is(err, io.EOF) {
		return nil, &InputError{File: f.Name, Line: 1, Field: "header", Reason: "the file is empty; want a header row with " + strings.Join(wanted, ",")}
	}
	if err != nil {
		return nil, err
	}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if h == "" {
			continue
		}
		if _, dup := t.col[h]; dup {
			return nil, &InputError{File: f.Name, Line: 1, Field: h, Reason: "the column appears twice in the header"}
		}
		t.col[h] = i
	}
	for _, w := range wanted {
		if _, ok := t.col[w]; !ok {
			return nil, &InputError{File: f.Name, Line: 1, Field: w, Reason: "missing column (the header must name " + strings.Join(wanted, ",") + ")"}
		}
	}
	return t, nil
}

// next reads the next record that is not blank (every field empty once trimmed).
func (t *table) next() ([]string, error) {
	for {
		rec, err := t.r.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &InputError{File: t.file, Line: pe.Line, Field: "line", Reason: "malformed CSV: " + pe.Err.Error()}
			}
			return nil, err
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if strings.Join(rec, "") != "" {
			t.rec = rec
			return rec, nil
		}
	}
}

// line is the line the current record starts on.
func (t *table) line() int {
	l, _ := t.r.FieldPos(0)
	return l
}

// field returns the value of a column in the current record.
func (t *table) field(name string) (string, error) {
	i := t.col[name]
	if i >= len(t.rec) {
		return "", t.errorf(name, "missing: the line has %d fields, the header %d", len(t.rec), len(t.col))
	}
	return t.rec[i], nil
}

func (t *table) errorf(field, format string, args ...any) error {
	return &InputError{File: t.file, Line: t.line(), Field: field, Reason: fmt.Sprintf(format, args...)}
}

// fields reads the named columns of the current record.
func (t *table) fields(names []string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	for _, n := range names {
		v, err := t.field(n)
		if err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, nil
}

func (t *table) date(field, v string) (civil.Date, error) {
	d, err := civil.Parse(v)
	if err != nil || len(v) != 10 {
		return civil.Date{}, t.errorf(field, "%q is not a calendar date written YYYY-MM-DD", v)
	}
	return d, nil
}

func (t *table) beneficiary(v string, births map[string]civil.Date, members string) error {
	if v == "" {
		return t.errorf("beneficiary_id", "empty")
	}
	if births != nil {
		if _, ok := births[v]; !ok {
			return t.errorf("beneficiary_id", "%q is not in %s", v, members)
		}
	}
	return nil
}

// ReadInput reads and checks the three files: members first (the other two
// name members), then claims, then exclusions, each in line order.
func ReadInput(claims, members, exclusions File) (*Input, error) {
	in := &Input{Births: map[string]civil.Date{}, Claims: map[string][]Claim{}, Exclusions: map[string][]Span{}}
	if err := readMembers(members, in); err != nil {
		return nil, err
	}
	if err := readClaims(claims, members.Name, in); err != nil {
		return nil, err
	}
	if err := readExclusions(exclusions, members.Name, in); err != nil {
		return nil, err
	}
	return in, nil
}

func readMembers(f File, in *Input) error {
	t, err := openTable(f, MemberColumns)
	if err != nil {
		return err
	}
	firstLine := map[string]int{}
	for {
		if _, err := t.next(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		v, err := t.fields(MemberColumns)
		if err != nil {
			return err
		}
		id := v["beneficiary_id"]
		if err := t.beneficiary(id, nil, ""); err != nil {
			return err
		}
		if l, dup := firstLine[id]; dup {
			return t.errorf("beneficiary_id", "%q is listed twice (first on line %d)", id, l)
		}
		firstLine[id] = t.line()
		if in.Births[id], err = t.date("birth_date", v["birth_date"]); err != nil {
			return err
		}
	}
}

func readClaims(f File, members string, in *Input) error {
	t, err := openTable(f, ClaimColumns)
	if err != nil {
		return err
	}
	for {
		if _, err := t.next(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		v, err := t.fields(ClaimColumns)
		if err != nil {
			return err
		}
		id := v["beneficiary_id"]
		if err := t.beneficiary(id, in.Births, members); err != nil {
			return err
		}
		c := Claim{Drug: strings.ToLower(v["drug"])}
		if c.FillDate, err = t.date("fill_date", v["fill_date"]); err != nil {
			return err
		}
		if c.Drug == "" {
			return t.errorf("drug", "empty")
		}
		ds := v["days_supply"]
		n, err := strconv.Atoi(ds)
		if err != nil || n < 1 || n > 365 || strings.Trim(ds, "0123456789") != "" {
			return t.errorf("days_supply", "%q is not an integer 1..365", ds)
		}
		c.DaysSupply = n
		if v["groups"] != "" {
			for _, tok := range strings.Split(v["groups"], ";") {
				tok = strings.TrimSpace(tok)
				g, ok := ParseGroup(tok)
				if !ok {
					return t.errorf("groups", "%q is not one of %s", tok, strings.Join(GroupNames(), ", "))
				}
				c.Groups |= g
			}
		}
		if mme := v["mme_per_day"]; mme != "" {
			if !c.Groups.Has(Opioid) {
				return t.errorf("mme_per_day", "%q is given on a claim without the OPIOID group", mme)
			}
			if c.MME, err = parseMME(mme); err != nil {
				return t.errorf("mme_per_day", "%q is not a decimal >= 0 with at most 4 decimals", mme)
			}
			c.HasMME = true
		}
		in.Claims[id] = append(in.Claims[id], c)
	}
}

// parseMME reads digits, optionally "." and 1..4 digits, into ten-thousandths.
func parseMME(s string) (int64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" || (dot && (len(frac) < 1 || len(frac) > 4)) || strings.Trim(frac, "0123456789") != "" {
		return 0, errors.New("malformed")
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > (1<<62)/MMEScale {
		return 0, errors.New("too large")
	}
	f, _ := strconv.ParseInt((frac + "0000")[:4], 10, 64)
	return w*MMEScale + f, nil
}

func readExclusions(f File, members string, in *Input) error {
	t, err := openTable(f, ExclusionColumns)
	if err != nil {
		return err
	}
	for {
		if _, err := t.next(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		v, err := t.fields(ExclusionColumns)
		if err != nil {
			return err
		}
		id := v["beneficiary_id"]
		if err := t.beneficiary(id, in.Births, members); err != nil {
			return err
		}
		s := Span{Name: v["exclusion"]}
		if !IsExclusion(s.Name) {
			return t.errorf("exclusion", "%q is not one of %s", s.Name, strings.Join(Exclusions, ", "))
		}
		if s.Start, err = t.date("start_date", v["start_date"]); err != nil {
			return err
		}
		if end := v["end_date"]; end != "" {
			if s.End, err = t.date("end_date", end); err != nil {
				return err
			}
			if s.End.Before(s.Start) {
				return t.errorf("end_date", "%q is before start_date %s", end, s.Start)
			}
		}
		in.Exclusions[id] = append(in.Exclusions[id], s)
	}
}

// Report evaluates every member for year y: one row per beneficiary and
// measure whose age and denominator criteria hold, sorted by beneficiary id
// then measure (byte order).
func Report(in *Input, y int) []ReportRow {
	ids := make([]string, 0, len(in.Births))
	for id := range in.Births {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []ReportRow
	for _, id := range ids {
		for _, r := range Evaluate(y, in.Births[id], in.Claims[id], in.Exclusions[id]) {
			out = append(out, ReportRow{Beneficiary: id, Measure: r.Measure, Numerator: r.Numerator, Excluded: r.Excluded})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Beneficiary != out[j].Beneficiary {
			return out[i].Beneficiary < out[j].Beneficiary
		}
		return out[i].Measure < out[j].Measure
	})
	return out
}

// WriteReport writes the report as CSV, lines ending in "\n".
func WriteReport(w io.Writer, rows []ReportRow) error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	_ = cw.Write(strings.Split(ReportHeader, ","))
	bit := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	for _, r := range rows {
		_ = cw.Write([]string{r.Beneficiary, r.Measure, "1", bit(r.Numerator), bit(r.Excluded)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
