package whatif

import (
	"bytes"
	"strings"
	"testing"

	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
)

func TestATaskIsPricedByItsKindsRuleElseByTheServiceThatCompletesIt(t *testing.T) {
	on := func(y int32) *typesv1.Date { return &typesv1.Date{Year: y, Month: 1, Day: 1} }
	rules := []*ledgerv1.FeeRule{
		{Service: "CMR", Codes: []string{"314530002"}, TaskKind: "CMR", Cents: 7500, From: on(2017)},
		{Service: "CMR", Codes: []string{"314530002"}, TaskKind: "CMR", Cents: 8000, From: on(2020)},
		{Service: "MEDREVIEW", Codes: []string{"314530002"}, Cents: 4500, From: on(2017)},
		{Service: "MEDLIST", Codes: []string{"428191000124101"}, Cents: 1500, From: on(2017)},
	}
	by := []*schedulingv1.KindCodes{
		{Kind: schedulingv1.TaskKind_TASK_KIND_CMR, Codes: []string{"314530002"}},
		{Kind: schedulingv1.TaskKind_TASK_KIND_TMR, Codes: []string{"314530002"}},
		{Kind: schedulingv1.TaskKind_TASK_KIND_ADHERENCE_OUTREACH, Codes: []string{"999", "428191000124101"}},
		{Kind: schedulingv1.TaskKind_TASK_KIND_POST_DISCHARGE, Codes: []string{"430193006"}},
	}
	got := FeesByKind(rules, by)
	for kind, want := range map[string]int64{"CMR": 8000, "TMR": 4500, "ADHERENCE_OUTREACH": 1500} {
		if got[kind] != want {
			t.Errorf("%s: %d cents, want %d (the latest rule of the kind, else of the service)", kind, got[kind], want)
		}
	}
	if c, ok := got["POST_DISCHARGE"]; ok {
		t.Errorf("POST_DISCHARGE has no rule, yet is priced at %d", c)
	}
}

func TestPerMemberFiguresRoundHalfUpAndSayWhenATierHasNoMembers(t *testing.T) {
	for _, c := range []struct{ a, b, want int64 }{{7, 2, 4}, {5, 2, 3}, {4, 3, 1}, {-7, 2, -4}, {-5, 3, -2}, {1 << 62, 3, 1537228672809129301}} {
		if got := roundedDiv(c.a, c.b); got != c.want {
			t.Errorf("roundedDiv(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	for _, c := range []struct {
		min  int64
		want string
	}{{45, "0.8"}, {44, "0.7"}, {60, "1.0"}, {0, "0.0"}, {90 * 60, "90.0"}} {
		if got := hoursOf(c.min); got != c.want {
			t.Errorf("hoursOf(%d) = %s, want %s", c.min, got, c.want)
		}
	}
	live := Figures{MembersByTier: map[string]int64{"HIGH": 2, "MODERATE": 0, "LOW": 3},
		Tasks: map[string]int64{"CMR": 2}, PharmacistMinutes: map[string]int64{"CMR": 90},
		TierFeeCents: map[string]int64{"HIGH": 15000, "LOW": 100}, TierMinutes: map[string]int64{"HIGH": 90}}
	what := Figures{MembersByTier: map[string]int64{"HIGH": 3, "MODERATE": 1, "LOW": 1},
		Tasks: map[string]int64{"CMR": 4, "TMR": 1}, PharmacistMinutes: map[string]int64{"CMR": 180, "TMR": 20},
		TierFeeCents: map[string]int64{"HIGH": 22500, "MODERATE": 7500}, TierMinutes: map[string]int64{"HIGH": 135, "MODERATE": 45},
		ProspectiveCents: 350}
	rows := map[string]Row{}
	for _, r := range Compare(live, what) {
		rows[r.Figure] = r
	}
	for name, want := range map[string]Row{
		"members HIGH":                     {Live: "2", What: "3", Change: "+1"},
		"interventions TMR":                {Live: "0", What: "1", Change: "+1"},
		"interventions, all":               {Live: "2", What: "5", Change: "+3"},
		"pharmacist hours, all":            {Live: "1.5", What: "3.3", Change: "+1.8"},
		"prospective payments (ledger)":    {Live: "$0.00", What: "$3.50", Change: "+$3.50"},
		"cost per member HIGH":             {Live: "$75.00", What: "$75.00", Change: "$0.00"},
		"cost per member MODERATE":         {Live: "-", What: "$75.00"},
		"cost per member LOW":              {Live: "$0.33", What: "$0.00", Change: "-$0.33"},
		"pharmacist hours per member HIGH": {Live: "0.8", What: "0.8", Change: "0.0"},
	} {
		got := rows[name]
		want.Figure = name
		if got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	var table, csv bytes.Buffer
	if err := Print(&table, Compare(live, what)); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSV(&csv, Compare(live, what)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "cost per member MODERATE") || !strings.HasPrefix(csv.String(), "figure,live,whatif,change\n") ||
		strings.Count(csv.String(), "\n") != len(Compare(live, what))+1 {
		t.Errorf("table:\n%s\ncsv:\n%s", table.String(), csv.String())
	}
}
