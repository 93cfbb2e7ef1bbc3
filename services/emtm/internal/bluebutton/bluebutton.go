// Package bluebutton reads CMS's FHIR R4 ExplanationOfBenefit resources, as
// Blue Button 2.0 (CARIN Blue Button) serves them to a beneficiary's app and
// AB2D exports them in bulk to a stand-alone Part D sponsor: pharmacy EOBs
// (eob-type PDE) become Part D events, the others Parts A/B summaries
// (docs/interchange.md). Resources are parsed with Google's FHIR library
// (github.com/google/fhir/go, R4 JSON); elements are selected by their codes,
// never by position.
//
// The library's structural checks apply (unknown elements, JSON types,
// primitive formats such as dates and ids); its R4 cardinality checks do not:
// AB2D strips required elements (payment, total, adjudication, insurance,
// outcome...) from every EOB it sends, so each would fail them. What the
// conversion needs is checked here instead, each problem naming its FHIR path.
package bluebutton

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	d4 "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	eobpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/explanation_of_benefit_go_proto"

	"github.com/emtm/emtm/libs/careplan"
	"github.com/emtm/emtm/libs/money"
)

// Code systems and element codes of CMS's Beneficiary FHIR Data.
const (
	EOBTypeSystem    = "https://bluebutton.cms.gov/resources/codesystem/eob-type"
	PDEIDSystem      = "https://bluebutton.cms.gov/resources/variables/pde_id"
	NDCSystem        = "http://hl7.org/fhir/sid/ndc"
	TotRxCstAmt      = "https://bluebutton.cms.gov/resources/variables/tot_rx_cst_amt"
	PtntPayAmt       = "https://bluebutton.cms.gov/resources/variables/ptnt_pay_amt"
	DaysSuplyNum     = "https://bluebutton.cms.gov/resources/variables/days_suply_num"
	PlanContractExt  = "https://bluebutton.cms.gov/resources/variables/plan_cntrct_rec_id"
	PlanPBPExt       = "https://bluebutton.cms.gov/resources/variables/plan_pbp_rec_num"
	MBISystem        = "http://hl7.org/fhir/sid/us-mbi"
	IdentifierExtURL = "http://hl7.org/fhir/StructureDefinition/elementdefinition-identifier"
)

// MaxResource bounds one resource (an NDJSON line or a Bundle): an EOB is a
// few kilobytes, a search page of them a few megabytes.
const MaxResource = 32 << 20

// Error is a resource that cannot be read or converted, naming the FHIR path.
type Error struct {
	Resource int    // 1-based position in the file (line of an NDJSON file, entry of a Bundle: both counted)
	ID       string // the resource id, when known
	Path     string // FHIR path, e.g. ExplanationOfBenefit.item[0].servicedDate
	Reason   string // stable code, e.g. FHIR_REQUIRED
	Msg      string
}

func (e *Error) Error() string {
	id := ""
	if e.ID != "" {
		id = " (" + e.ID + ")"
	}
	return fmt.Sprintf("resource %d%s, %s: %s", e.Resource, id, e.Path, e.Msg)
}

// Resource is one ExplanationOfBenefit read from a file.
type Resource struct {
	N    int    // 1-based position in the file
	File string // the file it came from, when the caller says
	EOB  *eobpb.ExplanationOfBenefit
}

// Read reads every ExplanationOfBenefit of in, in file order: NDJSON (one
// resource per line: a line that cannot be read is an error and the next
// lines are still read), or one JSON document (a search Bundle, pretty or
// not, or a single resource). Resources of other types are counted in
// skipped by type; a resource that cannot be parsed is an *Error in errs.
func Read(in io.Reader) (out []Resource, skipped map[string]int, errs []*Error, err error) {
	u, err := jsonformat.NewUnmarshallerWithoutValidation("UTC", fhirversion.R4)
	if err != nil {
		return nil, nil, nil, err
	}
	skipped = map[string]int{}
	add := func(rs []Resource, sk map[string]int, es []*Error) {
		out = append(out, rs...)
		for k, v := range sk {
			skipped[k] += v
		}
		errs = append(errs, es...)
	}
	br := bufio.NewReaderSize(in, 64<<10)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\ufeff")) {
		_, _ = br.Discard(3)
	}
	n := 0
	first, ferr := readLine(br)
	if ferr != nil && !errors.Is(ferr, io.EOF) {
		return nil, nil, nil, ferr
	}
	if len(bytes.TrimSpace(first)) > 0 && json.Valid(first) {
		// NDJSON: every line is one resource.
		line := first
		for {
			if t := bytes.TrimSpace(line); len(t) > 0 {
				if !json.Valid(t) {
					n++
					errs = append(errs, &Error{Resource: n, Path: "(json)", Reason: "FHIR_JSON", Msg: "the line is not one JSON value (NDJSON: one resource per line)"})
				} else {
					add(parse(u, t, &n))
				}
			}
			if errors.Is(ferr, io.EOF) {
				return out, skipped, errs, nil
			}
			line, ferr = readLine(br)
			if ferr != nil && !errors.Is(ferr, io.EOF) {
				return out, skipped, errs, ferr
			}
		}
	}
	rest, err := io.ReadAll(io.LimitReader(br, MaxResource+1))
	if err != nil {
		return nil, nil, nil, err
	}
	doc := append(first, rest...)
	if len(doc) > MaxResource {
		return nil, skipped, []*Error{{Resource: 1, Path: "(json)", Reason: "FHIR_TOO_LARGE", Msg: fmt.Sprintf("a JSON document over %d bytes: send NDJSON, one resource per line", MaxResource)}}, nil
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, skipped, nil, nil
	}
	if !json.Valid(doc) {
		var se *json.SyntaxError
		msg := "not JSON"
		if err := json.Unmarshal(doc, new(any)); errors.As(err, &se) {
			msg = fmt.Sprintf("%v (at byte %d)", se, se.Offset)
		}
		return nil, skipped, []*Error{{Resource: 1, Path: "(json)", Reason: "FHIR_JSON", Msg: msg}}, nil
	}
	add(parse(u, doc, &n))
	return out, skipped, errs, nil
}

// readLine reads one line of at most MaxResource bytes (without its end).
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, isPrefix, err := br.ReadLine()
		line = append(line, part...)
		if len(line) > MaxResource {
			return nil, fmt.Errorf("a line over %d bytes", MaxResource)
		}
		if err != nil {
			return line, err
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// ParseResource parses one JSON resource (a Bundle, an EOB or another type).
func ParseResource(raw []byte) ([]Resource, map[string]int, []*Error) {
	u, err := jsonformat.NewUnmarshallerWithoutValidation("UTC", fhirversion.R4)
	if err != nil {
		return nil, nil, []*Error{{Resource: 1, Path: "(json)", Reason: "FHIR_LIBRARY", Msg: err.Error()}}
	}
	n := 0
	return parse(u, raw, &n)
}

func parse(u *jsonformat.Unmarshaller, raw []byte, n *int) ([]Resource, map[string]int, []*Error) {
	skipped := map[string]int{}
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	_ = json.Unmarshal(raw, &head)
	if head.ResourceType != "Bundle" {
		*n++
	}
	if head.ResourceType == "" {
		return nil, skipped, []*Error{{Resource: *n, Path: "resourceType", Reason: "FHIR_REQUIRED", Msg: "not a FHIR resource: no resourceType"}}
	}
	if head.ResourceType != "Bundle" && head.ResourceType != "ExplanationOfBenefit" {
		skipped[head.ResourceType]++
		return nil, skipped, nil
	}
	m, err := u.Unmarshal(raw)
	if err != nil {
		if head.ResourceType == "Bundle" {
			*n++
		}
		return nil, skipped, []*Error{{Resource: *n, ID: head.ID, Path: head.ResourceType, Reason: "FHIR_INVALID", Msg: oneLine(err.Error())}}
	}
	cr, ok := m.(*bpb.ContainedResource)
	if !ok {
		return nil, skipped, []*Error{{Resource: *n, ID: head.ID, Path: head.ResourceType, Reason: "FHIR_INVALID", Msg: fmt.Sprintf("unexpected %T", m)}}
	}
	if e := cr.GetExplanationOfBenefit(); e != nil {
		return []Resource{{N: *n, EOB: e}}, skipped, nil
	}
	var out []Resource
	for _, entry := range cr.GetBundle().GetEntry() {
		*n++
		if e := entry.GetResource().GetExplanationOfBenefit(); e != nil {
			out = append(out, Resource{N: *n, EOB: e})
		} else {
			skipped[careplan.ResourceType(entry.GetResource())]++
		}
	}
	return out, skipped, nil
}

// oneLine joins the library's multi-line error report.
func oneLine(s string) string {
	parts := strings.Fields(strings.ReplaceAll(s, "\n", " "))
	return strings.Join(parts, " ")
}

// Type is the EOB's eob-type code (PDE, INPATIENT, OUTPATIENT, CARRIER, SNF,
// HHA, HOSPICE, DME), "" when it has none.
func Type(e *eobpb.ExplanationOfBenefit) string {
	return codeIn(e.GetType(), EOBTypeSystem)
}

func codeIn(cc *d4.CodeableConcept, system string) string {
	for _, c := range cc.GetCoding() {
		if c.GetSystem().GetValue() == system {
			return c.GetCode().GetValue()
		}
	}
	return ""
}

// hasCode reports whether cc has a coding with code (any system).
func hasCode(cc *d4.CodeableConcept, code string) bool {
	for _, c := range cc.GetCoding() {
		if c.GetCode().GetValue() == code {
			return true
		}
	}
	return false
}

// patient is the beneficiary id of a reference "Patient/<id>".
func patient(r *d4.Reference) string {
	if id := r.GetPatientId(); id != nil {
		return id.GetValue()
	}
	if u := r.GetUri().GetValue(); u != "" {
		return strings.TrimPrefix(u, "Patient/")
	}
	return ""
}

// decimal reads a FHIR decimal into units of 10^-places, half away from zero.
func decimal(d *d4.Decimal, places int) (int64, error) {
	return money.ParseFixed(d.GetValue(), places, true)
}

// conv collects a conversion's first problem.
type conv struct {
	n   int
	id  string
	err *Error
}

func (c *conv) fail(path, reason, format string, args ...any) {
	if c.err == nil {
		c.err = &Error{Resource: c.n, ID: c.id, Path: path, Reason: reason, Msg: fmt.Sprintf(format, args...)}
	}
}
