// Package money parses decimal amounts into integer units without floating
// point (dollars into cents, quantities into thousandths) and formats cents
// for people.
package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseFixed reads a decimal such as "26.6", "-3.25" or "1306.55" as an integer
// number of 10^-places units. With round, extra decimals round half away from
// zero; without it, more than places decimals is an error (an amount must not
// change silently).
func ParseFixed(s string, places int, round bool) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty amount")
	}
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(body, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("amount %q is not a decimal number", s)
	}
	if whole == "" {
		whole = "0"
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("amount %q is not a decimal number", s)
			}
		}
	}
	if len(frac) > places && !round {
		return 0, fmt.Errorf("amount %q has more than %d decimal places", s, places)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > (1<<62)/pow10(places) {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	padded := frac + strings.Repeat("0", places+1)
	f, _ := strconv.ParseInt(padded[:places], 10, 64)
	v := w*pow10(places) + f
	if round && padded[places] >= '5' {
		v++
	}
	if neg {
		v = -v
	}
	return v, nil
}

func pow10(n int) int64 {
	p := int64(1)
	for i := 0; i < n; i++ {
		p *= 10
	}
	return p
}

// Format writes v units of 10^-places as a decimal ("-12.50" for -1250, 2).
func Format(v int64, places int) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	p := pow10(places)
	if places == 0 {
		return sign + strconv.FormatInt(v, 10)
	}
	return fmt.Sprintf("%s%d.%0*d", sign, v/p, places, v%p)
}

// Dollars formats cents for people, e.g. 123456 -> "$1,234.56", -5 -> "-$0.05".
func Dollars(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	whole := strconv.FormatInt(cents/100, 10)
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	return fmt.Sprintf("%s$%s.%02d", sign, whole, cents%100)
}
