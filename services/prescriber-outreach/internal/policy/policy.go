// Package policy is the outreach policy (outreach.yaml, per plan): batching
// period, rate limits, the repeat window and the no-response deadline.
package policy

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/planid"
)

//go:embed outreach.yaml
var sampleYAML []byte

// SampleName names the built-in sample.
const SampleName = "outreach.yaml (built in)"

// SampleYAML is the text of the built-in sample.
func SampleYAML() string { return string(sampleYAML) }

// Plan is one plan's outreach policy.
type Plan struct {
	Letterhead          string `yaml:"letterhead"`
	ReplyTo             string `yaml:"reply_to"`
	Period              string `yaml:"period"`
	MaxPerPeriod        int    `yaml:"max_communications_per_period"`
	MaxItems            int    `yaml:"max_items_per_communication"`
	RepeatWindowDays    int    `yaml:"repeat_window_days"`
	NoResponseAfterDays int    `yaml:"no_response_after_days"`
}

type file struct {
	Version int             `yaml:"version"`
	Default Plan            `yaml:"default"`
	Plans   map[string]Plan `yaml:"plans"`
}

// Policies are every plan's outreach policy.
type Policies struct {
	Name  string
	def   Plan
	plans map[string]Plan
}

// For returns a plan's policy (the default for a plan not listed).
func (ps *Policies) For(contract, pbp string) Plan {
	if p, ok := ps.plans[planid.Key(contract, pbp)]; ok {
		return p
	}
	return ps.def
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

func validated(doc *config.Doc, f file) (*Policies, error) {
	check := func(at []string, p Plan) error {
		path := func(k string) []string { return append(append([]string{}, at...), k) }
		switch {
		case p.Letterhead == "":
			return doc.Errorf(path("letterhead"), "required: the program's name on every letter")
		case p.ReplyTo == "":
			return doc.Errorf(path("reply_to"), "required: how a prescriber answers")
		case p.Period != "week" && p.Period != "month":
			return doc.Errorf(path("period"), "%q must be week or month", p.Period)
		case p.MaxPerPeriod < 1 || p.MaxPerPeriod > 10:
			return doc.Errorf(path("max_communications_per_period"), "%d must be 1..10", p.MaxPerPeriod)
		case p.MaxItems < 1 || p.MaxItems > 200:
			return doc.Errorf(path("max_items_per_communication"), "%d must be 1..200", p.MaxItems)
		case p.RepeatWindowDays < 0 || p.RepeatWindowDays > 730:
			return doc.Errorf(path("repeat_window_days"), "%d must be 0..730", p.RepeatWindowDays)
		case p.NoResponseAfterDays < 1 || p.NoResponseAfterDays > 365:
			return doc.Errorf(path("no_response_after_days"), "%d must be 1..365", p.NoResponseAfterDays)
		}
		return nil
	}
	if err := config.CheckPlans(doc, f.Version, &f.Default, f.Plans, check); err != nil {
		return nil, err
	}
	return &Policies{Name: doc.Name, def: f.Default, plans: f.Plans}, nil
}

// PeriodOf names the period a date falls in ("2024-W07" or "2024-02") and its first day.
func (p Plan) PeriodOf(d civil.Date) (string, civil.Date) {
	if p.Period == "month" {
		return fmt.Sprintf("%d-%02d", d.Year, int(d.Month)), civil.Date{Year: d.Year, Month: d.Month, Day: 1}
	}
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	y, w := t.ISOWeek()
	monday := t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
	return fmt.Sprintf("%d-W%02d", y, w), civil.Of(monday)
}

// NextPeriod returns the first day of the period after the one d falls in.
func (p Plan) NextPeriod(d civil.Date) civil.Date {
	_, start := p.PeriodOf(d)
	if p.Period == "month" {
		return civil.Of(time.Date(start.Year, start.Month+1, 1, 0, 0, 0, 0, time.UTC))
	}
	return start.AddDays(7)
}
