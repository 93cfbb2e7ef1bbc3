package ctl

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/libs/civil"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
)

// cmrCmd is `cmr summary ENCOUNTER_ID`: a CMR's written summary in CMS's
// Standardized Format, as PDF and HTML.
func cmrCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "cmr", Short: "Comprehensive medication reviews: their written summaries"}
	var pdfOut, htmlOut, prepared string
	summary := &cobra.Command{
		Use:   "summary ENCOUNTER_ID",
		Short: "Write a CMR's written summary in CMS's Standardized Format (cover letter, Medication Action Plan, Personal Medication List) as PDF and HTML",
		Long: "Write the written summary of a completed CMR in CMS's Standardized Format (Form CMS-10396): the cover letter,\n" +
			"the Medication Action Plan (the problems the pharmacist recorded at the CMR and what was asked of prescribers)\n" +
			"and the Personal Medication List (the drugs the member's claims show in use at the CMR), with the plan's name and\n" +
			"contact from the plan policy (letters). CMS: send it within 14 days of the CMR; the CMR_SUMMARY task tracks it.\n" +
			"The files are written readable by their owner only: they hold the member's id and birth date.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pdfOut == "" && htmlOut == "" {
				return fmt.Errorf("say where to write it: --pdf FILE and/or --html FILE")
			}
			req := &riskv1.GetCmrSummaryRequest{EncounterId: args[0]}
			if prepared != "" {
				d, err := civil.Parse(prepared)
				if err != nil {
					return fmt.Errorf("--prepared: %w", err)
				}
				req.PreparedOn = d.Proto()
			}
			cc, err := g.dial("risk-scoring")
			if err != nil {
				return err
			}
			defer cc.Close()
			resp, err := riskv1.NewRiskScoringServiceClient(cc).GetCmrSummary(cmd.Context(), req)
			if err != nil {
				return err
			}
			for _, f := range []struct {
				path string
				data []byte
				what string
			}{{pdfOut, resp.Pdf, fmt.Sprintf("PDF, %d pages", resp.PdfPages)}, {htmlOut, resp.Html, "HTML"}} {
				if f.path == "" {
					continue
				}
				if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s, %d bytes)\n", f.path, f.what, len(f.data))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "CMR of %s on %s: %d topic(s) in the action plan, %d medication(s) on the list; send it by %s\n",
				resp.MemberId, civil.FromProto(resp.ServiceDate), resp.Topics, resp.Medications, civil.FromProto(resp.SendBy))
			return nil
		},
	}
	summary.Flags().StringVar(&pdfOut, "pdf", "", "write the PDF to this file")
	summary.Flags().StringVar(&htmlOut, "html", "", "write the HTML page to this file")
	summary.Flags().StringVar(&prepared, "prepared", "", "the letter's date, YYYY-MM-DD (default: today)")
	root.AddCommand(summary)
	return root
}
