// Package population generates a synthetic Part D population for load tests
// and demonstrations: enrollment spans, diagnoses, pharmacy claims in the
// claims CSV format (docs/claims-csv.md) and Parts A/B summaries, with the
// shapes a sponsor's history has (chronic regimens refilled on 30- and 90-day
// cycles with late refills and gaps, new starts, opioid and benzodiazepine
// users, hospital stays, hospice, deaths and disenrollments). The same options
// give the same bytes: each member draws from its own generator, seeded by the
// seed and the member's number. Nothing in it is a real person.
package population

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/civil"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/identifiers"
)

// Options of a population.
type Options struct {
	Members, Years int
	// FirstYear is the history's first calendar year; it runs to the end of
	// FirstYear+Years-1.
	FirstYear int
	Seed      uint64
	// Contract and PBP are the plan every member is enrolled in.
	Contract, PBP string
	// Progress, when set, is told each member written.
	Progress func()
}

// Limits of the options (a population is a file on disk: a billion claims is a mistake).
const (
	MaxMembers = 5_000_000
	MaxYears   = 10
)

// DefaultFirstYear puts a history of years years so that it ends with 2021,
// the Enhanced MTM model's last performance year (docs/domain.md section 1):
// every month of it is one the sample payment policy pays.
func DefaultFirstYear(years int) int { return 2022 - years }

// Check names the first option out of range.
func (o Options) Check() error {
	switch {
	case o.Members < 1 || o.Members > MaxMembers:
		return fmt.Errorf("--members: %d is not between 1 and %d", o.Members, MaxMembers)
	case o.Years < 1 || o.Years > MaxYears:
		return fmt.Errorf("--years: %d is not between 1 and %d", o.Years, MaxYears)
	case o.FirstYear < 2006 || o.FirstYear+o.Years-1 > 2100:
		// Part D began on 2006-01-01.
		return fmt.Errorf("--first-year: %d is not between 2006 and %d", o.FirstYear, 2101-o.Years)
	case o.Contract == "" || o.PBP == "":
		return errors.New("--contract and --pbp are required")
	}
	return nil
}

// Counts are what a population holds.
type Counts struct {
	Members     int `json:"members"`
	Enrollments int `json:"enrollments"`
	Conditions  int `json:"conditions"`
	Claims      int `json:"claims"`
	Reversals   int `json:"reversals"`
	Medical     int `json:"parts_ab_summaries"`
	// Shapes: members who died, left the plan, joined during the history,
	// had a hospital stay, entered hospice, filled an opioid, a benzodiazepine,
	// both, or started a chronic drug during the history.
	Deaths          int `json:"deaths"`
	Disenrollments  int `json:"disenrollments"`
	Joined          int `json:"joined_during_history"`
	InpatientStays  int `json:"inpatient_stays"`
	Hospice         int `json:"hospice"`
	OpioidUsers     int `json:"opioid_users"`
	BenzoUsers      int `json:"benzodiazepine_users"`
	OpioidAndBenzo  int `json:"opioid_and_benzodiazepine_users"`
	NewStarts       int `json:"new_starts"`
	NinetyDayFills  int `json:"ninety_day_fills"`
	ThirtyDayFills  int `json:"thirty_day_fills"`
	LateRefills     int `json:"late_refills"`
	Discontinuation int `json:"discontinuations"`
}

// Records is how many records the four files hold: enrollments, diagnoses,
// paid claims, reversals and Parts A/B summaries.
func (c Counts) Records() int {
	return c.Enrollments + c.Conditions + c.Claims + c.Reversals + c.Medical
}

// Writers receive the four files.
type Writers struct {
	Claims, Enrollment, Conditions, Medical io.Writer
}

// ClaimsHeader is the claims CSV's first line.
const ClaimsHeader = "claim_id,member_id,mbi,birth_date,contract_id,pbp_id,date_of_service,status,reversal_date,rxnorm,ingredients," +
	"drug_description,quantity,days_supply,fill_number,prescriber_npi,pharmacy_npi,ingredient_cost,dispensing_fee,patient_pay,total\n"

// Generate writes the population. Members are written one after the other:
// a member's enrollment, diagnoses, claims (in date order) and Parts A/B
// summaries (in date order).
func Generate(o Options, w Writers) (Counts, error) {
	if err := o.Check(); err != nil {
		return Counts{}, err
	}
	g := &gen{o: o,
		first: dayOf(civil.Date{Year: o.FirstYear, Month: time.January, Day: 1}),
		last:  dayOf(civil.Date{Year: o.FirstYear + o.Years - 1, Month: time.December, Day: 31}),
	}
	g.pharmacies = npis(30000000, max(3, o.Members/500))
	g.prescribers = npis(20000000, max(10, o.Members/40))
	out := [4]*bufio.Writer{}
	for i, x := range []io.Writer{w.Claims, w.Enrollment, w.Conditions, w.Medical} {
		out[i] = bufio.NewWriterSize(x, 1<<16)
	}
	if _, err := out[0].WriteString(ClaimsHeader); err != nil {
		return Counts{}, err
	}
	var m member
	for i := 0; i < o.Members; i++ {
		g.member(i, &m)
		if err := g.write(&m, out); err != nil {
			return g.counts, err
		}
		if o.Progress != nil {
			o.Progress()
		}
	}
	for _, b := range out {
		if err := b.Flush(); err != nil {
			return g.counts, err
		}
	}
	return g.counts, nil
}

type gen struct {
	o                       Options
	first, last             int // the history, as day numbers
	pharmacies, prescribers []string
	counts                  Counts
	line                    []byte
	json                    bytes.Buffer
}

// npis are n valid NPIs (Luhn check digit over 80840) from base on.
func npis(base, n int) []string {
	out := make([]string, n)
	for k := range out {
		first9 := "1" + fmt.Sprintf("%08d", base+k)
		out[k] = first9 + string(identifiers.NPICheckDigit(first9))
	}
	return out
}

type member struct {
	num                int
	id, mbi, birthText string
	birth              civil.Date
	age                int // at the history's start
	start, end         int // enrollment, inclusive day numbers
	endReason          enrollmentv1.EndReason
	hospice            int // admission day, or 0
	pharmacy, pcp      string
	ninety             bool // fills maintenance drugs for 90 days
	adherence          int  // 0 good, 1 fair, 2 poor
	conds              []memberCond
	claims             []claimRow
	medical            []medRow
	opioid, benzo      bool
	rng                *rand.Rand
}

type memberCond struct {
	c     *condition
	onset int
	isNew bool
}

type claimRow struct {
	day, seq       int
	id             string
	d              *drug
	days, fill     int
	reversed       bool // a reversal row (day is the reversal date, of is the claim's date)
	of             int
	prescriber     string
	qtyMilli       int64
	cost, fee, pay int64
}

type medRow struct {
	admit, discharge int
	setting          medicalv1.CareSetting
	cents            int64
}

// member simulates member i into m (reusing its slices).
func (g *gen) member(i int, m *member) {
	*m = member{num: i + 1, conds: m.conds[:0], claims: m.claims[:0], medical: m.medical[:0],
		rng: rand.New(rand.NewPCG(g.o.Seed, uint64(i)))}
	r := m.rng
	m.id = fmt.Sprintf("P%07d", m.num)
	m.mbi = mbiOf(g.o.Seed, i)
	m.pharmacy = g.pharmacies[r.IntN(len(g.pharmacies))]
	m.pcp = g.prescribers[r.IntN(len(g.prescribers))]
	m.ninety = r.IntN(100) < 30
	switch a := r.IntN(100); {
	case a < 55:
		m.adherence = 0
	case a < 85:
		m.adherence = 1
	default:
		m.adherence = 2
	}

	// Age and enrollment: most are enrolled when the history starts; some
	// join during it (aged in at 65: Part D coverage from the first of the
	// birthday month).
	firstDate := dateOf(g.first)
	months := g.o.Years * 12
	m.start = g.first
	if r.IntN(100) < 12 && months > 1 {
		mo := 1 + r.IntN(months-1)
		sd := civil.Date{Year: g.o.FirstYear + mo/12, Month: time.Month(mo%12 + 1), Day: 1}
		m.start = dayOf(sd)
		m.birth = civil.Date{Year: sd.Year - 65, Month: sd.Month, Day: 1 + r.IntN(28)}
		g.counts.Joined++
	} else {
		age := 65 + min(35, int(r.ExpFloat64()*9))
		if r.IntN(100) < 15 { // entitled by disability
			age = 45 + r.IntN(20)
		}
		m.birth = dateOf(dayOf(civil.Date{Year: firstDate.Year - age, Month: time.January, Day: 1}) - r.IntN(365))
	}
	m.age = m.birth.YearsOld(dateOf(m.start))
	m.birthText = m.birth.String()

	// Diagnoses: present at the start (onset up to 15 years before), or new
	// during the history.
	years := float64(g.o.Years)
	for k := range conditions {
		c := &conditions[k]
		if m.age < c.minAge {
			continue
		}
		switch {
		case r.IntN(1000) < c.perMille:
			m.conds = append(m.conds, memberCond{c: c, onset: m.start - 30 - r.IntN(15*365)})
		case r.Float64()*1000 < float64(c.newPerMille)*years:
			m.conds = append(m.conds, memberCond{c: c, onset: m.start + r.IntN(g.last-m.start+1), isNew: true})
		}
	}
	frail := 1.0
	for _, mc := range m.conds {
		if !mc.isNew && mc.c.frail {
			frail += 0.5
		}
	}

	// Deaths and disenrollments, month by month.
	m.end = g.last
	for d := m.start; d <= g.last; {
		dd := dateOf(d)
		next := dayOf(civil.Date{Year: dd.Year + int(dd.Month)/12, Month: dd.Month%12 + 1, Day: 1})
		age := m.birth.YearsOld(dd)
		if r.Float64() < annualDeathRate(age)*frail/12 {
			m.end, m.endReason = d+r.IntN(next-d), enrollmentv1.EndReason_END_REASON_DECEASED
			g.counts.Deaths++
			break
		}
		// Most who leave a plan do so at the year's end (annual election period).
		leave := 0.01 / 12
		if dd.Month == time.December {
			leave += 0.05
		}
		if next <= g.last && r.Float64() < leave {
			m.end, m.endReason = next-1, enrollmentv1.EndReason_END_REASON_DISENROLLED
			g.counts.Disenrollments++
			break
		}
		d = next
	}
	// A new diagnosis after the member left is not the plan's to know.
	kept := m.conds[:0]
	for _, mc := range m.conds {
		if mc.onset <= m.end {
			kept = append(kept, mc)
		}
	}
	m.conds = kept
	stopDrugs := m.end
	if m.endReason == enrollmentv1.EndReason_END_REASON_DECEASED && r.IntN(100) < 45 {
		m.hospice = max(m.start, m.end-3-r.IntN(88))
		stopDrugs = m.hospice - 1 // hospice covers drugs for the terminal illness
		m.medical = append(m.medical, medRow{m.hospice, m.end, medicalv1.CareSetting_CARE_SETTING_HOSPICE, int64(m.end-m.hospice+1) * 21000})
		g.counts.Hospice++
	}

	// Regimens.
	for _, mc := range m.conds {
		c := mc.c
		if len(c.regimens) == 0 || r.IntN(1000) >= c.treatedPerMille {
			continue
		}
		reg := pick(r, c.regimens)
		prescriber := m.pcp
		if !c.primaryCare && r.IntN(100) < 40 {
			prescriber = g.prescribers[r.IntN(len(g.prescribers))] // a specialist
		}
		if mc.isNew {
			g.counts.NewStarts++
		}
		for _, d := range reg.drugs {
			g.regimen(m, d, prescriber, mc.onset, mc.isNew, stopDrugs)
		}
	}
	if has(m, "59621000") && r.IntN(1000) < clopidogrelPerMille {
		g.regimen(m, &clopidogrel, m.pcp, m.start-r.IntN(365), false, stopDrugs)
	}
	if m.age >= 70 && r.IntN(1000) < diphenhydraminePerMille {
		g.regimen(m, &diphenhydra, m.pcp, m.start-r.IntN(365), false, stopDrugs)
	}

	// Parts A/B: hospital stays (some followed by a skilled nursing stay and,
	// for some, a few days of an opioid), emergency visits, and the other
	// Part B spending of each quarter.
	stays := poisson(r, (0.12+0.08*float64(len(m.conds)))*frail*float64(m.end-m.start+1)/365)
	for s := 0; s < stays; s++ {
		admit := m.start + r.IntN(m.end-m.start+1)
		los := 2 + int(r.ExpFloat64()*3)
		discharge := min(admit+los, m.end)
		m.medical = append(m.medical, medRow{admit, discharge, medicalv1.CareSetting_CARE_SETTING_INPATIENT, 900000 + int64(discharge-admit)*180000 + int64(r.IntN(400000))})
		g.counts.InpatientStays++
		if r.IntN(100) < 20 && discharge < m.end {
			snfEnd := min(discharge+7+r.IntN(24), m.end)
			m.medical = append(m.medical, medRow{discharge, snfEnd, medicalv1.CareSetting_CARE_SETTING_SNF, int64(snfEnd-discharge) * 55000})
		}
		if r.IntN(100) < 25 && discharge+1 <= stopDrugs {
			g.fill(m, &hydrocodone, m.pcp, discharge+1, 5, 0)
		}
	}
	visits := poisson(r, 0.35*frail*float64(m.end-m.start+1)/365)
	for v := 0; v < visits; v++ {
		d := m.start + r.IntN(m.end-m.start+1)
		m.medical = append(m.medical, medRow{d, 0, medicalv1.CareSetting_CARE_SETTING_EMERGENCY, 80000 + int64(r.IntN(170000))})
	}
	// The rest of Part B (office visits, tests), one summary a quarter, in
	// the quarter's last month the member is enrolled.
	for d := m.start; d <= m.end; {
		dd := dateOf(d)
		qm := (dd.Month-1)/3*3 + 3 // the quarter's last month
		qEnd := dayOf(civil.Date{Year: dd.Year + int(qm)/12, Month: qm%12 + 1, Day: 1}) - 1
		last := min(qEnd, m.end)
		months := int64(dateOf(last).Month-dd.Month) + 1
		m.medical = append(m.medical, medRow{last, -1, medicalv1.CareSetting_CARE_SETTING_OTHER, months * (20000 + 9000*int64(len(m.conds)) + int64(r.IntN(30000)))})
		d = last + 1
	}
	// Acute antibiotics.
	for a := poisson(r, 0.4*float64(m.end-m.start+1)/365); a > 0; a-- {
		d := m.start + r.IntN(m.end-m.start+1)
		if d > stopDrugs {
			continue
		}
		if r.IntN(2) == 0 {
			g.fill(m, &amoxicillin, m.pcp, d, 7, 0)
		} else {
			g.fill(m, &azithromycin, m.pcp, d, 5, 0)
		}
	}

	// Reversals: about one claim in a hundred is reversed within a week,
	// and most of those are billed again the day of the reversal.
	n := len(m.claims)
	for k := 0; k < n; k++ {
		c := m.claims[k]
		if r.IntN(1000) >= 10 {
			continue
		}
		rev := c
		rev.reversed, rev.of, rev.day = true, c.day, c.day+r.IntN(7)
		rev.seq = len(m.claims)
		m.claims = append(m.claims, rev)
		g.counts.Reversals++
		if r.IntN(100) < 60 && rev.day <= stopDrugs {
			again := c
			again.day, again.seq = rev.day, len(m.claims)
			again.id = fmt.Sprintf("RX%07d-%04d", m.num, again.seq)
			m.claims = append(m.claims, again)
		}
	}
	sort.Slice(m.claims, func(a, b int) bool {
		if m.claims[a].day != m.claims[b].day {
			return m.claims[a].day < m.claims[b].day
		}
		return m.claims[a].seq < m.claims[b].seq
	})
	sort.SliceStable(m.medical, func(a, b int) bool { return m.medical[a].admit < m.medical[b].admit })
	if m.opioid {
		g.counts.OpioidUsers++
	}
	if m.benzo {
		g.counts.BenzoUsers++
	}
	if m.opioid && m.benzo {
		g.counts.OpioidAndBenzo++
	}
}

// annualDeathRate is an illustrative mortality by age (of the order of the
// US life tables for the Medicare ages; a disabled member under 65 is given 2.5 %).
func annualDeathRate(age int) float64 {
	switch {
	case age < 65:
		return 0.025
	case age < 75:
		return 0.018
	case age < 85:
		return 0.045
	default:
		return 0.13
	}
}

func has(m *member, code string) bool {
	for _, mc := range m.conds {
		if mc.c.code == code {
			return true
		}
	}
	return false
}

func pick(r *rand.Rand, regs []regimen) *regimen {
	total := 0
	for _, x := range regs {
		total += x.weight
	}
	n := r.IntN(total)
	for k := range regs {
		if n < regs[k].weight {
			return &regs[k]
		}
		n -= regs[k].weight
	}
	return &regs[len(regs)-1]
}

// poisson draws a count with mean lambda (Knuth's method; lambda is small).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for k < 1000 {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
	return k
}

// opioid reports the generator's opioids.
func opioid(d *drug) bool {
	return d == &hydrocodone || d == &oxycodoneIR || d == &oxycodoneER || d == &tramadol
}

// controlled reports a drug that is filled for 30 days at most (opioids and
// benzodiazepines: Schedule II and IV).
func controlled(d *drug) bool { return opioid(d) || d == &diazepam }

// regimen fills d from the onset (a new start) or from an ongoing regimen's
// next refill after the enrollment starts, until the member stops taking it,
// the enrollment ends or hospice begins.
func (g *gen) regimen(m *member, d *drug, prescriber string, onset int, isNew bool, stop int) {
	r := m.rng
	days := 30
	if m.ninety && !controlled(d) && !d.inhaler {
		days = 90
	}
	day := onset + r.IntN(14)
	fillNo := 0
	if !isNew {
		day = m.start + r.IntN(days)
		fillNo = 1 + r.IntN(5)
	}
	adherence := m.adherence
	if controlled(d) && adherence > 0 {
		adherence-- // a member in pain or anxious seldom runs out
	}
	quitPerMille := [3]int{5, 15, 40}[adherence]
	for k := 0; k < 1000 && day <= stop; k++ {
		g.fill(m, d, prescriber, day, days, fillNo)
		fillNo = (fillNo + 1) % 12
		if r.IntN(1000) < quitPerMille {
			g.counts.Discontinuation++
			return
		}
		late := 0
		switch adherence {
		case 0:
			late = r.IntN(8) - 4 // on time, a few days early or late
		case 1:
			late = r.IntN(15)
			if r.IntN(10) == 0 {
				late += 20 + r.IntN(25)
			}
		default:
			late = 5 + r.IntN(25)
			if r.IntN(4) == 0 {
				late += 30 + r.IntN(60)
			}
		}
		if late > 7 {
			g.counts.LateRefills++
		}
		if d.inhaler && d == &albuterol {
			late += r.IntN(60) // a rescue inhaler is refilled when it runs out
		}
		day += days + late
	}
}

// fill adds one paid claim.
func (g *gen) fill(m *member, d *drug, prescriber string, day, days, fillNo int) {
	r := m.rng
	units := d.perDayMilli * int64(days)
	if d.inhaler {
		units = int64(max(1, days/30)) * 1000
	}
	cost := units * d.unitMilliCents / 1_000_000
	fee := int64(150 + r.IntN(100))
	copay := d.copayCents
	if days > 34 {
		copay *= 3
	}
	pay := min(copay, cost+fee)
	seq := len(m.claims)
	m.claims = append(m.claims, claimRow{day: day, seq: seq, id: fmt.Sprintf("RX%07d-%04d", m.num, seq), d: d, days: days, fill: fillNo,
		prescriber: prescriber, qtyMilli: units, cost: cost, fee: fee, pay: pay})
	if days == 90 {
		g.counts.NinetyDayFills++
	} else if days == 30 {
		g.counts.ThirtyDayFills++
	}
	m.opioid = m.opioid || opioid(d)
	m.benzo = m.benzo || d == &diazepam
}

// write appends the member to the four files.
func (g *gen) write(m *member, out [4]*bufio.Writer) error {
	c := &g.counts
	c.Members++
	month := func(y, mo int) *typesv1.YearMonth { return &typesv1.YearMonth{Year: int32(y), Month: int32(mo)} }
	e := &enrollmentv1.Enrollment{EnrollmentId: "E" + m.id, MemberId: m.id, Mbi: m.mbi, ContractId: g.o.Contract, PbpId: g.o.PBP,
		StartDate: dateOf(m.start).Proto(), BirthDate: m.birth.Proto()}
	if m.end < g.last || m.endReason != enrollmentv1.EndReason_END_REASON_UNSPECIFIED {
		e.EndDate, e.EndReason = dateOf(m.end).Proto(), m.endReason
	}
	if err := g.ndjson(out[1], e); err != nil {
		return err
	}
	c.Enrollments++
	for k, mc := range m.conds {
		cond := &medicalv1.Condition{ConditionId: fmt.Sprintf("C%s-%02d", m.id, k+1), MemberId: m.id, Mbi: m.mbi,
			CodeSystem: medicalv1.CodeSystem_CODE_SYSTEM_SNOMED_CT, Code: mc.c.code, Description: mc.c.description, OnsetDate: dateOf(mc.onset).Proto()}
		if err := g.ndjson(out[2], cond); err != nil {
			return err
		}
		c.Conditions++
	}
	for k := range m.claims {
		if err := g.claim(out[0], m, &m.claims[k]); err != nil {
			return err
		}
	}
	for k, h := range m.medical {
		ad := dateOf(h.admit)
		s := &medicalv1.PartsAbSummary{SummaryId: fmt.Sprintf("H%s-%03d", m.id, k+1), MemberId: m.id, Mbi: m.mbi, ContractId: g.o.Contract, PbpId: g.o.PBP,
			Setting: h.setting, CostCents: h.cents, ServiceMonth: month(ad.Year, int(ad.Month))}
		if h.discharge >= 0 {
			s.AdmitDate = ad.Proto()
		}
		if h.discharge > 0 {
			dd := dateOf(h.discharge)
			s.DischargeDate = dd.Proto()
			s.ServiceMonth = month(dd.Year, int(dd.Month)) // billed at discharge
		}
		if err := g.ndjson(out[3], s); err != nil {
			return err
		}
		c.Medical++
	}
	return nil
}

// ndjson writes m as one line of compact protojson (compacted: protojson's
// own spacing is not stable from one build to the next).
func (g *gen) ndjson(w *bufio.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	g.json.Reset()
	if err := json.Compact(&g.json, b); err != nil {
		return err
	}
	g.json.WriteByte('\n')
	_, err = w.Write(g.json.Bytes())
	return err
}

// claim writes one row of the claims CSV (no field of a generated row needs quoting).
func (g *gen) claim(w *bufio.Writer, m *member, c *claimRow) error {
	b := g.line[:0]
	b = append(b, c.id...)
	b = append(b, ',')
	b = append(b, m.id...)
	b = append(b, ',')
	b = append(b, m.mbi...)
	b = append(b, ',')
	b = append(b, m.birthText...)
	b = append(b, ',')
	b = append(b, g.o.Contract...)
	b = append(b, ',')
	b = append(b, g.o.PBP...)
	b = append(b, ',')
	if c.reversed {
		b = appendDate(b, c.of)
		b = append(b, ",reversed,"...)
		b = appendDate(b, c.day)
	} else {
		b = appendDate(b, c.day)
		b = append(b, ",paid,"...)
	}
	b = append(b, ',')
	b = append(b, c.d.rxcui...)
	b = append(b, ',')
	b = append(b, c.d.ingredients...)
	b = append(b, ',')
	b = append(b, c.d.description...)
	b = append(b, ',')
	b = strconv.AppendInt(b, c.qtyMilli/1000, 10)
	if f := c.qtyMilli % 1000; f != 0 {
		b = append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(c.days), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(c.fill), 10)
	b = append(b, ',')
	b = append(b, c.prescriber...)
	b = append(b, ',')
	b = append(b, m.pharmacy...)
	for _, cents := range [4]int64{c.cost, c.fee, c.pay, c.cost + c.fee} {
		b = append(b, ',')
		b = appendDollars(b, cents)
	}
	b = append(b, '\n')
	g.line = b
	if !c.reversed {
		g.counts.Claims++
	}
	_, err := w.Write(b)
	return err
}

func appendDollars(b []byte, cents int64) []byte {
	b = strconv.AppendInt(b, cents/100, 10)
	return append(b, '.', byte('0'+cents%100/10), byte('0'+cents%10))
}

// Day numbers count days from 1970-01-01 (UTC civil dates).
func dayOf(d civil.Date) int {
	return int(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func dateOf(day int) civil.Date { return civil.Of(time.Unix(int64(day)*86400, 0).UTC()) }

func appendDate(b []byte, day int) []byte {
	y, mo, d := time.Unix(int64(day)*86400, 0).UTC().Date()
	b = strconv.AppendInt(b, int64(y), 10)
	return append(b, '-', byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// mbiOf is member i's MBI: i written in the MBI's mixed radix (CMS format C A
// AN N A AN N A A N N), offset by the seed, so that no two members of a
// population share one.
func mbiOf(seed uint64, i int) string {
	const (
		letters = "ACDEFGHJKMNPQRTUVWXY" // no S, L, O, I, B, Z
		digits  = "0123456789"
		alnum   = letters + digits
	)
	sets := [11]string{"123456789", letters, alnum, digits, letters, alnum, digits, letters, letters, digits, digits}
	capacity := uint64(1)
	for _, s := range sets {
		capacity *= uint64(len(s))
	}
	x := (seed%capacity + uint64(i)) % capacity
	var b [11]byte
	for k := 10; k >= 0; k-- {
		n := uint64(len(sets[k]))
		b[k] = sets[k][x%n]
		x /= n
	}
	return string(b[:])
}
