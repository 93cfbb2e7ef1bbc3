package bus

import (
	"strings"
	"testing"
)

// FuzzTopicParse: any subject is either none of a topic's, or one whose
// values rebuild it exactly; no subject makes Parse panic.
func FuzzTopicParse(f *testing.F) {
	for _, s := range []string{"emtm.claims.p3.paid", "emtm.raw.pharmacy.1234567893.claim", "emtm.claims..paid", "emtm.raw.pharmacy.>",
		"emtm.outreach.communications.1", "emtm.outreach.p1", "", ".", "emtm.dlq.a.b", "emtm.claims.p01.paid"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		for _, topic := range Topics {
			vals, ok := topic.Parse(subject)
			if !ok {
				continue
			}
			if len(vals) != topic.vars() {
				t.Fatalf("%s: %d values from %q", topic.Name, len(vals), subject)
			}
			safe := true
			for _, v := range vals {
				safe = safe && v == token(v)
			}
			if rebuilt := topic.Subject(vals...); safe && rebuilt != subject {
				t.Fatalf("%s: %q parsed to %v, which builds %q", topic.Name, subject, vals, rebuilt)
			}
			if strings.Contains(subject, "..") {
				t.Fatalf("%s matched %q, which has an empty token", topic.Name, subject)
			}
		}
	})
}
