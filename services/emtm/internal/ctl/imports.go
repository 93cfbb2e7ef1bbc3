package ctl

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/libs/drugref"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	"github.com/emtm/emtm/services/emtm/internal/claimscsv"
	"github.com/emtm/emtm/services/emtm/internal/load"
	"github.com/emtm/emtm/services/emtm/internal/synthea"
)

func importCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "import", Short: "Bulk-load history through ingestion (idempotent: importing twice changes nothing)"}
	var contract, pbp string
	syn := &cobra.Command{
		Use:   "synthea DIR",
		Short: "Import a Synthea CSV export: Medicare enrollment, claims, Parts A/B summaries, MTM encounters",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, err := loadSynthea(args[0])
			if err != nil {
				return err
			}
			reportUnknown(cmd.ErrOrStderr(), ds)
			return g.submit(cmd, load.SyntheaWork(ds, load.Plan{Contract: contract, PBP: pbp}), "importing "+args[0])
		},
	}
	syn.Flags().StringVar(&contract, "contract", load.SamplePlan.Contract, "plan contract the members are enrolled in")
	syn.Flags().StringVar(&pbp, "pbp", load.SamplePlan.PBP, "plan benefit package")
	claims := &cobra.Command{
		Use:   "claims FILE.csv",
		Short: "Import a CSV of claims and reversals in the format of docs/claims-csv.md",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, lineErrs, err := readClaimsCSV(args[0])
			if err != nil {
				return err
			}
			for i, e := range lineErrs {
				if i == 10 {
					fmt.Fprintf(cmd.ErrOrStderr(), "... and %d more rows that cannot be read\n", len(lineErrs)-10)
					break
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", args[0], e)
			}
			return g.submit(cmd, w, "importing "+args[0])
		},
	}
	pop := &cobra.Command{
		Use:   "population DIR",
		Short: "Import a population directory (emtmctl generate population): each member's enrollment, diagnoses, claims, Parts A/B summaries, streamed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, total, read, skipped, closeAll, err := streamPopulation(args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer closeAll()
			ing, done, err := g.ingestion()
			if err != nil {
				return err
			}
			defer done()
			res, err := load.SubmitStream(cmd.Context(), ing, src, total, read, skipped, "importing "+args[0], cmd.ErrOrStderr())
			if err != nil {
				return err // when ingestion does not answer, the error says how to start it
			}
			res.Print(cmd.OutOrStdout())
			return nil
		},
	}
	root.AddCommand(syn, claims, pop)
	root.AddCommand(interchangeImports(g)...)
	return root
}

func loadSynthea(dir string) (*synthea.Dataset, error) {
	ref, err := drugref.Load()
	if err != nil {
		return nil, err
	}
	return synthea.Load(os.DirFS(dir), ref)
}

func reportUnknown(w io.Writer, ds *synthea.Dataset) {
	for _, code := range synthea.SortedUnknown(ds.Unknown) {
		fmt.Fprintf(w, "unknown drug: RxNorm %s (%d medication rows); its claims carry no ingredients\n", code, ds.Unknown[code])
	}
	if n := len(ds.FromDescription); n > 0 {
		fmt.Fprintf(w, "%d RxNorm codes not in the drug reference were resolved from their descriptions\n", n)
	}
}

// readClaimsCSV turns a claims CSV into work, each member's rows in file order.
func readClaimsCSV(path string) (load.Work, []*claimscsv.Error, error) {
	f, err := os.Open(path)
	if err != nil {
		return load.Work{}, nil, err
	}
	defer f.Close()
	rd, err := claimscsv.NewReader(f)
	if err != nil {
		return load.Work{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	w := load.Work{ByMember: map[string][]load.Submission{}, Read: map[string]int{}, Skipped: map[string]int{}}
	var lineErrs []*claimscsv.Error
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var e *claimscsv.Error
		if errors.As(err, &e) {
			lineErrs = append(lineErrs, e)
			w.Read["unreadable"]++
			w.Skipped["unreadable:"+e.Reason]++
			continue
		}
		if err != nil {
			return w, lineErrs, err
		}
		sub := submissionOf(r)
		w.Read[sub.Kind]++
		w.ByMember[r.Member()] = append(w.ByMember[r.Member()], sub)
	}
	return w, lineErrs, nil
}

// submissionOf is a claims CSV row to submit: a paid claim or a reversal.
func submissionOf(r claimscsv.Record) load.Submission {
	if r.Claim != nil {
		return load.Submission{Kind: "claim", Msg: r.Claim}
	}
	return load.Submission{Kind: "reversal", Msg: r.Reversal}
}

func (g *globals) submit(cmd *cobra.Command, w load.Work, label string) error {
	ing, done, err := g.ingestion()
	if err != nil {
		return err
	}
	defer done()
	res, err := load.Submit(cmd.Context(), ing, w, label, cmd.ErrOrStderr())
	if err != nil {
		return err // when ingestion does not answer, the error says how to start it
	}
	res.Print(cmd.OutOrStdout())
	return nil
}

func syntheaCmd() *cobra.Command {
	root := &cobra.Command{Use: "synthea", Short: "Look at how a Synthea export converts, without submitting"}
	var dir string
	claims := &cobra.Command{
		Use:   "claims --dir DIR",
		Short: "Print every claim the conversion makes, as CSV: claim_id,beneficiary_id,fill_date,rxnorm,days_supply,cost_cents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ds, err := loadSynthea(dir)
			if err != nil {
				return err
			}
			reportUnknown(cmd.ErrOrStderr(), ds)
			w := csv.NewWriter(cmd.OutOrStdout())
			_ = w.Write([]string{"claim_id", "beneficiary_id", "fill_date", "rxnorm", "days_supply", "cost_cents"})
			for _, c := range ds.Claims {
				_ = w.Write([]string{c.ClaimID, c.Patient, c.FillDate.String(), c.RxNorm, strconv.Itoa(c.DaysSupply), strconv.FormatInt(c.CostCents, 10)})
			}
			w.Flush()
			return w.Error()
		},
	}
	claims.Flags().StringVar(&dir, "dir", "", "the Synthea CSV directory (patients.csv, medications.csv, ...)")
	_ = claims.MarkFlagRequired("dir")
	root.AddCommand(claims)
	return root
}

func reversalsCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "reversals", Short: "Reversals"}
	var limit int
	held := &cobra.Command{
		Use:   "held",
		Short: "Reversals waiting for the claim they reverse, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ing, done, err := g.ingestion()
			if err != nil {
				return err
			}
			defer done()
			resp, err := ing.ListHeldReversals(cmd.Context(), &ingestionv1.ListHeldReversalsRequest{Limit: int32(limit)})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CLAIM\tPHARMACY\tHELD SINCE\tWAITING\tRAW SEQ")
			for _, h := range resp.Reversals {
				since := h.HeldSince.AsTime()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", h.ClaimId, h.PharmacyNpi, since.Format(time.RFC3339),
					time.Since(since).Round(time.Minute), h.RawSequence)
			}
			return tw.Flush()
		},
	}
	held.Flags().IntVar(&limit, "limit", 100, "at most this many")
	root.AddCommand(held)
	return root
}

func awaitingCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "awaiting",
		Short: "Claims and encounters waiting for their member's enrollment, oldest first (rejected NOT_ENROLLED when overdue)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ing, done, err := g.ingestion()
			if err != nil {
				return err
			}
			defer done()
			resp, err := ing.ListAwaitingEnrollment(cmd.Context(), &ingestionv1.ListAwaitingEnrollmentRequest{Limit: int32(limit)})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tMEMBER\tSENDER\tWAITING SINCE\tWAITING\tRAW SEQ")
			for _, a := range resp.Submissions {
				since := a.Since.AsTime()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", a.Kind, a.MemberId, a.Sender, since.Format(time.RFC3339),
					time.Since(since).Round(time.Minute), a.RawSequence)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	return cmd
}
