package chronic

import "testing"

func TestCategories(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ system, code, want string }{
		{SNOMED, "44054006", Diabetes}, {SNOMED, "59621000", Hypertension}, {SNOMED, "55822004", Dyslipidemia},
		{SNOMED, "87433001", Respiratory}, {SNOMED, "15777000", Prediabetes}, // prediabetes is not diabetes
		{ICD10, "D57.1", SickleCell}, {ICD10, "D57.3", ""}, {ICD10, "O09.90", Pregnancy}, {ICD10, "Z51.5", Palliative},
		{ICD10, "G40.909", Seizure}, {ICD10, "K74.60", Liver}, {ICD10, "R73.03", Prediabetes}, {ICD10, "E28.2", PCOS},
		{ICD10, "M62.82", Rhabdo}, {SNOMED, "72892002", Pregnancy}, {SNOMED, "84757009", Seizure},
		{ICD10, "E11.9", Diabetes}, {ICD10, "e119", Diabetes}, {ICD10, "N18.6", ESRD}, {ICD10, "N18.4", ""},
		{ICD10, "C34.90", Cancer}, {ICD10, "I10", Hypertension}, {ICD10, "Z21", HIVAIDS},
	}
	for _, tt := range tests {
		if got := m.Category(tt.system, tt.code); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.system, tt.code, got, tt.want)
		}
	}
}

func TestCoreDiseasesChangeIn2025(t *testing.T) {
	if len(CoreDiseases(2024)) != 9 || len(CoreDiseases(2025)) != 10 {
		t.Fatalf("2024 %v, 2025 %v", CoreDiseases(2024), CoreDiseases(2025))
	}
	for _, c := range CoreDiseases(2024) {
		if c == HIVAIDS {
			t.Fatal("HIV/AIDS is a core disease only from 2025")
		}
	}
}

func TestParseRejectsBadRows(t *testing.T) {
	for _, text := range []string{
		"system,match,code,category,description\nLOINC,exact,1,DIABETES,x\n",
		"system,match,code,category,description\nSNOMED,exact,1,GOUT,x\n",
		"system,match,code,category,description\nSNOMED,fuzzy,1,DIABETES,x\n",
		"code,category\n",
	} {
		if _, err := Parse(text); err == nil {
			t.Errorf("accepted %q", text)
		}
	}
}
