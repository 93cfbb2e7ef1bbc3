// Package ctl is emtmctl, the operator's command line: check identifiers,
// look at streams and backlogs, print the pipeline summary, list rejections.
package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/directory"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/services/emtm/internal/load"
	"github.com/emtm/emtm/services/emtm/internal/stack"
	"github.com/emtm/emtm/services/emtm/internal/summary"
)

// ExitError carries an exit code without printing anything more.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

type globals struct {
	natsURL  string
	natsUser string
	tls      grpcx.TLS
	addrs    map[string]*string
	getenv   func(string) string
}

// New returns the emtmctl root command. getenv supplies EMTM_* defaults.
func New(getenv func(string) string) *cobra.Command {
	g := &globals{getenv: getenv, addrs: map[string]*string{}}
	root := &cobra.Command{
		Use:           "emtmctl",
		Short:         "Operate emtm: check identifiers, inspect streams, summaries and rejections",
		SilenceUsage:  true,
		SilenceErrors: true,
		// What emtmctl prints comes partly from data: it cannot drive the terminal.
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			cmd.Root().SetOut(TerminalSafe(cmd.Root().OutOrStdout()))
			cmd.Root().SetErr(TerminalSafe(cmd.Root().ErrOrStderr()))
		},
	}
	def := func(env, fallback string) string {
		if v := getenv(env); v != "" {
			return v
		}
		return fallback
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.natsURL, "nats-url", def(config.EnvName("nats-url"), "nats://127.0.0.1:4222"), "NATS server (env EMTM_NATS_URL)")
	pf.StringVar(&g.natsUser, "nats-user", def(config.EnvName("nats-user"), ""), "NATS user, usually admin (env EMTM_NATS_USER; the password is read from EMTM_NATS_PASSWORD)")
	pf.StringVar(&g.tls.CAFile, "tls-ca", def(config.EnvName("tls-ca"), ""), "talk gRPC over TLS, trusting this CA (env EMTM_TLS_CA)")
	pf.StringVar(&g.tls.CertFile, "tls-cert", def(config.EnvName("tls-cert"), ""), "client certificate for mTLS (env EMTM_TLS_CERT)")
	pf.StringVar(&g.tls.KeyFile, "tls-key", def(config.EnvName("tls-key"), ""), "its private key (env EMTM_TLS_KEY)")
	for _, d := range directory.All {
		flag := d.Name + "-addr"
		g.addrs[d.Name] = pf.String(flag, def(config.EnvName(flag), d.GRPCAddr), d.Name+" gRPC address (env "+config.EnvName(flag)+")")
	}
	root.AddCommand(checkCmd(), statusCmd(g), summaryCmd(g), outreachCmd(g), statementCmd(g), remittanceCmd(g), performanceCmd(g), ledgerCmd(g), rejectsCmd(g), importCmd(g), syntheaCmd(), reversalsCmd(g), awaitingCmd(g),
		pdcCmd(), profileCmd(g), profilesCmd(g), tasksCmd(g), measuresCmd(g), encountersCmd(g), natsAuthCmd(), topologyCmd(), streamsCmd(g), certsCmd(), permissionsCmd(), dlqCmd(g), auditCmd(g))
	root.AddCommand(auditCmds()...)
	root.AddCommand(carePlanCmd(g), cmrCmd(g), generateCmd(), whatifCmd(g), policyCmd(g), backfillCmd(g))
	return root
}

func checkCmd() *cobra.Command {
	checks := map[string]func(string) (string, error){
		"mbi": identifiers.MBI, "npi": identifiers.NPI, "ndc": identifiers.NDC, "snomed": identifiers.SNOMED,
	}
	return &cobra.Command{
		Use:   "check mbi|npi|ndc|snomed VALUE...",
		Short: "Validate identifiers: one line per value, VALUE<TAB>ok or VALUE<TAB>error: reason; exit 1 if any is invalid",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			check, ok := checks[strings.ToLower(args[0])]
			if !ok {
				return fmt.Errorf("unknown identifier kind %q: use mbi, npi, ndc or snomed", args[0])
			}
			bad := false
			for _, v := range args[1:] {
				if _, err := check(v); err != nil {
					bad = true
					fmt.Fprintf(cmd.OutOrStdout(), "%s\terror: %v\n", v, err)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "%s\tok\n", v)
				}
			}
			if bad {
				return ExitError{Code: 1}
			}
			return nil
		},
	}
}

func (g *globals) jetstream() (*nats.Conn, jetstream.JetStream, error) { return g.jetstreamWith() }

// jetstreamWith is jetstream with JetStream options (a publish window).
func (g *globals) jetstreamWith(jopts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{nats.Name("emtmctl"), nats.Timeout(3 * time.Second)}
	if g.natsUser != "" {
		opts = append(opts, nats.UserInfo(g.natsUser, g.getenv(config.EnvName("nats-password"))), nats.CustomInboxPrefix(bus.InboxPrefix(g.natsUser)))
	}
	nc, err := nats.Connect(g.natsURL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s (is emtm running? start it with `make run`): %w", config.RedactURLs(g.natsURL), err)
	}
	js, err := jetstream.New(nc, jopts...)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func (g *globals) dial(name string) (*grpc.ClientConn, error) {
	tel, err := otelx.Setup(context.Background(), "emtmctl", g.getenv)
	if err != nil {
		return nil, err
	}
	addr := *g.addrs[name]
	return grpcx.DialWith(addr, tel, g.tls,
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return notAnswering(name, addr, cc, invoker(ctx, method, req, reply, cc, opts...))
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			return s, notAnswering(name, addr, cc, err)
		}))
}

// ErrorText is how emtmctl prints an error: a service's answer as its code
// and message, without gRPC's "rpc error: code = ... desc =" framing.
func ErrorText(err error) string {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return err.Error()
	}
	st := se.GRPCStatus()
	return strings.Replace(err.Error(), st.Err().Error(), st.Code().String()+": "+st.Message(), 1)
}

// notAnswering turns the error of a call that reached no server (the
// connection is not up: nothing listens, or TLS failed) into one that says
// what to do; a service's own Unavailable answers pass unchanged.
func notAnswering(name, addr string, cc *grpc.ClientConn, err error) error {
	if status.Code(err) != codes.Unavailable || cc.GetState() == connectivity.Ready {
		return err
	}
	return status.Errorf(codes.Unavailable, "%s does not answer at %s (is emtm running? start it with `make run`, or give --%s-addr): %s",
		name, addr, name, status.Convert(err).Message())
}

func statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Streams (messages, bytes) and consumers (pending, unacknowledged, redelivered)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := g.jetstream()
			if err != nil {
				return err
			}
			defer nc.Close()
			return printStatus(cmd.Context(), js, cmd.OutOrStdout())
		},
	}
}

func printStatus(ctx context.Context, js jetstream.JetStream, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tMESSAGES\tBYTES\tCONSUMER\tPENDING\tUNACKED\tREDELIVERED")
	for _, s := range bus.Streams {
		st, err := js.Stream(ctx, s.Name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", s.Name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		var rows []string
		lister := st.ListConsumers(ctx)
		for ci := range lister.Info() {
			rows = append(rows, fmt.Sprintf("%s\t%d\t%d\t%d", ci.Name, ci.NumPending, ci.NumAckPending, ci.NumRedelivered))
		}
		if err := lister.Err(); err != nil {
			return err
		}
		sort.Strings(rows)
		if len(rows) == 0 {
			rows = []string{"-\t\t\t"}
		}
		for i, r := range rows {
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", s.Name, info.State.Msgs, info.State.Bytes, r)
			} else {
				fmt.Fprintf(tw, "\t\t\t%s\n", r)
			}
		}
	}
	return tw.Flush()
}

func summaryCmd(g *globals) *cobra.Command {
	var jsonPath, contract, pbp string
	c := &cobra.Command{
		Use:   "summary",
		Short: "What the pipeline has done: claims, rejections, assessments, tasks, outreach, ledger",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := g.jetstream()
			if err != nil {
				return err
			}
			defer nc.Close()
			conns := summary.Conns{}
			for name := range g.addrs {
				cc, err := g.dial(name)
				if err != nil {
					return err
				}
				defer cc.Close()
				conns[name] = cc
			}
			s, err := summary.Collect(cmd.Context(), js, conns, contract, pbp)
			if err != nil {
				return err
			}
			s.Print(cmd.OutOrStdout())
			if jsonPath != "" {
				return s.WriteJSON(jsonPath)
			}
			return nil
		},
	}
	c.Flags().StringVar(&jsonPath, "json", "", "also write the summary as JSON to this file")
	c.Flags().StringVar(&contract, "contract", load.SamplePlan.Contract, "plan contract for the tier counts")
	c.Flags().StringVar(&pbp, "pbp", load.SamplePlan.PBP, "plan benefit package for the tier counts")
	return c
}

func rejectsCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "rejects", Short: "Rejected submissions"}
	var kind string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List rejections, newest first, with their field-level reasons",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ing, done, err := g.ingestion()
			if err != nil {
				return err
			}
			defer done()
			resp, err := ing.ListRejections(cmd.Context(), &ingestionv1.ListRejectionsRequest{Kind: kind, Limit: int32(limit)})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "REJECTION\tKIND\tID\tMEMBER\tSENDER\tSUBJECT\tRECEIVED\tSTATUS\tFIELD\tREASON\tDESCRIPTION")
			for i, r := range resp.Rejections {
				var st *ingestionv1.RejectionStatus
				if i < len(resp.Statuses) {
					st = resp.Statuses[i]
				}
				id, member := idAndMember(r)
				for j, v := range r.Violations {
					head := "\t\t\t\t\t\t\t"
					if j == 0 {
						head = fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", r.RejectionId, r.Kind, orDash(id), orDash(member), orDash(r.Sender), r.RawSubject,
							r.ReceivedAt.AsTime().UTC().Format(time.RFC3339), rejectionState(st))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", head, v.Field, v.Reason, v.Description)
				}
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&kind, "kind", "", "only this kind (claim, reversal, encounter, enrollment, medical)")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many (1..1000)")
	resubmit := &cobra.Command{
		Use:   "resubmit REJECTION_ID",
		Short: "Submit a rejected payload again, after a fix upstream (e.g. the enrollment arrived)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ing, done, err := g.ingestion()
			if err != nil {
				return err
			}
			defer done()
			resp, err := ing.ResubmitRejection(cmd.Context(), &ingestionv1.ResubmitRejectionRequest{RejectionId: args[0]})
			if err != nil {
				return err
			}
			if r := resp.Rejection; r != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s rejected again as %s:\n", args[0], r.RejectionId)
				for _, v := range r.Violations {
					fmt.Fprintf(cmd.OutOrStdout(), "  %s\t%s\t%s\n", v.Field, v.Reason, v.Description)
				}
				return ExitError{Code: 1}
			}
			a := resp.Accepted
			switch {
			case a.Held:
				fmt.Fprintf(cmd.OutOrStdout(), "%s accepted as %s, held until its claim arrives\n", args[0], a.EventId)
			case a.Duplicate:
				fmt.Fprintf(cmd.OutOrStdout(), "%s was already accepted as %s: nothing changed\n", args[0], a.EventId)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "%s accepted as %s\n", args[0], a.EventId)
			}
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show REJECTION_ID",
		Short: "One rejection in full: sender, subject, id, member, every reason, the decoded payload and what became of it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ing, done, err := g.ingestion()
			if err != nil {
				return err
			}
			defer done()
			resp, err := ing.GetRejection(cmd.Context(), &ingestionv1.GetRejectionRequest{RejectionId: args[0]})
			if err != nil {
				return err
			}
			printRejection(cmd.OutOrStdout(), resp.Rejection, resp.Status)
			return nil
		},
	}
	var note string
	handle := &cobra.Command{
		Use:   "handle REJECTION_ID --note TEXT",
		Short: "Mark a rejection as needing nothing more, saying what was done (audited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ing, done, err := g.ingestion()
			if err != nil {
				return err
			}
			defer done()
			resp, err := ing.MarkRejectionHandled(cmd.Context(), &ingestionv1.MarkRejectionHandledRequest{RejectionId: args[0], Note: note})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s handled: %s\n", args[0], resp.Status.Handled)
			return nil
		},
	}
	handle.Flags().StringVar(&note, "note", "", "what was done (required)")
	root.AddCommand(list, show, resubmit, handle)
	return root
}

// dialAll connects to the five services; closeAll closes what it opened.
func (g *globals) dialAll() (conns summary.Conns, closeAll func(), err error) {
	conns = summary.Conns{}
	closeAll = func() {
		for _, cc := range conns {
			_ = cc.Close()
		}
	}
	for _, def := range stack.Services {
		cc, err := g.dial(def.ServiceName())
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns[def.ServiceName()] = cc
	}
	return conns, closeAll, nil
}

func (g *globals) ingestion() (ingestionv1.IngestionServiceClient, func(), error) {
	cc, err := g.dial("ingestion")
	if err != nil {
		return nil, nil, err
	}
	return ingestionv1.NewIngestionServiceClient(cc), func() { _ = cc.Close() }, nil
}
