package scoring

import (
	"strings"
	"testing"
)

// FuzzParsePolicies: any bytes give policies or an error naming the file,
// never a panic; an accepted policy describes itself and gives criteria.
func FuzzParsePolicies(f *testing.F) {
	f.Add(defaultPolicyYAML)
	f.Add([]byte("version: 1\ndefault: {tiers: {high_at: 5, moderate_at: 2}}\n"))
	f.Add([]byte("version: 1\nplans: {S9925-001: {eligibility: {min_drugs: -2}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParsePolicies("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		p := ps.For("S9925", "001")
		if p.Describe() == "" {
			t.Fatal("an accepted policy describes itself")
		}
		_ = p.Criteria(2024)
	})
}
