package ctl

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/libs/civil"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/services/emtm/internal/load"
	"github.com/emtm/emtm/services/emtm/internal/summary"
)

func (g *globals) payment() (ledgerv1.PaymentReconciliationServiceClient, func(), error) {
	cc, err := g.dial("payment-reconciliation")
	if err != nil {
		return nil, nil, err
	}
	return ledgerv1.NewPaymentReconciliationServiceClient(cc), func() { _ = cc.Close() }, nil
}

func parseMonth(s string) (*typesv1.YearMonth, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return nil, fmt.Errorf("month %q: write it YYYY-MM", s)
	}
	return &typesv1.YearMonth{Year: int32(t.Year()), Month: int32(t.Month())}, nil
}

var samplePlan = planid.Key(load.SamplePlan.Contract, load.SamplePlan.PBP)

// writeEntriesCSV writes entries as CSV, one row each: the trace from a figure to its postings.
func writeEntriesCSV(w io.Writer, figure func(*ledgerv1.LedgerEntry) string, es []*ledgerv1.LedgerEntry) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"figure", "entry_id", "kind", "service_month", "service_date", "debit_account", "credit_account", "amount_cents",
		"service", "pharmacy_npi", "rule", "source_event_id", "reverses_entry_id", "trace_id", "memo"})
	for _, e := range es {
		_ = cw.Write([]string{figure(e), e.EntryId, enums.Name(e.Kind), fmt.Sprintf("%04d-%02d", e.GetServiceMonth().GetYear(), e.GetServiceMonth().GetMonth()),
			dateText(civil.FromProto(e.ServiceDate)), e.DebitAccount, e.CreditAccount, strconv.FormatInt(e.AmountCents, 10), e.Service, e.PharmacyNpi,
			e.Rule, e.SourceEventId, e.ReversesEntryId, e.GetMeta().GetTraceId(), e.Memo})
	}
	cw.Flush()
	return cw.Error()
}

func dateText(d civil.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

func createOut(path string) (io.WriteCloser, error) {
	if path == "-" {
		return nopCloser{os.Stdout}, nil
	}
	return os.Create(path)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// entriesOf fetches the entries a statement lists, in statement order.
func entriesOf(cmd *cobra.Command, api ledgerv1.PaymentReconciliationServiceClient, s *ledgerv1.Statement) (map[string]*ledgerv1.LedgerEntry, error) {
	resp, err := api.ListLedgerEntries(cmd.Context(), &ledgerv1.ListLedgerEntriesRequest{ContractId: s.ContractId, Limit: 10000})
	if err != nil {
		return nil, err
	}
	out := map[string]*ledgerv1.LedgerEntry{}
	for _, e := range resp.Entries {
		out[e.EntryId] = e
	}
	return out, nil
}

func statementCmd(g *globals) *cobra.Command {
	var plan, month, csvPath string
	c := &cobra.Command{
		Use:   "statement --plan P --month YYYY-MM [--csv FILE]",
		Short: "A plan's monthly statement: prospective payment, adjustments, fees by pharmacy and service, suspense, net",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			con, pbp, err := splitPlan(plan)
			if err != nil {
				return err
			}
			m, err := parseMonth(month)
			if err != nil {
				return err
			}
			api, done, err := g.payment()
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.GetStatement(cmd.Context(), &ledgerv1.GetStatementRequest{ContractId: con, PbpId: pbp, Month: m})
			if err != nil {
				return err
			}
			s := resp.Statement
			printStatement(cmd.OutOrStdout(), s)
			if csvPath == "" {
				return nil
			}
			byID, err := entriesOf(cmd, api, s)
			if err != nil {
				return err
			}
			var es []*ledgerv1.LedgerEntry
			figure := map[string]string{}
			for _, l := range s.Lines {
				for _, id := range l.EntryIds {
					if e := byID[id]; e != nil {
						if _, seen := figure[id]; !seen {
							es = append(es, e)
						}
						figure[id] += strings.TrimSpace(l.Section+": "+l.Label) + "; "
					}
				}
			}
			f, err := createOut(csvPath)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := writeEntriesCSV(f, func(e *ledgerv1.LedgerEntry) string { return strings.TrimSuffix(figure[e.EntryId], "; ") }, es); err != nil {
				return err
			}
			if csvPath != "-" {
				fmt.Fprintf(cmd.OutOrStdout(), "\n%d entries written to %s\n", len(es), csvPath)
			}
			return nil
		},
	}
	c.Flags().StringVar(&plan, "plan", samplePlan, "contract-pbp")
	c.Flags().StringVar(&month, "month", "", "service month, YYYY-MM")
	c.Flags().StringVar(&csvPath, "csv", "", "also write every entry behind the statement's figures to this CSV file (- for standard output)")
	_ = c.MarkFlagRequired("month")
	return c
}

func printStatement(w io.Writer, s *ledgerv1.Statement) {
	d := summary.Dollars
	fmt.Fprintf(w, "STATEMENT  plan %s-%s, service month %04d-%02d  (%d ledger entries)\n\n", s.ContractId, s.PbpId, s.GetMonth().GetYear(), s.GetMonth().GetMonth(), s.Entries)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "prospective payment (receivable from CMS)\t%s\t%d member months\t\n", d(s.ProspectiveCents), s.MemberMonths)
	fmt.Fprintf(tw, "adjustments\t%s\t\t\n", d(s.AdjustmentsCents))
	fmt.Fprintf(tw, "performance-based payment\t%s\t\t\n", d(s.PerformanceCents))
	fmt.Fprintf(tw, "pharmacy fees owed\t%s\t\t\n", d(-s.FeesCents))
	fmt.Fprintf(tw, "net\t%s\t\t\n", d(s.NetCents))
	fmt.Fprintf(tw, "suspense (services without a fee rule)\t%d\titems\t\n", s.SuspenseItems)
	_ = tw.Flush()
	for _, n := range s.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
	section := ""
	titles := map[string]string{"prospective": "Prospective payment", "adjustments": "Adjustments", "performance": "Performance-based payment",
		"fees_by_pharmacy": "Fees by pharmacy", "fees_by_service": "Fees by service", "suspense": "Suspense (booked at $0.00, to be priced)"}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range s.Lines {
		if l.Section != section {
			section = l.Section
			fmt.Fprintf(tw, "\n%s\t\t\t\n", titles[section])
		}
		first := l.EntryIds[0]
		more := ""
		if len(l.EntryIds) > 1 {
			more = fmt.Sprintf(" .. (%d entries)", len(l.EntryIds))
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s%s\n", l.Label, l.Count, d(l.AmountCents), first, more)
	}
	_ = tw.Flush()
}

func remittanceCmd(g *globals) *cobra.Command {
	var plan, month, pharmacy, csvPath string
	c := &cobra.Command{
		Use:   "remittance --plan P --month YYYY-MM --pharmacy NPI [--csv FILE]",
		Short: "Remittance advice: what a pharmacy is paid for a month, service by service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			con, pbp, err := splitPlan(plan)
			if err != nil {
				return err
			}
			m, err := parseMonth(month)
			if err != nil {
				return err
			}
			api, done, err := g.payment()
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.GetRemittance(cmd.Context(), &ledgerv1.GetRemittanceRequest{ContractId: con, PbpId: pbp, Month: m, PharmacyNpi: pharmacy})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "REMITTANCE ADVICE  pharmacy %s, plan %s, service month %s\n\n", pharmacy, plan, month)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE DATE\tSERVICE\tAMOUNT\tRULE\tENTRY\tSOURCE EVENT")
			for _, e := range resp.Entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", dateText(civil.FromProto(e.ServiceDate)), e.Service, summary.Dollars(e.AmountCents), e.Rule, e.EntryId, e.SourceEventId)
			}
			_ = tw.Flush()
			fmt.Fprintf(w, "\ntotal %s for %d services; %d in suspense (not yet priced)\n", summary.Dollars(resp.TotalCents), int64(len(resp.Entries))-resp.SuspenseItems, resp.SuspenseItems)
			if csvPath == "" {
				return nil
			}
			f, err := createOut(csvPath)
			if err != nil {
				return err
			}
			defer f.Close()
			return writeEntriesCSV(f, func(*ledgerv1.LedgerEntry) string { return "remittance " + pharmacy }, resp.Entries)
		},
	}
	c.Flags().StringVar(&plan, "plan", samplePlan, "contract-pbp")
	c.Flags().StringVar(&month, "month", "", "service month, YYYY-MM")
	c.Flags().StringVar(&pharmacy, "pharmacy", "", "pharmacy NPI")
	c.Flags().StringVar(&csvPath, "csv", "", "also write the entries to this CSV file (- for standard output)")
	_ = c.MarkFlagRequired("month")
	_ = c.MarkFlagRequired("pharmacy")
	return c
}

func performanceCmd(g *globals) *cobra.Command {
	var plan string
	var year int
	var settle bool
	c := &cobra.Command{
		Use:   "performance --plan P --year Y [--settle]",
		Short: "The performance-based payment of a plan and year, step by step (--settle books it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			con, pbp, err := splitPlan(plan)
			if err != nil {
				return err
			}
			api, done, err := g.payment()
			if err != nil {
				return err
			}
			defer done()
			var calc *ledgerv1.PerformanceCalculation
			var booked []*ledgerv1.LedgerEntry
			if settle {
				resp, err := api.SettlePerformance(cmd.Context(), &ledgerv1.SettlePerformanceRequest{ContractId: con, PbpId: pbp, Year: int32(year)})
				if err != nil {
					return err
				}
				calc, booked = resp.Calculation, resp.Entries
			} else {
				resp, err := api.GetPerformance(cmd.Context(), &ledgerv1.GetPerformanceRequest{ContractId: con, PbpId: pbp, Year: int32(year)})
				if err != nil {
					return err
				}
				calc = resp.Calculation
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "PERFORMANCE-BASED PAYMENT  plan %s, performance year %d\n\n", plan, year)
			for _, s := range calc.Steps {
				fmt.Fprintln(w, s)
			}
			fmt.Fprintln(w)
			switch {
			case calc.BookedEntryId != "":
				fmt.Fprintf(w, "booked: %s (%s)\n", summary.Dollars(calc.BookedCents), calc.BookedEntryId)
			case settle:
				fmt.Fprintln(w, "booked: nothing (no payment)")
			default:
				fmt.Fprintln(w, "booked: nothing yet (--settle books the result)")
			}
			for _, e := range booked {
				fmt.Fprintf(w, "  new entry %s  %s  %s -> %s  %s\n", e.EntryId, enums.Name(e.Kind), e.CreditAccount, e.DebitAccount, summary.Dollars(e.AmountCents))
			}
			return nil
		},
	}
	c.Flags().StringVar(&plan, "plan", samplePlan, "contract-pbp")
	c.Flags().IntVar(&year, "year", 0, "performance year")
	c.Flags().BoolVar(&settle, "settle", false, "book the result in the ledger (a changed result reverses the earlier entry)")
	_ = c.MarkFlagRequired("year")
	return c
}

func ledgerCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "ledger", Short: "The payment ledger: entries, suspense, rebuild, sweep"}
	var contract, kind string
	var limit int
	list := &cobra.Command{
		Use:   "list [--kind KIND] [--contract C]",
		Short: "Ledger entries in booking order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &ledgerv1.ListLedgerEntriesRequest{ContractId: contract, Limit: int32(limit)}
			if kind != "" {
				v, ok := enums.Parse[ledgerv1.EntryKind](kind)
				if !ok {
					return fmt.Errorf("kind %q: use one of %s", kind, strings.ToLower(strings.Join(enums.Names[ledgerv1.EntryKind](), ", ")))
				}
				req.Kind = v
			}
			api, done, err := g.payment()
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.ListLedgerEntries(cmd.Context(), req)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ENTRY\tKIND\tMONTH\tDEBIT\tCREDIT\tAMOUNT\tRULE\tMEMO")
			for _, e := range resp.Entries {
				fmt.Fprintf(tw, "%s\t%s\t%04d-%02d\t%s\t%s\t%s\t%s\t%s\n", e.EntryId, enums.Name(e.Kind), e.GetServiceMonth().GetYear(), e.GetServiceMonth().GetMonth(),
					e.DebitAccount, e.CreditAccount, summary.Dollars(e.AmountCents), e.Rule, e.Memo)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&contract, "contract", "", "one contract")
	list.Flags().StringVar(&kind, "kind", "", "fee, suspense, prospective, prospective_adjustment, performance, performance_adjustment")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many (1..10000)")
	suspense := &cobra.Command{
		Use:   "suspense",
		Short: "Encounter services booked to suspense (no fee rule), with the reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list.RunE(cmd, nil)
		},
	}
	suspense.PreRun = func(*cobra.Command, []string) { kind, limit = "suspense", 10000 }
	var replace bool
	rebuild := &cobra.Command{
		Use:   "rebuild [--replace]",
		Short: "Replay the ledger, enrollment and Parts A/B streams into a shadow of the ledger and compare it with the live one (--replace: make it the live one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, done, err := g.payment()
			if err != nil {
				return err
			}
			defer done()
			r, err := api.RebuildLedger(cmd.Context(), &ledgerv1.RebuildLedgerRequest{Replace: replace})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "replayed %d ledger entries, %d enrollment events, %d medical events into a shadow of the ledger\n", r.LedgerMessages, r.EnrollmentMessages, r.MedicalMessages)
			fmt.Fprintf(w, "live     %d entries, total %s\nrebuilt  %d entries, total %s\n", r.Live.Entries, summary.Dollars(r.Live.TotalCents),
				r.Rebuilt.Entries, summary.Dollars(r.Rebuilt.TotalCents))
			if r.Replaced {
				fmt.Fprintln(w, "replaced: the rebuilt ledger is now the live one")
			}
			if r.Equal {
				fmt.Fprintf(w, "equal to the cent: every balance, member-month count and Parts A/B total (%d balances)\n", len(r.Live.Balances))
				return nil
			}
			for _, d := range r.Differences {
				fmt.Fprintln(w, "DIFFERENT", d)
			}
			return ExitError{Code: 1}
		},
	}
	rebuild.Flags().BoolVar(&replace, "replace", false, "make the rebuilt ledger the live one (only the ledger's keys change)")
	sweep := &cobra.Command{
		Use:   "sweep",
		Short: "Book member months through the payment clock's month now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, done, err := g.payment()
			if err != nil {
				return err
			}
			defer done()
			r, err := api.Sweep(cmd.Context(), &ledgerv1.SweepRequest{})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "swept through %s: %d member months booked, %d reversed\n", civil.FromProto(r.Today), r.MemberMonthsBooked, r.MemberMonthsReversed)
			return nil
		},
	}
	root.AddCommand(list, suspense, rebuild, sweep)
	return root
}
