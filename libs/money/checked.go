package money

import (
	"fmt"
	"math"
	"math/bits"
)

// ErrOverflow is returned when a sum or product of cents leaves int64.
var ErrOverflow = fmt.Errorf("amount overflows int64 cents (more than %s)", Dollars(math.MaxInt64))

// Add returns a+b, or ErrOverflow when the sum leaves int64.
func Add(a, b int64) (int64, error) {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
		return 0, ErrOverflow
	}
	return s, nil
}

// Sub returns a-b, or ErrOverflow.
func Sub(a, b int64) (int64, error) {
	if b == math.MinInt64 {
		if a >= 0 {
			return 0, ErrOverflow
		}
		return a - b, nil
	}
	return Add(a, -b)
}

// Mul returns a*b, or ErrOverflow.
func Mul(a, b int64) (int64, error) {
	if a == 0 || b == 0 {
		return 0, nil
	}
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(abs(a), abs(b))
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if hi != 0 || lo > limit {
		return 0, ErrOverflow
	}
	if neg {
		return int64(-lo), nil //nolint:gosec // lo <= 2^63 checked above
	}
	return int64(lo), nil
}

func abs(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// Sum accumulates amounts and remembers the first overflow: add every term,
// then read Total once.
type Sum struct {
	v   int64
	err error
}

// Add adds v (nothing once an overflow happened).
func (s *Sum) Add(v int64) {
	if s.err != nil {
		return
	}
	s.v, s.err = Add(s.v, v)
}

// Total is the sum, or ErrOverflow.
func (s *Sum) Total() (int64, error) { return s.v, s.err }
