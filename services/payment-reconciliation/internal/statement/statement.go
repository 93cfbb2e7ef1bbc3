// Package statement turns a plan's ledger entries of one service month into
// its monthly statement: the prospective payment, adjustments, performance
// payment, pharmacy fees by pharmacy and by service, suspense and the net.
// Every figure lists the entries it adds up, so an auditor can trace it.
package statement

import (
	"fmt"
	"sort"

	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/money"
)

// Sections of a statement, in print order.
const (
	Prospective    = "prospective"
	Adjustments    = "adjustments"
	Performance    = "performance"
	FeesByPharmacy = "fees_by_pharmacy"
	FeesByService  = "fees_by_service"
	Suspense       = "suspense"
)

// Build makes the statement of a plan's month from its entries. Every sum
// is overflow-checked: a statement that cannot be added up is an error, never
// a wrapped-around figure.
func Build(contract, pbp string, month *typesv1.YearMonth, entries []*ledgerv1.LedgerEntry) (*ledgerv1.Statement, error) {
	s := &ledgerv1.Statement{ContractId: contract, PbpId: pbp, Month: month, Entries: int64(len(entries))}
	lines := map[string]*ledgerv1.StatementLine{}
	var overflow error
	sum := func(into *int64, v int64) {
		if overflow != nil {
			return
		}
		*into, overflow = money.Add(*into, v)
	}
	add := func(section, label string, sign int64, e *ledgerv1.LedgerEntry) {
		k := section + "\x00" + label
		l, ok := lines[k]
		if !ok {
			l = &ledgerv1.StatementLine{Section: section, Label: label}
			lines[k] = l
		}
		l.Count++
		if sign < 0 {
			v, err := money.Sub(l.AmountCents, e.AmountCents)
			if err != nil && overflow == nil {
				overflow = err
			}
			l.AmountCents = v
		} else {
			sum(&l.AmountCents, e.AmountCents)
		}
		l.EntryIds = append(l.EntryIds, e.EntryId)
	}
	for _, e := range entries {
		switch e.Kind {
		case ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE:
			sum(&s.ProspectiveCents, e.AmountCents)
			s.MemberMonths++
			add(Prospective, fmt.Sprintf("member months at %s", e.Rule), 1, e)
		case ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE_ADJUSTMENT, ledgerv1.EntryKind_ENTRY_KIND_PERFORMANCE_ADJUSTMENT:
			if v, err := money.Sub(s.AdjustmentsCents, e.AmountCents); err == nil {
				s.AdjustmentsCents = v
			} else if overflow == nil {
				overflow = err
			}
			label := "member months reversed (retroactive enrollment changes)"
			if e.Kind == ledgerv1.EntryKind_ENTRY_KIND_PROSPECTIVE_ADJUSTMENT {
				s.MemberMonths--
			} else {
				label = "performance payment recalculated"
			}
			add(Adjustments, label, -1, e)
		case ledgerv1.EntryKind_ENTRY_KIND_PERFORMANCE:
			sum(&s.PerformanceCents, e.AmountCents)
			add(Performance, e.Memo, 1, e)
		case ledgerv1.EntryKind_ENTRY_KIND_FEE:
			sum(&s.FeesCents, e.AmountCents)
			add(FeesByPharmacy, "pharmacy "+e.PharmacyNpi, 1, e)
			add(FeesByService, e.Service, 1, e)
		case ledgerv1.EntryKind_ENTRY_KIND_SUSPENSE:
			s.SuspenseItems++
			add(Suspense, e.Service+" (pharmacy "+e.PharmacyNpi+")", 1, e)
		}
	}
	sum(&s.NetCents, s.ProspectiveCents)
	sum(&s.NetCents, s.AdjustmentsCents)
	sum(&s.NetCents, s.PerformanceCents)
	if v, err := money.Sub(s.NetCents, s.FeesCents); err == nil {
		s.NetCents = v
	} else if overflow == nil {
		overflow = err
	}
	if overflow != nil {
		return nil, fmt.Errorf("statement of %s-%s %04d-%02d: %w", contract, pbp, month.GetYear(), month.GetMonth(), overflow)
	}
	order := map[string]int{Prospective: 0, Adjustments: 1, Performance: 2, FeesByPharmacy: 3, FeesByService: 4, Suspense: 5}
	for _, l := range lines {
		s.Lines = append(s.Lines, l)
	}
	sort.Slice(s.Lines, func(i, j int) bool {
		a, b := s.Lines[i], s.Lines[j]
		if order[a.Section] != order[b.Section] {
			return order[a.Section] < order[b.Section]
		}
		return a.Label < b.Label
	})
	return s, nil
}
