package cmr

import "strings"

// Kind is the kind of a block of the document.
type Kind int

// The blocks the three parts are made of.
const (
	Title   Kind = iota + 1 // a part's title
	Header                  // the member and date line under a title
	Para                    // a paragraph
	Bullets                 // a list
	Address                 // the inside address, left to the plan's mail service
	Box                     // labelled rows in a box (a topic, a medication)
	Lines                   // a heading over blank lines the member writes on
)

var tags = map[Kind]string{Title: "title", Header: "header", Para: "para", Bullets: "bullets", Address: "address", Box: "box", Lines: "lines"}

// Tag names the block's kind (the HTML template switches on it).
func (b Block) Tag() string { return tags[b.Kind] }

// Block is one block of a part.
type Block struct {
	Kind  Kind
	Text  string
	Items []string    // Bullets
	Rows  [][2]string // Box: label, value ("" leaves a line to write on)
	Count int         // Lines: how many
}

// Part is one of the format's three parts; each starts a page.
type Part struct {
	Name   string
	Blocks []Block
}

// Parts are the cover letter, the Medication Action Plan and the Personal
// Medication List, in the format's order, with every word they print.
func (s Summary) Parts() []Part {
	who := "Member ID " + s.MemberID
	if !s.BirthDate.IsZero() {
		who += ", date of birth " + Short(s.BirthDate)
	}
	talked := "Thank you for talking with me on " + Long(s.CMRDate)
	if s.Mode != "" {
		talked += " " + s.Mode
	}
	talked += " about your health and your medicines. Medicare's MTM (Medication Therapy Management) program helps you understand your medicines and use them safely."
	signature := s.Plan.Signature
	if s.PharmacistNPI != "" {
		signature += "\nYour pharmacist: NPI " + s.PharmacistNPI
	}
	letter := Part{Name: "Cover letter", Blocks: []Block{
		{Kind: Header, Text: Long(s.Prepared)},
		{Kind: Address, Text: "The plan's mail service prints the member's name and address here.\n" + who},
		{Kind: Para, Text: "Dear member:"},
		{Kind: Para, Text: talked},
		{Kind: Para, Text: "This letter comes with an action plan (Medication Action Plan) and a list of your medicines (Personal Medication List). The action plan has steps to help you get the best results from your medicines. The medication list helps you keep track of your medicines and how to use them the right way."},
		{Kind: Bullets, Items: []string{
			"Have your action plan and medication list with you when you talk with your doctors, pharmacists and other health care providers.",
			"Ask them to update the action plan and the medication list at every visit.",
			"Take your medication list with you if you go to the hospital or the emergency room.",
			"Give a copy of the action plan and the medication list to your family or caregivers.",
		}},
		{Kind: Para, Text: "If you want to talk about this letter or the papers with it, " + sentence(s.Plan.Contact) + " We look forward to working with you, your doctors and your other health care providers to help you stay healthy through the " + s.Plan.Name + " MTM program."},
		{Kind: Para, Text: "Sincerely,\n" + signature},
	}}

	plan := Part{Name: "Medication Action Plan", Blocks: []Block{
		{Kind: Title, Text: "Medication Action Plan for " + who},
		{Kind: Para, Text: "This action plan will help you get the best results from your medicines if you:"},
		{Kind: Bullets, Items: []string{
			"Read \"What we talked about.\"",
			"Take the steps listed in the \"What I need to do\" boxes.",
			"Fill in \"What I did and when I did it.\"",
			"Fill in \"My follow-up plan\" and \"Questions I want to ask.\"",
		}},
		{Kind: Para, Text: "Have this action plan with you when you talk with your doctors, pharmacists and other health care providers. Share it with your family or caregivers too."},
		{Kind: Header, Text: "Date prepared: " + Long(s.Prepared)},
	}}
	for _, t := range s.Topics {
		plan.Blocks = append(plan.Blocks, Block{Kind: Box, Rows: [][2]string{
			{"What we talked about:", t.Talked},
			{"What I need to do:", t.Do},
			{"What I did and when I did it:", ""},
		}})
	}
	plan.Blocks = append(plan.Blocks,
		Block{Kind: Lines, Text: "My follow-up plan (add notes about next steps):", Count: 3},
		Block{Kind: Lines, Text: "Questions I want to ask (include topics about medicines or treatment):", Count: 3},
		Block{Kind: Para, Text: "If you have any questions about your action plan, " + sentence(s.Plan.Contact)},
	)

	list := Part{Name: "Personal Medication List", Blocks: []Block{
		{Kind: Title, Text: "Personal Medication List for " + who},
		{Kind: Para, Text: "This medication list was made for you after we talked. We also used information from your pharmacy claims."},
		{Kind: Bullets, Items: []string{
			"Use the blank rows to add new medicines. Then fill in the dates you started using them.",
			"Cross out medicines when you no longer use them. Then write the date and why you stopped using them.",
			"Ask your doctors, pharmacists and other health care providers to update this list at every visit.",
		}},
		{Kind: Para, Text: "If you go to the hospital or the emergency room, take this list with you. Share it with your family or caregivers too."},
		{Kind: Header, Text: "Date prepared: " + Long(s.Prepared)},
		{Kind: Lines, Text: "Allergies or side effects:", Count: 2},
	}}
	for _, m := range s.Medications {
		list.Blocks = append(list.Blocks, Block{Kind: Box, Rows: medicationRows(m)})
	}
	list.Blocks = append(list.Blocks,
		Block{Kind: Box, Rows: medicationRows(Medication{})}, // a blank row to add a medicine
		Block{Kind: Lines, Text: "Other information:", Count: 3},
		Block{Kind: Para, Text: "If you have any questions about your medication list, " + sentence(s.Plan.Contact)},
	)
	return []Part{letter, plan, list}
}

func medicationRows(m Medication) [][2]string {
	return [][2]string{
		{"Medicine:", m.Name},
		{"How I use it:", m.How},
		{"Why I use it:", m.Why},
		{"Prescriber:", m.Prescriber},
		{"Date I started using it:", m.Started},
		{"Date I stopped using it:", ""},
		{"Why I stopped using it:", ""},
	}
}

// Text is every word of the document, a part per paragraph block: what a
// reader (or a test) reads.
func (s Summary) Text() string {
	var b strings.Builder
	for _, p := range s.Parts() {
		b.WriteString(p.Name + "\n")
		for _, bl := range p.Blocks {
			if bl.Text != "" {
				b.WriteString(bl.Text + "\n")
			}
			for _, it := range bl.Items {
				b.WriteString(it + "\n")
			}
			for _, r := range bl.Rows {
				b.WriteString(r[0] + " " + r[1] + "\n")
			}
		}
	}
	return b.String()
}
