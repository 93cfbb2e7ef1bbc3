package pde

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
)

const samples = "../sampledata/cms-pde-sample/"

func readAll(t *testing.T, in io.Reader) ([]Event, []*Error) {
	t.Helper()
	rd, err := NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []Event
	var errs []*Error
	for range 100_000 {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, errs
		}
		var pe *Error
		if errors.As(err, &pe) {
			errs = append(errs, pe)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	t.Fatal("more than 100,000 records")
	return nil, nil
}

func file(t *testing.T, name string) []Event {
	t.Helper()
	f, err := os.Open(samples + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	es, errs := readAll(t, f)
	if len(errs) != 0 {
		t.Fatalf("%s: %v", name, errs)
	}
	return es
}

func row(e Event) string { return strings.Join(e.AuditRow(), ",") }

func TestTheSamplesPrintAsInterchangeMdSays(t *testing.T) {
	bfd := Apply(file(t, "pde.csv")).Events
	if len(bfd) != 200 {
		t.Fatalf("pde.csv: %d events, want 200", len(bfd))
	}
	// TOT_RX_CST_AMT is the total even where GDC_BLW_OOPT_AMT says $40.00 (the sample's inconsistency).
	if got := row(bfd[0]); got != "-100000080,-1000001,2015-03-10,65841006614,30,30000,1,9999999479,220171" {
		t.Errorf("first row %s", got)
	}
	byBene := map[string]int{}
	for _, e := range bfd {
		byBene[e.BeneficiaryID]++
	}
	if byBene["-1000001"] != 113 || byBene["-1000009"] != 63 || byBene["-1000016"] != 24 {
		t.Errorf("events by beneficiary %v", byBene)
	}
	mct := Apply(file(t, "pde-mct-sample.txt")).Events
	if len(mct) != 40 {
		t.Fatalf("pde-mct-sample.txt: %d events, want 40", len(mct))
	}
	// Upper-case month, 90.000 as 90000 thousandths, an empty PD_DT, the 15-digit placeholder ids, a trailing SUBMSN_CLR_CD.
	if got := row(mct[0]); got != "-200,-201,2015-04-01,75987011111,90,90000,4000,999999999999999,999999999999999" {
		t.Errorf("first MCT row %s", got)
	}
}

func TestEveryOddityOfRealFilesIsRead(t *testing.T) {
	header := strings.Join(Layout, "|")
	line := func(dml, id, date, ndc string) string {
		f := make([]string, len(Layout))
		set := func(col, v string) {
			for i, c := range Layout {
				if c == col {
					f[i] = v
				}
			}
		}
		set("DML_IND", dml)
		set("PDE_ID", id)
		set("BENE_ID", "-1000001")
		set("SRVC_DT", date)
		set("PROD_SRVC_ID", ndc)
		set("QTY_DSPNSD_NUM", "30.5")
		set("DAYS_SUPLY_NUM", "30")
		set("TOT_RX_CST_AMT", "12.345")
		set("PRSCRBR_ID", " 1234567893 ")
		set("SRVC_PRVDR_ID", "1245319599")
		return strings.Join(f, "|")
	}
	for _, tt := range []struct {
		name, text string
		want       []string
	}{
		{"a byte-order mark, CRLF and a trailing |", "\ufeff" + header + "|\r\n" + line("INSERT", "-1", "10-Mar-2015", "00002322730") + "|\r\n",
			[]string{"-1,-1000001,2015-03-10,00002322730,30,30500,1235,1234567893,1245319599"}},
		{"a header ending with | above lines that do not", header + "|\n" + line("INSERT", "-1", "10-Mar-2015", "00002322730") + "\n",
			[]string{"-1,-1000001,2015-03-10,00002322730,30,30500,1235,1234567893,1245319599"}},
		{"no header: the layout's order", line("INSERT", "-1", "01-APR-2015", "00002322730") + "\n",
			[]string{"-1,-1000001,2015-04-01,00002322730,30,30500,1235,1234567893,1245319599"}},
		{"ISO and compact dates, any month case", header + "\n" + line("INSERT", "1", "2015-03-10", "1") + "\n" + line("INSERT", "2", "20150311", "2") + "\n" + line("", "3", "12-mAr-2015", "3") + "\n",
			[]string{"1,-1000001,2015-03-10,1,30,30500,1235,1234567893,1245319599", "2,-1000001,2015-03-11,2,30,30500,1235,1234567893,1245319599",
				"3,-1000001,2015-03-12,3,30,30500,1235,1234567893,1245319599"}},
		// The print keeps a 9-digit product code as it came: the import's NDC check rejects it, naming ndc11.
		{"a 9-digit product code is printed verbatim", header + "\n" + line("INSERT", "-9", "10-Mar-2015", "123456789") + "\n",
			[]string{"-9,-1000001,2015-03-10,123456789,30,30500,1235,1234567893,1245319599"}},
		{"UPDATE replaces, DELETE removes, order of first appearance kept", header + "\n" +
			line("INSERT", "-1", "10-Mar-2015", "11") + "\n" + line("INSERT", "-2", "10-Mar-2015", "22") + "\n" +
			line("UPDATE", "-1", "11-Mar-2015", "33") + "\n" + line("DELETE", "-2", "", "") + "\n" + line("INSERT", "-3", "12-Mar-2015", "44") + "\n",
			[]string{"-1,-1000001,2015-03-11,33,30,30500,1235,1234567893,1245319599", "-3,-1000001,2015-03-12,44,30,30500,1235,1234567893,1245319599"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es, errs := readAll(t, strings.NewReader(tt.text))
			if len(errs) != 0 {
				t.Fatalf("errors %v", errs)
			}
			var got []string
			for _, e := range Apply(es).Events {
				got = append(got, row(e))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestADeletionOfAnEarlierImportIsKeptAsSuch(t *testing.T) {
	a := Apply([]Event{{DML: Delete, ClaimID: "-7"}, {DML: Insert, ClaimID: "-8"}, {DML: Delete, ClaimID: "-8"}})
	if len(a.Events) != 0 || len(a.Deleted) != 1 || a.Deleted[0].ClaimID != "-7" {
		t.Fatalf("%+v: want -7 deleted from an earlier import, -8 never existed", a)
	}
}

func TestALineThatCannotBeReadNamesItsColumnAndTheRestAreRead(t *testing.T) {
	header := "DML_IND|PDE_ID|BENE_ID|SRVC_DT|SRVC_PRVDR_ID|PRSCRBR_ID|PROD_SRVC_ID|PLAN_CNTRCT_REC_ID|PLAN_PBP_REC_NUM|QTY_DSPNSD_NUM|DAYS_SUPLY_NUM|TOT_RX_CST_AMT\n"
	text := header +
		"INSERT|-1|-5|31-Feb-2015|1245319599|1234567893|00002322730|S9925|001|30|30|1.00\n" +
		"INSERT|-2|-5|01-Mar-2015|1245319599|1234567893|00002322730|S9925|001|thirty|30|1.00\n" +
		"MERGE|-3|-5|01-Mar-2015|1245319599|1234567893|00002322730|S9925|001|30|30|1.00\n" +
		"INSERT|-4|-5|01-Mar-2015\n" +
		"INSERT|-5|-5|01-Mar-2015|1245319599|1234567893|00002322730|S9925|001|30|30|1.00\n"
	es, errs := readAll(t, strings.NewReader(text))
	var got []string
	for _, e := range errs {
		got = append(got, e.Error()+" "+e.Reason)
	}
	want := []string{
		`line 2, SRVC_DT: date "31-Feb-2015" is not dd-Mon-yyyy, yyyy-mm-dd or yyyymmdd PDE_DATE`,
		`line 3, QTY_DSPNSD_NUM: QTY_DSPNSD_NUM: amount "thirty" is not a decimal number PDE_NUMBER`,
		`line 4, DML_IND: DML_IND "MERGE" must be INSERT, UPDATE or DELETE PDE_DML`,
		`line 5: 4 fields, the layout has 12 PDE_FIELDS`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(es) != 1 || es[0].ClaimID != "-5" || es[0].Contract != "S9925" {
		t.Fatalf("the readable line: %+v", es)
	}
}

func TestAHeaderWithoutTheColumnsTheConversionNeedsIsRefused(t *testing.T) {
	_, err := NewReader(strings.NewReader("DML_IND|PDE_ID|BENE_ID\n"))
	if err == nil || !strings.Contains(err.Error(), "SRVC_DT") {
		t.Fatalf("err %v", err)
	}
	if _, err := NewReader(strings.NewReader("")); err == nil {
		t.Fatal("an empty file was read")
	}
}

func TestBeneficiaryFilesGiveEnrollmentSpansByContractAndPBP(t *testing.T) {
	bs := map[string]*Beneficiary{}
	for y := 2011; y <= 2021; y++ {
		f, err := os.Open(samples + "beneficiary/beneficiary_" + itoa(y) + ".csv")
		if err != nil {
			t.Fatal(err)
		}
		if err := ReadBeneficiaries(f, bs); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if len(bs) != 3 {
		t.Fatalf("%d beneficiaries", len(bs))
	}
	var got []string
	for _, s := range bs["-1000016"].Spans() {
		got = append(got, s.ID()+" "+s.Start.String()+".."+s.End.String())
	}
	want := []string{
		"rif/-1000016/Z0005-802/2011-01 2011-01-01..2011-12-31",
		"rif/-1000016/Z0007-803/2012-01 2012-01-01..2012-06-30",
		"rif/-1000016/Z0008-804/2012-07 2012-07-01..2021-05-31",
	}
	// 2012 changes plan in July; 2021's file has January to May, then blanks.
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("spans of -1000016\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b := bs["-1000001"]; b.Birth != (civil.Date{Year: 1942, Month: 1, Day: 17}) || len(b.Spans()) == 0 || b.Spans()[0].Start.Year != 2012 {
		t.Fatalf("-1000001: %+v %+v (no Part D in 2011: blank contracts)", b, b.Spans())
	}
}

func TestADeathEndsTheLastSpan(t *testing.T) {
	text := "DML_IND|BENE_ID|RFRNC_YR|DEATH_DT|PTD_CNTRCT_JAN_ID|PTD_PBP_JAN_ID|PTD_CNTRCT_FEB_ID|PTD_PBP_FEB_ID|PTD_CNTRCT_MAR_ID|PTD_PBP_MAR_ID\n" +
		"INSERT|-9|2024|14-Feb-2024|S9925|001|S9925|001|N|\n"
	bs := map[string]*Beneficiary{}
	if err := ReadBeneficiaries(strings.NewReader(text), bs); err != nil {
		t.Fatal(err)
	}
	sp := bs["-9"].Spans()
	if len(sp) != 1 || sp[0].End != (civil.Date{Year: 2024, Month: 2, Day: 14}) || !sp[0].Deceased || sp[0].Plan.String() != "S9925-001" {
		t.Fatalf("%+v", sp)
	}
}

func itoa(y int) string { return civil.Date{Year: y, Month: 1, Day: 1}.String()[:4] }
