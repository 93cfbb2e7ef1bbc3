package runner

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/testkit"
)

// The sample's figures, verified independently: 1,979 claims fall in the 11
// Medicare members' enrollment (a Python computation over the same CSVs); 70
// of them are dated before Part D began (2006) and are rejected; 35
// medication reconciliations are MTM encounters, 18 of them from 2017 on
// (the sample fee schedule's start) at $40.00 each = $720.00.
func TestRunOnceWritesTheSummaryAndARestartChangesNothing(t *testing.T) {
	redisURL, _ := testkit.StartRedis(t)
	dir := t.TempDir()
	consoleAddr := testkit.FreeAddr(t)
	run := func(name string) map[string]any {
		path := filepath.Join(dir, name)
		var out strings.Builder
		err := Run(context.Background(), Options{
			DataDir: filepath.Join(dir, "var"), Once: true, SummaryJSON: path, Partitions: 4,
			RedisURL: redisURL, NATSPort: 0, Getenv: func(string) string { return "" }, ConsoleAddr: consoleAddr,
		}, &out, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		// The banner names the console's address (and says it is open).
		if !strings.Contains(out.String(), "console                  http://"+consoleAddr+"  (open:") {
			t.Fatalf("the banner does not name the console at %s:\n%s", consoleAddr, out.String())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := run("first.json")
	want := map[string]float64{
		"claims_ingested": 1909, "claims_rejected": 70, "encounters": 35, "enrollments": 89, "parts_ab_summaries": 10,
		"conditions":   467, // 469 of the members, 2 rejected: Synthea's code 10939881000119104 fails its Verhoeff check
		"dead_letters": 0,
		// Payment, checked by an independent script over the Synthea CSV files: 420 member
		// months of 2017-01..2022-02 (the payment clock's last month), of which the 406 of the
		// model's payment years 2017-2021 are paid at $3.50 (2017: 76, 2018: 70, 2019: 85, 2020: 91,
		// 2021: 84; the 14 of 2022 book nothing: prospective.last_month is 2021-12), 18 medication
		// reconciliations from 2017 at $40, and the 17 before the fee schedule's first date in
		// suspense at $0.
		"ledger_entries": 441, "ledger_total_cents": 142100 + 72000,
		// Risk-derived figures of the built-in policy (checked by hand for three
		// beneficiaries in internal/load/sample_integration_test.go).
		"assessments": 21, "tasks_scheduled": 10, "outreach_items": 4, "outreach_communications": 2, "mtm_eligible": 0,
		// 10 profiles: nine members with claims, and 23545e22, whose only record is a pregnancy
		// diagnosis of 1990 (SNOMED 19169002): an exclusion of the SUPD measure, kept for when claims come.
		"profiles": 10,
	}
	// The tasks, read one by one (emtmctl tasks list) against the event clock,
	// which ends at the last date of service, 2022-02-24: three adherence
	// outreaches of 2013-2015 expired before adherence came back; member
	// 53a96042 died on 2020-12-16 with two post-discharge reconciliations of
	// December 2020 and the 2020-Q4 TMR open, and member 1249b484 on 2021-02-14
	// with the post-discharge reconciliation of February 5, the 2021-Q1 TMR and
	// the 2021 CMR open: all cancelled ("deceased on ..."), whatever the order
	// in which the deaths and the sweeps came; the 2022-Q1 TMR (due March 31) is open.
	wantTasks := map[string]float64{"ADHERENCE_OUTREACH/EXPIRED": 3, "CMR/CANCELLED": 1, "POST_DISCHARGE/CANCELLED": 3, "TMR/CANCELLED": 2, "TMR/SCHEDULED": 1}
	if got := first["tasks_by_kind_status"]; !reflect.DeepEqual(got, toAny(wantTasks)) {
		t.Errorf("tasks by kind and status %v, want %v", got, wantTasks)
	}
	if got := first["outreach_by_problem"]; !reflect.DeepEqual(got, toAny(map[string]float64{"BEERS": 1, "NONADH": 3})) {
		t.Errorf("outreach by problem %v", got)
	}
	// Outreach, read with emtmctl outreach list/letters: RASA non-adherence of
	// member 186aba1d was found in April 2013, 2014 and 2015 (each more than the
	// 180-day repeat window apart); a replay builds letters once the load has
	// settled, so the 2013 and 2014 items were still pending when the next one
	// was raised and were superseded; the 2015 item went out in the letter of
	// 2015-W19 to prescriber 1390511891 and the BEERS item in another letter;
	// neither was answered within 30 days.
	if got := first["outreach_by_status"]; !reflect.DeepEqual(got, toAny(map[string]float64{"NO_RESPONSE": 2, "SUPERSEDED": 2})) {
		t.Errorf("outreach by status %v", got)
	}
	if got := first["ledger_entries_by_kind"]; !reflect.DeepEqual(got, toAny(map[string]float64{"FEE": 18, "PROSPECTIVE": 406, "SUSPENSE": 17})) {
		t.Errorf("ledger entries by kind %v", got)
	}
	if got := first["ledger_balances_cents"].(map[string]any); got["prospective_payment_receivable"] != 142100.0 || got["mtm_services_expense"] != 72000.0 {
		t.Errorf("ledger balances %v", got)
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %v, want %v", k, first[k], v)
		}
	}
	second := run("second.json")
	// The profiles' size is what Redis allocates for them: the same fields
	// take a few bytes more or less with the history of the hash table (an
	// incremental rehash), so it is compared within 2%; every count exactly.
	a, b := first["profile_bytes_avg"].(float64), second["profile_bytes_avg"].(float64)
	if a <= 0 || (a-b)*50 > a || (b-a)*50 > a {
		t.Errorf("profile bytes on average %v, then %v", a, b)
	}
	delete(first, "profile_bytes_avg")
	delete(second, "profile_bytes_avg")
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("loading the same population again changed the summary:\nfirst  %v\nsecond %v", first, second)
	}
}

func toAny(m map[string]float64) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
