package stack

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/drugref"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/syncbuf"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/emtm/internal/load"
	"github.com/emtm/emtm/services/emtm/internal/sampledata"
	"github.com/emtm/emtm/services/emtm/internal/synthea"
)

// sampleIdentifiers are the personal identifiers of the sample population:
// member ids (Synthea patient ids), synthetic MBIs, names and birth dates.
func sampleIdentifiers(t *testing.T) map[string]string {
	t.Helper()
	f, err := sampledata.SyntheaCA50().Open("patients.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	out := map[string]string{}
	for _, r := range rows[1:] {
		id := r[col["Id"]]
		out[id] = "member id"
		out[synthea.SyntheticMBI(id)] = "MBI"
		out[r[col["BIRTHDATE"]]] = "birth date"
		for _, name := range []string{"FIRST", "LAST", "MAIDEN"} {
			if v := r[col[name]]; len(v) >= 4 {
				out[v] = "name"
			}
		}
	}
	return out
}

// TestNoPersonalDataInTelemetry runs the sample population through the stack
// and scans every span (name, attributes, events, status, resource) and every
// log line for a sample member's id, MBI, name or birth date.
func TestNoPersonalDataInTelemetry(t *testing.T) {
	redisURL, _ := testkit.StartRedis(t)
	rec := tracetest.NewSpanRecorder()
	logs := &syncbuf.Buffer{} // the services' log lines, written concurrently
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{DataDir: t.TempDir(), RedisURL: redisURL, Partitions: 4, Log: logs, ServiceArgs: ReplayArgs,
		Telemetry: []otelx.Option{otelx.WithSpanProcessor(rec)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	tel, _ := otelx.Setup(ctx, "pii-test", nil)
	conn := func(name string) *grpc.ClientConn {
		cc, err := grpcx.Dial(st.Addrs[name], tel)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		return cc
	}
	ref, err := drugref.Load()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := synthea.Load(sampledata.SyntheaCA50(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := load.Synthea(ctx, ds, ingestionv1.NewIngestionServiceClient(conn("ingestion")), load.SamplePlan, io.Discard); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(st.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	idle := func() {
		if err := bus.WaitIdle(ctx, js, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	idle()
	// The sweeps, which log and trace too.
	if _, err := schedulingv1.NewInterventionSchedulingServiceClient(conn("intervention-scheduling")).Sweep(ctx, &schedulingv1.SweepRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := outreachv1.NewPrescriberOutreachServiceClient(conn("prescriber-outreach")).Sweep(ctx, &outreachv1.SweepRequest{}); err != nil {
		t.Fatal(err)
	}
	idle()
	if _, err := ledgerv1.NewPaymentReconciliationServiceClient(conn("payment-reconciliation")).Sweep(ctx, &ledgerv1.SweepRequest{}); err != nil {
		t.Fatal(err)
	}
	idle()

	ids := sampleIdentifiers(t)
	var hits []string
	scan := func(where, text string) {
		for id, kind := range ids {
			if strings.Contains(text, id) {
				hits = append(hits, fmt.Sprintf("%s holds a %s: %.200s", where, kind, text))
			}
		}
	}
	// The scanner finds what it looks for.
	for id := range ids {
		scan("self-check", "member="+id)
		break
	}
	if len(hits) != 1 {
		t.Fatalf("the scanner missed a planted identifier: %v", hits)
	}
	hits = nil
	spans := rec.Ended()
	if len(spans) < 1000 {
		t.Fatalf("only %d spans recorded: the scan would prove little", len(spans))
	}
	for _, s := range spans {
		where := fmt.Sprintf("span %q", s.Name())
		scan(where, s.Name())
		scan(where+" status", s.Status().Description)
		for _, kv := range s.Attributes() {
			scan(where+" attribute "+string(kv.Key), kv.Value.String())
		}
		for _, ev := range s.Events() {
			scan(where+" event "+ev.Name, ev.Name)
			for _, kv := range ev.Attributes {
				scan(where+" event "+ev.Name+" attribute "+string(kv.Key), kv.Value.String())
			}
		}
		for _, kv := range s.Resource().Attributes() {
			scan(where+" resource", kv.Value.String())
		}
	}
	lines := strings.Split(logs.String(), "\n")
	if len(lines) < 10 {
		t.Fatalf("only %d log lines: the scan would prove little", len(lines))
	}
	for i, l := range lines {
		scan(fmt.Sprintf("log line %d", i+1), l)
	}
	t.Logf("scanned %d spans and %d log lines for %d identifiers", len(spans), len(lines), len(ids))
	if len(hits) > 0 {
		if len(hits) > 20 {
			hits = append(hits[:20], fmt.Sprintf("... and %d more", len(hits)-20))
		}
		t.Fatalf("personal data in telemetry:\n%s", strings.Join(hits, "\n"))
	}
}
