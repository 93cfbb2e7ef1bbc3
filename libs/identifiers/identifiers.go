// Package identifiers validates and normalises the identifiers on claims and
// encounters. Each function returns the stored form or an *Error whose Reason
// is a stable code and whose message a pharmacy help desk can act on.
//
// Sources: CMS, "Understanding the Medicare Beneficiary Identifier (MBI)
// Format" (2017); CMS NPPES, "Check digit for the NPI" (ISO/IEC 7812 Luhn
// with prefix 80840); FDA, National Drug Code directory, 10- and 11-digit
// formats (HIPAA 11-digit 5-4-2); SNOMED International, "SNOMED CT Technical
// Implementation Guide", 6.2 SCTID check digit (Verhoeff) and partition identifiers.
package identifiers

import (
	"fmt"
	"strings"
)

// Error is a validation failure.
type Error struct {
	Reason string // stable code, e.g. "NPI_CHECK_DIGIT"
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func fail(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// MBI validates a Medicare Beneficiary Identifier and returns it upper-cased
// without dashes or spaces (the stored form).
//
// Format (CMS MBI specification): 11 characters C A AN N A AN N A A N N, where
// C is 1-9, N is 0-9, A is a letter other than S, L, O, I, B, Z, and AN is A or N.
func MBI(raw string) (string, error) {
	s := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(raw)))
	if s == "" {
		return "", fail("MBI_EMPTY", "MBI is empty")
	}
	if len(s) != 11 {
		return "", fail("MBI_LENGTH", "MBI must have 11 characters without dashes, got %d", len(s))
	}
	const pattern = "CAXNAXNAANN" // X = AN
	for i := 0; i < 11; i++ {
		c := s[i]
		ok := false
		var want string
		switch pattern[i] {
		case 'C':
			ok, want = c >= '1' && c <= '9', "a digit 1-9"
		case 'N':
			ok, want = isDigit(c), "a digit"
		case 'A':
			ok, want = mbiLetter(c), "a letter other than S, L, O, I, B, Z"
		case 'X':
			ok, want = isDigit(c) || mbiLetter(c), "a digit or a letter other than S, L, O, I, B, Z"
		}
		if !ok {
			return "", fail("MBI_FORMAT", "MBI position %d must be %s, got %q", i+1, want, c)
		}
	}
	return s, nil
}

func mbiLetter(c byte) bool {
	if c < 'A' || c > 'Z' {
		return false
	}
	switch c {
	case 'S', 'L', 'O', 'I', 'B', 'Z':
		return false
	}
	return true
}

// NPI validates a National Provider Identifier: 10 digits whose last digit is
// the Luhn check digit computed over "80840" followed by the first nine.
func NPI(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fail("NPI_EMPTY", "NPI is empty")
	}
	if len(s) != 10 || !allDigits(s) {
		return "", fail("NPI_FORMAT", "NPI must be 10 digits, got %q", s)
	}
	if want := NPICheckDigit(s[:9]); s[9] != want {
		return "", fail("NPI_CHECK_DIGIT", "NPI check digit is %c, expected %c for %s", s[9], want, s[:9])
	}
	return s, nil
}

// NPICheckDigit returns the Luhn check digit of a 9-digit NPI prefix.
func NPICheckDigit(first9 string) byte {
	// Luhn over "80840"+first9: from the right, double every second digit
	// starting with the rightmost of the payload (the check digit is appended).
	payload := "80840" + first9
	sum := 0
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if (len(payload)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// NDC normalises a National Drug Code to its 11-digit 5-4-2 form without dashes.
// Dashed 10-digit forms are zero-padded in their short segment (4-4-2 → 05-4-2,
// 5-3-2 → 5-04-2, 5-4-1 → 5-4-02). An undashed 10-digit NDC is ambiguous (its
// segment layout is unknown) and is rejected.
func NDC(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fail("NDC_EMPTY", "NDC is empty")
	}
	if !strings.Contains(s, "-") {
		switch {
		case !allDigits(s):
			return "", fail("NDC_FORMAT", "NDC must contain only digits and dashes, got %q", s)
		case len(s) == 11:
			return s, nil
		case len(s) == 10:
			return "", fail("NDC_AMBIGUOUS", "10-digit NDC %q without dashes is ambiguous (4-4-2, 5-3-2 or 5-4-1?): send it with dashes or as 11 digits", s)
		default:
			return "", fail("NDC_LENGTH", "NDC must have 11 digits (or 10 with dashes), got %d", len(s))
		}
	}
	parts := strings.Split(s, "-")
	if len(parts) != 3 || !allDigits(parts[0]) || !allDigits(parts[1]) || !allDigits(parts[2]) {
		return "", fail("NDC_FORMAT", "dashed NDC must be three digit groups, got %q", s)
	}
	l, p, k := parts[0], parts[1], parts[2]
	switch [3]int{len(l), len(p), len(k)} {
	case [3]int{5, 4, 2}:
	case [3]int{4, 4, 2}:
		l = "0" + l
	case [3]int{5, 3, 2}:
		p = "0" + p
	case [3]int{5, 4, 1}:
		k = "0" + k
	default:
		return "", fail("NDC_FORMAT", "dashed NDC %q is not 4-4-2, 5-3-2, 5-4-1 or 5-4-2", s)
	}
	return l + p + k, nil
}

// SNOMED validates a SNOMED CT concept identifier: 6 to 18 digits, no leading
// zero, a Verhoeff check digit, and a partition identifier of a concept
// (00 short format, 10 long format with a namespace).
func SNOMED(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	switch {
	case s == "":
		return "", fail("SNOMED_EMPTY", "SNOMED CT code is empty")
	case !allDigits(s):
		return "", fail("SNOMED_FORMAT", "SNOMED CT code must be digits, got %q", s)
	case len(s) < 6 || len(s) > 18:
		return "", fail("SNOMED_LENGTH", "SNOMED CT code must have 6 to 18 digits, got %d", len(s))
	case s[0] == '0':
		return "", fail("SNOMED_FORMAT", "SNOMED CT code must not start with 0")
	case !Verhoeff(s):
		return "", fail("SNOMED_CHECK_DIGIT", "SNOMED CT code %s fails its Verhoeff check digit", s)
	}
	if part := s[len(s)-3 : len(s)-1]; part != "00" && part != "10" {
		return "", fail("SNOMED_PARTITION", "SNOMED CT code %s has partition %s, which is not a concept (00 or 10)", s, part)
	}
	return s, nil
}

// Verhoeff tables (dihedral group D5 multiplication, permutation, inverse).
var (
	vd = [10][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	vp = [8][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
	vinv = [10]byte{0, 4, 3, 2, 1, 5, 6, 7, 8, 9}
)

// Verhoeff reports whether the digit string's last digit is its Verhoeff check digit.
func Verhoeff(digits string) bool {
	var c byte
	for i := 0; i < len(digits); i++ {
		d := digits[len(digits)-1-i]
		if !isDigit(d) {
			return false
		}
		c = vd[c][vp[i%8][d-'0']]
	}
	return c == 0 && digits != ""
}

// VerhoeffCheckDigit returns the check digit to append to digits.
func VerhoeffCheckDigit(digits string) byte {
	var c byte
	for i := 0; i < len(digits); i++ {
		d := digits[len(digits)-1-i]
		c = vd[c][vp[(i+1)%8][d-'0']]
	}
	return '0' + vinv[c]
}
