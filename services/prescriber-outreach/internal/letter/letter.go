// Package letter renders a communication to a prescriber as a readable
// document, in plain text and in HTML: the program's letterhead, one section
// per drug therapy problem (the finding, the recommendation, the claims that
// prove it, the rule it comes from) and a response form.
//
// A letter names patients by their plan member id only: the sponsor's mail
// merge adds the name and date of birth a prescriber needs, from its
// enrollment system, so that no other part of emtm handles them.
package letter

import (
	"bytes"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/emtm/emtm/libs/civil"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	"github.com/emtm/emtm/libs/planid"
)

// Problem names per code (docs/domain.md section 4).
var problemNames = map[string]string{
	"SUPD":     "Statin use in persons with diabetes",
	"OHD":      "Opioid use at high dosage",
	"COB":      "Concurrent use of opioids and benzodiazepines",
	"POLY-ACH": "Concurrent use of two or more anticholinergic medications",
	"POLY-CNS": "Concurrent use of three or more CNS-active medications",
	"BEERS":    "A medication to avoid in older adults",
	"NONADH":   "Gaps in medication adherence",
}

// ProblemName names a problem code for a reader.
func ProblemName(code string) string {
	if n, ok := problemNames[code]; ok {
		return n
	}
	return code
}

// Header is what a letter needs besides its items.
type Header struct {
	Letterhead string
	ReplyTo    string
	// RespondBy is the date after which an unanswered item counts as no response.
	RespondBy civil.Date
}

type view struct {
	Header
	ID, NPI, Period, Date, RespondBy string
	Items                            []itemView
}

type itemView struct {
	N                                           int
	Ref, Member, Code, Name, Finding, Recommend string
	Claims, Source, Plan                        string
}

func build(h Header, c *outreachv1.Communication) view {
	v := view{Header: h, ID: c.CommunicationId, NPI: c.PrescriberNpi, Period: c.Period,
		Date: civil.FromProto(c.CreatedOn).String(), RespondBy: h.RespondBy.String()}
	for i, it := range c.Items {
		v.Items = append(v.Items, itemView{N: i + 1, Ref: it.ItemId, Member: it.MemberId, Code: it.ProblemCode,
			Name: ProblemName(it.ProblemCode), Finding: it.Description, Recommend: it.Recommendation,
			Claims: strings.Join(it.ClaimIds, ", "), Source: it.Source, Plan: planid.Of(it).String()})
	}
	return v
}

const textLetter = `{{.Letterhead}}

Communication {{.ID}}
Date:    {{.Date}}
To:      Prescriber NPI {{.NPI}}
Re:      {{len .Items}} medication therapy {{if eq (len .Items) 1}}concern{{else}}concerns{{end}} for your patients (period {{.Period}})

Dear prescriber,

Our pharmacists reviewed the pharmacy claims of patients you prescribe for and
found the concerns below. Each is a suggestion for your clinical judgment, not a
coverage decision. Please mark Accept or Decline for each and return this form
by {{.RespondBy}}.
{{range .Items}}
{{.N}}. {{.Name}} ({{.Code}})
   Patient:        member {{.Member}}, plan {{.Plan}}
   Finding:        {{.Finding}}
   Recommendation: {{.Recommend}}
   Evidence:       pharmacy claims {{.Claims}}
{{- if .Source}}
   Source:         {{.Source}}
{{- end}}
   Reference:      {{.Ref}}
   Response:       [ ] Accept   [ ] Decline   Comment: ______________________________
{{end}}
How to respond: {{.ReplyTo}}.
Please quote the reference of each item. An item not answered by {{.RespondBy}}
is recorded as no response.

Prescriber signature: ______________________________   Date: ______________
`

const htmlLetter = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Letterhead}}: {{.ID}}</title>
<style>
body { font-family: sans-serif; max-width: 50em; margin: 2em auto; }
section { border-top: 1px solid #999; padding: .5em 0; }
dt { font-weight: bold; } dd { margin: 0 0 .4em 1em; }
</style>
</head>
<body>
<header>
<h1>{{.Letterhead}}</h1>
<p>Communication <code>{{.ID}}</code><br>Date: {{.Date}}<br>To: prescriber NPI {{.NPI}}<br>
Re: {{len .Items}} medication therapy {{if eq (len .Items) 1}}concern{{else}}concerns{{end}} for your patients (period {{.Period}})</p>
</header>
<p>Dear prescriber,</p>
<p>Our pharmacists reviewed the pharmacy claims of patients you prescribe for and found the concerns
below. Each is a suggestion for your clinical judgment, not a coverage decision. Please mark
Accept or Decline for each and return this form by <strong>{{.RespondBy}}</strong>.</p>
<form>
{{range .Items}}<section>
<h2>{{.N}}. {{.Name}} ({{.Code}})</h2>
<dl>
<dt>Patient</dt><dd>member {{.Member}}, plan {{.Plan}}</dd>
<dt>Finding</dt><dd>{{.Finding}}</dd>
<dt>Recommendation</dt><dd>{{.Recommend}}</dd>
<dt>Evidence</dt><dd>pharmacy claims {{.Claims}}</dd>
{{if .Source}}<dt>Source</dt><dd>{{.Source}}</dd>
{{end}}<dt>Reference</dt><dd><code>{{.Ref}}</code></dd>
</dl>
<fieldset>
<legend>Response</legend>
<label><input type="radio" name="{{.Ref}}" value="ACCEPTED"> Accept</label>
<label><input type="radio" name="{{.Ref}}" value="DECLINED"> Decline</label>
<label>Comment <input type="text" name="{{.Ref}}/note" size="40"></label>
</fieldset>
</section>
{{end}}<p>Prescriber signature: ____________________ Date: __________</p>
</form>
<footer><p>How to respond: {{.ReplyTo}}. Please quote the reference of each item. An item not
answered by {{.RespondBy}} is recorded as no response.</p></footer>
</body>
</html>
`

var (
	textTmpl = texttemplate.Must(texttemplate.New("letter.txt").Parse(textLetter))
	htmlTmpl = htmltemplate.Must(htmltemplate.New("letter.html").Parse(htmlLetter))
)

// Render returns the letter as plain text and as HTML (escaped).
func Render(h Header, c *outreachv1.Communication) (text, html string, err error) {
	v := build(h, c)
	var t, w bytes.Buffer
	if err := textTmpl.Execute(&t, v); err != nil {
		return "", "", err
	}
	if err := htmlTmpl.Execute(&w, v); err != nil {
		return "", "", err
	}
	return t.String(), w.String(), nil
}
