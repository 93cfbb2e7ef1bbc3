package ctl

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/services/emtm/internal/load"
)

func splitPlan(plan string) (string, string, error) {
	p, err := planid.Parse(plan)
	return p.Contract, p.PBP, err
}

func (g *globals) scheduling(cmd *cobra.Command) (schedulingv1.InterventionSchedulingServiceClient, func(), error) {
	cc, err := g.dial("intervention-scheduling")
	if err != nil {
		return nil, nil, err
	}
	return schedulingv1.NewInterventionSchedulingServiceClient(cc), func() { _ = cc.Close() }, nil
}

func tasksCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "tasks", Short: "Intervention tasks: list, overdue, lease, complete, release"}
	var member, statusName, kindName, plan string
	var limit int
	printTasks := func(w io.Writer, ts []*schedulingv1.InterventionTask) error {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TASK\tKIND\tSTATUS\tPRIORITY\tDUE\tEXPIRES\tOFFERED\tWORKER\tREASON")
		for _, t := range ts {
			reason := t.Reason
			if t.StatusReason != "" {
				reason = t.StatusReason
			}
			if n := len(t.Attempts); n > 0 {
				reason += fmt.Sprintf(" [%d contact attempt(s), the last %s %s]", n, civil.FromProto(t.Attempts[n-1].Date),
					strings.ToLower(enums.Name(t.Attempts[n-1].Outcome)))
			}
			offered := "-"
			if t.OfferedOn != nil {
				offered = civil.FromProto(t.OfferedOn).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", t.TaskId, enums.Name(t.Kind),
				enums.Name(t.Status), t.Priority, civil.FromProto(t.DueDate), civil.FromProto(t.ExpiresOn), offered, t.LeaseWorker, reason)
		}
		return tw.Flush()
	}
	list := func(overdue bool) func(cmd *cobra.Command, _ []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			api, done, err := g.scheduling(cmd)
			if err != nil {
				return err
			}
			defer done()
			req := &schedulingv1.ListTasksRequest{MemberId: member, Limit: int32(limit), OverdueOnly: overdue}
			if statusName != "" {
				v, ok := enums.Parse[schedulingv1.TaskStatus](statusName)
				if !ok {
					return fmt.Errorf("status %q: use one of %s", statusName, strings.ToLower(strings.Join(enums.Names[schedulingv1.TaskStatus](), ", ")))
				}
				req.Status = v
			}
			if kindName != "" {
				v, ok := enums.Parse[schedulingv1.TaskKind](kindName)
				if !ok {
					return fmt.Errorf("kind %q: use one of %s", kindName, strings.Join(enums.Names[schedulingv1.TaskKind](), ", "))
				}
				req.Kind = v
			}
			if plan != "" {
				if req.ContractId, req.PbpId, err = splitPlan(plan); err != nil {
					return err
				}
			}
			resp, err := api.ListTasks(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printTasks(cmd.OutOrStdout(), resp.Tasks)
		}
	}
	ls := &cobra.Command{Use: "list", Short: "Tasks, earliest due first", Args: cobra.NoArgs, RunE: list(false)}
	overdue := &cobra.Command{Use: "overdue", Short: "Open tasks past their due date (on the scheduling clock)", Args: cobra.NoArgs, RunE: list(true)}
	for _, c := range []*cobra.Command{ls, overdue} {
		c.Flags().StringVar(&member, "member", "", "one beneficiary")
		c.Flags().StringVar(&statusName, "status", "", "scheduled, leased, completed, cancelled or expired")
		c.Flags().StringVar(&kindName, "kind", "", "CMR, TMR, ADHERENCE_OUTREACH, POST_DISCHARGE, FOLLOW_UP or CMR_SUMMARY")
		c.Flags().StringVar(&plan, "plan", "", "contract-pbp, e.g. S9925-001")
		c.Flags().IntVar(&limit, "limit", 100, "at most this many (1..1000)")
	}
	var worker string
	var max int
	lease := &cobra.Command{
		Use:   "lease --worker NAME --plan S9925-001",
		Short: "Lease ready tasks, highest priority first, within the week's capacity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := splitPlan(plan)
			if err != nil {
				return err
			}
			api, done, err := g.scheduling(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.LeaseTasks(cmd.Context(), &schedulingv1.LeaseTasksRequest{Worker: worker, ContractId: c, PbpId: p, Max: int32(max)})
			if err != nil {
				return err
			}
			if err := printTasks(cmd.OutOrStdout(), resp.Tasks); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d leased; %d ready tasks wait\n", len(resp.Tasks), resp.Queued)
			return nil
		},
	}
	lease.Flags().StringVar(&worker, "worker", "", "who takes the tasks")
	lease.Flags().StringVar(&plan, "plan", "", "contract-pbp")
	lease.Flags().IntVar(&max, "max", 10, "at most this many")
	var note string
	complete := &cobra.Command{
		Use:   "complete TASK_ID",
		Short: "Complete a task (the worker's lease, or any open task without --worker)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, done, err := g.scheduling(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.CompleteTask(cmd.Context(), &schedulingv1.CompleteTaskRequest{TaskId: args[0], Worker: worker, Note: note})
			if err != nil {
				return err
			}
			return printTasks(cmd.OutOrStdout(), []*schedulingv1.InterventionTask{resp.Task})
		},
	}
	complete.Flags().StringVar(&worker, "worker", "", "the worker holding the lease")
	complete.Flags().StringVar(&note, "note", "", "what was done")
	release := &cobra.Command{
		Use:   "release TASK_ID --worker NAME",
		Short: "Give a leased task back to the queue",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, done, err := g.scheduling(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.ReleaseTask(cmd.Context(), &schedulingv1.ReleaseTaskRequest{TaskId: args[0], Worker: worker})
			if err != nil {
				return err
			}
			return printTasks(cmd.OutOrStdout(), []*schedulingv1.InterventionTask{resp.Task})
		},
	}
	release.Flags().StringVar(&worker, "worker", "", "the worker holding the lease")
	sweep := &cobra.Command{
		Use:   "sweep",
		Short: "Run the scheduling sweep now (expired leases, expiry, lost events, work queue)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, done, err := g.scheduling(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.Sweep(cmd.Context(), &schedulingv1.SweepRequest{})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "swept as of %s\n", civil.FromProto(resp.Today))
			return nil
		},
	}
	root.AddCommand(ls, overdue, lease, complete, release, sweep)
	return root
}

func measuresCmd(g *globals) *cobra.Command {
	var plan string
	var year int
	c := &cobra.Command{
		Use:   "measures [safety] --year Y",
		Short: "Enhanced MTM monitoring measures (post-discharge services, CMR offer and completion, TMR completion); `measures safety`: the PQA safety measures from files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			con, p, err := splitPlan(plan)
			if err != nil {
				return err
			}
			api, done, err := g.scheduling(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := api.GetMonitoringMeasures(cmd.Context(), &schedulingv1.GetMonitoringMeasuresRequest{ContractId: con, PbpId: p, Year: int32(year)})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MEASURE\tRESULT\tRATE\tDEFINITION")
			for _, m := range resp.Measures {
				fmt.Fprintf(tw, "%s\t%d of %d\t%.1f%%\t%s\n", m.Name, m.Numerator, m.Denominator, 100*m.Rate, m.Definition)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&plan, "plan", planid.Key(load.SamplePlan.Contract, load.SamplePlan.PBP), "contract-pbp")
	c.Flags().IntVar(&year, "year", time.Now().Year(), "measurement year")
	c.AddCommand(safetyCmd())
	return c
}

// EncounterCSVHeader is the encounter data export (docs/encounter-data.md).
var EncounterCSVHeader = []string{"encounter_id", "member_id", "mbi", "contract_id", "pbp_id", "service_date", "snomed_ct_code",
	"pharmacist_npi", "pharmacy_npi", "minutes", "delivery_mode", "outcome", "problems_found", "problems_resolved", "task_id"}

// ExportEncounters writes one row per service of every completed MTM
// encounter dated from..to on EMTM_ENCOUNTERS.
func ExportEncounters(ctx context.Context, js jetstream.JetStream, from, to civil.Date, w io.Writer) (int, error) {
	st, err := js.Stream(ctx, bus.StreamEncounters)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(EncounterCSVHeader)
	rows := 0
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			return rows, fmt.Errorf("encounter %d: %w", seq, err)
		}
		var e encountersv1.MtmEncounter
		if err := proto.Unmarshal(m.Data, &e); err != nil {
			return rows, fmt.Errorf("encounter %d unreadable: %w", seq, err)
		}
		d := civil.FromProto(e.ServiceDate)
		if e.Outcome != encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED || (!from.IsZero() && d.Before(from)) || (!to.IsZero() && d.After(to)) {
			continue
		}
		for _, code := range e.ServiceCodes {
			_ = cw.Write([]string{e.EncounterId, e.MemberId, e.Mbi, e.ContractId, e.PbpId, d.String(), code, e.PharmacistNpi, e.PharmacyNpi,
				strconv.Itoa(int(e.Minutes)), enums.Name(e.DeliveryMode),
				enums.Name(e.Outcome), strconv.Itoa(int(e.ProblemsFound)), strconv.Itoa(int(e.ProblemsResolved)), e.TaskId})
			rows++
		}
	}
	cw.Flush()
	return rows, cw.Error()
}

func encountersCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "encounters", Short: "MTM encounters"}
	var from, to string
	export := &cobra.Command{
		Use:   "export [--from YYYY-MM-DD] [--to YYYY-MM-DD]",
		Short: "Completed MTM services as encounter data: CSV, one row per SNOMED CT coded service (docs/encounter-data.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var f, t civil.Date
			var err error
			if from != "" {
				if f, err = civil.Parse(from); err != nil {
					return fmt.Errorf("--from: %w", err)
				}
			}
			if to != "" {
				if t, err = civil.Parse(to); err != nil {
					return fmt.Errorf("--to: %w", err)
				}
			}
			nc, js, err := g.jetstream()
			if err != nil {
				return err
			}
			defer nc.Close()
			n, err := ExportEncounters(cmd.Context(), js, f, t, cmd.OutOrStdout())
			if err == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "%d services exported\n", n)
			}
			return err
		},
	}
	export.Flags().StringVar(&from, "from", "", "first service date")
	export.Flags().StringVar(&to, "to", "", "last service date")
	root.AddCommand(export)
	return root
}
