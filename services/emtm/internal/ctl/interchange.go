package ctl

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/libs/civil"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/services/emtm/internal/bluebutton"
	"github.com/emtm/emtm/services/emtm/internal/load"
	"github.com/emtm/emtm/services/emtm/internal/pde"
)

// maxShown bounds the unreadable records printed one by one.
const maxShown = 10

// problems prints what could not be read, at most maxShown, and counts them in w.
type problems struct {
	out   io.Writer
	shown int
	n     int
}

func (p *problems) add(file string, err error) {
	p.n++
	if p.shown < maxShown {
		fmt.Fprintf(p.out, "%s: %v\n", file, err)
		p.shown++
	}
}

func (p *problems) done() {
	if p.n > p.shown {
		fmt.Fprintf(p.out, "... and %d more records that cannot be read\n", p.n-p.shown)
	}
}

// readPDE reads PDE files in order (DML applied across them, in file order).
func readPDE(files []string, pr *problems, unreadable map[string]int) (pde.Applied, error) {
	var events []pde.Event
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return pde.Applied{}, err
		}
		rd, err := pde.NewReader(f)
		if err != nil {
			f.Close()
			return pde.Applied{}, fmt.Errorf("%s: %w", path, err)
		}
		for {
			e, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var pe *pde.Error
			if errors.As(err, &pe) {
				pr.add(path, pe)
				unreadable["unreadable:"+pe.Reason]++
				continue
			}
			if err != nil {
				f.Close()
				return pde.Applied{}, fmt.Errorf("%s: %w", path, err)
			}
			events = append(events, e)
		}
		f.Close()
	}
	return pde.Apply(events), nil
}

func readBeneficiaries(files []string) ([]pde.Span, error) {
	bs := map[string]*pde.Beneficiary{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		err = pde.ReadBeneficiaries(f, bs)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	ids := make([]string, 0, len(bs))
	for id := range bs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var spans []pde.Span
	for _, id := range ids {
		spans = append(spans, bs[id].Spans()...)
	}
	return spans, nil
}

// readEOBs reads the ExplanationOfBenefit resources of files, in order.
func readEOBs(files []string, pr *problems, unreadable, skipped map[string]int) ([]bluebutton.Resource, error) {
	var out []bluebutton.Resource
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		rs, sk, errs, err := bluebutton.Read(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, e := range errs {
			pr.add(path, e)
			unreadable["unreadable:"+e.Reason]++
		}
		for k, v := range sk {
			skipped["resource:"+k] += v
		}
		for i := range rs {
			rs[i].File = path
		}
		out = append(out, rs...)
	}
	return out, nil
}

// partD converts the pharmacy EOBs among rs (others are counted in skipped).
func partD(rs []bluebutton.Resource, pr *problems, unreadable, skipped map[string]int) []pde.Event {
	var out []pde.Event
	for _, r := range rs {
		if t := bluebutton.Type(r.EOB); t != "PDE" {
			skipped["eob-type:"+t]++
			continue
		}
		e, err := bluebutton.PartD(r)
		if err != nil {
			pr.add(r.File, err)
			unreadable["unreadable:"+err.Reason]++
			continue
		}
		out = append(out, e)
	}
	return out
}

func partsAB(rs []bluebutton.Resource, pr *problems, unreadable map[string]int) []bluebutton.Summary {
	var out []bluebutton.Summary
	for _, r := range rs {
		s, err := bluebutton.PartsAB(r)
		if err != nil {
			pr.add(r.File, err)
			unreadable["unreadable:"+err.Reason]++
			continue
		}
		out = append(out, s)
	}
	return out
}

func writeAudit(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	for _, r := range rows {
		_ = cw.Write(r)
	}
	cw.Flush()
	return cw.Error()
}

func merge(dst, src map[string]int) {
	for k, v := range src {
		dst[k] += v
	}
}

// interchangeImports are `import pde|eob|ab2d`.
func interchangeImports(g *globals) []*cobra.Command {
	var beneficiaries []string
	pdeCmd := &cobra.Command{
		Use:   "pde FILE...",
		Short: "Import CMS RIF Part D Event files (and --beneficiaries: enrollment by contract and PBP per month)",
		Long: "Import CMS RIF Part D Event (PDE) files: pipe-delimited, 41 columns, with or without the header line.\n" +
			"INSERT, UPDATE and DELETE apply in file order by PDE_ID; a DELETE of an event imported before is sent as its reversal.\n" +
			"--beneficiaries reads RIF beneficiary files (one per reference year) into enrollment spans, sent first.\n" +
			"`emtmctl pde claims FILE...` prints the conversion without importing. See docs/interchange.md.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pr := &problems{out: cmd.ErrOrStderr()}
			unreadable := map[string]int{}
			a, err := readPDE(args, pr, unreadable)
			if err != nil {
				return err
			}
			spans, err := readBeneficiaries(beneficiaries)
			if err != nil {
				return err
			}
			pr.done()
			w := load.PDEWork(a, spans, civil.Today(time.Local))
			if pr.n > 0 {
				w.Read["unreadable"] = pr.n
			}
			merge(w.Skipped, unreadable)
			return g.submit(cmd, w, "importing PDE")
		},
	}
	pdeCmd.Flags().StringSliceVar(&beneficiaries, "beneficiaries", nil, "RIF beneficiary files (PTD_CNTRCT_*/PTD_PBP_* per month); repeat or comma-separate")
	eobCmd := &cobra.Command{
		Use:   "eob FILE...",
		Short: "Import Blue Button 2.0 pharmacy ExplanationOfBenefit resources (FHIR R4: a Bundle, one resource, or NDJSON)",
		Long: "Import Blue Button 2.0 (CARIN Blue Button) pharmacy EOBs: only EOBs of eob-type PDE; others are skipped and counted.\n" +
			"A fill served twice under sign-flipped ids (the sandbox's synthetic data) is sent once.\n" +
			"`emtmctl eob claims FILE...` prints the conversion without importing. See docs/interchange.md.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pr := &problems{out: cmd.ErrOrStderr()}
			unreadable, skipped := map[string]int{}, map[string]int{}
			rs, err := readEOBs(args, pr, unreadable, skipped)
			if err != nil {
				return err
			}
			events := partD(rs, pr, unreadable, skipped)
			pr.done()
			w, dupes := load.EOBWork(events)
			for i, d := range dupes {
				if i == maxShown {
					fmt.Fprintf(cmd.ErrOrStderr(), "... and %d more sign-flipped repeats\n", len(dupes)-maxShown)
					break
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "sent once: %s\n", d)
			}
			if pr.n > 0 {
				w.Read["unreadable"] = pr.n
			}
			merge(w.Skipped, unreadable)
			merge(w.Skipped, skipped)
			return g.submit(cmd, w, "importing EOBs")
		},
	}
	var contract, pbp string
	ab2dCmd := &cobra.Command{
		Use:   "ab2d FILE...",
		Short: "Import AB2D Parts A/B ExplanationOfBenefit NDJSON (or Blue Button A/B EOBs) as Parts A/B summaries",
		Long: "Import Parts A/B claims: inpatient and SNF stays with their discharges, hospice periods, emergency visits and other claims.\n" +
			"AB2D strips amounts: a claim without payment.amount is sent as cost unknown, and spending stays unknown, never $0.\n" +
			"AB2D exports one contract's enrollees: --contract and --pbp attribute the claims to the plan (else unattributed).\n" +
			"`emtmctl ab2d claims FILE...` prints the conversion without importing. See docs/interchange.md.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (contract == "") != (pbp == "") {
				return errors.New("--contract and --pbp go together (the plan the claims are attributed to)")
			}
			pr := &problems{out: cmd.ErrOrStderr()}
			unreadable, skipped := map[string]int{}, map[string]int{}
			rs, err := readEOBs(args, pr, unreadable, skipped)
			if err != nil {
				return err
			}
			sums := partsAB(rs, pr, unreadable)
			pr.done()
			w := load.AB2DWork(sums, load.Plan{Contract: contract, PBP: pbp})
			if pr.n > 0 {
				w.Read["unreadable"] = pr.n
			}
			merge(w.Skipped, unreadable)
			merge(w.Skipped, skipped)
			return g.submit(cmd, w, "importing Parts A/B claims")
		},
	}
	ab2dCmd.Flags().StringVar(&contract, "contract", "", "the Part D contract the claims are attributed to (e.g. S9925)")
	ab2dCmd.Flags().StringVar(&pbp, "pbp", "", "the plan benefit package (e.g. 001)")
	return []*cobra.Command{pdeCmd, eobCmd, ab2dCmd}
}

// auditCmds are `pde claims`, `eob claims` and `ab2d claims`: the audit
// prints of docs/interchange.md, which convert without importing.
func auditCmds() []*cobra.Command {
	pdeRoot := &cobra.Command{Use: "pde", Short: "Look at how CMS RIF PDE files convert, without importing"}
	pdeRoot.AddCommand(&cobra.Command{
		Use:   "claims FILE...",
		Short: "Print one row per PDE_ID (after INSERT/UPDATE/DELETE), in the order each first appeared, as CSV",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pr := &problems{out: cmd.ErrOrStderr()}
			a, err := readPDE(args, pr, map[string]int{})
			if err != nil {
				return err
			}
			pr.done()
			rows := make([][]string, 0, len(a.Events))
			for _, e := range a.Events {
				rows = append(rows, e.AuditRow())
			}
			return writeAudit(cmd.OutOrStdout(), pde.AuditHeader, rows)
		},
	})
	eobRoot := &cobra.Command{Use: "eob", Short: "Look at how Blue Button pharmacy EOBs convert, without importing"}
	eobRoot.AddCommand(&cobra.Command{
		Use:   "claims FILE...",
		Short: "Print one row per pharmacy EOB (eob-type PDE), in file order, as CSV (the PDE print's columns)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pr := &problems{out: cmd.ErrOrStderr()}
			rs, err := readEOBs(args, pr, map[string]int{}, map[string]int{})
			if err != nil {
				return err
			}
			events := partD(rs, pr, map[string]int{}, map[string]int{})
			pr.done()
			rows := make([][]string, 0, len(events))
			for _, e := range events {
				rows = append(rows, e.AuditRow())
			}
			return writeAudit(cmd.OutOrStdout(), pde.AuditHeader, rows)
		},
	})
	ab2dRoot := &cobra.Command{Use: "ab2d", Short: "Look at how AB2D Parts A/B EOBs convert, without importing"}
	ab2dRoot.AddCommand(&cobra.Command{
		Use:   "claims FILE...",
		Short: "Print one row per Parts A/B EOB, in file order, as CSV: eob_id,beneficiary_id,claim_type,start,end,total_cents",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pr := &problems{out: cmd.ErrOrStderr()}
			rs, err := readEOBs(args, pr, map[string]int{}, map[string]int{})
			if err != nil {
				return err
			}
			var kept []bluebutton.Resource
			for _, r := range rs {
				if bluebutton.Type(r.EOB) != "PDE" {
					kept = append(kept, r)
				}
			}
			sums := partsAB(kept, pr, map[string]int{})
			pr.done()
			rows := make([][]string, 0, len(sums))
			for _, s := range sums {
				rows = append(rows, s.AuditRow())
			}
			return writeAudit(cmd.OutOrStdout(), bluebutton.AB2DAuditHeader, rows)
		},
	})
	return []*cobra.Command{pdeRoot, eobRoot, ab2dRoot}
}

// carePlanCmd is `careplan MEMBER_ID`: the member's care plan as a PhCP Bundle.
func carePlanCmd(g *globals) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "careplan MEMBER_ID",
		Short: "Write a member's care plan (the pharmacists' problems and recommendations) as an HL7 Pharmacist eCare Plan Bundle, FHIR R4 JSON",
		Long: "Write a member's current care plan as an HL7 Pharmacist eCare Plan (PhCP STU1) document Bundle in FHIR R4 JSON:\n" +
			"the medication-related problems pharmacists recorded, open or resolved, and the recommendations made to prescribers.\n" +
			"Ingestion reads the same Bundle back (emtm.raw.pharmacy.<npi>.careplan, IngestionService.SubmitCarePlan). A member id\n" +
			"that starts with - (CMS's synthetic ids) goes after --: emtmctl careplan -- -1000001.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, err := g.dial("risk-scoring")
			if err != nil {
				return err
			}
			defer cc.Close()
			resp, err := riskv1.NewRiskScoringServiceClient(cc).GetCarePlan(cmd.Context(), &riskv1.GetCarePlanRequest{MemberId: args[0]})
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(resp.Bundle)
				return err
			}
			if err := os.WriteFile(out, resp.Bundle, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes, %s)\n", out, len(resp.Bundle), resp.ContentType)
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "write the Bundle to this file (default: standard output)")
	return c
}
