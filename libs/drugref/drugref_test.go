package drugref

import (
	"reflect"
	"strings"
	"testing"
)

func TestEmbeddedReferenceLoads(t *testing.T) {
	ref, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if ref.Version == "" || ref.Len() < 200 {
		t.Fatalf("version %q, %d ingredients", ref.Version, ref.Len())
	}
	tests := []struct {
		name  string
		check func(*Ingredient) bool
	}{
		{"atorvastatin", func(i *Ingredient) bool { return i.PDCClass == "STATIN" }},
		{"lisinopril", func(i *Ingredient) bool { return i.PDCClass == "RASA" }},
		{"metformin", func(i *Ingredient) bool { return i.PDCClass == "DIAB" }},
		{"insulin glargine", func(i *Ingredient) bool { return i.Insulin && i.PDCClass == "" }},
		{"sacubitril", func(i *Ingredient) bool { return i.Sacubitril }},
		{"oxycodone", func(i *Ingredient) bool {
			return i.Opioid && len(i.MME) == 1 && i.MME[0].Factor.FloatString(1) == "1.5" && i.CNSClass == "opioid"
		}},
		{"buprenorphine", func(i *Ingredient) bool { return i.Opioid && len(i.MME) == 0 }},
		{"alprazolam", func(i *Ingredient) bool { return i.Benzodiazepine && i.Beers && i.CNSClass == "benzodiazepine" }},
		{"diphenhydramine", func(i *Ingredient) bool { return i.Anticholinergic && i.Beers }},
		{"glyburide", func(i *Ingredient) bool { return i.Beers && i.PDCClass == "DIAB" }},
		{"Alendronic Acid", func(i *Ingredient) bool { return i.Name == "alendronate" }},
	}
	for _, tt := range tests {
		ing, ok := ref.Ingredient(tt.name)
		if !ok || !tt.check(ing) {
			t.Errorf("%s: %+v (found %v)", tt.name, ing, ok)
		}
	}
}

func TestParseDescription(t *testing.T) {
	ref, _ := Load()
	tests := []struct {
		desc string
		want []string
	}{
		{"Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet [Percocet]", []string{"acetaminophen", "oxycodone"}},
		{"168 HR Ethinyl Estradiol 0.00146 MG/HR / norelgestromin 0.00625 MG/HR Transdermal System", []string{"ethinyl estradiol", "norelgestromin"}},
		{"Estradiol 1 MG Oral Tablet", []string{"estradiol"}},
		{"lisinopril 10 MG / Hydrochlorothiazide 12.5 MG Oral Tablet", []string{"hydrochlorothiazide", "lisinopril"}},
		{"Carbamazepine[Tegretol]", []string{"carbamazepine"}},
		{"Vitamin B 12 5 MG/ML Injectable Solution", []string{"cyanocobalamin"}},
		{"Unobtainium 5 MG Oral Tablet", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := ref.ParseDescription(tt.desc); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseDescription(%q) = %v, want %v", tt.desc, got, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	ref, _ := Load()
	if ings, src := ref.Resolve("751905", "Trinessa 28 Day Pack"); src != FromRxNorm || strings.Join(ings, "+") != "ethinyl estradiol+norgestimate" {
		t.Errorf("Trinessa: %v %s", ings, src)
	}
	if ings, src := ref.Resolve("999999999", "Atorvastatin 40 MG Oral Tablet"); src != FromDescription || len(ings) != 1 || ings[0] != "atorvastatin" {
		t.Errorf("unknown code, known description: %v %s", ings, src)
	}
	if _, src := ref.Resolve("999999999", "Mystery Pack"); src != Unknown {
		t.Errorf("unknown drug resolved: %s", src)
	}
}

func TestParseRejectsBadFiles(t *testing.T) {
	bad := []struct {
		name          string
		ing, syn, mme string
		want          string
	}{
		{"bad class", ingredientsHeader + "\nx,c,LIPID,,,,,,,,,,,,,\n", synonymsHeader + "\n", "", "pdc_class"},
		{"bad dose limit", ingredientsHeader + "\nx,c,,,,,,,yes,,,,1/2,,,\n", synonymsHeader + "\n", "", "only_above_mg_per_day"},
		{"bad route", ingredientsHeader + "\nx,c,,,,,,,,,yes,,,rectal,,\n", synonymsHeader + "\n", "", "beers_not_routes"},
		{"unknown class", ingredientsHeader + "\nx,c,,,,,,,,,yes,,,,glp-1 agonist,\n", synonymsHeader + "\n", "", "beers_unless_classes"},
		{"duplicate", ingredientsHeader + "\nx,c,,,,,,,,,,,,,,\nx,c,,,,,,,,,,,,,,\n", synonymsHeader + "\n", "", "twice"},
		{"short row", ingredientsHeader + "\nx,c\n", synonymsHeader + "\n", "", "fields"},
		{"dangling synonym", ingredientsHeader + "\nx,c,,,,,,,,,,,,,,\n", synonymsHeader + "\ny,z\n", "", "unknown ingredient"},
		{"factor of a non-opioid", ingredientsHeader + "\nx,c,,,,,,,,,,,,,,\n", synonymsHeader + "\n", "x,,mg,1,CDC 2022\n", "not marked opioid"},
		{"bad factor", ingredientsHeader + "\nx,c,,,,yes,,,,,,,,,,\n", synonymsHeader + "\n", "x,,mg,-1,CDC 2022\n", "factor"},
		{"factor without a source", ingredientsHeader + "\nx,c,,,,yes,,,,,,,,,,\n", synonymsHeader + "\n", "x,,mg,1,\n", "source"},
		{"bad unit", ingredientsHeader + "\nx,c,,,,yes,,,,,,,,,,\n", synonymsHeader + "\n", "x,,gram,1,CDC\n", "unit"},
		{"two factors for a form", ingredientsHeader + "\nx,c,,,,yes,,,,,,,,,,\n", synonymsHeader + "\n", "x,,mg,1,CDC\nx,,mg,2,CDC\n", "two factors"},
	}
	for _, tt := range bad {
		_, err := Parse([]byte(tt.ing), []byte(rxnormHeader+"\n"), []byte(tt.syn), []byte(mmeHeader+"\n"+tt.mme))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error about %s", tt.name, err, tt.want)
		}
	}
}

func FuzzParseDescription(f *testing.F) {
	for _, s := range []string{"Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet", "Trinessa 28 Day Pack", "", "////", "insulin insulin glargine"} {
		f.Add(s)
	}
	ref, err := Load()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, desc string) {
		for _, n := range ref.ParseDescription(desc) {
			if _, ok := ref.Ingredient(n); !ok {
				t.Fatalf("%q gave unknown ingredient %q", desc, n)
			}
		}
	})
}

// FuzzParse: any bytes as the ingredients file load or fail with a message,
// never panic; a loaded reference answers lookups for its own names.
func FuzzParse(f *testing.F) {
	f.Add([]byte(ingredientsHeader+"\nmetformin,biguanide,DIAB,,,,,,,,,,,,,\n"), []byte(mmeHeader+"\n"))
	f.Add([]byte(ingredientsHeader+"\nx,c,,,,yes,,,,,,,,,,\n"), []byte(mmeHeader+"\nx,,mg,abc,CDC\n"))
	f.Add([]byte(ingredientsHeader+"\nx,c,,,,yes,,,yes,,yes,,6,vaginal,c,\n"), []byte(mmeHeader+"\nx,buccal,mcg,0.13,CMS\n"))
	f.Add([]byte("# version 1\n"+ingredientsHeader+"\n\"a,b\",c,,,,,,,,,,,,,,\n"), []byte(mmeHeader+"\n"))
	f.Fuzz(func(t *testing.T, ing, mme []byte) {
		ref, err := Parse(ing, []byte(rxnormHeader+"\n"), []byte(synonymsHeader+"\n"), mme)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		for name := range ref.byName {
			if _, ok := ref.Ingredient(name); !ok {
				t.Fatalf("%q loaded but not found", name)
			}
		}
	})
}
