package safety

import (
	"bytes"
	"strings"
	"testing"
)

const (
	membersCSV = "beneficiary_id,birth_date\nB2,1948-06-30\nB1,1960-01-01\n"
	claimsCSV  = "beneficiary_id,fill_date,drug,days_supply,groups,mme_per_day\n" +
		"B2,2024-02-01,metformin,30,DIABETES,\n" +
		"B2,2024-05-03,metformin,30,DIABETES,\n" +
		"B1,2024-01-05,oxycodone,30,OPIOID,90\n" +
		"B1,2024-02-04,oxycodone,30,OPIOID,90\n" +
		"B1,2024-03-05,oxycodone,30,OPIOID,90\n"
	exclusionsCSV = "beneficiary_id,exclusion,start_date,end_date\nB1,CANCER,2021-03-01,\n"
)

func report(t *testing.T, claims, members, exclusions, year string) (string, error) {
	t.Helper()
	in, err := ReadInput(File{"claims.csv", strings.NewReader(claims)}, File{"members.csv", strings.NewReader(members)}, File{"exclusions.csv", strings.NewReader(exclusions)})
	if err != nil {
		return "", err
	}
	y, err := ParseYear(year)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := WriteReport(&b, Report(in, y)); err != nil {
		t.Fatal(err)
	}
	return b.String(), nil
}

func TestTheReportIsSortedByBeneficiaryThenMeasure(t *testing.T) {
	got, err := report(t, claimsCSV, membersCSV, exclusionsCSV, "2024")
	if err != nil {
		t.Fatal(err)
	}
	want := ReportHeader + "\nB1,COB,1,0,1\nB1,OHD,1,1,1\nB2,SUPD,1,0,0\n"
	if got != want {
		t.Fatalf("report\n%s\nwant\n%s", got, want)
	}
}

func TestInputsTakeColumnsInAnyOrderTrimmedWithExtrasAndBlankLines(t *testing.T) {
	claims := "\ufeffmme_per_day, groups ,note,days_supply,drug,fill_date,beneficiary_id\r\n" +
		"90 ,OPIOID,x, 30 , Oxycodone ,2024-01-05,B1\r\n" +
		"\r\n" +
		"90,OPIOID,y,30,oxycodone,2024-02-04,B1\r\n" +
		"  ,  ,  ,  ,  ,  ,  \r\n" +
		"90,OPIOID,,30,oxycodone,2024-03-05, B1\r\n" +
		",,,30,amoxicillin,2023-11-01,B1\r\n" // another year, no group: valid and ignored
	members := "birth_date,beneficiary_id\n1960-01-01,B1\n"
	got, err := report(t, claims, members, "beneficiary_id,exclusion,start_date,end_date\n", "2024")
	if err != nil {
		t.Fatal(err)
	}
	if want := ReportHeader + "\nB1,COB,1,0,0\nB1,OHD,1,1,0\n"; got != want {
		t.Fatalf("report\n%s\nwant\n%s", got, want)
	}
}

func TestTheFirstInputErrorNamesFileLineAndField(t *testing.T) {
	head := "beneficiary_id,fill_date,drug,days_supply,groups,mme_per_day\n"
	row := "B1,2024-01-05,oxycodone,30,OPIOID,90\n"
	noEx := "beneficiary_id,exclusion,start_date,end_date\n"
	cases := []struct {
		name, claims, members, exclusions, want string
	}{
		{"the example of section 4.3", head + strings.Repeat(row, 5) + "B1,2024-01-05,oxycodone,0,OPIOID,90\n", membersCSV, noEx,
			`claims.csv:7: days_supply: "0" is not an integer 1..365`},
		{"days supply above 365", head + "B1,2024-01-05,oxycodone,366,OPIOID,\n", membersCSV, noEx, `claims.csv:2: days_supply: "366" is not an integer 1..365`},
		{"days supply not an integer", head + "B1,2024-01-05,oxycodone,3.5,OPIOID,\n", membersCSV, noEx, `claims.csv:2: days_supply: "3.5" is not an integer 1..365`},
		{"days supply with a sign", head + "B1,2024-01-05,oxycodone,+30,OPIOID,\n", membersCSV, noEx, `claims.csv:2: days_supply: "+30" is not an integer 1..365`},
		{"a missing column", "beneficiary_id,fill_date,drug,days_supply,groups\n", membersCSV, noEx, "claims.csv:1: mme_per_day: missing column (the header must name beneficiary_id,fill_date,drug,days_supply,groups,mme_per_day)"},
		{"a column twice", head[:len(head)-1] + ",drug\n", membersCSV, noEx, "claims.csv:1: drug: the column appears twice in the header"},
		{"an empty file", "", membersCSV, noEx, "claims.csv:1: header: the file is empty; want a header row with beneficiary_id,fill_date,drug,days_supply,groups,mme_per_day"},
		{"a short line", head + "B1,2024-01-05,oxycodone,30\n", membersCSV, noEx, "claims.csv:2: groups: missing: the line has 4 fields, the header 6"},
		{"not a calendar date", head + "B1,2024-02-30,oxycodone,30,OPIOID,\n", membersCSV, noEx, `claims.csv:2: fill_date: "2024-02-30" is not a calendar date written YYYY-MM-DD`},
		{"a date not written YYYY-MM-DD", head + "B1,2024-2-3,oxycodone,30,OPIOID,\n", membersCSV, noEx, `claims.csv:2: fill_date: "2024-2-3" is not a calendar date written YYYY-MM-DD`},
		{"an empty drug", head + "B1,2024-02-03,  ,30,OPIOID,\n", membersCSV, noEx, "claims.csv:2: drug: empty"},
		{"an unknown group", head + "B1,2024-02-03,x,30,OPIOID;STATINS,\n", membersCSV, noEx, `claims.csv:2: groups: "STATINS" is not one of STATIN, DIABETES, OPIOID, BENZODIAZEPINE, ACH, CNS`},
		{"an empty group", head + "B1,2024-02-03,x,30,OPIOID;,\n", membersCSV, noEx, `claims.csv:2: groups: "" is not one of STATIN, DIABETES, OPIOID, BENZODIAZEPINE, ACH, CNS`},
		{"a lower-case group", head + "B1,2024-02-03,x,30,opioid,\n", membersCSV, noEx, `claims.csv:2: groups: "opioid" is not one of STATIN, DIABETES, OPIOID, BENZODIAZEPINE, ACH, CNS`},
		{"MME on a claim that is not an opioid", head + "B1,2024-02-03,x,30,CNS,40\n", membersCSV, noEx, `claims.csv:2: mme_per_day: "40" is given on a claim without the OPIOID group`},
		{"MME with five decimals", head + "B1,2024-02-03,x,30,OPIOID,40.12345\n", membersCSV, noEx, `claims.csv:2: mme_per_day: "40.12345" is not a decimal >= 0 with at most 4 decimals`},
		{"MME negative", head + "B1,2024-02-03,x,30,OPIOID,-4\n", membersCSV, noEx, `claims.csv:2: mme_per_day: "-4" is not a decimal >= 0 with at most 4 decimals`},
		{"MME ending in a dot", head + "B1,2024-02-03,x,30,OPIOID,40.\n", membersCSV, noEx, `claims.csv:2: mme_per_day: "40." is not a decimal >= 0 with at most 4 decimals`},
		{"MME beyond any dose", head + "B1,2024-02-03,x,30,OPIOID,99999999999999999999\n", membersCSV, noEx, `claims.csv:2: mme_per_day: "99999999999999999999" is not a decimal >= 0 with at most 4 decimals`},
		{"a claim of someone not a member", head + "B9,2024-02-03,x,30,,\n", membersCSV, noEx, `claims.csv:2: beneficiary_id: "B9" is not in members.csv`},
		{"an empty beneficiary", head + ",2024-02-03,x,30,,\n", membersCSV, noEx, "claims.csv:2: beneficiary_id: empty"},
		{"a malformed CSV line", head + "B1,\"2024-02-03,x,30,,\n", membersCSV, noEx, "claims.csv:2: line: malformed CSV: extraneous or missing \" in quoted-field"},
		{"a member twice", head, "beneficiary_id,birth_date\nB1,1950-01-01\n\nB1,1950-01-01\n", noEx, `members.csv:4: beneficiary_id: "B1" is listed twice (first on line 2)`},
		{"a birth date that is no date", head, "beneficiary_id,birth_date\nB1,1950-13-01\n", noEx, `members.csv:2: birth_date: "1950-13-01" is not a calendar date written YYYY-MM-DD`},
		{"an unknown exclusion", head, membersCSV, noEx + "B1,DIALYSIS,2024-01-01,\n", `exclusions.csv:2: exclusion: "DIALYSIS" is not one of HOSPICE, CANCER, SICKLE_CELL, PALLIATIVE_CARE, SEIZURE_DISORDER, ESRD, RHABDOMYOLYSIS_MYOPATHY, PREGNANCY_LACTATION_FERTILITY, LIVER_DISEASE, PREDIABETES, PCOS`},
		{"an exclusion ending before it starts", head, membersCSV, noEx + "B1,CANCER,2024-02-01,2024-01-31\n", `exclusions.csv:2: end_date: "2024-01-31" is before start_date 2024-02-01`},
		{"an exclusion of someone not a member", head, membersCSV, noEx + "B7,CANCER,2024-02-01,\n", `exclusions.csv:2: beneficiary_id: "B7" is not in members.csv`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := report(t, c.claims, c.members, c.exclusions, "2024")
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v\nwant  %s", err, c.want)
			}
			if out != "" {
				t.Fatalf("printed %q before the error", out)
			}
		})
	}
}

func TestTheYearIsFourDigits(t *testing.T) {
	for _, s := range []string{"24", "20245", "2O24", "", "0000", "-024"} {
		if _, err := ParseYear(s); err == nil {
			t.Errorf("year %q accepted", s)
		}
	}
	if y, err := ParseYear("2024"); err != nil || y != 2024 {
		t.Fatalf("2024: %d %v", y, err)
	}
}

// FuzzReadInput: whatever the files hold, reading them either fails with an
// InputError naming a file and a line, or gives a report that can be written.
func FuzzReadInput(f *testing.F) {
	f.Add(claimsCSV, membersCSV, exclusionsCSV)
	f.Add("beneficiary_id,fill_date,drug,days_supply,groups,mme_per_day\nB1,2024-01-05,x,30,OPIOID;CNS,1.5\n", "beneficiary_id,birth_date\nB1,1950-01-01\n", "beneficiary_id,exclusion,start_date,end_date\nB1,HOSPICE,2024-01-01,2024-02-01\n")
	f.Add("\"", "", "")
	f.Fuzz(func(t *testing.T, claims, members, exclusions string) {
		in, err := ReadInput(File{"c", strings.NewReader(claims)}, File{"m", strings.NewReader(members)}, File{"e", strings.NewReader(exclusions)})
		if err != nil {
			ie, ok := err.(*InputError)
			if !ok || ie.Line < 1 || ie.Field == "" || (ie.File != "c" && ie.File != "m" && ie.File != "e") {
				t.Fatalf("error %T %v: want an InputError with file, line and field", err, err)
			}
			return
		}
		var b bytes.Buffer
		if err := WriteReport(&b, Report(in, 2024)); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), ReportHeader+"\n") {
			t.Fatalf("report %q", b.String())
		}
	})
}
