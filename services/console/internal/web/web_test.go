package web

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
)

func TestATraceIsLaidOutParentsFirstWithErrorsMarked(t *testing.T) {
	b, err := os.ReadFile("testdata/trace.json")
	if err != nil {
		t.Fatal(err)
	}
	var tr jaegerTrace
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	w := waterfall(tr)
	var got []string
	for _, r := range w.Rows {
		mark := ""
		if r.Error {
			mark = "!"
		}
		got = append(got, strings.Repeat(">", r.Depth)+r.Name+mark)
	}
	want := []string{"SubmitClaim", ">process EMTM_CLAIMS", ">>hget!", ">>evalsha!", "orphan"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("rows %v, want %v", got, want)
	}
	// The trace spans 1000000..1001000 µs: the child starts at 10 % and takes 40 %.
	if r := w.Rows[1]; r.X != 100 || r.W != 400 || r.Service != "risk-scoring" {
		t.Fatalf("child bar %+v", r)
	}
	if w.DurationMS != "1.0" || strings.Join(w.Services, ",") != "ingestion,risk-scoring" {
		t.Fatalf("trace %s ms, services %v", w.DurationMS, w.Services)
	}
}

func TestTheTrackerProjectsOnlyWhatItKnows(t *testing.T) {
	for _, c := range []struct {
		name string
		calc *ledgerv1.PerformanceCalculation
		want Projection
	}{
		{"no calculation", nil, Projection{MonthsElapsed: 6}},
		{"no benchmark", &ledgerv1.PerformanceCalculation{AbSummaries: 3, PerMemberYearCents: 100}, Projection{MonthsElapsed: 6}},
		{"no spending yet: unknown, never $0", &ledgerv1.PerformanceCalculation{HasBenchmark: true, BenchmarkCents: 1_000_000}, Projection{MonthsElapsed: 6}},
		{"above the target", &ledgerv1.PerformanceCalculation{HasBenchmark: true, BenchmarkCents: 1_000_000, ThresholdBp: 200, AbSummaries: 10,
			PerMemberYearCents: 990_000, ReductionBp: 100},
			Projection{Known: true, MonthsElapsed: 6, ProjectedCents: 990_000, TargetCents: 980_000, DistanceCents: 10_000, ReductionPercent: "1.00%"}},
		{"below the target", &ledgerv1.PerformanceCalculation{HasBenchmark: true, BenchmarkCents: 1_000_000, ThresholdBp: 200, AbSummaries: 10,
			PerMemberYearCents: 950_000, ReductionBp: 500},
			Projection{Known: true, MonthsElapsed: 6, ProjectedCents: 950_000, TargetCents: 980_000, DistanceCents: -30_000, ReductionPercent: "5.00%"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := project(c.calc, 6); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestADurablesPartitionsAreSummedIntoOneLine(t *testing.T) {
	got := byDurable([]ConsumerRow{
		{Stream: "EMTM_CLAIMS", Name: "risk-scoring-claims-p0", Pending: 1, AckPending: 2},
		{Stream: "EMTM_CLAIMS", Name: "risk-scoring-claims-p1", Pending: 3, Redelivered: 1},
		{Stream: "EMTM_RAW", Name: "ingestion-pharmacy", Pending: 5},
		{Stream: "EMTM_X", Name: "a-plan", Pending: 7},
	})
	want := []ConsumerRow{{Stream: "EMTM_CLAIMS", Name: "risk-scoring-claims", Pending: 4, AckPending: 2, Redelivered: 1},
		{Stream: "EMTM_RAW", Name: "ingestion-pharmacy", Pending: 5}, {Stream: "EMTM_X", Name: "a-plan", Pending: 7}}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestFiguresAreWrittenAsPeopleReadThem(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 9223372036854775807: "9,223,372,036,854,775,807"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
	for e, want := range map[interface{ String() string }]string{riskv1.RiskTier_RISK_TIER_HIGH: "HIGH", schedulingv1.TaskKind_TASK_KIND_ADHERENCE_OUTREACH: "ADHERENCE_OUTREACH",
		schedulingv1.TaskStatus(99): "99"} {
		var got string
		switch v := e.(type) {
		case riskv1.RiskTier:
			got = enumName(v)
		case schedulingv1.TaskKind:
			got = enumName(v)
		case schedulingv1.TaskStatus:
			got = enumName(v)
		}
		if got != want {
			t.Errorf("enumName(%v) = %q, want %q", e, got, want)
		}
	}
}

// TestTheVendoredAssetsAreTheOnesRecorded: the embedded htmx and uPlot are
// byte for byte what vendor-assets.sh copied from npm (SHA256SUMS), with their licenses.
func TestTheVendoredAssetsAreTheOnesRecorded(t *testing.T) {
	sums, err := staticFS.Open("static/vendor/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	defer sums.Close()
	seen := 0
	sc := bufio.NewScanner(sums)
	for sc.Scan() {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", sc.Text())
		}
		b, err := fs.ReadFile(staticFS, "static/vendor/"+name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s differs from what was vendored: run make console-assets", name)
		}
		seen++
	}
	for _, f := range []string{"htmx/LICENSE", "uplot/LICENSE", "htmx/htmx.min.js", "uplot/uPlot.iife.min.js"} {
		if _, err := fs.Stat(staticFS, "static/vendor/"+f); err != nil {
			t.Errorf("%s is not embedded", f)
		}
	}
	if seen < 6 {
		t.Fatalf("SHA256SUMS lists %d files", seen)
	}
}

func TestOnlyAnOutcomeTheConsoleSignedIsShown(t *testing.T) {
	cons := &handler{noteKey: []byte("0123456789abcdef0123456789abcdef")}
	u, err := url.Parse(cons.outcome("resubmitted and accepted as claim/1/2", "rejections"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cons.signedOutcome(&http.Request{URL: u}); got != "resubmitted and accepted as claim/1/2" {
		t.Fatalf("the console's own outcome: %q", got)
	}
	forged := *u
	q := forged.Query()
	q.Set("done", "your session expired: call 555-0100")
	forged.RawQuery = q.Encode()
	if got := cons.signedOutcome(&http.Request{URL: &forged}); got != "" {
		t.Fatalf("a forged outcome is shown: %q", got)
	}
	other := &handler{noteKey: []byte("another key of thirty-two bytes!")}
	if got := other.signedOutcome(&http.Request{URL: u}); got != "" {
		t.Fatalf("another console's outcome is shown: %q", got)
	}
}
