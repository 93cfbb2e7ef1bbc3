// Package synthea converts Synthea CSV output into emtm's inputs.
//
// Pharmacy claims (the rule of docs/domain.md section 6):
//   - data end = the latest START or STOP date in medications.csv, timestamps
//     read as UTC calendar dates;
//   - a row is one prescription from START to STOP (empty STOP: to data end);
//     span = days from START's UTC date to STOP's UTC date, at least 1
//     (DISPENSES is not used: Synthea counts doses there, not fills);
//   - fill i (i = 0, 1, ...) on START + 30·i while 30·i < span, with days
//     supply min(30, span − 30·i);
//   - a fill's cost = TOTALCOST (cents) × days supply / span, rounded half away
//     from zero to a whole cent;
//   - claim id = "synthea:" + PATIENT + ":" + R + ":" + i, R the row's number
//     among the data rows (1 = the first row after the header); beneficiary =
//     PATIENT; ingredients from the drug reference by RxNorm CODE, else parsed
//     from DESCRIPTION (and the code is reported as unknown).
//
// Conditions: every condition of a member with Medicare coverage, SNOMED CT
// coded, whatever its date (a chronic disease diagnosed before enrollment
// still counts for MTM eligibility).
//
// Enrollment: payer_transitions rows whose payer is "Medicare" or "Dual
// Eligible" are Medicare enrollment spans, START date to the day before END
// (the next span starts on END), cut at the date of death.
//
// Parts A/B: inpatient and emergency encounters, at TOTAL_CLAIM_COST.
//
// MTM encounters (a demonstration mapping, not Synthea's meaning): procedures
// coded 430193006 "Medication reconciliation" are treated as MTM services
// delivered by a pharmacist, so that the payment path has data.
//
// Synthea has no NPIs, MBIs or pharmacies: SyntheticNPI and SyntheticMBI make
// valid, deterministic identifiers from Synthea's ids.
package synthea

import (
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/libs/money"
)

// Patient is a row of patients.csv.
type Patient struct {
	ID     string
	Birth  civil.Date
	Death  civil.Date
	Gender string
}

// Claim is one converted pharmacy fill.
type Claim struct {
	ClaimID       string
	Patient       string
	Row           int // data row number in medications.csv (1-based)
	Fill          int // i
	FillDate      civil.Date
	RxNorm        string
	Description   string
	DaysSupply    int
	CostCents     int64
	Ingredients   []string
	Source        drugref.Source
	PrescriberNPI string
}

// Span is a Medicare enrollment span.
type Span struct {
	ID       string
	Patient  string
	Payer    string
	Start    civil.Date
	End      civil.Date // inclusive
	Deceased bool       // the span ends at the patient's death
}

// MedicalEvent is an inpatient or emergency encounter (Parts A/B).
type MedicalEvent struct {
	ID        string
	Patient   string
	Inpatient bool
	Start     civil.Date
	Stop      civil.Date
	CostCents int64
}

// Condition is a row of conditions.csv (SNOMED CT coded).
type Condition struct {
	ID          string
	Patient     string
	Code        string
	Description string
	Start       civil.Date
	Stop        civil.Date // zero while it lasts
}

// MTMEncounter is a medication reconciliation treated as an MTM service.
type MTMEncounter struct {
	ID            string
	Patient       string
	Date          civil.Date
	Code          string
	Minutes       int
	PharmacistNPI string
}

// Dataset is a converted Synthea directory.
type Dataset struct {
	Patients   map[string]Patient
	Claims     []Claim
	Enrollment []Span
	Medical    []MedicalEvent
	MTM        []MTMEncounter
	Conditions []Condition
	DataEnd    civil.Date
	// Unknown counts medication rows whose drug resolved to no known ingredient, by RxNorm code.
	Unknown map[string]int
	// FromDescription counts rows resolved by parsing the description, by RxNorm code.
	FromDescription map[string]int
}

// MedReconciliation is the SNOMED CT code of "Medication reconciliation (procedure)".
const MedReconciliation = "430193006"

// Load reads and converts a Synthea directory.
func Load(fsys fs.FS, ref *drugref.Reference) (*Dataset, error) {
	ds := &Dataset{Patients: map[string]Patient{}, Unknown: map[string]int{}, FromDescription: map[string]int{}}
	if err := ds.loadPatients(fsys); err != nil {
		return nil, err
	}
	providers, err := encounterProviders(fsys)
	if err != nil {
		return nil, err
	}
	if err := ds.loadMedications(fsys, ref, providers); err != nil {
		return nil, err
	}
	if err := ds.loadEnrollment(fsys); err != nil {
		return nil, err
	}
	if err := ds.loadEncounters(fsys); err != nil {
		return nil, err
	}
	if err := ds.loadProcedures(fsys, providers); err != nil {
		return nil, err
	}
	if err := ds.loadConditions(fsys); err != nil {
		return nil, err
	}
	return ds, nil
}

func (ds *Dataset) loadConditions(fsys fs.FS) error {
	t, err := readTable(fsys, "conditions.csv", "START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION")
	if err != nil {
		return err
	}
	for i, r := range t.rows {
		c := Condition{ID: fmt.Sprintf("synthea:%s:cond:%d", t.get(r, "PATIENT"), i+1), Patient: t.get(r, "PATIENT"),
			Code: t.get(r, "CODE"), Description: t.get(r, "DESCRIPTION")}
		if c.Start, err = date(t.get(r, "START")); err != nil {
			return fmt.Errorf("synthea: conditions.csv row %d: START: %w", i+1, err)
		}
		if stop := t.get(r, "STOP"); stop != "" {
			if c.Stop, err = date(stop); err != nil {
				return fmt.Errorf("synthea: conditions.csv row %d: STOP: %w", i+1, err)
			}
		}
		ds.Conditions = append(ds.Conditions, c)
	}
	return nil
}

// Member reports whether the patient has any Medicare enrollment span.
func (ds *Dataset) Member(patient string) bool {
	for _, s := range ds.Enrollment {
		if s.Patient == patient {
			return true
		}
	}
	return false
}

// table reads a CSV file into rows addressed by column name.
type table struct {
	name string
	cols map[string]int
	rows [][]string
}

func readTable(fsys fs.FS, name string, need ...string) (*table, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("synthea: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("synthea: %s: header: %w", name, err)
	}
	t := &table{name: name, cols: map[string]int{}}
	for i, h := range head {
		t.cols[h] = i
	}
	for _, n := range need {
		if _, ok := t.cols[n]; !ok {
			return nil, fmt.Errorf("synthea: %s has no column %s", name, n)
		}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("synthea: %s: %w", name, err)
		}
		t.rows = append(t.rows, rec)
	}
	return t, nil
}

func (t *table) get(row []string, col string) string { return row[t.cols[col]] }

// date reads the UTC calendar date of a Synthea date or timestamp ("2022-01-20" or "2022-01-20T06:19:41Z").
func date(s string) (civil.Date, error) {
	if len(s) < 10 {
		return civil.Date{}, fmt.Errorf("date %q", s)
	}
	return civil.Parse(s[:10])
}

func (ds *Dataset) loadPatients(fsys fs.FS) error {
	t, err := readTable(fsys, "patients.csv", "Id", "BIRTHDATE", "DEATHDATE", "GENDER")
	if err != nil {
		return err
	}
	for i, r := range t.rows {
		p := Patient{ID: t.get(r, "Id"), Gender: t.get(r, "GENDER")}
		if p.Birth, err = date(t.get(r, "BIRTHDATE")); err != nil {
			return fmt.Errorf("synthea: patients.csv row %d: %w", i+1, err)
		}
		if d := t.get(r, "DEATHDATE"); d != "" {
			if p.Death, err = date(d); err != nil {
				return fmt.Errorf("synthea: patients.csv row %d: %w", i+1, err)
			}
		}
		ds.Patients[p.ID] = p
	}
	return nil
}

// encounterProviders maps encounter id → provider id.
func encounterProviders(fsys fs.FS) (map[string]string, error) {
	t, err := readTable(fsys, "encounters.csv", "Id", "PROVIDER")
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(t.rows))
	for _, r := range t.rows {
		m[t.get(r, "Id")] = t.get(r, "PROVIDER")
	}
	return m, nil
}

func (ds *Dataset) loadMedications(fsys fs.FS, ref *drugref.Reference, providers map[string]string) error {
	t, err := readTable(fsys, "medications.csv", "START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "TOTALCOST")
	if err != nil {
		return err
	}
	type rx struct {
		start, stop civil.Date
		open        bool
	}
	rxs := make([]rx, len(t.rows))
	for i, r := range t.rows {
		s, err := date(t.get(r, "START"))
		if err != nil {
			return fmt.Errorf("synthea: medications.csv row %d: START: %w", i+1, err)
		}
		rxs[i].start = s
		if ds.DataEnd.Before(s) {
			ds.DataEnd = s
		}
		if stop := t.get(r, "STOP"); stop != "" {
			e, err := date(stop)
			if err != nil {
				return fmt.Errorf("synthea: medications.csv row %d: STOP: %w", i+1, err)
			}
			rxs[i].stop = e
			if ds.DataEnd.Before(e) {
				ds.DataEnd = e
			}
		} else {
			rxs[i].open = true
		}
	}
	for i, r := range t.rows {
		row := i + 1
		stop := rxs[i].stop
		if rxs[i].open {
			stop = ds.DataEnd
		}
		span := max(stop.DaysSince(rxs[i].start), 1)
		total, err := ParseCents(t.get(r, "TOTALCOST"))
		if err != nil {
			return fmt.Errorf("synthea: medications.csv row %d: TOTALCOST: %w", row, err)
		}
		code, desc := t.get(r, "CODE"), t.get(r, "DESCRIPTION")
		ings, src := ref.Resolve(code, desc)
		switch src {
		case drugref.Unknown:
			ds.Unknown[code]++
		case drugref.FromDescription:
			ds.FromDescription[code]++
		}
		patient := t.get(r, "PATIENT")
		npi := ""
		if prov := providers[t.get(r, "ENCOUNTER")]; prov != "" {
			npi = SyntheticNPI("provider:" + prov)
		}
		for fill := 0; 30*fill < span; fill++ {
			days := min(30, span-30*fill)
			ds.Claims = append(ds.Claims, Claim{
				ClaimID:       fmt.Sprintf("synthea:%s:%d:%d", patient, row, fill),
				Patient:       patient,
				Row:           row,
				Fill:          fill,
				FillDate:      rxs[i].start.AddDays(30 * fill),
				RxNorm:        code,
				Description:   desc,
				DaysSupply:    days,
				CostCents:     Prorate(total, int64(days), int64(span)),
				Ingredients:   ings,
				Source:        src,
				PrescriberNPI: npi,
			})
		}
	}
	return nil
}

func (ds *Dataset) loadEnrollment(fsys fs.FS) error {
	payers, err := readTable(fsys, "payers.csv", "Id", "NAME")
	if err != nil {
		return err
	}
	medicare := map[string]string{}
	for _, r := range payers.rows {
		if n := payers.get(r, "NAME"); n == "Medicare" || n == "Dual Eligible" {
			medicare[payers.get(r, "Id")] = n
		}
	}
	t, err := readTable(fsys, "payer_transitions.csv", "PATIENT", "START_YEAR", "END_YEAR", "PAYER")
	if err != nil {
		return err
	}
	for i, r := range t.rows {
		name, ok := medicare[t.get(r, "PAYER")]
		if !ok {
			continue
		}
		s, err1 := date(t.get(r, "START_YEAR"))
		e, err2 := date(t.get(r, "END_YEAR"))
		if err1 != nil || err2 != nil {
			return fmt.Errorf("synthea: payer_transitions.csv row %d: bad dates", i+1)
		}
		sp := Span{ID: fmt.Sprintf("synthea:%s:enr:%d", t.get(r, "PATIENT"), i+1), Patient: t.get(r, "PATIENT"),
			Payer: name, Start: s, End: e.AddDays(-1)}
		if sp.End.Before(sp.Start) {
			sp.End = sp.Start
		}
		if d := ds.Patients[sp.Patient].Death; !d.IsZero() {
			if d.Before(sp.Start) {
				continue
			}
			if !d.After(sp.End) {
				sp.End, sp.Deceased = d, true
			}
		}
		ds.Enrollment = append(ds.Enrollment, sp)
	}
	return nil
}

func (ds *Dataset) loadEncounters(fsys fs.FS) error {
	t, err := readTable(fsys, "encounters.csv", "Id", "START", "STOP", "PATIENT", "ENCOUNTERCLASS", "TOTAL_CLAIM_COST")
	if err != nil {
		return err
	}
	for i, r := range t.rows {
		class := t.get(r, "ENCOUNTERCLASS")
		if class != "inpatient" && class != "emergency" {
			continue
		}
		s, err1 := date(t.get(r, "START"))
		e, err2 := date(t.get(r, "STOP"))
		cost, err3 := ParseCents(t.get(r, "TOTAL_CLAIM_COST"))
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("synthea: encounters.csv row %d: %w", i+1, err)
		}
		ds.Medical = append(ds.Medical, MedicalEvent{ID: "synthea:" + t.get(r, "Id"), Patient: t.get(r, "PATIENT"),
			Inpatient: class == "inpatient", Start: s, Stop: e, CostCents: cost})
	}
	return nil
}

func (ds *Dataset) loadProcedures(fsys fs.FS, providers map[string]string) error {
	t, err := readTable(fsys, "procedures.csv", "START", "STOP", "PATIENT", "ENCOUNTER", "CODE")
	if err != nil {
		return err
	}
	for i, r := range t.rows {
		if t.get(r, "CODE") != MedReconciliation {
			continue
		}
		s, err := date(t.get(r, "START"))
		if err != nil {
			return fmt.Errorf("synthea: procedures.csv row %d: %w", i+1, err)
		}
		minutes := 15
		if len(t.get(r, "START")) >= 16 && len(t.get(r, "STOP")) >= 16 {
			if m := minutesBetween(t.get(r, "START"), t.get(r, "STOP")); m > 0 {
				minutes = m
			}
		}
		enc := t.get(r, "ENCOUNTER")
		ds.MTM = append(ds.MTM, MTMEncounter{
			ID: fmt.Sprintf("synthea:%s:%s:%d", enc, MedReconciliation, i+1), Patient: t.get(r, "PATIENT"),
			Date: s, Code: MedReconciliation, Minutes: minutes, PharmacistNPI: SyntheticNPI("provider:" + providers[enc]),
		})
	}
	return nil
}

// minutesBetween reads "YYYY-MM-DDTHH:MM" prefixes on the same day; 0 when they differ in day.
func minutesBetween(a, b string) int {
	if a[:10] != b[:10] {
		return 0
	}
	hm := func(s string) int {
		h, _ := strconv.Atoi(s[11:13])
		m, _ := strconv.Atoi(s[14:16])
		return h*60 + m
	}
	return hm(b) - hm(a)
}

// ParseCents reads a non-negative decimal amount of dollars ("26.6", "1306.55")
// into cents exactly, rounding any third decimal half away from zero.
func ParseCents(s string) (int64, error) {
	c, err := money.ParseFixed(s, 2, true)
	if err != nil {
		return 0, err
	}
	if c < 0 || strings.HasPrefix(strings.TrimSpace(s), "-") {
		return 0, fmt.Errorf("amount %q is negative", s)
	}
	return c, nil
}

// Prorate is total × part / whole rounded half away from zero, in integers.
func Prorate(total, part, whole int64) int64 {
	n := total * part
	if n < 0 {
		return -((-2*n + whole) / (2 * whole))
	}
	return (2*n + whole) / (2 * whole)
}

// SyntheticNPI makes a valid NPI (Luhn check digit over 80840 + the first nine)
// from seed, deterministically. Synthetic NPIs start with 1.
func SyntheticNPI(seed string) string {
	h := fnv.New64a()
	h.Write([]byte(seed))
	first9 := fmt.Sprintf("1%08d", h.Sum64()%100000000)
	return first9 + string(identifiers.NPICheckDigit(first9))
}

// SyntheticMBI makes a valid MBI (CMS format C A AN N A AN N A A N N) from seed, deterministically.
func SyntheticMBI(seed string) string {
	const (
		letters = "ACDEFGHJKMNPQRTUVWXY" // A: no S, L, O, I, B, Z
		digits  = "0123456789"
		alnum   = letters + digits
	)
	h := fnv.New64a()
	h.Write([]byte(seed))
	x := h.Sum64()
	pick := func(set string) byte {
		c := set[x%uint64(len(set))]
		x /= uint64(len(set))
		return c
	}
	var b [11]byte
	for i, p := range "CAXNAXNAANN" {
		switch p {
		case 'C':
			b[i] = pick("123456789")
		case 'A':
			b[i] = pick(letters)
		case 'X':
			b[i] = pick(alnum)
		case 'N':
			b[i] = pick(digits)
		}
	}
	return string(b[:])
}

// Pharmacies are the synthetic pharmacies of the demo (Synthea has none).
var Pharmacies = []string{SyntheticNPI("pharmacy:1"), SyntheticNPI("pharmacy:2"), SyntheticNPI("pharmacy:3")}

// PharmacyOf is the pharmacy a patient uses in the demo.
func PharmacyOf(patient string) string {
	h := fnv.New32a()
	h.Write([]byte(patient))
	return Pharmacies[h.Sum32()%uint32(len(Pharmacies))]
}

// Enrolled reports whether the patient has a Medicare span covering d.
func (ds *Dataset) Enrolled(patient string, d civil.Date) bool {
	for _, s := range ds.Enrollment {
		if s.Patient == patient && !d.Before(s.Start) && !d.After(s.End) {
			return true
		}
	}
	return false
}

// SortedUnknown lists unknown codes with their row counts, most frequent first.
func SortedUnknown(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if m[out[i]] != m[out[j]] {
			return m[out[i]] > m[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
