// Package policy is the program policy: which interventions a risk tier calls
// for, with periods, deadlines and priorities (program.yaml, per plan), and
// the pure rules that turn an assessment, a discharge or an encounter into
// task specifications.
package policy

import (
	_ "embed"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/libs/planid"
)

//go:embed program.yaml
var sampleYAML []byte

// Kinds (names of emtm.scheduling.v1.TaskKind without the prefix).
const (
	CMR           = "CMR"
	TMR           = "TMR"
	Adherence     = "ADHERENCE_OUTREACH"
	PostDischarge = "POST_DISCHARGE"
	FollowUp      = "FOLLOW_UP"
	// CMRSummary is sending the member a CMR's written summary.
	CMRSummary = "CMR_SUMMARY"
)

// Kinds lists every kind.
var Kinds = []string{CMR, TMR, Adherence, PostDischarge, FollowUp, CMRSummary}

// Tiers (names of emtm.risk.v1.RiskTier without the prefix).
var Tiers = []string{"LOW", "MODERATE", "HIGH"}

// DefaultPharmacistMinutes are emtm's planning estimates of a pharmacist's
// minutes per task, for a program that names none. CMS sets no time per
// intervention (42 CFR 423.153(d) sets what an MTM program offers, not how
// long it takes); these are a reading for the what-if's pharmacist hours, to be
// replaced by the sponsor's own measured times (pharmacist_minutes).
var DefaultPharmacistMinutes = map[string]int{CMR: 45, TMR: 20, PostDischarge: 30, Adherence: 10, FollowUp: 15, CMRSummary: 10}

// Intervention is one line of a tier.
type Intervention struct {
	Kind     string `yaml:"kind"`
	DueDays  int    `yaml:"due_days"`
	Every    string `yaml:"every"`
	Priority int    `yaml:"priority"`
}

// FollowUpRule schedules follow-ups.
type FollowUpRule struct {
	DueDays  int `yaml:"due_days"`
	Priority int `yaml:"priority"`
}

// Plan is one plan's program.
type Plan struct {
	Tiers    map[string][]Intervention `yaml:"tiers"`
	FollowUp FollowUpRule              `yaml:"follow_up"`
	// CMRSummary schedules sending a completed CMR's written summary.
	CMRSummary     FollowUpRule   `yaml:"cmr_summary"`
	WeeklyCapacity map[string]int `yaml:"weekly_capacity"`
	// PharmacistMinutes estimates a pharmacist's minutes per task of a kind
	// (the what-if's pharmacist hours); a kind left out takes DefaultPharmacistMinutes.
	PharmacistMinutes map[string]int      `yaml:"pharmacist_minutes"`
	LeaseMinutes      int                 `yaml:"lease_minutes"`
	GraceDays         int                 `yaml:"grace_days"`
	Dispatch          string              `yaml:"dispatch"`
	CompletedBy       map[string][]string `yaml:"completed_by_codes"`
	// OnDowngrade: stay (default) keeps a member in the program's CMR and TMR
	// for the rest of the year after a tier downgrade; leave follows the tier.
	OnDowngrade string `yaml:"on_downgrade"`
}

type file struct {
	Version int             `yaml:"version"`
	Default Plan            `yaml:"default"`
	Plans   map[string]Plan `yaml:"plans"`
}

// Policies are every plan's program.
type Policies struct {
	Name  string
	def   Plan
	plans map[string]Plan
}

// For returns a plan's program (the default for a plan not listed).
func (ps *Policies) For(contract, pbp string) Plan {
	if p, ok := ps.plans[planid.Key(contract, pbp)]; ok {
		return p
	}
	return ps.def
}

// Plans lists the plans with their own program.
func (ps *Policies) Plans() []string {
	out := make([]string, 0, len(ps.plans))
	for k := range ps.plans {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SampleName names the built-in sample.
const SampleName = "program.yaml (built in)"

// SampleYAML is the text of the built-in sample program.
func SampleYAML() string { return string(sampleYAML) }

// Sample is the built-in sample program.
func Sample() (*Policies, error) { return Parse(SampleName, sampleYAML) }

// Load reads a program file; an empty path selects the sample.
func Load(path string) (*Policies, error) {
	if path == "" {
		return Sample()
	}
	return config.LoadWith(path, validated)
}

// Parse reads a program from bytes.
func Parse(name string, data []byte) (*Policies, error) {
	return config.ParseWith(name, data, validated)
}

func validated(doc *config.Doc, f file) (*Policies, error) {
	stay := func(p *Plan) {
		if p.OnDowngrade == "" {
			p.OnDowngrade = Stay
		}
		if p.CMRSummary == (FollowUpRule{}) { // a program written before the summary task
			p.CMRSummary = FollowUpRule{DueDays: SummaryDays, Priority: 85}
		}
		minutes := maps.Clone(DefaultPharmacistMinutes)
		maps.Copy(minutes, p.PharmacistMinutes)
		p.PharmacistMinutes = minutes
	}
	stay(&f.Default)
	for k, p := range f.Plans {
		stay(&p)
		f.Plans[k] = p
	}
	check := func(at []string, p Plan) error { return validate(doc, at, p) }
	if err := config.CheckPlans(doc, f.Version, &f.Default, f.Plans, check); err != nil {
		return nil, err
	}
	return &Policies{Name: doc.Name, def: f.Default, plans: f.Plans}, nil
}

func known(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func validate(doc *config.Doc, at []string, p Plan) error {
	path := func(parts ...string) []string { return append(append([]string{}, at...), parts...) }
	for tier, list := range p.Tiers {
		if !known(Tiers, tier) {
			return doc.Errorf(path("tiers", tier), "unknown tier (LOW, MODERATE, HIGH)")
		}
		seen := map[string]bool{}
		for i, in := range list {
			where := path("tiers", tier, strconv.Itoa(i))
			bad := func(format string, args ...any) error {
				return doc.Errorf(where, "intervention %d (%s): %s", i+1, in.Kind, fmt.Sprintf(format, args...))
			}
			switch {
			case in.Kind == FollowUp:
				return bad("follow-ups are scheduled by follow_up, after an encounter")
			case in.Kind == CMRSummary:
				return bad("a CMR's written summary is scheduled by cmr_summary, after the CMR")
			case !known(Kinds, in.Kind):
				return bad("unknown kind (CMR, TMR, ADHERENCE_OUTREACH, POST_DISCHARGE)")
			case seen[in.Kind]:
				return bad("listed twice")
			case in.Priority < 0 || in.Priority > 100:
				return bad("priority %d must be 0..100", in.Priority)
			case in.Kind == TMR && in.Every != "quarter" && in.Every != "month":
				return bad("every must be quarter or month: CMS requires TMRs at least quarterly")
			case in.Kind != TMR && in.Every != "":
				return bad("every applies to TMR only")
			case in.Kind == CMR && (in.DueDays < 1 || in.DueDays > 60):
				return bad("due_days %d: a CMR is offered within 60 days of enrollment in the MTM program", in.DueDays)
			case in.Kind == PostDischarge && tier == "HIGH" && (in.DueDays < 1 || in.DueDays > 7):
				return bad("due_days %d: high-risk beneficiaries are reached within 7 days of discharge", in.DueDays)
			case in.Kind != TMR && (in.DueDays < 1 || in.DueDays > 90):
				return bad("due_days %d must be 1..90", in.DueDays)
			}
			seen[in.Kind] = true
		}
	}
	if p.FollowUp.DueDays < 1 || p.FollowUp.DueDays > 90 || p.FollowUp.Priority < 0 || p.FollowUp.Priority > 100 {
		return doc.Errorf(path("follow_up"), "due_days must be 1..90 and priority 0..100")
	}
	if p.CMRSummary.DueDays < 1 || p.CMRSummary.DueDays > SummaryDays || p.CMRSummary.Priority < 0 || p.CMRSummary.Priority > 100 {
		return doc.Errorf(path("cmr_summary"), "due_days must be 1..%d (CMS: the written summary is sent within 14 days of the CMR) and priority 0..100", SummaryDays)
	}
	for kind, c := range p.WeeklyCapacity {
		if !known(Kinds, kind) || c < 1 {
			return doc.Errorf(path("weekly_capacity", kind), "a known kind and a capacity of at least 1 (leave a kind out for no limit)")
		}
	}
	for kind, m := range p.PharmacistMinutes {
		if !known(Kinds, kind) || m < 1 || m > 8*60 {
			return doc.Errorf(path("pharmacist_minutes", kind), "a known kind and 1..480 minutes")
		}
	}
	if p.LeaseMinutes < 1 || p.LeaseMinutes > 24*60 {
		return doc.Errorf(path("lease_minutes"), "%d must be 1..1440", p.LeaseMinutes)
	}
	if p.GraceDays < 0 || p.GraceDays > 365 {
		return doc.Errorf(path("grace_days"), "%d must be 0..365", p.GraceDays)
	}
	if p.OnDowngrade != Stay && p.OnDowngrade != Leave {
		return doc.Errorf(path("on_downgrade"), "%q must be stay (CMS: an MTM enrollee stays enrolled for the rest of the year) or leave", p.OnDowngrade)
	}
	if p.Dispatch != "grpc" && p.Dispatch != "nats" {
		return doc.Errorf(path("dispatch"), "%q must be grpc or nats", p.Dispatch)
	}
	for kind, codes := range p.CompletedBy {
		if !known(Kinds, kind) {
			return doc.Errorf(path("completed_by_codes", kind), "unknown kind")
		}
		for _, c := range codes {
			if _, err := identifiers.SNOMED(c); err != nil {
				return doc.Errorf(path("completed_by_codes", kind), "%v", err)
			}
		}
	}
	return nil
}

// Spec is a task to create.
type Spec struct {
	Kind        string
	Period      string
	ScheduledOn civil.Date
	Due         civil.Date
	Expires     civil.Date
	Priority    int
	Reason      string
	// Tier is the tier whose line the spec comes from (recurring specs).
	Tier string
}

func (p Plan) line(tier, kind string) (Intervention, bool) {
	for _, in := range p.Tiers[tier] {
		if in.Kind == kind {
			return in, true
		}
	}
	return Intervention{}, false
}

func (p Plan) spec(kind, period string, on, due civil.Date, priority int, reason string) Spec {
	return Spec{Kind: kind, Period: period, ScheduledOn: on, Due: due, Expires: due.AddDays(p.GraceDays), Priority: priority, Reason: reason}
}

// ForAssessment is what an assessment calls for in its tier, dated from its as-of
// date: a CMR this year (due within due_days); a TMR this quarter or month
// (due at its end); adherence outreach this month when a class is non-adherent.
func (p Plan) ForAssessment(tier string, on civil.Date, nonAdherent []string) []Spec {
	var out []Spec
	for _, in := range p.Tiers[tier] {
		switch in.Kind {
		case CMR:
			s := p.spec(CMR, fmt.Sprintf("%d", on.Year), on, on.AddDays(in.DueDays), in.Priority,
				fmt.Sprintf("%s risk on %s: comprehensive medication review within %d days", tier, on, in.DueDays))
			// The annual CMR is open until the year ends at the earliest.
			if end := (civil.Date{Year: on.Year, Month: time.December, Day: 31}); s.Expires.Before(end) {
				s.Expires = end
			}
			out = append(out, s)
		case TMR:
			period, end := quarter(on)
			if in.Every == "month" {
				period, end = month(on)
			}
			out = append(out, p.spec(TMR, period, on, end, in.Priority,
				fmt.Sprintf("%s risk on %s: targeted medication review this %s", tier, on, in.Every)))
		case Adherence:
			if len(nonAdherent) == 0 {
				continue
			}
			period, _ := month(on)
			out = append(out, p.spec(Adherence, period, on, on.AddDays(in.DueDays), in.Priority,
				fmt.Sprintf("%s risk on %s: adherence below 0.80 in %v", tier, on, nonAdherent)))
		}
	}
	return out
}

// ForDischarge is the post-discharge reconciliation a tier calls for after an inpatient discharge.
func (p Plan) ForDischarge(tier string, discharge civil.Date) (Spec, bool) {
	in, ok := p.line(tier, PostDischarge)
	if !ok {
		return Spec{}, false
	}
	return p.spec(PostDischarge, "D"+discharge.String(), discharge, discharge.AddDays(in.DueDays), in.Priority,
		fmt.Sprintf("%s risk, discharged on %s: medication reconciliation within %d days", tier, discharge, in.DueDays)), true
}

// ForFollowUp is the follow-up of an encounter that left problems unresolved.
// It is scheduled from the day after, so the encounter itself cannot complete it.
func (p Plan) ForFollowUp(on civil.Date, encounterID string, open int) Spec {
	return p.spec(FollowUp, "E"+encounterID, on.AddDays(1), on.AddDays(p.FollowUp.DueDays), p.FollowUp.Priority,
		fmt.Sprintf("%d problem(s) left unresolved at the review on %s", open, on))
}

// SummaryDays is the longest a CMR's written summary may wait: "if
// distributed separately, materials must be sent out within 14 calendar
// days" (CMS, Medicare Part D MTM Program Standardized Format FAQs, 2012).
const SummaryDays = 14

// ForCMRSummary is sending the written summary of the CMR delivered on on by
// encounter encounterID: from that day (the summary may be handed over at
// the CMR) to cmr_summary.due_days after it.
func (p Plan) ForCMRSummary(on civil.Date, encounterID string) Spec {
	return p.spec(CMRSummary, "E"+encounterID, on, on.AddDays(p.CMRSummary.DueDays), p.CMRSummary.Priority,
		fmt.Sprintf("CMR on %s: send the written summary in CMS's Standardized Format by %s (emtmctl cmr summary %s)", on, on.AddDays(p.CMRSummary.DueDays), encounterID))
}

// Wants reports whether a tier's program includes a kind.
func (p Plan) Wants(tier, kind string) bool {
	_, ok := p.line(tier, kind)
	return ok
}

// Priority is a tier's priority for a kind (0 when the tier does not have it).
func (p Plan) Priority(tier, kind string) int {
	in, _ := p.line(tier, kind)
	return in.Priority
}

// KindsCompletedBy lists the kinds a service code completes.
func (p Plan) KindsCompletedBy(code string) []string {
	var out []string
	for _, k := range Kinds {
		if known(p.CompletedBy[k], code) {
			out = append(out, k)
		}
	}
	return out
}

// Capacity is the weekly capacity of a kind (0: no limit).
func (p Plan) Capacity(kind string) int { return p.WeeklyCapacity[kind] }

func quarter(d civil.Date) (string, civil.Date) {
	q := (int(d.Month)-1)/3 + 1
	return fmt.Sprintf("%d-Q%d", d.Year, q), civil.Of(time.Date(d.Year, time.Month(q*3)+1, 0, 0, 0, 0, 0, time.UTC))
}

func month(d civil.Date) (string, civil.Date) {
	return fmt.Sprintf("%d-%02d", d.Year, int(d.Month)), civil.Of(time.Date(d.Year, d.Month+1, 0, 0, 0, 0, 0, time.UTC))
}
