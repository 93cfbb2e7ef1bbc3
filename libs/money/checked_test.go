package money

import (
	"errors"
	"math"
	"testing"
)

func TestCheckedArithmeticRefusesToWrapAround(t *testing.T) {
	cases := []struct {
		name    string
		f       func(a, b int64) (int64, error)
		a, b    int64
		want    int64
		overflw bool
	}{
		{"small sums add", Add, 150, 250, 400, false},
		{"the largest amount plus a cent overflows", Add, math.MaxInt64, 1, 0, true},
		{"the smallest amount minus a cent overflows", Add, math.MinInt64, -1, 0, true},
		{"opposite signs never overflow", Add, math.MaxInt64, math.MinInt64, -1, false},
		{"subtracting the smallest amount from zero overflows", Sub, 0, math.MinInt64, 0, true},
		{"subtracting the smallest amount from a negative does not", Sub, -1, math.MinInt64, math.MaxInt64, false},
		{"a PMPM times member months multiplies", Mul, 350, 12, 4200, false},
		{"a product past int64 overflows", Mul, math.MaxInt64 / 2, 3, 0, true},
		{"a negative product down to the smallest amount fits", Mul, math.MinInt64 / 2, 2, math.MinInt64, false},
		{"minus the smallest amount overflows", Mul, math.MinInt64, -1, 0, true},
	}
	for _, c := range cases {
		got, err := c.f(c.a, c.b)
		if c.overflw != errors.Is(err, ErrOverflow) || (!c.overflw && got != c.want) {
			t.Errorf("%s: %d, %v; want %d (overflow %v)", c.name, got, err, c.want, c.overflw)
		}
	}
}

func TestASumRemembersItsFirstOverflow(t *testing.T) {
	var s Sum
	s.Add(math.MaxInt64)
	s.Add(1)
	s.Add(-10)
	if _, err := s.Total(); !errors.Is(err, ErrOverflow) {
		t.Fatalf("sum past int64: %v, want ErrOverflow", err)
	}
}
