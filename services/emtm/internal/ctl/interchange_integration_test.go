package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emtm/emtm/services/emtm/internal/pde"
	"github.com/emtm/emtm/services/emtm/internal/stack"
)

const samples = "../sampledata/"

// pdeLine is a RIF PDE line in the layout's order with the given columns set.
func pdeLine(cols map[string]string) string {
	f := make([]string, len(pde.Layout))
	for i, c := range pde.Layout {
		f[i] = cols[c]
	}
	return strings.Join(f, "|")
}

func TestInterchangeImportsThroughEmtmctl(t *testing.T) {
	t.Parallel()
	st := startStack(t, nil)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := runAt(t, st, args...)
		if err != nil {
			t.Fatalf("emtmctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	expect := func(out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}

	// A sponsor's PDE extract as real files come: a byte-order mark, CRLF, a trailing |; an UPDATE,
	// an INSERT deleted in the same file, a claim whose prescriber is no NPI, a line with a bad date.
	claim := func(dml, id, date, prescriber, total string) string {
		return pdeLine(map[string]string{"DML_IND": dml, "PDE_ID": id, "BENE_ID": "-9001", "SRVC_DT": date, "SRVC_PRVDR_ID_QLFYR_CD": "01",
			"SRVC_PRVDR_ID": "1245319599", "PRSCRBR_ID": prescriber, "PROD_SRVC_ID": "00002322730", "PLAN_CNTRCT_REC_ID": "S9925",
			"PLAN_PBP_REC_NUM": "001", "QTY_DSPNSD_NUM": "30.000", "DAYS_SUPLY_NUM": "30", "FILL_NUM": "1", "TOT_RX_CST_AMT": total}) + "|\r\n"
	}
	pdePath := write("pde.txt", "\ufeff"+strings.Join(pde.Layout, "|")+"|\r\n"+
		claim("INSERT", "-1", "10-MAR-2021", "1234567893", "13.50")+
		claim("INSERT", "-2", "11-Mar-2021", "1234567893", "20.00")+
		claim("UPDATE", "-2", "11-Mar-2021", "1234567893", "21.00")+
		claim("INSERT", "-3", "12-Mar-2021", "1234567893", "5.00")+
		claim("DELETE", "-3", "12-Mar-2021", "1234567893", "5.00")+
		claim("INSERT", "-4", "13-Mar-2021", "9999999479", "7.00")+
		claim("INSERT", "-5", "31-Feb-2021", "1234567893", "7.00"))
	months := []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEPT", "OCT", "NOV", "DEC"}
	head, row := []string{"DML_IND", "BENE_ID", "RFRNC_YR", "BENE_BIRTH_DT"}, []string{"INSERT", "-9001", "2021", "17-Jan-1942"}
	for _, m := range months {
		head, row = append(head, "PTD_CNTRCT_"+m+"_ID", "PTD_PBP_"+m+"_ID"), append(row, "S9925", "001")
	}
	benePath := write("beneficiary_2021.csv", strings.Join(head, "|")+"\n"+strings.Join(row, "|")+"\n")

	out := run("import", "pde", pdePath, "--beneficiaries", benePath)
	expect(out, "read        claim 3, enrollment span 1, unreadable 1", "accepted    3",
		"rejected    1 (claim:NPI_CHECK_DIGIT 1)", "not sent    1 (unreadable:PDE_DATE 1)")
	rejects := run("rejects", "list")
	expect(rejects, "prescriber_npi", "NPI_CHECK_DIGIT")
	out = run("import", "pde", pdePath, "--beneficiaries", benePath)
	expect(out, "accepted    0", "duplicates  3")
	if again := run("rejects", "list"); again != rejects {
		t.Errorf("a second import stored rejections again:\n%s\nbefore:\n%s", again, rejects)
	}
	// The member's profile has the UPDATE's amount ($13.50 + $21.00), and not the deleted claim.
	prof := awaitOutput(t, st, func(s string) bool { return strings.Contains(s, "claims       2 active") }, "profile", "--", "-9001")
	expect(prof, "beneficiary  -9001   plan S9925-001", "claims       2 active, 0 reversed, $34.50 in total")

	// The public samples: CMS's placeholder ids are no NPIs and their plans are not the sponsor's,
	// so every claim is refused with the fields named; nothing is lost.
	out = run("import", "pde", samples+"cms-pde-sample/pde.csv", "--beneficiaries", samples+"cms-pde-sample/beneficiary/beneficiary_2015.csv")
	expect(out, "read        claim 200, enrollment span 4", "accepted    0",
		"rejected    604 (claim:NPI_CHECK_DIGIT 200, claim:NPI_FORMAT 200, claim:UNKNOWN_PLAN 200, enrollment:UNKNOWN_PLAN 4)")
	out = run("import", "pde", samples+"cms-pde-sample/pde-mct-sample.txt")
	expect(out, "read        claim 40", "rejected    120 (claim:CONTRACT_FORMAT 40, claim:NPI_FORMAT 80)")
	out = run("import", "eob", samples+"bluebutton-eob/eob_search_pt_v2.json")
	expect(out, "read        claim 10", "submitted   5 ", "not sent    5 (claim:sign-flipped repeat 5)", "claim:NPI_FORMAT 10")

	// AB2D: the stays and visits of 2021 arrive without amounts. The member's plan has member
	// months, and spending is unknown (not $0, which would be 100 % below the benchmark).
	out = run("import", "ab2d", samples+"ab2d-sample/sample-data-r4.first150.ndjson", "--contract", "S9925", "--pbp", "001")
	expect(out, "read        carrier 9, dme 1, hha 23, inpatient 4, outpatient 112, snf 1", "accepted    150")
	perf := awaitOutput(t, st, func(s string) bool {
		return strings.Contains(s, "91 claims without an amount") && !strings.Contains(s, "Member months in 2021: 0")
	},
		"performance", "--plan", "S9925-001", "--year", "2021")
	expect(perf, "(0 summaries; 91 claims without an amount left out)", "3. Spending unknown")
	// A Blue Button page with amounts makes 2021's spending known: $237.17 + $1,275.33.
	out = run("import", "ab2d", samples+"ab2d-sample/bb2-sandbox-eob-page1.json", "--contract", "S9925", "--pbp", "001")
	expect(out, "accepted    10")
	perf = awaitOutput(t, st, func(s string) bool { return strings.Contains(s, "$1,512.50") }, "performance", "--plan", "S9925-001", "--year", "2021")
	expect(perf, "$1,512.50 (2 summaries; 91 claims without an amount left out)", "3. Expenditure per member-year")
	out = run("import", "ab2d", samples+"ab2d-sample/sample-data-r4.first150.ndjson", "--contract", "S9925", "--pbp", "001")
	expect(out, "accepted    0", "duplicates  150")
}

// awaitOutput runs emtmctl until ok accepts its output (the pipeline is
// asynchronous), at most 15 seconds; the member months are swept first.
func awaitOutput(t *testing.T, st *stack.Stack, ok func(string) bool, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var out string
	for i := 0; i < 150; i++ {
		_, _ = runAt(t, st, "ledger", "sweep")
		out, _ = runAt(t, st, args...)
		if ok(out) || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out
}
