package identifiers

import (
	"errors"
	"testing"
)

func reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func TestMBI(t *testing.T) {
	tests := []struct{ in, want, reason string }{
		// The CMS example MBI, with and without dashes and in lower case.
		{"1EG4-TE5-MK73", "1EG4TE5MK73", ""},
		{"1eg4te5mk73", "1EG4TE5MK73", ""},
		{"1EG4TE5MK73", "1EG4TE5MK73", ""},
		{"", "", "MBI_EMPTY"},
		{"1EG4TE5MK7", "", "MBI_LENGTH"},
		{"0EG4TE5MK73", "", "MBI_FORMAT"}, // position 1 must be 1-9
		{"1SG4TE5MK73", "", "MBI_FORMAT"}, // S is excluded
		{"1EG4TE5MK7A", "", "MBI_FORMAT"}, // position 11 must be a digit
		{"1E14TE5MK73", "", ""},           // position 3 may be a digit
		{"1EGATE5MK73", "", "MBI_FORMAT"}, // position 4 must be a digit
		{"1EG4TB5MK73", "", "MBI_FORMAT"}, // B is excluded (position 6 AN)
	}
	for _, tt := range tests {
		got, err := MBI(tt.in)
		if reason(err) != tt.reason || (tt.want != "" && got != tt.want) {
			t.Errorf("MBI(%q) = %q, %v; want %q, reason %q", tt.in, got, err, tt.want, tt.reason)
		}
	}
}

func TestNPI(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"1234567893", ""}, // the CMS example of a valid NPI
		{"1245319599", ""},
		{"1234567890", "NPI_CHECK_DIGIT"},
		{"123456789", "NPI_FORMAT"},
		{"12345678AB", "NPI_FORMAT"},
		{"", "NPI_EMPTY"},
	}
	for _, tt := range tests {
		if _, err := NPI(tt.in); reason(err) != tt.reason {
			t.Errorf("NPI(%q): %v, want reason %q", tt.in, err, tt.reason)
		}
	}
	if c := NPICheckDigit("123456789"); c != '3' {
		t.Errorf("check digit of 123456789 = %c, want 3", c)
	}
}

func TestNDC(t *testing.T) {
	tests := []struct{ in, want, reason string }{
		{"0002-3227-30", "00002322730", ""}, // 4-4-2
		{"50090-347-0", "", "NDC_FORMAT"},   // 5-3-1 is not a valid layout
		{"50090-347-01", "50090034701", ""}, // 5-3-2
		{"60505-0141-1", "60505014101", ""}, // 5-4-1
		{"60505-0141-01", "60505014101", ""},
		{"00002322730", "00002322730", ""},
		{"0002322730", "", "NDC_AMBIGUOUS"},
		{"000023227301", "", "NDC_LENGTH"},
		{"0002-32A7-30", "", "NDC_FORMAT"},
		{"", "", "NDC_EMPTY"},
	}
	for _, tt := range tests {
		got, err := NDC(tt.in)
		if reason(err) != tt.reason || got != tt.want {
			t.Errorf("NDC(%q) = %q, %v; want %q, reason %q", tt.in, got, err, tt.want, tt.reason)
		}
	}
}

func TestSNOMED(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"430193006", ""},       // Medication reconciliation (procedure)
		{"314530002", ""},       // Medication review done (situation)
		{"428191000124101", ""}, // Documentation of current medications (US extension, long format)
		{"430193007", "SNOMED_CHECK_DIGIT"},
		{"12345", "SNOMED_LENGTH"},
		{"0430193006", "SNOMED_FORMAT"},
		{"43019300x", "SNOMED_FORMAT"},
		{"", "SNOMED_EMPTY"},
	}
	for _, tt := range tests {
		if _, err := SNOMED(tt.in); reason(err) != tt.reason {
			t.Errorf("SNOMED(%q): %v, want reason %q", tt.in, err, tt.reason)
		}
	}
	// A description id (partition 01) passes Verhoeff but is not a concept.
	desc := "12345601"
	desc += string(VerhoeffCheckDigit(desc))
	if _, err := SNOMED(desc); reason(err) != "SNOMED_PARTITION" {
		t.Errorf("SNOMED(%q) = %v, want SNOMED_PARTITION", desc, err)
	}
}

func TestVerhoeffCheckDigitRoundTrip(t *testing.T) {
	for _, p := range []string{"43019300", "31453000", "1", "236", "42819100012410"} {
		full := p + string(VerhoeffCheckDigit(p))
		if !Verhoeff(full) {
			t.Errorf("%s: computed check digit does not verify", full)
		}
	}
	if VerhoeffCheckDigit("236") != '3' { // the textbook example: 236 → 2363
		t.Errorf("check digit of 236 = %c, want 3", VerhoeffCheckDigit("236"))
	}
}
