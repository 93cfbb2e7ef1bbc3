// Package policy is the payment policy (payment.yaml): per plan, the
// prospective PMPM rates with their effective dates and the member-month
// rule, the performance-based payment's threshold, amount, lag and
// benchmarks, and the pharmacy fee schedule.
package policy

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/feeschedule"
	"github.com/emtm/emtm/services/payment-reconciliation/internal/membermonths"
)

//go:embed payment.yaml
var sampleYAML []byte

// SampleName names the built-in sample.
const SampleName = "payment.yaml (built in)"

// SampleYAML is the text of the built-in sample.
func SampleYAML() string { return string(sampleYAML) }

// Rate is a PMPM amount from a date on.
type Rate struct {
	From  civil.Date
	Cents int64
}

// Performance is the performance-based payment's configuration.
type Performance struct {
	ThresholdBP int64
	PMPMCents   int64
	LagYears    int
	// Benchmarks are Parts A/B expenditure per member-year, in cents, by performance year.
	Benchmarks map[int]int64
}

// Plan is one plan's payment policy.
type Plan struct {
	MemberMonth string // membermonths.FirstDay or AnyDay
	Rates       []Rate // latest first
	// LastMonth is the first day of the last month the prospective payment
	// covers (zero: no end); the model paid it for 2017-01 to 2021-12.
	LastMonth   civil.Date
	Performance Performance
	Fees        *feeschedule.Schedule
}

// PMPM returns the rate in effect on the first day of a month (false before
// the first rate and after the last month of the prospective payment).
func (p Plan) PMPM(month civil.Date) (Rate, bool) {
	first := civil.Date{Year: month.Year, Month: month.Month, Day: 1}
	if !p.LastMonth.IsZero() && first.After(p.LastMonth) {
		return Rate{}, false
	}
	for _, r := range p.Rates {
		if !r.From.After(first) {
			return r, true
		}
	}
	return Rate{}, false
}

// NoPMPM says why a month has no prospective payment ("" when it has one).
func (p Plan) NoPMPM(month civil.Date) string {
	if _, ok := p.PMPM(month); ok || len(p.Rates) == 0 {
		return ""
	}
	first := p.Rates[len(p.Rates)-1].From
	period := fmt.Sprintf("from %s", first.String()[:7])
	if !p.LastMonth.IsZero() {
		period = fmt.Sprintf("%s to %s", first.String()[:7], p.LastMonth.String()[:7])
	}
	return fmt.Sprintf("no prospective payment for %s: the plan's prospective payment runs %s (payment policy: prospective.pmpm and prospective.last_month)", month.String()[:7], period)
}

// Policies are the payment policies of every plan.
type Policies struct {
	Name  string
	plans map[string]Plan
}

// For returns a plan's policy.
func (ps *Policies) For(contract, pbp string) (Plan, bool) {
	p, ok := ps.plans[planid.Key(contract, pbp)]
	return p, ok
}

// Plans lists the plans, sorted.
func (ps *Policies) Plans() []string {
	out := make([]string, 0, len(ps.plans))
	for k := range ps.plans {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type rateYAML struct {
	From  string `yaml:"from"`
	Cents int64  `yaml:"cents"`
}

type feeYAML struct {
	Service     string   `yaml:"service"`
	Description string   `yaml:"description"`
	Codes       []string `yaml:"codes"`
	TaskKind    string   `yaml:"task_kind"`
	Outcome     string   `yaml:"outcome"`
	Cents       int64    `yaml:"cents"`
	From        string   `yaml:"from"`
}

type planYAML struct {
	Prospective struct {
		MemberMonth string     `yaml:"member_month"`
		PMPM        []rateYAML `yaml:"pmpm"`
		LastMonth   string     `yaml:"last_month"`
	} `yaml:"prospective"`
	Performance struct {
		ThresholdBP int64         `yaml:"threshold_bp"`
		PMPMCents   int64         `yaml:"pmpm_cents"`
		LagYears    int           `yaml:"lag_years"`
		Benchmarks  map[int]int64 `yaml:"benchmark_cents_per_member_year"`
	} `yaml:"performance"`
	Fees []feeYAML `yaml:"fees"`
}

type file struct {
	Version int                 `yaml:"version"`
	Plans   map[string]planYAML `yaml:"plans"`
}

// Sample is the built-in sample.
func Sample() (*Policies, error) { return Parse(SampleName, sampleYAML) }

// Load reads a policy file; an empty path selects the sample.
func Load(path string) (*Policies, error) {
	if path == "" {
		return Sample()
	}
	return config.LoadWith(path, validated)
}

// Parse reads a policy from bytes.
func Parse(name string, data []byte) (*Policies, error) {
	return config.ParseWith(name, data, validated)
}

var (
	serviceName = regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,31}$`)
	taskKinds   = map[string]bool{"CMR": true, "TMR": true, "ADHERENCE_OUTREACH": true, "POST_DISCHARGE": true, "FOLLOW_UP": true}
)

// Bounds that catch a misplaced digit (amounts are cents).
const (
	maxPMPMCents = 100_00       // $100 per member per month
	maxFeeCents  = 10_000_00    // $10,000 per service
	maxBenchmark = 1_000_000_00 // $1,000,000 per member-year
)

func validated(doc *config.Doc, f file) (*Policies, error) {
	ps := &Policies{Name: doc.Name, plans: map[string]Plan{}}
	err := config.CheckPlans(doc, f.Version, nil, f.Plans, func(at []string, y planYAML) error {
		p, err := plan(doc, at, y)
		if err == nil {
			ps.plans[at[len(at)-1]] = p
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(ps.plans) == 0 {
		return nil, doc.Errorf([]string{"plans"}, "at least one plan is required")
	}
	return ps, nil
}

func date(doc *config.Doc, at []string, s string) (civil.Date, error) {
	d, err := civil.Parse(s)
	if err != nil {
		return civil.Date{}, doc.Errorf(at, "%q is not a date (YYYY-MM-DD)", s)
	}
	return d, nil
}

func plan(doc *config.Doc, at []string, y planYAML) (Plan, error) {
	path := func(parts ...string) []string { return append(append([]string{}, at...), parts...) }
	var p Plan
	switch y.Prospective.MemberMonth {
	case membermonths.FirstDay, membermonths.AnyDay:
		p.MemberMonth = y.Prospective.MemberMonth
	default:
		return p, doc.Errorf(path("prospective", "member_month"), "%q must be first_day or any_day", y.Prospective.MemberMonth)
	}
	if len(y.Prospective.PMPM) == 0 {
		return p, doc.Errorf(path("prospective", "pmpm"), "at least one rate is required")
	}
	seen := map[civil.Date]bool{}
	for i, r := range y.Prospective.PMPM {
		at := path("prospective", "pmpm", strconv.Itoa(i))
		d, err := date(doc, append(at, "from"), r.From)
		if err != nil {
			return p, err
		}
		if d.Day != 1 {
			return p, doc.Errorf(append(at, "from"), "%s: a PMPM rate takes effect on the first day of a month", d)
		}
		if seen[d] {
			return p, doc.Errorf(append(at, "from"), "two rates from %s", d)
		}
		seen[d] = true
		if r.Cents < 0 || r.Cents > maxPMPMCents {
			return p, doc.Errorf(append(at, "cents"), "%d must be 0..%d cents", r.Cents, maxPMPMCents)
		}
		p.Rates = append(p.Rates, Rate{From: d, Cents: r.Cents})
	}
	sort.Slice(p.Rates, func(i, j int) bool { return p.Rates[i].From.After(p.Rates[j].From) })
	if lm := y.Prospective.LastMonth; lm != "" {
		d, err := civil.Parse(lm + "-01")
		if err != nil || len(lm) != 7 {
			return p, doc.Errorf(path("prospective", "last_month"), "%q is not a month (YYYY-MM)", lm)
		}
		if d.Before(p.Rates[len(p.Rates)-1].From) {
			return p, doc.Errorf(path("prospective", "last_month"), "%s is before the first rate (%s)", lm, p.Rates[len(p.Rates)-1].From)
		}
		p.LastMonth = d
	}

	pf := y.Performance
	switch {
	case pf.ThresholdBP < 1 || pf.ThresholdBP > 5000:
		return p, doc.Errorf(path("performance", "threshold_bp"), "%d must be 1..5000 basis points (the model: 200, i.e. 2 %%)", pf.ThresholdBP)
	case pf.PMPMCents < 0 || pf.PMPMCents > maxPMPMCents:
		return p, doc.Errorf(path("performance", "pmpm_cents"), "%d must be 0..%d cents", pf.PMPMCents, maxPMPMCents)
	case pf.LagYears < 0 || pf.LagYears > 5:
		return p, doc.Errorf(path("performance", "lag_years"), "%d must be 0..5", pf.LagYears)
	}
	for year, c := range pf.Benchmarks {
		if year < 2006 || year > 2100 {
			return p, doc.Errorf(path("performance", "benchmark_cents_per_member_year", strconv.Itoa(year)), "%d is not a performance year", year)
		}
		if c <= 0 || c > maxBenchmark {
			return p, doc.Errorf(path("performance", "benchmark_cents_per_member_year", strconv.Itoa(year)), "%d must be 1..%d cents", c, maxBenchmark)
		}
	}
	p.Performance = Performance{ThresholdBP: pf.ThresholdBP, PMPMCents: pf.PMPMCents, LagYears: pf.LagYears, Benchmarks: pf.Benchmarks}

	var rules []feeschedule.Rule
	versions := map[string]bool{}
	for i, fy := range y.Fees {
		at := path("fees", strconv.Itoa(i))
		field := func(k string) []string { return append(append([]string{}, at...), k) }
		if !serviceName.MatchString(fy.Service) {
			return p, doc.Errorf(field("service"), "%q: a service is named in capitals, e.g. CMR", fy.Service)
		}
		d, err := date(doc, field("from"), fy.From)
		if err != nil {
			return p, err
		}
		if fy.Cents < 0 || fy.Cents > maxFeeCents {
			return p, doc.Errorf(field("cents"), "%d must be 0..%d cents", fy.Cents, maxFeeCents)
		}
		switch {
		case fy.Outcome != "" && len(fy.Codes) > 0:
			return p, doc.Errorf(field("outcome"), "a rule pays for service codes or for an outcome, not both")
		case fy.Outcome != "" && fy.Outcome != feeschedule.OutcomePrescriberAccepted:
			return p, doc.Errorf(field("outcome"), "%q: the outcome a fee can pay for is %s", fy.Outcome, feeschedule.OutcomePrescriberAccepted)
		case fy.Outcome == "" && len(fy.Codes) == 0:
			return p, doc.Errorf(field("codes"), "a rule needs SNOMED CT service codes (or an outcome)")
		case fy.TaskKind != "" && !taskKinds[fy.TaskKind]:
			return p, doc.Errorf(field("task_kind"), "%q must be CMR, TMR, ADHERENCE_OUTREACH, POST_DISCHARGE or FOLLOW_UP", fy.TaskKind)
		}
		for j, c := range fy.Codes {
			if _, err := identifiers.SNOMED(c); err != nil {
				return p, doc.Errorf(append(field("codes"), strconv.Itoa(j)), "%v", err)
			}
		}
		v := fy.Service + "@" + d.String()
		if versions[v] {
			return p, doc.Errorf(field("from"), "service %s has two rules from %s", fy.Service, d)
		}
		versions[v] = true
		rules = append(rules, feeschedule.Rule{Service: fy.Service, Description: fy.Description, Codes: fy.Codes, TaskKind: fy.TaskKind,
			Outcome: fy.Outcome, FeeCents: fy.Cents, From: d})
	}
	// Two services must not both pay for the same code, kind and date: the match would be arbitrary.
	for i, a := range rules {
		for _, b := range rules[i+1:] {
			if a.Service == b.Service || a.TaskKind != b.TaskKind || a.From != b.From {
				continue
			}
			for _, c := range a.Codes {
				for _, c2 := range b.Codes {
					if c == c2 {
						return p, doc.Errorf(path("fees"), "services %s and %s both pay for code %s (task kind %q) from %s", a.Service, b.Service, c, a.TaskKind, a.From)
					}
				}
			}
		}
	}
	p.Fees = feeschedule.New(rules)
	return p, nil
}
