package statement

import (
	"testing"

	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
)

func TestStatementAddsUpAndTraces(t *testing.T) {
	e := func(id string, k ledgerv1.EntryKind, cents int64, service, npi string) *ledgerv1.LedgerEntry {
		return &ledgerv1.LedgerEntry{EntryId: id, Kind: k, AmountCents: cents, Service: service, PharmacyNpi: npi, Rule: "pmpm:2017-01-01"}
	}
	s, err := Build("S9925", "001", &typesv1.YearMonth{Year: 2020, Month: 3}, []*ledgerv1.LedgerEntry{
		e("pp/1", ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE, 350, "PMPM", ""),
		e("pp/2", ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE, 350, "PMPM", ""),
		e("pp/3", ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE, 350, "PMPM", ""),
		e("pp/3/rev", ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE_ADJUSTMENT, 350, "PMPM", ""),
		e("le/a", ledgerv1.EntryKind_ENTRY_KIND_FEE, 4000, "MEDREC", "1245319599"),
		e("le/b", ledgerv1.EntryKind_ENTRY_KIND_FEE, 7500, "CMR", "1245319599"),
		e("le/c", ledgerv1.EntryKind_ENTRY_KIND_FEE, 4000, "MEDREC", "1234567893"),
		e("sus/d", ledgerv1.EntryKind_ENTRY_KIND_SUSPENSE, 0, "SNOMED 410620009", "1234567893"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.ProspectiveCents != 1050 || s.AdjustmentsCents != -350 || s.MemberMonths != 2 || s.FeesCents != 15500 || s.SuspenseItems != 1 ||
		s.NetCents != 1050-350-15500 || s.Entries != 8 {
		t.Fatalf("statement %+v", s)
	}
	want := map[string]struct {
		count, cents int64
		first        string
	}{
		"prospective/member months at pmpm:2017-01-01":                        {3, 1050, "pp/1"},
		"adjustments/member months reversed (retroactive enrollment changes)": {1, -350, "pp/3/rev"},
		"fees_by_pharmacy/pharmacy 1245319599":                                {2, 11500, "le/a"},
		"fees_by_pharmacy/pharmacy 1234567893":                                {1, 4000, "le/c"},
		"fees_by_service/MEDREC":                                              {2, 8000, "le/a"},
		"fees_by_service/CMR":                                                 {1, 7500, "le/b"},
		"suspense/SNOMED 410620009 (pharmacy 1234567893)":                     {1, 0, "sus/d"},
	}
	if len(s.Lines) != len(want) {
		t.Fatalf("%d lines: %v", len(s.Lines), s.Lines)
	}
	for _, l := range s.Lines {
		w, ok := want[l.Section+"/"+l.Label]
		if !ok || l.Count != w.count || l.AmountCents != w.cents || l.EntryIds[0] != w.first || int64(len(l.EntryIds)) != l.Count {
			t.Errorf("line %s/%s: %d, %d cents, %v", l.Section, l.Label, l.Count, l.AmountCents, l.EntryIds)
		}
	}
	if s.Lines[0].Section != Prospective || s.Lines[len(s.Lines)-1].Section != Suspense {
		t.Errorf("sections out of order: %v", s.Lines)
	}
}

func TestAStatementThatCannotBeAddedUpIsAnErrorNotAWrappedFigure(t *testing.T) {
	big := func(id string) *ledgerv1.LedgerEntry {
		return &ledgerv1.LedgerEntry{EntryId: id, Kind: ledgerv1.EntryKind_ENTRY_KIND_FEE, AmountCents: 1<<62 + 1, Service: "CMR", PharmacyNpi: "1245319599"}
	}
	if s, err := Build("S9925", "001", &typesv1.YearMonth{Year: 2020, Month: 3}, []*ledgerv1.LedgerEntry{big("a"), big("b")}); err == nil {
		t.Fatalf("fees of 2 x (2^62+1) cents added up to %d", s.FeesCents)
	}
}
