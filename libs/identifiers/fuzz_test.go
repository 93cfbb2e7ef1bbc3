package identifiers

import (
	"strings"
	"testing"
)

// The fuzz targets check properties that must hold for any input: a value
// that is accepted is in its stored form and is accepted again unchanged;
// a rejection always has a reason.

func FuzzMBI(f *testing.F) {
	for _, s := range []string{"1EG4-TE5-MK73", "1eg4te5mk73", "0EG4TE5MK73", "", "1EG4TE5MK7", "ЁEG4TE5MK73"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := MBI(in)
		if err != nil {
			if reason(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if len(out) != 11 || strings.ToUpper(out) != out {
			t.Fatalf("accepted %q as %q", in, out)
		}
		if again, err := MBI(out); err != nil || again != out {
			t.Fatalf("stored form %q not stable: %q %v", out, again, err)
		}
	})
}

func FuzzNPI(f *testing.F) {
	for _, s := range []string{"1234567893", "1234567890", "", "12345678901", " 1234567893 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NPI(in)
		if err != nil {
			if reason(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if len(out) != 10 || NPICheckDigit(out[:9]) != out[9] {
			t.Fatalf("accepted %q as %q", in, out)
		}
	})
}

func FuzzNDC(f *testing.F) {
	for _, s := range []string{"0002-3227-30", "50090-347-01", "60505-0141-1", "00002322730", "0002322730", "--", "1-2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NDC(in)
		if err != nil {
			if reason(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if len(out) != 11 || !allDigits(out) {
			t.Fatalf("accepted %q as %q", in, out)
		}
		if again, err := NDC(out); err != nil || again != out {
			t.Fatalf("stored form %q not stable: %q %v", out, again, err)
		}
	})
}

func FuzzSNOMED(f *testing.F) {
	for _, s := range []string{"430193006", "314530002", "428191000124101", "430193007", "0", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := SNOMED(in)
		if err != nil {
			if reason(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if !Verhoeff(out) || len(out) < 6 || len(out) > 18 {
			t.Fatalf("accepted %q as %q", in, out)
		}
	})
}
