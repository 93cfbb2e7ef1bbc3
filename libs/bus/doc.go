package bus

import (
	"fmt"
	"slices"
	"strings"
)

// TopologyMarkdown renders the topics and durables as the tables of
// docs/architecture.md (TestArchitectureDocumentShowsTheTopology keeps the
// document equal to it; `bin/emtmctl topology` prints it).
func TopologyMarkdown() string {
	var b strings.Builder
	b.WriteString("| event | stream | subject | carries | published by |\n|---|---|---|---|---|\n")
	for _, t := range Topics {
		fmt.Fprintf(&b, "| %s | `%s` | `%s` | %s | %s |\n", t.Name, t.Stream, t.Pattern, carries(t), strings.Join(publishers(t), ", "))
	}
	b.WriteString("\n| durable | owner | stream | filter | handles | order kept per | ack |\n|---|---|---|---|---|---|---|\n")
	for _, g := range Grants {
		for _, d := range g.Durables {
			names := make([]string, 0, len(d.Topics))
			for _, t := range d.Topics {
				names = append(names, t.Name)
			}
			order, ack := "beneficiary (`Emtm-Order-Key` header)", "ack"
			if d.KeyedByPayload {
				order = "beneficiary named in the payload"
			}
			if d.DoubleAck {
				ack = "double ack"
			}
			name := d.Name
			if d.Partitioned {
				name += "-p&lt;n&gt;"
			}
			fmt.Fprintf(&b, "| `%s` | %s | `%s` | `%s` | %s | %s | %s |\n", name, g.User, d.Stream, d.Filter, strings.Join(names, ", "), order, ack)
		}
	}
	return b.String()
}

func carries(t TopicSpec) string {
	if strings.Contains(t.Carries, " ") {
		return t.Carries
	}
	return "`" + t.Carries + "`"
}

// publishers names who may publish a topic's events.
func publishers(t TopicSpec) []string {
	var out []string
	switch t.Pattern {
	case RawPharmacy.Pattern:
		out = append(out, "a pharmacy, under its own NPI")
	case RawFeed.Pattern:
		out = append(out, "the sponsor's feed, under its own contract")
	case DeadLetter.Pattern:
		out = append(out, "each service, for its own durables")
	}
	for _, g := range Grants {
		if slices.ContainsFunc(g.Publish, func(x TopicSpec) bool { return x.Pattern == t.Pattern }) {
			out = append(out, g.User)
		}
	}
	if t.Pattern == Audit.Pattern {
		out = []string{"each service and emtmctl, as itself"}
	}
	return out
}
