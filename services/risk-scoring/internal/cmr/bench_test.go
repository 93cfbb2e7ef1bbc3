package cmr_test

import "testing"

// BenchmarkSummaryHTML is the baseline of BenchmarkSummaryPDF: the same
// summary (three topics, three medications) written as HTML.
func BenchmarkSummaryHTML(b *testing.B) {
	s := sample(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.HTML(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSummaryPDF writes the same summary as a PDF (six pages).
func BenchmarkSummaryPDF(b *testing.B) {
	s := sample(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.PDF(); err != nil {
			b.Fatal(err)
		}
	}
}
