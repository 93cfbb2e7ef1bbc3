package ctl

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/libs/civil"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	"github.com/emtm/emtm/services/emtm/internal/whatif"
)

// whatifCmd is `whatif`: the live program's recorded events replayed under
// other policies in a shadow pipeline, the figures side by side.
func whatifCmd(g *globals) *cobra.Command {
	var o whatif.Options
	var plan, from, to string
	var asCSV bool
	c := &cobra.Command{
		Use:   "whatif [--risk-policy FILE] [--program-policy FILE] [--payment-policy FILE] [--outreach-policy FILE] [--from DATE --to DATE] [--csv]",
		Short: "Replay the live program's events under other policies in a shadow pipeline and compare the figures",
		Long: "Replay the validated events the live program recorded (enrollment, claims and reversals, Parts A/B summaries,\n" +
			"conditions, MTM encounters, read through ingestion's ExportEvents) into a shadow pipeline of its own: an in-process\n" +
			"NATS JetStream and a private redis-server in a temporary directory, the services on the event clock under the\n" +
			"policies given (a policy not given: the live service's own). The live program is only read; the shadow is removed\n" +
			"when the run ends. With --from/--to only the events dated within them are replayed, and the live column is the\n" +
			"same events replayed under the live policies. Prints, for the plan, the live figures and the what-if's side by side: members per tier,\n" +
			"interventions by kind and the pharmacist hours they imply (the program policy's pharmacist_minutes), pharmacy fees\n" +
			"and prospective payments booked (the ledger's, every plan), prescriber letters, and per tier the fees its\n" +
			"interventions would be paid once done (the payment policy's fee schedule) and pharmacist hours, per member.\n" +
			"Operators only (the export carries every member). Needs redis-server on this machine (make need-redis). docs/whatif.md",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Contract, o.PBP, err = splitPlan(plan); err != nil {
				return fmt.Errorf("--plan: %w", err)
			}
			for _, d := range []struct {
				flag, value string
				dst         *civil.Date
			}{{"--from", from, &o.From}, {"--to", to, &o.To}} {
				if d.value == "" {
					continue
				}
				if *d.dst, err = civil.Parse(d.value); err != nil {
					return fmt.Errorf("%s: %w", d.flag, err)
				}
			}
			if !o.From.IsZero() && !o.To.IsZero() && o.To.Before(o.From) {
				return fmt.Errorf("--to %s is before --from %s", o.To, o.From)
			}
			live, closeAll, err := g.dialAll()
			if err != nil {
				return err
			}
			defer closeAll()
			o.Progress = cmd.ErrOrStderr()
			res, err := whatif.Run(cmd.Context(), o, live)
			if err != nil {
				return err
			}
			if asCSV {
				return whatif.WriteCSV(cmd.OutOrStdout(), res.Rows())
			}
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, whatif.Title(o, res))
			fmt.Fprintf(w, "replayed %d events (of %d stored) in %s\n\n", res.Copied, res.Stored, res.Took.Round(time.Second))
			return whatif.Print(w, res.Rows())
		},
	}
	f := c.Flags()
	f.StringVar(&o.RiskPolicy, "risk-policy", "", "risk policy file of the what-if (default: the live service's own)")
	f.StringVar(&o.ProgramPolicy, "program-policy", "", "program policy file of the what-if (default: the live service's own)")
	f.StringVar(&o.PaymentPolicy, "payment-policy", "", "payment policy file of the what-if (default: the live service's own)")
	f.StringVar(&o.OutreachPolicy, "outreach-policy", "", "outreach policy file of the what-if (default: the live service's own)")
	f.StringVar(&from, "from", "", "replay only events dated from this day, YYYY-MM-DD (claims, encounters: date of service; spans and conditions that last into it)")
	f.StringVar(&to, "to", "", "replay only events dated up to this day, YYYY-MM-DD")
	f.StringVar(&plan, "plan", samplePlan, "the plan whose figures are compared, contract-pbp")
	f.IntVar(&o.Partitions, "partitions", 4, "the live program's partitions (the shadow runs as many)")
	f.DurationVar(&o.Within, "timeout", 2*time.Hour, "give up when the shadow has not finished within this")
	f.BoolVar(&asCSV, "csv", false, "write the comparison as CSV (figure,live,whatif,change) to standard output")
	f.IntVar(&o.Step, "step", 100, "copy this many events at a time, each step once the shadow has handled the last (larger: faster, "+
		"but the services' event clocks may run ahead of a stream's backlog; docs/whatif.md)")
	return c
}

// policyServices are the services with a policy, by the name `emtmctl policy` takes.
var policyServices = map[string]string{"risk": "risk-scoring", "program": "intervention-scheduling",
	"outreach": "prescriber-outreach", "payment": "payment-reconciliation"}

// policyCmd is `policy risk|program|outreach|payment`: a live service's
// policy as it read it, to start a what-if's from.
func policyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:       "policy risk|program|outreach|payment",
		Short:     "Print the policy a live service runs under, as it read it at start (a what-if's starting point)",
		Long:      "Print the YAML policy a live service runs under, exactly as it read it at start; its file name and SHA-256 go to\nstandard error. Copy it, change it and pass it to `emtmctl whatif`. Operators only.",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"risk", "program", "outreach", "payment"},
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, ok := policyServices[args[0]]
			if !ok {
				return fmt.Errorf("no policy %q: name one of risk, program, outreach, payment", args[0])
			}
			cc, err := g.dial(svc)
			if err != nil {
				return err
			}
			defer cc.Close()
			r, err := opsv1.NewPolicyServiceClient(cc).GetPolicy(cmd.Context(), &opsv1.GetPolicyRequest{})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "# %s policy: %s (sha256 %s)\n", svc, r.Name, r.Sha256)
			_, err = cmd.OutOrStdout().Write(r.Text)
			return err
		},
	}
}
