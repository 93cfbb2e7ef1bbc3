package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/emtm/emtm/libs/bus"
	auditv1 "github.com/emtm/emtm/libs/gen/emtm/audit/v1"
	"github.com/emtm/emtm/libs/gen/enums"

	// Every event type, registered for decodeEvent (dlq show).
	_ "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	_ "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	_ "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	_ "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	_ "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	_ "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	_ "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	_ "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
)

// Operator actions of emtmctl on the bus, written to EMTM_AUDIT like the
// services' audited methods (service "emtmctl").
const (
	auditDLQRedeliver = "emtmctl/dlq/redeliver"
	auditDLQHandle    = "emtmctl/dlq/handle"
)

// readAll reads every message of a stream (at most limit, newest kept) with an ordered consumer.
func readAll(ctx context.Context, js jetstream.JetStream, stream string, limit int) ([]jetstream.Msg, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	var out []jetstream.Msg
	for len(out) < int(info.State.Msgs) {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, m)
			n++
		}
		if n == 0 {
			break
		}
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

func seqOf(m jetstream.Msg) uint64 {
	md, err := m.Metadata()
	if err != nil {
		return 0
	}
	return md.Sequence.Stream
}

// dlqMarks are the dead letters operators redelivered or handled, from EMTM_AUDIT.
func dlqMarks(ctx context.Context, js jetstream.JetStream) (map[uint64]string, error) {
	msgs, err := readAll(ctx, js, bus.StreamAudit, 1<<20)
	if err != nil {
		return nil, err
	}
	marks := map[uint64]string{}
	for _, m := range msgs {
		var r auditv1.AuditRecord
		if proto.Unmarshal(m.Data(), &r) != nil || r.Phase != auditv1.Phase_PHASE_FINISHED || r.Code != "OK" {
			continue
		}
		if r.Method != auditDLQRedeliver && r.Method != auditDLQHandle {
			continue
		}
		var req struct {
			Sequence uint64 `json:"dlq_sequence"`
			Note     string `json:"note"`
		}
		if json.Unmarshal([]byte(r.Request), &req) != nil {
			continue
		}
		what := "redelivered"
		if r.Method == auditDLQHandle {
			what = "handled: " + req.Note
		}
		marks[req.Sequence] = fmt.Sprintf("%s %s by %s", what, r.At.AsTime().UTC().Format(time.RFC3339), r.Caller)
	}
	return marks, nil
}

// decodeEvent reads a dead letter's data as the event its Emtm-Event-Type
// header names (every emtm event carries it; the dead letter keeps the
// original headers), when it can.
func decodeEvent(eventType string, data []byte) (proto.Message, bool) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(eventType))
	if eventType == "" || err != nil {
		return nil, false
	}
	m := mt.New().Interface()
	if proto.Unmarshal(data, m) != nil {
		return nil, false
	}
	return m, true
}

// auditor writes emtmctl's audit records.
type auditor struct {
	js     jetstream.JetStream
	caller string
	callID string
}

func newAuditor(js jetstream.JetStream, natsUser string) *auditor {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	if natsUser == "" {
		natsUser = "(none)"
	}
	return &auditor{js: js, caller: fmt.Sprintf("nats:%s os:%s", natsUser, who),
		callID: fmt.Sprintf("emtmctl-%d-%d", time.Now().UnixNano(), os.Getpid())}
}

func (a *auditor) write(ctx context.Context, method string, request any, phase auditv1.Phase, code, errText string) error {
	b, _ := json.Marshal(request)
	id := fmt.Sprintf("audit/emtmctl/%s/%s", a.callID, phase)
	rec := &auditv1.AuditRecord{RecordId: id, CallId: a.callID, Phase: phase, Service: "emtmctl", At: timestamppb.Now(),
		Caller: a.caller, Method: method, Request: string(b), Code: code, Error: errText}
	data, err := proto.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = a.js.PublishMsg(ctx, &nats.Msg{Subject: bus.AuditSubject("emtmctl"), Data: data, Header: nats.Header{jetstream.MsgIDHeader: []string{id}}})
	return err
}

// audited runs do between a REQUESTED and a FINISHED record; nothing runs if
// the first cannot be written.
func (a *auditor) audited(ctx context.Context, method string, request any, do func() error) error {
	if err := a.write(ctx, method, request, auditv1.Phase_PHASE_REQUESTED, "", ""); err != nil {
		return fmt.Errorf("the audit record could not be written (%w): nothing was done", err)
	}
	err := do()
	code, text := "OK", ""
	if err != nil {
		code, text = "FAILED", err.Error()
	}
	if werr := a.write(context.WithoutCancel(ctx), method, request, auditv1.Phase_PHASE_FINISHED, code, text); werr != nil && err == nil {
		return fmt.Errorf("done, but its audit record could not be written: %w", werr)
	}
	return err
}

func dlqCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "dlq", Short: "Dead letters: messages a service gave up on (list, show, redeliver, handle)"}
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "Dead letters, oldest first, with the consumer, the error and what operators did",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := g.jetstream()
			if err != nil {
				return err
			}
			defer nc.Close()
			msgs, err := readAll(cmd.Context(), js, bus.StreamDLQ, limit)
			if err != nil {
				return err
			}
			marks, err := dlqMarks(cmd.Context(), js)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tCONSUMER\tSUBJECT\tDELIVERIES\tSTATUS\tERROR")
			for _, m := range msgs {
				h := m.Headers()
				status := "open"
				if mark := marks[seqOf(m)]; mark != "" {
					status = mark
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", seqOf(m), h.Get(bus.HeaderDLQConsumer), h.Get(bus.HeaderDLQSubject),
					h.Get(bus.HeaderDLQDeliveries), status, shorten(h.Get(bus.HeaderDLQError), 120))
			}
			return tw.Flush()
		},
	}
	list.Flags().IntVar(&limit, "limit", 100, "at most this many, the newest")
	show := &cobra.Command{
		Use:   "show SEQ",
		Short: "One dead letter: where it came from, why it failed, the decoded event",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, js, err := g.jetstream()
			if err != nil {
				return err
			}
			defer nc.Close()
			m, seq, err := dlqMsg(cmd.Context(), js, args[0])
			if err != nil {
				return err
			}
			marks, err := dlqMarks(cmd.Context(), js)
			if err != nil {
				return err
			}
			printDeadLetter(cmd.OutOrStdout(), seq, m, marks[seq])
			return nil
		},
	}
	redeliver := &cobra.Command{
		Use:   "redeliver SEQ",
		Short: "Publish a dead letter again on its original subject, for its consumers to handle (idempotent; audited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, js, err := g.jetstream()
			if err != nil {
				return err
			}
			defer nc.Close()
			m, seq, err := dlqMsg(cmd.Context(), js, args[0])
			if err != nil {
				return err
			}
			subject := m.Header.Get(bus.HeaderDLQSubject)
			if subject == "" {
				return fmt.Errorf("dead letter %d does not name its original subject", seq)
			}
			req := map[string]any{"dlq_sequence": seq, "subject": subject, "consumer": m.Header.Get(bus.HeaderDLQConsumer)}
			var ack *jetstream.PubAck
			err = newAuditor(js, g.natsUser).audited(cmd.Context(), auditDLQRedeliver, req, func() error {
				out := &nats.Msg{Subject: subject, Data: m.Data, Header: nats.Header{}}
				for k, v := range m.Header {
					if strings.HasPrefix(k, "Emtm-Dlq-") || k == jetstream.MsgIDHeader {
						continue
					}
					out.Header[k] = v
				}
				// A new message id: the original's may still be in the stream's duplicate
				// window. Consumers recognise the event by its own id and apply it once.
				out.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("redeliver/dlq/%d/%d", seq, time.Now().UnixNano()))
				var err error
				ack, err = js.PublishMsg(cmd.Context(), out)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "dead letter %d published again on %s (%s sequence %d)\n", seq, subject, ack.Stream, ack.Sequence)
			return nil
		},
	}
	var note string
	handle := &cobra.Command{
		Use:   "handle SEQ --note TEXT",
		Short: "Mark a dead letter as needing nothing more, saying why (audited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			note = strings.TrimSpace(note)
			if note == "" {
				return fmt.Errorf("--note: say what was done (an auditor reads it)")
			}
			nc, js, err := g.jetstream()
			if err != nil {
				return err
			}
			defer nc.Close()
			_, seq, err := dlqMsg(cmd.Context(), js, args[0])
			if err != nil {
				return err
			}
			if err := newAuditor(js, g.natsUser).audited(cmd.Context(), auditDLQHandle, map[string]any{"dlq_sequence": seq, "note": note}, func() error { return nil }); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "dead letter %d handled: %s\n", seq, note)
			return nil
		},
	}
	handle.Flags().StringVar(&note, "note", "", "what was done (required)")
	root.AddCommand(list, show, redeliver, handle)
	return root
}

func dlqMsg(ctx context.Context, js jetstream.JetStream, arg string) (*jetstream.RawStreamMsg, uint64, error) {
	seq, err := strconv.ParseUint(arg, 10, 64)
	if err != nil || seq == 0 {
		return nil, 0, fmt.Errorf("SEQ must be a dead letter's sequence (bin/emtmctl dlq list), got %q", arg)
	}
	st, err := js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		return nil, 0, err
	}
	m, err := st.GetMsg(ctx, seq)
	if err != nil {
		return nil, 0, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	return m, seq, nil
}

func printDeadLetter(w io.Writer, seq uint64, m *jetstream.RawStreamMsg, mark string) {
	h := m.Header
	fmt.Fprintf(w, "dead letter  %d (%s)\n", seq, m.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "consumer     %s\n", h.Get(bus.HeaderDLQConsumer))
	fmt.Fprintf(w, "from         %s sequence %s, subject %s\n", h.Get(bus.HeaderDLQStream), h.Get(bus.HeaderDLQSequence), h.Get(bus.HeaderDLQSubject))
	fmt.Fprintf(w, "deliveries   %s\n", h.Get(bus.HeaderDLQDeliveries))
	fmt.Fprintf(w, "error        %s\n", h.Get(bus.HeaderDLQError))
	fmt.Fprintf(w, "status       %s\n", orDash(mark))
	keys := make([]string, 0, len(h))
	for k := range h {
		if !strings.HasPrefix(k, "Emtm-Dlq-") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "header       %s: %s\n", k, strings.Join(h[k], ", "))
	}
	fmt.Fprintf(w, "DATA (%d bytes)\n", len(m.Data))
	if ev, ok := decodeEvent(h.Get(bus.HeaderEventType), m.Data); ok {
		b, _ := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(ev)
		fmt.Fprintf(w, "%s\n", b)
	} else {
		fmt.Fprintf(w, "  %q\n", truncate(m.Data, 2000))
	}
}

func shorten(s string, n int) string {
	if len([]rune(s)) > n {
		return string([]rune(s)[:n]) + "..."
	}
	return s
}

func auditCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "audit", Short: "The record of privileged actions (EMTM_AUDIT)"}
	var limit int
	var method string
	list := &cobra.Command{
		Use:   "list",
		Short: "Audit records, oldest first: when, service, caller, method, phase, outcome, request",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := g.jetstream()
			if err != nil {
				return err
			}
			defer nc.Close()
			msgs, err := readAll(cmd.Context(), js, bus.StreamAudit, 1<<20)
			if err != nil {
				return err
			}
			var recs []*auditv1.AuditRecord
			for _, m := range msgs {
				r := &auditv1.AuditRecord{}
				if err := proto.Unmarshal(m.Data(), r); err != nil {
					return fmt.Errorf("audit record %d unreadable: %w", seqOf(m), err)
				}
				if method == "" || strings.Contains(r.Method, method) {
					recs = append(recs, r)
				}
			}
			if len(recs) > limit {
				recs = recs[len(recs)-limit:]
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tSERVICE\tCALLER\tMETHOD\tPHASE\tOUTCOME\tREQUEST")
			for _, r := range recs {
				outcome := r.Code
				if r.Error != "" {
					outcome += ": " + shorten(r.Error, 80)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.AsTime().UTC().Format(time.RFC3339), r.Service, r.Caller, r.Method,
					enums.Name(r.Phase), orDash(outcome), shorten(r.Request, 100))
			}
			return tw.Flush()
		},
	}
	list.Flags().IntVar(&limit, "limit", 100, "at most this many, the newest")
	list.Flags().StringVar(&method, "method", "", "only methods containing this text (e.g. RebuildLedger)")
	root.AddCommand(list)
	return root
}
