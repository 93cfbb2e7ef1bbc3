// Package profile is a beneficiary's medication profile: the active (not
// reversed) fills, diagnoses and Parts A/B events that risk scoring reads,
// and their compact stored form (one Redis hash per beneficiary).
package profile

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/services/risk-scoring/safety"
)

// Fill is one paid pharmacy claim as the profile keeps it.
type Fill struct {
	ClaimID string
	// PharmacyNPI: with ClaimID, the claim's identity (a claim id is unique
	// within its pharmacy only); empty for a fill stored before it was kept.
	PharmacyNPI   string
	Date          civil.Date
	DaysSupply    int
	CostCents     int64
	PrescriberNPI string
	// MME10 is the opioid dose in morphine milligram equivalents per day, times
	// ten (0 for a fill with no opioid or an unknown strength).
	MME10       int
	Ingredients []string
	// Drugs are the ingredients as the safety measures see them, the drug
	// reference applied to this claim's dose and route when it was profiled;
	// nil for a fill stored before they were kept (the reference is applied
	// without dose and route then).
	Drugs []Drug
}

// Key is the fill's identity in the profile: FillKey of its pharmacy and claim id.
func (f Fill) Key() string { return FillKey(f.PharmacyNPI, f.ClaimID) }

// FillKey is "<pharmacy NPI>/<claim id>", or the claim id alone without a pharmacy.
func FillKey(pharmacyNPI, claimID string) string {
	if pharmacyNPI == "" {
		return claimID
	}
	return pharmacyNPI + "/" + claimID
}

// splitFillKey reverses FillKey (an NPI is ten digits).
func splitFillKey(key string) (npi, claimID string) {
	if n, id, ok := strings.Cut(key, "/"); ok && len(n) == 10 && strings.Trim(n, "0123456789") == "" {
		return n, id
	}
	return "", key
}

// Known are the fill's ingredients found in the drug reference (all of them
// for a fill stored before unknown ones were marked); Unknown the others,
// which are reported and never counted as distinct drugs.
func (f Fill) Known() []string {
	if f.Drugs == nil {
		return f.Ingredients
	}
	out := make([]string, 0, len(f.Drugs))
	for _, d := range f.Drugs {
		if !d.Unknown {
			out = append(out, d.Name)
		}
	}
	return out
}

// Unknown are the fill's ingredients not in the drug reference.
func (f Fill) Unknown() []string {
	var out []string
	for _, d := range f.Drugs {
		if d.Unknown {
			out = append(out, d.Name)
		}
	}
	return out
}

// Drug is one ingredient of a fill with what the safety measures and the
// Beers rule need.
type Drug struct {
	Name string
	// Unknown: not in the drug reference (stored as "name=U").
	Unknown bool
	Groups  safety.Group
	// Beers: a Beers Table 2 criterion holds for this dose and route.
	Beers bool
	// MME per day in ten-thousandths (safety.MMEScale); HasMME false when unknown.
	MME    int64
	HasMME bool
}

// drugFlags are the letters of a stored drug's groups and Beers flag.
var drugFlags = []struct {
	letter byte
	group  safety.Group
}{{'S', safety.Statin}, {'D', safety.Diabetes}, {'O', safety.Opioid}, {'B', safety.Benzodiazepine}, {'A', safety.ACH}, {'C', safety.CNS}}

// encodeDrug is "name=FLAGS[@mme]": FLAGS are the group letters (S statin,
// D diabetes, O opioid, B benzodiazepine, A anticholinergic, C CNS) and P
// for a Beers criterion; mme in ten-thousandths.
func encodeDrug(d Drug) string {
	if d.Unknown {
		return d.Name + "=U"
	}
	b := []byte(d.Name + "=")
	for _, f := range drugFlags {
		if d.Groups.Has(f.group) {
			b = append(b, f.letter)
		}
	}
	if d.Beers {
		b = append(b, 'P')
	}
	if d.HasMME {
		b = append(b, '@')
		b = strconv.AppendInt(b, d.MME, 10)
	}
	return string(b)
}

func decodeDrug(s string) (Drug, bool) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return Drug{}, false
	}
	d := Drug{Name: name}
	if rest == "U" {
		d.Unknown = true
		return d, true
	}
	flags, mme, hasMME := strings.Cut(rest, "@")
	seen := 0
	for i := 0; i < len(flags); i++ {
		found := false
		for j, f := range drugFlags {
			if flags[i] == f.letter && seen < j+1 {
				d.Groups |= f.group
				seen, found = j+1, true
			}
		}
		if flags[i] == 'P' && i == len(flags)-1 {
			d.Beers, found = true, true
		}
		if !found {
			return Drug{}, false
		}
	}
	if hasMME {
		v, err := strconv.ParseInt(mme, 10, 64)
		if err != nil || v < 0 || strconv.FormatInt(v, 10) != mme {
			return Drug{}, false
		}
		d.MME, d.HasMME = v, true
	}
	return d, true
}

// Last is the last day of the fill's supply.
func (f Fill) Last() civil.Date { return f.Date.AddDays(f.DaysSupply - 1) }

// Condition is a diagnosis.
type Condition struct {
	ID       string
	System   string // SNOMED or ICD10
	Code     string
	Onset    civil.Date
	Resolved civil.Date // zero while it lasts
}

// ActiveIn reports whether the condition overlaps year.
func (c Condition) ActiveIn(year int) bool {
	return c.Onset.Year <= year && (c.Resolved.IsZero() || c.Resolved.Year >= year)
}

// Setting of a Parts A/B event.
const (
	Inpatient = "I"
	Emergency = "E"
	Other     = "O"
)

// MedicalEvent is a Parts A/B claim summary.
type MedicalEvent struct {
	ID        string
	Setting   string // Inpatient, Emergency or Other
	Admit     civil.Date
	Discharge civil.Date
	CostCents int64
}

// Span is an exclusion the profile keeps that no diagnosis carries: hospice,
// from an enrollment or a Parts A/B summary with the hospice setting.
type Span struct {
	ID    string // the source: "enrollment/<id>" or "partsab/<summary id>"
	Name  string // an exclusion of package safety, e.g. HOSPICE
	Start civil.Date
	End   civil.Date // zero while it lasts
}

// Problem is a medication-related problem a pharmacist recorded, as the
// latest encounter that named it says (resolved or not, to whom it was
// recommended).
type Problem struct {
	ID          string       `json:"-"`
	Code        string       `json:"code"` // SNOMED CT
	Description string       `json:"desc,omitempty"`
	Resolved    bool         `json:"resolved,omitempty"`
	Onset       string       `json:"onset,omitempty"` // YYYYMMDD
	Date        string       `json:"date"`            // the encounter's, YYYYMMDD
	Encounter   string       `json:"enc"`
	Recs        []ProblemRec `json:"recs,omitempty"`
}

// ProblemRec is a recommendation to a prescriber about a problem.
type ProblemRec struct {
	NPI  string `json:"npi"`
	Text string `json:"text"`
	Code string `json:"code,omitempty"` // SNOMED CT of the intervention asked for
}

// EncodeProblem is the stored form of a problem (JSON: its texts are free).
func EncodeProblem(p Problem) string {
	b, _ := json.Marshal(p)
	return string(b)
}

// DecodeProblem reverses EncodeProblem.
func DecodeProblem(id, v string) (Problem, error) {
	var p Problem
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return Problem{}, fmt.Errorf("problem %s: %w", id, err)
	}
	p.ID = id
	return p, nil
}

// Profile is what risk scoring knows about one beneficiary.
type Profile struct {
	MemberID   string
	ContractID string
	PbpID      string
	BirthDate  civil.Date
	// Fills are the active fills, sorted by date, then claim id.
	Fills      []Fill
	Conditions []Condition
	Medical    []MedicalEvent
	Spans      []Span
	// Problems are the medication-related problems pharmacists recorded
	// (MTM encounters, Pharmacist eCare Plans), open or resolved, by id.
	Problems []Problem
	// Reversed counts claims that were reversed (their fills are gone).
	Reversed int
	// Fingerprint and Tier describe the last assessment emitted.
	Fingerprint string
	Tier        int
}

// Stored-form field names in the profile hash.
const (
	FillPrefix      = "c:" // c:<fill key>     -> encoded fill (Fill.Key: <pharmacy NPI>/<claim id>)
	ReversedPrefix  = "x:" // x:<fill key>     -> reversal seen (YYYYMMDD of the reversal)
	ConditionPrefix = "k:" // k:<condition id> -> encoded condition
	MedicalPrefix   = "h:" // h:<summary id>   -> encoded Parts A/B event
	SpanPrefix      = "s:" // s:<source>       -> encoded exclusion span
	ProblemPrefix   = "m:" // m:<problem id>   -> a pharmacist-identified problem, JSON
	FieldBirth      = "dob"
	FieldPlan       = "plan"
	FieldPrint      = "fp"
	FieldTier       = "tier"
)

// EncodeFill is "YYYYMMDD|days|cents|prescriber|mme10|drug;drug", each drug
// as encodeDrug writes it (a fill without Drugs: its ingredient names).
func EncodeFill(f Fill) string {
	names := f.Ingredients
	if f.Drugs != nil {
		names = make([]string, len(f.Drugs))
		for i, d := range f.Drugs {
			names[i] = encodeDrug(d)
		}
	}
	return fmt.Sprintf("%s|%d|%d|%s|%d|%s", EncodeDate(f.Date), f.DaysSupply, f.CostCents, f.PrescriberNPI, f.MME10, strings.Join(names, ";"))
}

// DecodeFill reverses EncodeFill; key is the fill's field name (Fill.Key).
func DecodeFill(key, s string) (Fill, error) {
	npi, claimID := splitFillKey(key)
	parts := strings.SplitN(s, "|", 6)
	if len(parts) != 6 {
		return Fill{}, fmt.Errorf("fill %s: malformed %q", claimID, s)
	}
	d, err := DecodeDate(parts[0])
	if err != nil {
		return Fill{}, fmt.Errorf("fill %s: %w", claimID, err)
	}
	days, err1 := strconv.Atoi(parts[1])
	cents, err2 := strconv.ParseInt(parts[2], 10, 64)
	mme, err3 := strconv.Atoi(parts[4])
	if err1 != nil || err2 != nil || err3 != nil || days < 0 || days > 10000 {
		return Fill{}, fmt.Errorf("fill %s: malformed numbers in %q", claimID, s)
	}
	f := Fill{ClaimID: claimID, PharmacyNPI: npi, Date: d, DaysSupply: days, CostCents: cents, PrescriberNPI: parts[3], MME10: mme}
	if parts[5] == "" {
		return f, nil
	}
	entries := strings.Split(parts[5], ";")
	if !strings.Contains(parts[5], "=") {
		f.Ingredients = entries
		return f, nil
	}
	f.Drugs = make([]Drug, len(entries))
	f.Ingredients = make([]string, len(entries))
	for i, e := range entries {
		var ok bool
		if f.Drugs[i], ok = decodeDrug(e); !ok {
			return Fill{}, fmt.Errorf("fill %s: malformed drug %q", claimID, e)
		}
		f.Ingredients[i] = f.Drugs[i].Name
	}
	return f, nil
}

// EncodeCondition is "system|code|onset|resolved".
func EncodeCondition(c Condition) string {
	return c.System + "|" + c.Code + "|" + EncodeDate(c.Onset) + "|" + EncodeDate(c.Resolved)
}

// DecodeCondition reverses EncodeCondition.
func DecodeCondition(id, s string) (Condition, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 4 {
		return Condition{}, fmt.Errorf("condition %s: malformed %q", id, s)
	}
	c := Condition{ID: id, System: parts[0], Code: parts[1]}
	var err error
	if c.Onset, err = DecodeDate(parts[2]); err != nil {
		return Condition{}, fmt.Errorf("condition %s: %w", id, err)
	}
	if parts[3] != "" {
		if c.Resolved, err = DecodeDate(parts[3]); err != nil {
			return Condition{}, fmt.Errorf("condition %s: %w", id, err)
		}
	}
	return c, nil
}

// EncodeMedical is "setting|admit|discharge|cents".
func EncodeMedical(m MedicalEvent) string {
	return fmt.Sprintf("%s|%s|%s|%d", m.Setting, EncodeDate(m.Admit), EncodeDate(m.Discharge), m.CostCents)
}

// DecodeMedical reverses EncodeMedical.
func DecodeMedical(id, s string) (MedicalEvent, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 4 {
		return MedicalEvent{}, fmt.Errorf("medical event %s: malformed %q", id, s)
	}
	m := MedicalEvent{ID: id, Setting: parts[0]}
	var err error
	if parts[1] != "" {
		if m.Admit, err = DecodeDate(parts[1]); err != nil {
			return MedicalEvent{}, err
		}
	}
	if parts[2] != "" {
		if m.Discharge, err = DecodeDate(parts[2]); err != nil {
			return MedicalEvent{}, err
		}
	}
	if m.CostCents, err = strconv.ParseInt(parts[3], 10, 64); err != nil {
		return MedicalEvent{}, fmt.Errorf("medical event %s: malformed cost", id)
	}
	return m, nil
}

// EncodeSpan is "name|start|end".
func EncodeSpan(s Span) string { return s.Name + "|" + EncodeDate(s.Start) + "|" + EncodeDate(s.End) }

// DecodeSpan reverses EncodeSpan.
func DecodeSpan(id, v string) (Span, error) {
	parts := strings.Split(v, "|")
	if len(parts) != 3 || parts[0] == "" {
		return Span{}, fmt.Errorf("span %s: malformed %q", id, v)
	}
	s := Span{ID: id, Name: parts[0]}
	var err error
	if s.Start, err = DecodeDate(parts[1]); err != nil {
		return Span{}, fmt.Errorf("span %s: %w", id, err)
	}
	if parts[2] != "" {
		if s.End, err = DecodeDate(parts[2]); err != nil {
			return Span{}, fmt.Errorf("span %s: %w", id, err)
		}
	}
	return s, nil
}

// EncodeDate is YYYYMMDD ("" for the zero date).
func EncodeDate(d civil.Date) string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d%02d%02d", d.Year, int(d.Month), d.Day)
}

// DecodeDate reverses EncodeDate.
func DecodeDate(s string) (civil.Date, error) {
	if len(s) != 8 {
		return civil.Date{}, fmt.Errorf("date %q: want YYYYMMDD", s)
	}
	y, e1 := strconv.Atoi(s[:4])
	m, e2 := strconv.Atoi(s[4:6])
	d, e3 := strconv.Atoi(s[6:])
	date := civil.Date{Year: y, Month: time.Month(m), Day: d}
	if e1 != nil || e2 != nil || e3 != nil || !date.Valid() {
		return civil.Date{}, fmt.Errorf("date %q: want YYYYMMDD, a calendar day", s)
	}
	return date, nil
}

// FromHash decodes the stored profile hash.
func FromHash(memberID string, h map[string]string) (*Profile, error) {
	p := &Profile{MemberID: memberID}
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, FillPrefix):
			f, err := DecodeFill(k[len(FillPrefix):], v)
			if err != nil {
				return nil, err
			}
			p.Fills = append(p.Fills, f)
		case strings.HasPrefix(k, ReversedPrefix):
			p.Reversed++
		case strings.HasPrefix(k, ConditionPrefix):
			c, err := DecodeCondition(k[len(ConditionPrefix):], v)
			if err != nil {
				return nil, err
			}
			p.Conditions = append(p.Conditions, c)
		case strings.HasPrefix(k, MedicalPrefix):
			m, err := DecodeMedical(k[len(MedicalPrefix):], v)
			if err != nil {
				return nil, err
			}
			p.Medical = append(p.Medical, m)
		case strings.HasPrefix(k, SpanPrefix):
			s, err := DecodeSpan(k[len(SpanPrefix):], v)
			if err != nil {
				return nil, err
			}
			p.Spans = append(p.Spans, s)
		case strings.HasPrefix(k, ProblemPrefix):
			pr, err := DecodeProblem(k[len(ProblemPrefix):], v)
			if err != nil {
				return nil, err
			}
			p.Problems = append(p.Problems, pr)
		case k == FieldBirth:
			d, err := DecodeDate(v)
			if err != nil {
				return nil, fmt.Errorf("birth date: %w", err)
			}
			p.BirthDate = d
		case k == FieldPlan:
			p.ContractID, p.PbpID = planid.Split(v)
		case k == FieldPrint:
			p.Fingerprint = v
		case k == FieldTier:
			p.Tier, _ = strconv.Atoi(v)
		}
	}
	sort.Slice(p.Fills, func(i, j int) bool {
		if c := p.Fills[i].Date.Compare(p.Fills[j].Date); c != 0 {
			return c < 0
		}
		return p.Fills[i].Key() < p.Fills[j].Key()
	})
	sort.Slice(p.Conditions, func(i, j int) bool { return p.Conditions[i].ID < p.Conditions[j].ID })
	sort.Slice(p.Medical, func(i, j int) bool { return p.Medical[i].ID < p.Medical[j].ID })
	sort.Slice(p.Spans, func(i, j int) bool { return p.Spans[i].ID < p.Spans[j].ID })
	sort.Slice(p.Problems, func(i, j int) bool { return p.Problems[i].ID < p.Problems[j].ID })
	return p, nil
}

// AsOf is the latest date of service the profile knows: of its fills, its
// Parts A/B events and the encounters that recorded its open problems (zero
// when it has none of them).
func (p *Profile) AsOf() civil.Date {
	var latest civil.Date
	for _, pr := range p.Problems {
		if d, err := DecodeDate(pr.Date); err == nil && !pr.Resolved && d.After(latest) {
			latest = d
		}
	}
	for _, f := range p.Fills {
		if f.Date.After(latest) {
			latest = f.Date
		}
	}
	for _, m := range p.Medical {
		for _, d := range []civil.Date{m.Admit, m.Discharge} {
			if d.After(latest) {
				latest = d
			}
		}
	}
	return latest
}

// KeepFrom is the first date of service a profile keeps: January 1 of the year
// before the as-of year. Older fills and Parts A/B events no longer affect any
// rule (every rule looks at the as-of year or the 365 days before as-of), so
// they are pruned to keep the profile small; a late claim dated before it is
// ignored, which keeps replays deterministic.
func KeepFrom(asOf civil.Date) civil.Date {
	if asOf.IsZero() {
		return civil.Date{}
	}
	return civil.Date{Year: asOf.Year - 1, Month: time.January, Day: 1}
}

// Stale lists the hash fields of fills, reversal marks and Parts A/B events
// dated before KeepFrom(as-of), and of spans that ended before it.
func (p *Profile) Stale(h map[string]string) []string {
	from := KeepFrom(p.AsOf())
	if from.IsZero() {
		return nil
	}
	var out []string
	for k, v := range h {
		var d string
		switch {
		case strings.HasPrefix(k, FillPrefix), strings.HasPrefix(k, ReversedPrefix):
			d, _, _ = strings.Cut(v, "|")
		case strings.HasPrefix(k, MedicalPrefix):
			parts := strings.Split(v, "|")
			if len(parts) > 1 {
				d = parts[1]
			}
		case strings.HasPrefix(k, SpanPrefix):
			parts := strings.Split(v, "|")
			if len(parts) > 2 {
				d = parts[2] // the end: an open span is never stale
			}
		case strings.HasPrefix(k, ProblemPrefix):
			// A resolved problem ages out like a fill; an open one stays until resolved.
			if pr, err := DecodeProblem(k, v); err == nil && pr.Resolved {
				d = pr.Date
			}
		default:
			continue
		}
		if date, err := DecodeDate(d); err == nil && date.Before(from) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Snapshot is a profile as the store holds it after one atomic change.
type Snapshot struct {
	// Applied is false when the change was already in the profile (a redelivery).
	Applied bool
	Profile *Profile
	// Hash is the stored fields, Version the change counter they are at.
	Hash    map[string]string
	Version string
}
