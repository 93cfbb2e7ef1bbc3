package summary

import "testing"

func TestDollars(t *testing.T) {
	for c, want := range map[int64]string{0: "$0.00", 5: "$0.05", 123456: "$1,234.56", -4000: "-$40.00", 100000000: "$1,000,000.00"} {
		if got := Dollars(c); got != want {
			t.Errorf("Dollars(%d) = %s, want %s", c, got, want)
		}
	}
}
