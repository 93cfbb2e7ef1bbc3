package money

import "testing"

func TestParseFixed(t *testing.T) {
	tests := []struct {
		in     string
		places int
		round  bool
		want   int64
		err    bool
	}{
		{"26.60", 2, false, 2660, false}, {"26.6", 2, false, 2660, false}, {".5", 2, false, 50, false},
		{"-3.25", 2, false, -325, false}, {"0", 2, false, 0, false}, {"1306", 2, false, 130600, false},
		{"2191.712", 2, false, 0, true}, {"2191.712", 2, true, 219171, false}, {"2191.715", 2, true, 219172, false},
		{"-0.005", 2, true, -1, false}, {"3652.5600000000004", 2, true, 365256, false},
		{"30", 3, false, 30000, false}, {"2.5", 3, false, 2500, false},
		{"", 2, false, 0, true}, {"-", 2, false, 0, true}, {".", 2, false, 0, true}, {"1.2x", 2, false, 0, true},
		{"1e3", 2, false, 0, true}, {"99999999999999999999", 2, false, 0, true}, {"1,000.00", 2, false, 0, true},
	}
	for _, tt := range tests {
		got, err := ParseFixed(tt.in, tt.places, tt.round)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseFixed(%q, %d, %v) = %d, %v; want %d, error %v", tt.in, tt.places, tt.round, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParseFixed(f *testing.F) {
	for _, s := range []string{"26.60", "-3.25", ".5", "1e3", "", "-", "0.005", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseFixed(s, 2, false)
		if err != nil {
			return
		}
		// An accepted amount formats back to a decimal that parses to the same value.
		if again, err := ParseFixed(Format(v, 2), 2, false); err != nil || again != v {
			t.Fatalf("%q -> %d -> %q -> %d (%v)", s, v, Format(v, 2), again, err)
		}
	})
}

func TestDollars(t *testing.T) {
	for cents, want := range map[int64]string{0: "$0.00", 5: "$0.05", -5: "-$0.05", 123456: "$1,234.56", 100000000: "$1,000,000.00", -72000: "-$720.00"} {
		if got := Dollars(cents); got != want {
			t.Errorf("Dollars(%d) = %s, want %s", cents, got, want)
		}
	}
}
