package ctl

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/services/emtm/internal/summary"
	"github.com/emtm/emtm/services/risk-scoring/pdc"
)

func pdcCmd() *cobra.Command {
	var fills string
	var year int
	c := &cobra.Command{
		Use:   "pdc --fills FILE --year Y",
		Short: "Proportion of Days Covered (CMS Star D10-D12) from a CSV of fills; prints CSV",
		Long: "Reads " + pdc.CSVHeader + " (class may be empty; several ingredients separated by ' / ')\n" +
			"and prints beneficiary_id,class,ipsd,treatment_days,covered_days,pdc for every beneficiary and class\n" +
			"in the measure, sorted by beneficiary then class (rules: docs/domain.md section 3).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := os.Open(fills)
			if err != nil {
				return err
			}
			defer f.Close()
			rows, err := pdc.ReadCSV(f)
			if err != nil {
				return fmt.Errorf("%s: %w", fills, err)
			}
			ref, err := drugref.Load()
			if err != nil {
				return err
			}
			bs, unknown := pdc.FromRows(rows, ref, year)
			for _, name := range sortedNames(unknown) {
				fmt.Fprintf(cmd.ErrOrStderr(), "unknown ingredient %q in %d row(s): classified only where the class column names its class\n", name, unknown[name])
			}
			return pdc.WriteCSV(cmd.OutOrStdout(), bs)
		},
	}
	c.Flags().StringVar(&fills, "fills", "", "CSV of fills")
	c.Flags().IntVar(&year, "year", 0, "measurement year")
	_ = c.MarkFlagRequired("fills")
	_ = c.MarkFlagRequired("year")
	return c
}

func sortedNames(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func profileCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "profile MEMBER_ID",
		Short: "A beneficiary's profile: drugs, PDC by class, MTM eligibility with reasons, problems and the score",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, err := g.dial("risk-scoring")
			if err != nil {
				return err
			}
			defer cc.Close()
			resp, err := riskv1.NewRiskScoringServiceClient(cc).GetProfile(cmd.Context(), &riskv1.GetProfileRequest{MemberId: args[0]})
			if err != nil {
				return err
			}
			PrintProfile(cmd.OutOrStdout(), resp.Profile)
			return nil
		},
	}
}

// PrintProfile writes a profile for a pharmacist or an auditor.
func PrintProfile(w io.Writer, p *riskv1.Profile) {
	a := p.LatestAssessment
	fmt.Fprintf(w, "beneficiary  %s   plan %s-%s\n", p.MemberId, p.ContractId, p.PbpId)
	fmt.Fprintf(w, "as of        %s\n", civil.FromProto(a.GetAsOf()))
	fmt.Fprintf(w, "claims       %d active, %d reversed, %s in total; %d conditions, %d Parts A/B events; %d bytes stored\n",
		p.ActiveClaims, p.ReversedClaims, summary.Dollars(p.TotalCostCents), p.Conditions, p.PartsAbEvents, p.StoredBytes)
	fmt.Fprintf(w, "drugs        %s\n", strings.Join(p.Ingredients, ", "))
	if len(p.UnknownDrugs) > 0 {
		fmt.Fprintf(w, "unknown      %s (not in the drug reference: not counted as drugs)\n", strings.Join(p.UnknownDrugs, ", "))
	}
	fmt.Fprintf(w, "chronic      %s\n", orDash(strings.Join(p.ChronicConditions, ", ")))
	fmt.Fprintf(w, "\nRISK  score %d, tier %s\n", a.GetScore(), strings.TrimPrefix(a.GetTier().String(), "RISK_TIER_"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range a.GetFactors() {
		fmt.Fprintf(tw, "  %+d\t%s\t%s\n", f.Points, f.Code, f.Description)
	}
	_ = tw.Flush()
	e := a.GetEligibility()
	verdict := "not eligible"
	if e.GetEligible() {
		verdict = "ELIGIBLE"
	}
	fmt.Fprintf(w, "\nMTM ELIGIBILITY %d: %s\n", e.GetYear(), verdict)
	for _, r := range e.GetReasons() {
		fmt.Fprintf(w, "  - %s\n", r)
	}
	fmt.Fprintf(w, "\nADHERENCE (PDC, interim to the as-of date)\n")
	if len(a.GetPdc()) == 0 {
		fmt.Fprintln(w, "  no fills in DIAB, RASA or STATIN this year")
	}
	for _, r := range a.GetPdc() {
		if !r.InMeasure {
			fmt.Fprintf(w, "  %-6s not in the measure: %s\n", r.Class, r.Reason)
			continue
		}
		mark := "adherent"
		if !r.Adherent {
			mark = "NON-ADHERENT"
		}
		fmt.Fprintf(w, "  %-6s %.4f  %d of %d days, %s to %s  %s\n", r.Class, r.Pdc, r.CoveredDays, r.TreatmentDays,
			civil.FromProto(r.Ipsd), civil.FromProto(r.End), mark)
	}
	fmt.Fprintf(w, "\nSAFETY MEASURES %d (PQA, interim to the as-of date)\n", civil.FromProto(a.GetAsOf()).Year)
	if len(a.GetSafety()) == 0 {
		fmt.Fprintln(w, "  in no measure's denominator")
	}
	for _, m := range a.GetSafety() {
		verdict := "numerator 0"
		if m.Numerator {
			verdict = "numerator 1"
		}
		if m.Excluded {
			verdict += ", EXCLUDED by " + strings.Join(m.ExcludedBy, ", ")
		}
		fmt.Fprintf(w, "  %-8s %s: %s\n", m.Measure, verdict, m.Detail)
	}
	fmt.Fprintf(w, "\nEXCLUSIONS\n")
	if len(p.GetExclusions()) == 0 {
		fmt.Fprintln(w, "  none on record")
	}
	for _, e := range p.GetExclusions() {
		end := "open"
		if e.End != nil {
			end = civil.FromProto(e.End).String()
		}
		fmt.Fprintf(w, "  %-30s %s to %s  (%s)\n", e.Name, civil.FromProto(e.Start), end, e.Source)
	}
	fmt.Fprintf(w, "\nDRUG THERAPY PROBLEMS\n")
	if len(a.GetProblems()) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, pr := range a.GetProblems() {
		fmt.Fprintf(w, "  %s: %s\n", pr.Key, pr.Description)
		fmt.Fprintf(w, "      recommend: %s\n", pr.Recommendation)
		fmt.Fprintf(w, "      prescribers %s; claims %s\n", strings.Join(pr.PrescriberNpis, ", "), abbreviate(pr.ClaimIds, 4))
		fmt.Fprintf(w, "      source: %s\n", pr.Source)
	}
}

func abbreviate(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:n], ", "), len(ids)-n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func profilesCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "profiles", Short: "All beneficiaries' profiles"}
	var apply bool
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Replay the claims and medical streams into a fresh namespace and compare with the live profiles (--apply replaces them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, err := g.dial("risk-scoring")
			if err != nil {
				return err
			}
			defer cc.Close()
			r, err := riskv1.NewRiskScoringServiceClient(cc).RebuildProfiles(cmd.Context(), &riskv1.RebuildProfilesRequest{Apply: apply})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "replayed %d events; rebuilt %d profiles, live %d, equal %d\n", r.EventsReplayed, r.ProfilesRebuilt, r.ProfilesLive, r.ProfilesEqual)
			for _, d := range r.Differences {
				fmt.Fprintf(cmd.OutOrStdout(), "  differs: %s\n", d)
			}
			if r.Applied {
				fmt.Fprintln(cmd.OutOrStdout(), "the rebuilt profiles are now the live ones")
			}
			if len(r.Differences) > 0 && !r.Applied {
				return ExitError{Code: 1}
			}
			return nil
		},
	}
	rebuild.Flags().BoolVar(&apply, "apply", false, "replace the live profiles with the rebuilt ones (run while the pipeline is quiet)")
	stats := &cobra.Command{
		Use:   "stats",
		Short: "Profiles: how many, their size in Redis, tiers, eligibility and problems",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, err := g.dial("risk-scoring")
			if err != nil {
				return err
			}
			defer cc.Close()
			s, err := riskv1.NewRiskScoringServiceClient(cc).GetProfileStats(cmd.Context(), &riskv1.GetProfileStatsRequest{})
			if err != nil {
				return err
			}
			PrintStats(cmd.OutOrStdout(), s)
			return nil
		},
	}
	root.AddCommand(rebuild, stats)
	return root
}

// PrintStats writes profile statistics.
func PrintStats(w io.Writer, s *riskv1.GetProfileStatsResponse) {
	avg := int64(0)
	if s.Profiles > 0 {
		avg = s.TotalBytes / s.Profiles
	}
	fmt.Fprintf(w, "profiles   %d, %d bytes in Redis (average %d, largest %d)\n", s.Profiles, s.TotalBytes, avg, s.MaxBytes)
	fmt.Fprintf(w, "tiers      %s\n", joinCounts(s.ByTier))
	fmt.Fprintf(w, "eligible   %d for CMS MTM\n", s.Eligible)
	fmt.Fprintf(w, "problems   %s (beneficiaries with each)\n", joinCounts(s.ByProblem))
}

func joinCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
