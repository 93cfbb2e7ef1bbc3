package adapters

import (
	"context"
	"fmt"
	"strings"
	"testing"

	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/risk-scoring/internal/cmr"
)

// A profile of a few hundred fills is a Redis hash table, whose MEMORY USAGE
// Redis estimates by default from the first 5 fields it iterates (an order
// that changes with the server's hash seed and the order of the writes); the
// size of a profile counts every field, so a replay or a rebuild of the same
// fills reports the same figure give or take the table's own allocation.
func TestTheSizeOfALargeProfileCountsEveryField(t *testing.T) {
	t.Parallel()
	rdb := testkit.RedisClient(t)
	ctx := context.Background()
	s := NewStore(rdb, LivePrefix, 4)
	// 399 small fields and one large one: an estimate from 5 fields is either
	// far below the content (the large one not sampled) or far above it.
	const fields = 400
	content := int64(0)
	for i := range fields {
		field, value := fmt.Sprintf("c:%d", i), "2024-01-01|x"
		if i == 123 {
			value = strings.Repeat("x", 200_000)
		}
		content += int64(len(field) + len(value))
		if err := rdb.HSet(ctx, s.ProfileKey("M1"), field, value).Err(); err != nil {
			t.Fatal(err)
		}
	}
	size, err := s.Size(ctx, "M1")
	if err != nil {
		t.Fatal(err)
	}
	if size < content || size > 2*content {
		t.Errorf("size %d bytes for %d bytes of fields and values; want between 1 and 2 times as much", size, content)
	}
}

// TestAMembersAssessmentsAreKeptOnceEachInDateOrder: recording the same
// assessment twice (a redelivery) keeps one; the list is by as-of date.
func TestAMembersAssessmentsAreKeptOnceEachInDateOrder(t *testing.T) {
	t.Parallel()
	rdb := testkit.RedisClient(t)
	ctx := context.Background()
	s := NewStore(rdb, LivePrefix, 4)
	at := func(id string, month int32) *riskv1.RiskAssessment {
		return &riskv1.RiskAssessment{AssessmentId: id, MemberId: "M1", AsOf: &typesv1.Date{Year: 2024, Month: month, Day: 1},
			Meta: &typesv1.EventMeta{EventId: id, CausationId: "claim/" + id}}
	}
	for _, a := range []*riskv1.RiskAssessment{at("asmt/b", 3), at("asmt/a", 1), at("asmt/b", 3), at("asmt/c", 2)} {
		if err := s.RecordAssessment(ctx, "M1", a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Assessments(ctx, "M1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.AssessmentId+"<-"+a.GetMeta().GetCausationId())
	}
	if strings.Join(ids, " ") != "asmt/a<-claim/asmt/a asmt/c<-claim/asmt/c asmt/b<-claim/asmt/b" {
		t.Fatalf("assessments %v", ids)
	}
	if none, err := s.Assessments(ctx, "M2"); err != nil || len(none) != 0 {
		t.Fatalf("another member's: %v %v", none, err)
	}
	// The assessments live in the store's namespace: a rebuild's shadow has none, and dropping it keeps the live ones.
	if err := s.Shadow().Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Assessments(ctx, "M1"); len(again) != 3 {
		t.Fatalf("%d after dropping a shadow", len(again))
	}
}

// TestSummariesReadManyProfilesInOneRoundTripAsOneAtATime: Stats reads
// profiles in batches; each summary is what Size and Fingerprint say.
func TestSummariesReadManyProfilesInOneRoundTripAsOneAtATime(t *testing.T) {
	t.Parallel()
	rdb := testkit.RedisClient(t)
	ctx := context.Background()
	s := NewStore(rdb, LivePrefix, 4)
	for i, m := range []string{"M1", "M2", "M3"} {
		fields := []any{"c:x", strings.Repeat("y", 10*(i+1))}
		if i != 1 {
			fields = append(fields, "fp", fmt.Sprintf("t%d|e0|", i+1))
		}
		if err := rdb.HSet(ctx, s.ProfileKey(m), fields...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	members := []string{"M1", "M2", "M3", "M-none"}
	sums, err := s.Summaries(ctx, members, true)
	if err != nil || len(sums) != 4 {
		t.Fatalf("%v %v", sums, err)
	}
	light, err := s.Summaries(ctx, members, false)
	if err != nil || light[0].Bytes != 0 || light[0].Fingerprint != sums[0].Fingerprint || light[2].Fingerprint != sums[2].Fingerprint {
		t.Fatalf("without sizes: %v %v", light, err)
	}
	for i, m := range members {
		size, _ := s.Size(ctx, m)
		fp, _ := s.Fingerprint(ctx, m)
		if sums[i].Bytes != size || sums[i].Fingerprint != fp {
			t.Errorf("%s: summary %+v, one at a time %d %q", m, sums[i], size, fp)
		}
	}
	if sums[3].Bytes != 0 || sums[1].Fingerprint != "" || sums[0].Fingerprint != "t1|e0|" {
		t.Errorf("summaries %+v", sums)
	}
}

// A CMR is found by its encounter id alone, whichever partition its member is
// in; recording it again (a redelivery) keeps one; a rebuild's shadow that
// replaces the live store brings its CMRs.
func TestACMRIsFoundByItsEncounterIDInAnyPartition(t *testing.T) {
	t.Parallel()
	rdb := testkit.RedisClient(t)
	ctx := context.Background()
	s := NewStore(rdb, LivePrefix, 8)
	members := map[string]string{}
	for i := range 20 {
		m, id := fmt.Sprintf("M%d", i), fmt.Sprintf("ENC-%d", i)
		members[id] = m
		r := cmr.Review{EncounterID: id, MemberID: m, ContractID: "S9925", PbpID: "001", Date: "2024-03-01",
			Problems: []cmr.Issue{{Code: "697958005", Text: "forgets", Asked: []cmr.Ask{{PrescriberNPI: "1003000126", Text: "once daily"}}}}}
		for range 2 {
			if err := s.RecordReview(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	for id, m := range members {
		r, found, err := s.Review(ctx, id)
		if err != nil || !found || r.MemberID != m || len(r.Problems) != 1 || r.Problems[0].Asked[0].Text != "once daily" {
			t.Fatalf("%s: %+v %v %v", id, r, found, err)
		}
	}
	if _, found, err := s.Review(ctx, "ENC-404"); found || err != nil {
		t.Fatalf("an unknown encounter: found %v, %v", found, err)
	}
	shadow := s.Shadow()
	if err := shadow.RecordReview(ctx, cmr.Review{EncounterID: "ENC-R", MemberID: "M1", Date: "2024-04-01"}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceFrom(ctx, shadow); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Review(ctx, "ENC-R"); !found {
		t.Fatal("the rebuilt store lost its CMR")
	}
}
