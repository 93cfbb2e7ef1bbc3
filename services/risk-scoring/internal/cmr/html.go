package cmr

import (
	"bytes"
	"html/template"
	"strings"
)

// page is the summary as one HTML page: each part starts a printed page; the
// texts are escaped (a pharmacist's words are never markup).
var page = template.Must(template.New("cmr").Funcs(template.FuncMap{
	"lines": func(s string) []string { return strings.Split(s, "\n") },
	"count": func(n int) []int { return make([]int, n) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Medication review summary, {{.Summary.Prepared.String}}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; font-size: 12pt; line-height: 1.45; max-width: 7.5in; margin: 0 auto; color: #000; }
section { padding: 0.5in 0; }
section + section { break-before: page; border-top: 1px solid #999; }
h1 { font-size: 16pt; margin: 0 0 0.6em; }
.header { font-weight: bold; margin: 0.8em 0; }
.address { border: 1px dashed #666; padding: 0.6em; width: 3.6in; color: #444; margin: 0.8em 0; }
table.box { width: 100%; border-collapse: collapse; margin: 0.8em 0; }
table.box th { text-align: left; vertical-align: top; width: 2.4in; padding: 0.35em; border: 1px solid #000; background: #eee; }
table.box td { padding: 0.35em; border: 1px solid #000; min-height: 1.4em; }
.line { border-bottom: 1px solid #000; height: 1.6em; }
footer { font-size: 9pt; color: #444; margin-top: 1em; }
</style>
</head>
<body>
{{range .Parts}}<section aria-label="{{.Name}}">
{{range .Blocks}}{{if eq .Tag "title"}}<h1>{{.Text}}</h1>
{{else if eq .Tag "header"}}<p class="header">{{.Text}}</p>
{{else if eq .Tag "para"}}<p>{{range $i, $l := lines .Text}}{{if $i}}<br>{{end}}{{$l}}{{end}}</p>
{{else if eq .Tag "bullets"}}<ul>{{range .Items}}<li>{{.}}</li>{{end}}</ul>
{{else if eq .Tag "address"}}<div class="address">{{range $i, $l := lines .Text}}{{if $i}}<br>{{end}}{{$l}}{{end}}</div>
{{else if eq .Tag "box"}}<table class="box">{{range .Rows}}<tr><th scope="row">{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{else if eq .Tag "lines"}}<p class="header">{{.Text}}</p>{{range count .Count}}<div class="line"></div>{{end}}
{{end}}{{end}}<footer>{{$.Form}}</footer>
</section>
{{end}}</body>
</html>
`))

// HTML writes the summary as one HTML page (UTF-8).
func (s Summary) HTML() ([]byte, error) {
	var b bytes.Buffer
	err := page.Execute(&b, struct {
		Summary Summary
		Parts   []Part
		Form    string
	}{s, s.Parts(), Form})
	return b.Bytes(), err
}
