package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emtm/emtm/libs/bus"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
)

// startJaeger runs Jaeger on free loopback ports; it returns the OTLP and query addresses.
func startJaeger(t *testing.T) (otlp, query string) {
	t.Helper()
	return testkit.StartJaeger(t, filepath.Join("..", "..", "..", "..", "deploy", "jaeger", "jaeger.yaml"))
}

type jaegerTrace struct {
	Data []struct {
		Spans []struct {
			SpanID        string `json:"spanID"`
			OperationName string `json:"operationName"`
			ProcessID     string `json:"processID"`
			References    []struct {
				RefType string `json:"refType"`
				SpanID  string `json:"spanID"`
			} `json:"references"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

// TestOneClaimIsOneTraceInJaeger sends a claim and an encounter through the
// stack with traces exported over OTLP to a real Jaeger, then reads the trace
// back from Jaeger's HTTP API: spans of all five services, each hop a child of
// the one before it.
func TestOneClaimIsOneTraceInJaeger(t *testing.T) {
	otlp, query := startJaeger(t)
	getenv := func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return "http://" + otlp
		}
		return ""
	}
	redisURL, _ := testkit.StartRedis(t)
	ctx := context.Background()
	st, err := Start(ctx, Options{DataDir: t.TempDir(), RedisURL: redisURL, Partitions: 4, Log: io.Discard, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			st.Stop()
		}
	})
	tel, err := otelx.Setup(ctx, "pharmacy-system", getenv)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpcx.Dial(st.Addrs["ingestion"], tel)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	enroll(t, ingestionv1.NewIngestionServiceClient(cc), "S9925", "M-0001")
	sctx, root := tel.Tracer("e2e").Start(ctx, "pharmacy submits")
	traceID := root.SpanContext().TraceID().String()
	ing := ingestionv1.NewIngestionServiceClient(cc)
	if _, err := ing.SubmitClaim(sctx, &ingestionv1.SubmitClaimRequest{Claim: testClaim()}); err != nil {
		t.Fatal(err)
	}
	if _, err := ing.SubmitEncounter(sctx, &ingestionv1.SubmitEncounterRequest{Encounter: testEncounter()}); err != nil {
		t.Fatal(err)
	}
	root.End()
	nc, err := nats.Connect(st.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := bus.WaitIdle(wctx, js, 25*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	st.Stop() // flushes every service's exporter
	stopped = true
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	var tr jaegerTrace
	deadline := time.Now().Add(20 * time.Second)
	var services map[string]bool
	for {
		resp, err := http.Get(fmt.Sprintf("http://%s/api/traces/%s", query, traceID))
		if err == nil {
			tr = jaegerTrace{}
			_ = json.NewDecoder(resp.Body).Decode(&tr)
			resp.Body.Close()
		}
		services = map[string]bool{}
		if len(tr.Data) == 1 {
			for _, p := range tr.Data[0].Processes {
				services[p.ServiceName] = true
			}
		}
		if len(services) >= 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(tr.Data) != 1 {
		t.Fatalf("Jaeger has no trace %s", traceID)
	}
	for _, want := range append([]string{"pharmacy-system"}, serviceNames()...) {
		if !services[want] {
			t.Errorf("the trace has no span of %s (services: %v)", want, services)
		}
	}
	// Parent/child order: each hop descends from the one before it.
	type span struct{ name, service, parent string }
	spans := map[string]span{}
	d := tr.Data[0]
	for _, s := range d.Spans {
		parent := ""
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" {
				parent = r.SpanID
			}
		}
		spans[s.SpanID] = span{s.OperationName, d.Processes[s.ProcessID].ServiceName, parent}
	}
	ancestors := func(id string) []string {
		var out []string
		for i := 0; i < 100; i++ {
			s, ok := spans[id]
			if !ok || s.parent == "" {
				break
			}
			id = s.parent
			out = append(out, spans[id].service+":"+spans[id].name)
		}
		return out
	}
	find := func(service, name string) string {
		for id, s := range spans {
			if s.service == service && s.name == name {
				return id
			}
		}
		t.Fatalf("no span %q of %s in the trace", name, service)
		return ""
	}
	has := func(chain []string, prefix string) bool {
		for _, c := range chain {
			if strings.HasPrefix(c, prefix) {
				return true
			}
		}
		return false
	}
	for _, hop := range []struct{ service, span, ancestor string }{
		{"ingestion", "emtm.ingestion.v1.IngestionService/SubmitClaim", "pharmacy-system:pharmacy submits"},
		{"risk-scoring", "process EMTM_CLAIMS", "ingestion:emtm.ingestion.v1.IngestionService/SubmitClaim"},
		{"intervention-scheduling", "process EMTM_ASSESSMENTS", "risk-scoring:process EMTM_CLAIMS"},
		{"prescriber-outreach", "process EMTM_ASSESSMENTS", "risk-scoring:process EMTM_CLAIMS"},
		{"payment-reconciliation", "process EMTM_ENCOUNTERS", "ingestion:emtm.ingestion.v1.IngestionService/SubmitEncounter"},
	} {
		chain := ancestors(find(hop.service, hop.span))
		if !has(chain, hop.ancestor) || chain[len(chain)-1] != "pharmacy-system:pharmacy submits" {
			t.Errorf("%s %q descends from %v, want %s and the pharmacy's root span", hop.service, hop.span, chain, hop.ancestor)
		}
	}
	t.Logf("trace %s: %d spans from %d services", traceID, len(d.Spans), len(services))
}

func serviceNames() []string {
	var out []string
	for _, d := range Services {
		out = append(out, d.ServiceName())
	}
	return out
}
