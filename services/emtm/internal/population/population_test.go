package population

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/drugref"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/services/emtm/internal/claimscsv"
)

type files struct{ claims, enrollment, conditions, medical bytes.Buffer }

func generate(t testing.TB, o Options) (*files, Counts) {
	t.Helper()
	f := &files{}
	c, err := Generate(o, Writers{Claims: &f.claims, Enrollment: &f.enrollment, Conditions: &f.conditions, Medical: &f.medical})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func opts(members, years int, seed uint64) Options {
	return Options{Members: members, Years: years, FirstYear: DefaultFirstYear(years), Seed: seed, Contract: "S9925", PBP: "001"}
}

func TestTheSameSeedGivesTheSameFilesAndAnotherSeedOthers(t *testing.T) {
	a, ca := generate(t, opts(300, 2, 7))
	b, cb := generate(t, opts(300, 2, 7))
	c, _ := generate(t, opts(300, 2, 8))
	if ca != cb {
		t.Fatalf("counts differ: %+v vs %+v", ca, cb)
	}
	for i, pair := range [][2]*bytes.Buffer{{&a.claims, &b.claims}, {&a.enrollment, &b.enrollment}, {&a.conditions, &b.conditions}, {&a.medical, &b.medical}} {
		if !bytes.Equal(pair[0].Bytes(), pair[1].Bytes()) {
			t.Errorf("file %d differs between two runs of the same seed", i)
		}
	}
	if bytes.Equal(a.claims.Bytes(), c.claims.Bytes()) {
		t.Error("seeds 7 and 8 gave the same claims")
	}
}

// members reads the enrollment file: member id -> enrollment.
func members(t *testing.T, f *files) map[string]*enrollmentv1.Enrollment {
	t.Helper()
	out := map[string]*enrollmentv1.Enrollment{}
	sc := bufio.NewScanner(bytes.NewReader(f.enrollment.Bytes()))
	for sc.Scan() {
		e := &enrollmentv1.Enrollment{}
		if err := protojson.Unmarshal(sc.Bytes(), e); err != nil {
			t.Fatalf("enrollment line %q: %v", sc.Text(), err)
		}
		if _, dup := out[e.MemberId]; dup {
			t.Fatalf("member %s enrolled twice", e.MemberId)
		}
		out[e.MemberId] = e
	}
	return out
}

func readClaims(t *testing.T, f *files) []claimscsv.Record {
	t.Helper()
	rd, err := claimscsv.NewReader(bytes.NewReader(f.claims.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var out []claimscsv.Record
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("a generated row does not read: %v", err)
		}
		out = append(out, r)
	}
}

func TestEveryGeneratedRecordReadsAsIngestionWillReadIt(t *testing.T) {
	f, counts := generate(t, opts(400, 2, 1))
	enrolled := members(t, f)
	if len(enrolled) != 400 || counts.Enrollments != 400 {
		t.Fatalf("%d enrollments (counted %d), want 400", len(enrolled), counts.Enrollments)
	}
	mbis := map[string]bool{}
	for _, e := range enrolled {
		if _, err := identifiers.MBI(e.Mbi); err != nil {
			t.Fatalf("member %s: %v", e.MemberId, err)
		}
		if mbis[e.Mbi] {
			t.Fatalf("MBI %s given twice", e.Mbi)
		}
		mbis[e.Mbi] = true
	}
	ref, err := drugref.Load()
	if err != nil {
		t.Fatal(err)
	}
	recs := readClaims(t, f)
	paid, reversed := 0, 0
	ids := map[string]bool{}
	for _, r := range recs {
		if r.Reversal != nil {
			reversed++
			if !ids[r.Reversal.PharmacyNpi+"/"+r.Reversal.ClaimId] {
				t.Fatalf("line %d reverses claim %s before it was paid", r.Line, r.Reversal.ClaimId)
			}
			continue
		}
		c := r.Claim
		paid++
		key := c.PharmacyNpi + "/" + c.ClaimId
		if ids[key] {
			t.Fatalf("line %d: claim %s paid twice by the same pharmacy", r.Line, c.ClaimId)
		}
		ids[key] = true
		for _, npi := range []string{c.PharmacyNpi, c.PrescriberNpi} {
			if _, err := identifiers.NPI(npi); err != nil {
				t.Fatalf("line %d: %v", r.Line, err)
			}
		}
		e := enrolled[c.MemberId]
		dos := civil.FromProto(c.DateOfService)
		if e == nil || dos.Before(civil.FromProto(e.StartDate)) || (e.EndDate != nil && dos.After(civil.FromProto(e.EndDate))) {
			t.Fatalf("line %d: claim of %s on %s outside the member's enrollment %v", r.Line, c.MemberId, dos, e)
		}
		if c.Mbi != e.Mbi || !proto.Equal(c.BirthDate, e.BirthDate) {
			t.Fatalf("line %d: the claim's MBI or birth date is not the enrollment's", r.Line)
		}
		ings, ok := ref.ByRxNorm(c.RxnormCode)
		if !ok || strings.Join(ings, " / ") != strings.Join(c.Ingredients, " / ") {
			t.Fatalf("line %d: RxNorm %s is %v in the drug reference, the claim says %v", r.Line, c.RxnormCode, ings, c.Ingredients)
		}
		if c.TotalCents <= 0 || c.PatientPayCents > c.TotalCents || c.IngredientCostCents+c.DispensingFeeCents != c.TotalCents {
			t.Fatalf("line %d: amounts do not add up: %+v", r.Line, c)
		}
	}
	if paid != counts.Claims || reversed != counts.Reversals {
		t.Fatalf("read %d paid and %d reversed rows, counted %d and %d", paid, reversed, counts.Claims, counts.Reversals)
	}
	for name, buf := range map[string]*bytes.Buffer{"conditions": &f.conditions, "medical": &f.medical} {
		sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
		n := 0
		for sc.Scan() {
			var err error
			if name == "conditions" {
				err = protojson.Unmarshal(sc.Bytes(), &medicalv1.Condition{})
			} else {
				s := &medicalv1.PartsAbSummary{}
				err = protojson.Unmarshal(sc.Bytes(), s)
				if err == nil && s.CostCents <= 0 {
					t.Fatalf("summary %s has no cost", s.SummaryId)
				}
			}
			if err != nil {
				t.Fatalf("%s line %d: %v", name, n+1, err)
			}
			n++
		}
		if n == 0 {
			t.Fatalf("no %s", name)
		}
	}
}

func TestEveryDrugOfTheGeneratorIsOneTheDrugReferenceKnowsAndOpioidDosesReachTheHighDoseMeasure(t *testing.T) {
	ref, err := drugref.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range drugs {
		ings, ok := ref.ByRxNorm(d.rxcui)
		if !ok || strings.Join(ings, " / ") != d.ingredients {
			t.Errorf("RxNorm %s: the reference says %v, the generator %q", d.rxcui, ings, d.ingredients)
		}
	}
	mme := func(d *drug) float64 {
		var total int64
		for _, x := range ref.Dispense(strings.Split(d.ingredients, " / "), drugref.Use{Description: d.description, QuantityMilli: d.perDayMilli * 30, DaysSupply: 30}) {
			total += x.MME
		}
		return float64(total) / 10000
	}
	// Two tablets of 15 mg extended-release oxycodone and four of 10 mg
	// immediate-release a day: 45 + 60 mg of oxycodone at 1.5 = 157.5 MME.
	if got := mme(&oxycodoneER) + mme(&oxycodoneIR); got < 90 {
		t.Errorf("the high-dose regimen is %.1f MME a day; the PQA OHD measure needs 90 or more", got)
	}
	if got := mme(&hydrocodone); got != 30 {
		t.Errorf("hydrocodone 7.5 mg four times a day is %.1f MME, want 30", got)
	}
}

func TestThePopulationHasTheShapesOfAPartDHistory(t *testing.T) {
	const n = 3000
	f, c := generate(t, opts(n, 2, 42))
	t.Logf("%+v", c)
	within := func(name string, got, lo, hi float64) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s = %.3f, want between %.3f and %.3f", name, got, lo, hi)
		}
	}
	perYear := func(x int) float64 { return float64(x) / n / 2 }
	within("deaths a member-year", perYear(c.Deaths), 0.02, 0.08)
	within("disenrollments a member-year", perYear(c.Disenrollments), 0.02, 0.10)
	within("members joining during the history", float64(c.Joined)/n, 0.08, 0.16)
	within("opioid users", float64(c.OpioidUsers)/n, 0.05, 0.25)
	within("benzodiazepine users", float64(c.BenzoUsers)/n, 0.02, 0.10)
	within("claims a member-year", perYear(c.Claims), 12, 45)
	within("reversals a claim", float64(c.Reversals)/float64(c.Claims), 0.005, 0.02)
	within("90-day fills among 30- and 90-day fills", float64(c.NinetyDayFills)/float64(c.NinetyDayFills+c.ThirtyDayFills), 0.10, 0.35)
	within("inpatient stays a member-year", perYear(c.InpatientStays), 0.1, 0.5)
	for name, x := range map[string]int{"opioid and benzodiazepine users": c.OpioidAndBenzo, "hospice": c.Hospice, "new starts": c.NewStarts,
		"late refills": c.LateRefills, "discontinuations": c.Discontinuation} {
		if x == 0 {
			t.Errorf("no %s", name)
		}
	}
	// Chronic drugs are refilled on their cycle: the median days between a
	// member's fills of the same drug is its days supply, give or take a few.
	gaps := map[int][]int{}
	last := map[string]civil.Date{}
	for _, r := range readClaims(t, f) {
		if r.Claim == nil {
			continue
		}
		k := r.Claim.MemberId + "/" + r.Claim.RxnormCode
		d := civil.FromProto(r.Claim.DateOfService)
		if p, ok := last[k]; ok {
			gaps[int(r.Claim.DaysSupply)] = append(gaps[int(r.Claim.DaysSupply)], d.DaysSince(p))
		}
		last[k] = d
	}
	for _, days := range []int{30, 90} {
		g := gaps[days]
		sort.Ints(g)
		if len(g) < 100 {
			t.Fatalf("only %d refills of %d days", len(g), days)
		}
		within("median days between refills of a "+strconv.Itoa(days)+"-day supply", float64(g[len(g)/2]), float64(days)-3, float64(days)+8)
		// and some are well late (a gap in therapy)
		if late := g[len(g)*19/20]; late < days+20 {
			t.Errorf("the 95th percentile of %d-day refill intervals is %d days: no gaps in therapy", days, late)
		}
	}
	// Hypertension, the commonest diagnosis, in about half.
	ht := bytes.Count(f.conditions.Bytes(), []byte(`"code":"59621000"`))
	within("members with hypertension", float64(ht)/n, 0.45, 0.70)
	// Deaths are enrollments ending DECEASED.
	dead := 0
	for _, e := range members(t, f) {
		if e.EndReason == enrollmentv1.EndReason_END_REASON_DECEASED {
			dead++
		}
	}
	if dead != c.Deaths {
		t.Errorf("%d enrollments end deceased, %d deaths counted", dead, c.Deaths)
	}
}

func TestOptionsOutOfRangeAreRefusedByName(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Members: 0, Years: 1, FirstYear: 2020, Contract: "S9925", PBP: "001"}, "--members"},
		{Options{Members: 1, Years: 11, FirstYear: 2020, Contract: "S9925", PBP: "001"}, "--years"},
		{Options{Members: 1, Years: 1, FirstYear: 2005, Contract: "S9925", PBP: "001"}, "--first-year"},
		{Options{Members: 1, Years: 1, FirstYear: 2020}, "--contract"},
	} {
		_, err := Generate(tc.o, Writers{io.Discard, io.Discard, io.Discard, io.Discard})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %s", tc.o, err, tc.want)
		}
	}
}

func TestADirectoryGetsItsFourFilesAndAManifestOfTheirDigests(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pop")
	m, err := WriteDir(dir, opts(50, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	f, c := generate(t, opts(50, 1, 3))
	if m.Counts != c {
		t.Fatalf("manifest counts %+v, generated %+v", m.Counts, c)
	}
	for name, want := range map[string][]byte{ClaimsFile: f.claims.Bytes(), EnrollmentFile: f.enrollment.Bytes(), ConditionsFile: f.conditions.Bytes(), MedicalFile: f.medical.Bytes()} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what Generate writes", name)
		}
		if m.SHA256[name] == "" {
			t.Errorf("the manifest has no digest of %s", name)
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	if want := []string{ClaimsFile, ConditionsFile, EnrollmentFile, ManifestFile, MedicalFile}; !slices.Equal(names, want) {
		t.Errorf("the directory holds %v, want %v (no temporary files left)", names, want)
	}
}
