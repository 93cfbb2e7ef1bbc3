package ctl

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/emtm/emtm/libs/civil"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/services/emtm/internal/runner"
	"github.com/emtm/emtm/services/emtm/internal/stack"
	"github.com/emtm/emtm/services/emtm/internal/summary"
	"github.com/emtm/emtm/services/emtm/internal/whatif"
)

// liveWithSample starts a stack on the event clock, loads the bundled sample
// through emtmctl and settles it as `emtm run` does; it returns the stack,
// connections to its services and its JetStream.
func liveWithSample(t *testing.T, ctx context.Context) (*stack.Stack, summary.Conns, jetstream.JetStream) {
	t.Helper()
	st := startStack(t, stack.ReplayArgs)
	if _, err := runAt(t, st, "import", "synthea", "../sampledata/synthea-ca-50"); err != nil {
		t.Fatal(err)
	}
	tel, err := otelx.Setup(ctx, "test", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	conns := summary.Conns{}
	for name, addr := range st.Addrs {
		cc, err := grpcx.Dial(addr, tel)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		conns[name] = cc
	}
	nc, err := nats.Connect(st.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	if err := runner.Settle(ctx, js, conns); err != nil {
		t.Fatal(err)
	}
	return st, conns, js
}

func TestAWhatIfUnderTheLivePoliciesReproducesTheLiveFiguresAndLeavesTheLiveProgramAlone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, live, js := liveWithSample(t, ctx)
	before, err := summary.Collect(ctx, js, live, "S9925", "001")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	res, err := whatif.Run(ctx, whatif.Options{Contract: "S9925", PBP: "001", TempDir: tmp}, live)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Live, res.What) {
		t.Errorf("under the live policies the replay's figures differ from the live ones:\nlive   %+v\nreplay %+v", res.Live, res.What)
	}
	// The figures are not empty: the comparison above compared something.
	f := res.Live
	if f.MembersByTier["HIGH"] == 0 || f.Tasks["CMR"] == 0 || f.PharmacistMinutes["CMR"] != 45*f.Tasks["CMR"] || f.ProspectiveCents == 0 ||
		f.Letters == 0 || f.TierTasks["HIGH"] == 0 || f.TierFeeCents["HIGH"] == 0 {
		t.Errorf("live figures too thin to compare: %+v", f)
	}
	if res.Copied == 0 || res.Copied != res.Stored || res.Read != res.Stored {
		t.Errorf("copied %d, read %d of %d stored events; want all", res.Copied, res.Read, res.Stored)
	}
	for _, p := range res.Policies {
		if p.File != "" || p.LiveSHA256 == "" || !strings.Contains(p.LiveName, "built in") {
			t.Errorf("policy of %s: %+v; want the live service's built-in sample", p.Service, p)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the shadow left %d entries in its temporary directory", len(left))
	}
	after, err := summary.Collect(ctx, js, live, "S9925", "001")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("the live program changed under the what-if:\nbefore %+v\nafter  %+v", before, after)
	}
	// The export is audited: who asked, and how it ended.
	audit, err := runAt(t, st, "audit", "list")
	var requested, finished bool
	for _, l := range strings.Split(audit, "\n") {
		f := strings.Fields(l)
		if len(f) >= 6 && f[3] == "/emtm.ingestion.v1.IngestionService/ExportEvents" {
			requested = requested || f[4] == "REQUESTED"
			finished = finished || f[4] == "FINISHED" && f[5] == "OK"
		}
	}
	if err != nil || !requested || !finished {
		t.Errorf("audit list (%v) lacks the export's records:\n%s", err, audit)
	}

	// Over a window both columns are replays of the same events: under the
	// same policies, the same figures, from fewer events than are stored.
	res, err = whatif.Run(ctx, whatif.Options{Contract: "S9925", PBP: "001", TempDir: tmp,
		From: civil.Date{Year: 2015, Month: 1, Day: 1}, To: civil.Date{Year: 2016, Month: 12, Day: 31}}, live)
	if err != nil {
		t.Fatal(err)
	}
	if !res.LiveReplayed || !reflect.DeepEqual(res.Live, res.What) {
		t.Errorf("windowed replays under the same policies differ (live replayed %v):\n%+v\n%+v", res.LiveReplayed, res.Live, res.What)
	}
	if res.Copied == 0 || res.Copied >= res.Stored || res.Read != res.Stored {
		t.Errorf("a window of 2015-2016 copied %d of %d stored (read %d)", res.Copied, res.Stored, res.Read)
	}

	// Dates that cannot be a window are refused, naming the field.
	stream, err := ingestionv1.NewIngestionServiceClient(live["ingestion"]).ExportEvents(ctx, &ingestionv1.ExportEventsRequest{
		From: civil.Date{Year: 2016, Month: 1, Day: 1}.Proto(), To: civil.Date{Year: 2015, Month: 1, Day: 1}.Proto()})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "to (2015-01-01) is before from (2016-01-01)") {
		t.Errorf("export from 2016 to 2015: %v", err)
	}
}

func TestAWhatIfWithAnotherProgramPolicyShowsItsInterventionsSideBySideAsCSV(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, live, _ := liveWithSample(t, ctx)
	// The live program (the sample), with a CMR for the moderate tier too and an hour per CMR.
	pol, err := opsv1.NewPolicyServiceClient(live["intervention-scheduling"]).GetPolicy(ctx, &opsv1.GetPolicyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	program := string(pol.Text)
	program = strings.Replace(program, "    MODERATE:\n", "    MODERATE:\n      - {kind: CMR, due_days: 60, priority: 80}\n", 1)
	program = strings.Replace(program, "pharmacist_minutes: {CMR: 45,", "pharmacist_minutes: {CMR: 60,", 1)
	path := filepath.Join(t.TempDir(), "program.yaml")
	if err := os.WriteFile(path, []byte(program), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runAt(t, st, "whatif", "--program-policy", path, "--csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 10 || strings.Join(rows[0], ",") != "figure,live,whatif,change" {
		t.Fatalf("whatif --csv: %v\n%s", err, out)
	}
	got := map[string][]string{}
	for _, r := range rows[1:] {
		got[r[0]] = r[1:]
	}
	num := func(s string) int {
		var n int
		for _, c := range s {
			if c >= '0' && c <= '9' {
				n = n*10 + int(c-'0')
			}
		}
		return n
	}
	cmr := got["interventions CMR"]
	if cmr == nil || num(cmr[1]) <= num(cmr[0]) {
		t.Errorf("a CMR for the moderate tier too: CMRs live vs what-if %v; want more", cmr)
	}
	hours := got["pharmacist hours CMR"]
	if hours == nil || num(hours[1]) <= num(hours[0]) {
		t.Errorf("pharmacist hours for CMRs %v; want more", hours)
	}
	for _, same := range []string{"members HIGH", "members MODERATE", "members LOW", "prospective payments (ledger)"} {
		if r := got[same]; r == nil || r[0] != r[1] || r[2] != "0" && r[2] != "$0.00" {
			t.Errorf("%s changed with the program policy alone: %v", same, r)
		}
	}
	if r := got["cost per member MODERATE"]; r == nil || r[0] == r[1] {
		t.Errorf("cost per moderate member %v; want it to change with their CMRs", r)
	}
}
