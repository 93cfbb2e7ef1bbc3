// Package cmr writes the written summary of a comprehensive medication
// review (CMR) in CMS's Standardized Format (Form CMS-10396, OMB 0938-1154):
// a cover letter, a Medication Action Plan and a Personal Medication List,
// from the CMR as risk-scoring recorded it and the member's profile, as HTML
// and as PDF. It is free of transport and storage.
//
// Readings chosen where the format leaves it to the sponsor (docs/cmr.md):
//   - emtm keeps no member names or postal addresses: the inside address is
//     left to the plan's mail service (a marked box) and the letter greets
//     "Dear member"; the member is named by the plan's member id and birth date.
//   - the medication list is what the member's claims say was in use at the
//     CMR: every drug filled on or before the CMR's date whose supply lasted
//     into the 90 days before it, one row per drug (the same ingredients),
//     from its latest fill; "why" only for the three classes whose use is
//     plain (diabetes, blood pressure, cholesterol: the PQA adherence classes),
//     else left for the pharmacist or the member to write.
//   - the action plan is the medication-related problems the pharmacist
//     recorded at this CMR, each with what was asked of a prescriber.
package cmr

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emtm/emtm/libs/civil"
)

// Form names the format the summary follows.
const Form = "Form CMS-10396 (OMB No. 0938-1154)"

// SendWithinDays is how long after the CMR the summary may be sent (CMS, MTM
// Program Standardized Format FAQs, 2012: "within 14 calendar days").
const SendWithinDays = 14

// InUseDays: a fill whose supply ended within this many days before the CMR
// is on the medication list (our reading; the format lists the medications
// the member uses).
const InUseDays = 90

// Review is a completed CMR as risk-scoring records it (its encounter).
type Review struct {
	EncounterID   string  `json:"id"`
	MemberID      string  `json:"member"`
	ContractID    string  `json:"contract,omitempty"`
	PbpID         string  `json:"pbp,omitempty"`
	Date          string  `json:"date"` // YYYY-MM-DD
	PharmacistNPI string  `json:"pharmacist,omitempty"`
	PharmacyNPI   string  `json:"pharmacy,omitempty"`
	Mode          string  `json:"mode,omitempty"` // IN_PERSON, TELEPHONE, VIDEO, ASYNCHRONOUS (DeliveryMode without its prefix)
	Problems      []Issue `json:"problems,omitempty"`
}

// Issue is a medication-related problem the pharmacist recorded at the CMR.
type Issue struct {
	Code     string `json:"code,omitempty"` // SNOMED CT
	Text     string `json:"text,omitempty"`
	Resolved bool   `json:"resolved,omitempty"`
	// Asked are what was asked of prescribers about it.
	Asked []Ask `json:"asked,omitempty"`
}

// Ask is a recommendation to one prescriber.
type Ask struct {
	PrescriberNPI string `json:"npi"`
	Text          string `json:"text,omitempty"`
}

// ServiceDate is the CMR's date.
func (r Review) ServiceDate() (civil.Date, error) { return civil.Parse(r.Date) }

// Plan is what the letters say of the plan (the plan policy's letters).
type Plan struct {
	Name, Contact, Signature string
}

// Fill is one paid claim of the member, as the profile keeps it.
type Fill struct {
	Date          civil.Date
	DaysSupply    int
	PrescriberNPI string
	Ingredients   []string
	// Classes are the PQA adherence classes of its ingredients (DIAB, RASA, STATIN).
	Classes []string
}

// Summary is the written summary's content: every word the HTML and the PDF print.
type Summary struct {
	Plan          Plan
	EncounterID   string
	MemberID      string
	BirthDate     civil.Date
	CMRDate       civil.Date
	Prepared      civil.Date
	PharmacistNPI string
	Mode          string // "in person", "by phone", ... ("" when not known)
	Topics        []Topic
	Medications   []Medication
}

// Topic is one box of the Medication Action Plan.
type Topic struct {
	Talked string // what we talked about
	Do     string // what I need to do
}

// Medication is one row of the Personal Medication List.
type Medication struct {
	Name, How, Why, Prescriber, Started string
}

// Build assembles the summary of review from the member's fills and birth
// date, with the plan's words, prepared on prepared.
func Build(r Review, birth civil.Date, fills []Fill, plan Plan, prepared civil.Date) (Summary, error) {
	on, err := r.ServiceDate()
	if err != nil {
		return Summary{}, fmt.Errorf("CMR %s: date: %w", r.EncounterID, err)
	}
	s := Summary{Plan: plan, EncounterID: r.EncounterID, MemberID: r.MemberID, BirthDate: birth, CMRDate: on, Prepared: prepared,
		PharmacistNPI: r.PharmacistNPI, Mode: modes[r.Mode]}
	for _, p := range r.Problems {
		s.Topics = append(s.Topics, topic(p))
	}
	if len(s.Topics) == 0 {
		s.Topics = []Topic{{
			Talked: "We went over all of your medicines together. We did not find a problem that needs a change.",
			Do:     "Keep using your medicines the way your doctors told you. Bring your medication list to every visit.",
		}}
	}
	s.Medications = medications(fills, on)
	return s, nil
}

// modes are the ways a CMR is delivered, as the letter says them (a CMR is
// interactive, person to person or by telehealth: an asynchronous one gets no words).
var modes = map[string]string{"IN_PERSON": "in person", "TELEPHONE": "by phone", "VIDEO": "by video"}

// plain are member words for the medication-related problems pharmacists
// record most (SNOMED CT); any other is told in the pharmacist's words.
var plain = map[string]string{
	"697958005": "Sometimes a dose of your medicine gets missed.",      // suspected noncompliance with therapeutic regimen
	"702565001": "Some of your medicines are not taken as prescribed.", // non-compliance of drug therapy
	"14760008":  "You have had trouble with constipation.",             // constipation
}

func topic(p Issue) Topic {
	t := Topic{Talked: plain[p.Code]}
	if text := strings.TrimSpace(p.Text); text != "" {
		if t.Talked == "" {
			t.Talked = sentence(text)
		} else {
			t.Talked += " Your pharmacist wrote: " + sentence(text)
		}
	}
	if t.Talked == "" {
		t.Talked = "A problem with one of your medicines."
	}
	switch {
	case p.Resolved:
		t.Do = "Nothing more for now: we took care of this together. Call us if it comes back."
	case len(p.Asked) > 0:
		var asks []string
		for _, a := range p.Asked {
			ask := "Your pharmacist asked your prescriber (NPI " + a.PrescriberNPI + ")"
			if text := strings.TrimSpace(a.Text); text != "" {
				ask += " to consider this: " + sentence(text)
			} else {
				ask += " to look at this."
			}
			asks = append(asks, ask)
		}
		t.Do = strings.Join(asks, " ") + " Ask about it at your next visit. Do not stop or change a medicine before you talk with your prescriber."
	default:
		t.Do = "Follow the steps your pharmacist went over with you. Call us if it does not get better."
	}
	return t
}

// sentence ends s with a full stop unless it ends a sentence already.
func sentence(s string) string {
	if strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

var why = map[string]string{
	"DIAB":   "For diabetes (blood sugar)",
	"RASA":   "For blood pressure, or to protect the heart and kidneys",
	"STATIN": "For cholesterol",
}

// medications are the drugs in use at the CMR, one row per drug, by name.
func medications(fills []Fill, on civil.Date) []Medication {
	type drug struct {
		first, latest Fill
		name          string
	}
	byKey := map[string]*drug{}
	from := on.AddDays(-InUseDays)
	for _, f := range fills {
		if f.Date.After(on) {
			continue
		}
		key := drugKey(f)
		d, ok := byKey[key]
		if !ok {
			d = &drug{first: f, latest: f, name: drugName(f)}
			byKey[key] = d
		}
		if f.Date.Before(d.first.Date) {
			d.first = f
		}
		if !f.Date.Before(d.latest.Date) {
			d.latest = f
		}
	}
	var out []Medication
	for _, d := range byKey {
		f := d.latest
		if f.Date.AddDays(max(f.DaysSupply, 1) - 1).Before(from) {
			continue // ran out well before the CMR
		}
		m := Medication{Name: d.name,
			How:     fmt.Sprintf("Use it as the label on your prescription says. Last filled on %s, for %d days.", Long(f.Date), f.DaysSupply),
			Started: "On or before " + Long(d.first.Date) + " (the first fill in our records)"}
		if f.PrescriberNPI != "" {
			m.Prescriber = "NPI " + f.PrescriberNPI
		}
		for _, c := range f.Classes {
			if w, ok := why[c]; ok {
				m.Why = w
				break
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].How < out[j].How
	})
	return out
}

func drugKey(f Fill) string {
	if len(f.Ingredients) == 0 {
		return "?" + f.Date.String() // a fill whose drug is not known: a row of its own
	}
	ings := append([]string(nil), f.Ingredients...)
	sort.Strings(ings)
	return strings.Join(ings, "+")
}

func drugName(f Fill) string {
	if len(f.Ingredients) == 0 {
		return "A medicine filled on " + Long(f.Date) + " (its name is not in our records)"
	}
	ings := append([]string(nil), f.Ingredients...)
	sort.Strings(ings)
	name := strings.Join(ings, " and ")
	first, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToUpper(first)) + name[size:]
}

// Long is a date as a letter writes it: March 1, 2024.
func Long(d civil.Date) string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%s %d, %d", d.Month, d.Day, d.Year)
}

// Short is a date as the format's headers write it: 03/01/2024.
func Short(d civil.Date) string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%02d/%02d/%04d", int(d.Month), d.Day, d.Year)
}
