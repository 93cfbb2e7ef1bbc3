package ctl

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/libs/civil"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	"github.com/emtm/emtm/libs/gen/enums"
)

func (g *globals) outreach() (outreachv1.PrescriberOutreachServiceClient, func(), error) {
	cc, err := g.dial("prescriber-outreach")
	if err != nil {
		return nil, nil, err
	}
	return outreachv1.NewPrescriberOutreachServiceClient(cc), func() { _ = cc.Close() }, nil
}

func printItems(w io.Writer, items []*outreachv1.OutreachItem) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ITEM\tPROBLEM\tSTATUS\tRAISED\tSENT\tANSWERED\tCOMMUNICATION\tNOTE")
	for _, it := range items {
		dash := func(d civil.Date) string {
			if d.IsZero() {
				return "-"
			}
			return d.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.ItemId, it.ProblemCode, enums.Name(it.Status), dash(civil.FromProto(it.CreatedOn)),
			dash(civil.FromProto(it.SentOn)), dash(civil.FromProto(it.RespondedOn)), it.CommunicationId, it.ResponseNote)
	}
	return tw.Flush()
}

func outreachCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "outreach", Short: "Prescriber outreach: items, letters, responses and acceptance rates"}
	var limit int
	list := &cobra.Command{
		Use:   "list NPI",
		Short: "A prescriber's outreach items, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, done, err := g.outreach()
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.ListOutreach(cmd.Context(), &outreachv1.ListOutreachRequest{PrescriberNpi: args[0], Limit: int32(limit)})
			if err != nil {
				return err
			}
			return printItems(cmd.OutOrStdout(), resp.Items)
		},
	}
	list.Flags().IntVar(&limit, "limit", 100, "at most this many items")
	var html bool
	letters := &cobra.Command{
		Use:   "letters NPI",
		Short: "The letters sent to a prescriber, newest first, as plain text (or --html)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, done, err := g.outreach()
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.ListCommunications(cmd.Context(), &outreachv1.ListCommunicationsRequest{PrescriberNpi: args[0], Limit: int32(limit)})
			if err != nil {
				return err
			}
			if len(resp.Communications) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no letters to prescriber %s yet\n", args[0])
				return nil
			}
			for i, c := range resp.Communications {
				if i > 0 && !html {
					fmt.Fprintln(cmd.OutOrStdout(), strings.Repeat("-", 78))
				}
				if html {
					fmt.Fprint(cmd.OutOrStdout(), c.Html)
				} else {
					fmt.Fprint(cmd.OutOrStdout(), c.Text)
				}
			}
			return nil
		},
	}
	letters.Flags().IntVar(&limit, "limit", 20, "at most this many letters")
	letters.Flags().BoolVar(&html, "html", false, "print the HTML rendering")
	var note, on, pharmacy string
	respond := &cobra.Command{
		Use:   "respond ITEM_ID accepted|declined [--note TEXT] [--on YYYY-MM-DD] [--pharmacy NPI]",
		Short: "Record a prescriber's answer to an outreach item",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, ok := enums.Parse[outreachv1.OutreachStatus](args[1])
			if !ok || (st != outreachv1.OutreachStatus_OUTREACH_STATUS_ACCEPTED && st != outreachv1.OutreachStatus_OUTREACH_STATUS_DECLINED) {
				return fmt.Errorf("answer %q: use accepted or declined", args[1])
			}
			req := &outreachv1.RecordResponseRequest{ItemId: args[0], Status: st, Note: note, PharmacyNpi: pharmacy}
			if on != "" {
				d, err := civil.Parse(on)
				if err != nil {
					return fmt.Errorf("--on: %w", err)
				}
				req.RespondedOn = d.Proto()
			}
			api, done, err := g.outreach()
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.RecordResponse(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printItems(cmd.OutOrStdout(), []*outreachv1.OutreachItem{resp.Item})
		},
	}
	respond.Flags().StringVar(&note, "note", "", "the prescriber's comment")
	respond.Flags().StringVar(&on, "on", "", "the date of the answer (default: today on the outreach clock)")
	respond.Flags().StringVar(&pharmacy, "pharmacy", "", "the pharmacy whose pharmacist obtained the answer (paid the PRESCRIBER_ACCEPTED fee)")
	stats := &cobra.Command{
		Use:   "stats",
		Short: "Acceptance rates per prescriber and per problem type",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, done, err := g.outreach()
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.GetOutreachStats(cmd.Context(), &outreachv1.GetOutreachStatsRequest{})
			if err != nil {
				return err
			}
			return printStats(cmd.OutOrStdout(), resp)
		},
	}
	sweep := &cobra.Command{
		Use:   "sweep",
		Short: "Run the outreach sweep now (letters for ended periods, no-response deadlines, lost events)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, done, err := g.outreach()
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.Sweep(cmd.Context(), &outreachv1.SweepRequest{})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "swept as of %s: %d letters built, %d items past their deadline marked no response\n",
				civil.FromProto(resp.Today), resp.Communications, resp.NoResponse)
			return nil
		},
	}
	root.AddCommand(list, letters, respond, stats, sweep)
	return root
}

// printStats prints the acceptance table: accepted / (accepted + declined + no response).
func printStats(w io.Writer, s *outreachv1.GetOutreachStatsResponse) error {
	fmt.Fprintf(w, "letters %d; problems found again within the repeat window and not raised: %d; encounter responses unmatched: %d\n",
		s.Communications, s.Suppressed, s.UnmatchedResponses)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(kind string, r *outreachv1.ResponseCounts) {
		rate := "-"
		if r.Accepted+r.Declined+r.NoResponse > 0 {
			rate = fmt.Sprintf("%.1f%%", 100*r.AcceptanceRate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", kind, r.Key, r.Pending, r.Sent, r.Accepted, r.Declined, r.NoResponse, r.Superseded, rate)
	}
	fmt.Fprintln(tw, "BY\tKEY\tPENDING\tSENT\tACCEPTED\tDECLINED\tNO RESPONSE\tSUPERSEDED\tACCEPTANCE\t")
	for _, r := range s.ByProblem {
		row("problem", r)
	}
	for _, r := range s.ByPrescriber {
		row("prescriber", r)
	}
	if s.Total != nil {
		row("all", s.Total)
	}
	return tw.Flush()
}
