package planid

import "testing"

// FuzzParse: what Parse accepts is a valid plan whose text reads back to it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"S9925-001", " s9925-001 ", "H1234-042", "S9925", "S9925-1", "-", "S9925-001-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if p != (ID{}) {
				t.Fatalf("%q: %v with an error", s, p)
			}
			return
		}
		if !p.Valid() || !IsKey(p.String()) {
			t.Fatalf("%q parsed to %v, which is not a valid key", s, p)
		}
		if back, err := Parse(p.String()); err != nil || back != p {
			t.Fatalf("%q: %v reads back as %v, %v", s, p, back, err)
		}
	})
}
