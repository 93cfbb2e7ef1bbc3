package population

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/emtm/emtm/services/emtm/internal/claimscsv"
)

// benchOptions is a plan-year of 2,000 members (about 30,000 claims).
var benchOptions = Options{Members: 2000, Years: 1, FirstYear: 2021, Seed: 1, Contract: "S9925", PBP: "001"}

// BenchmarkGenerate generates the population into io.Discard; ns/claim and
// s/1M-claims say how long a million claims take.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	claims := 0
	for i := 0; i < b.N; i++ {
		c, err := Generate(benchOptions, Writers{io.Discard, io.Discard, io.Discard, io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		claims += c.Claims + c.Reversals
	}
	perClaim := float64(b.Elapsed().Nanoseconds()) / float64(claims)
	b.ReportMetric(perClaim, "ns/claim")
	b.ReportMetric(perClaim*1e6/1e9, "s/1M-claims")
}

// BenchmarkReadClaimsCSVBaseline reads the same population's claims file
// with the importer's reader: the baseline of BenchmarkGenerate (generating
// a claim should cost less than reading it back).
func BenchmarkReadClaimsCSVBaseline(b *testing.B) {
	var csv bytes.Buffer
	if _, err := Generate(benchOptions, Writers{&csv, io.Discard, io.Discard, io.Discard}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	claims := 0
	for i := 0; i < b.N; i++ {
		rd, err := claimscsv.NewReader(bytes.NewReader(csv.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			claims++
		}
	}
	perClaim := float64(b.Elapsed().Nanoseconds()) / float64(claims)
	b.ReportMetric(perClaim, "ns/claim")
	b.ReportMetric(perClaim*1e6/1e9, "s/1M-claims")
}
