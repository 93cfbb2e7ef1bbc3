package assess_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/drugref"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/risk-scoring/internal/adapters"
	"github.com/emtm/emtm/services/risk-scoring/internal/assess"
	"github.com/emtm/emtm/services/risk-scoring/internal/chronic"
	"github.com/emtm/emtm/services/risk-scoring/internal/scoring"
)

// Claims applied a batch at a time (one round trip for a batch's fills) leave
// every profile and every assessment exactly as the same claims applied one
// at a time do.
func TestClaimsAppliedInBatchesLeaveWhatClaimsAppliedOneAtATimeLeave(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t)
	rt := &roundTrips{}
	env.Redis.AddHook(rt)
	d, err := drugref.Load()
	if err != nil {
		t.Fatal(err)
	}
	cm, err := chronic.Load()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := scoring.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	refs := scoring.References{Drugs: d, Chronic: cm}
	oneStore := adapters.NewStore(env.Redis, "one:", 4)
	batchStore := adapters.NewStore(env.Redis, "batch:", 4)
	one := assess.New(oneStore, nil, refs, ps, 4, nil)
	batched := assess.New(batchStore, nil, refs, ps, 4, nil)
	ctx := context.Background()
	const members, claims = 40, 1200
	var all []*claimsv1.PharmacyClaim
	for i := 0; i < claims; i++ {
		c := benchClaim(i)
		c.MemberId = fmt.Sprintf("M%05d", i%members) // 30 fills each: enough for PDC and tiers to change
		all = append(all, c)
	}
	for _, c := range all {
		if err := one.OnClaim(ctx, proto.Clone(c).(*claimsv1.PharmacyClaim)); err != nil {
			t.Fatal(err)
		}
	}
	// A Redis that forgot the scripts (restarted, flushed): the first batch's
	// pipeline is refused and sent again once the script is loaded.
	if err := env.Redis.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rt.n.Store(0)
	batches := bus.Waves(all, func(c *claimsv1.PharmacyClaim) string { return c.MemberId }, 16)
	for _, b := range batches {
		ctxs := make([]context.Context, len(b))
		cs := make([]*claimsv1.PharmacyClaim, len(b))
		for i, c := range b {
			ctxs[i], cs[i] = ctx, proto.Clone(c).(*claimsv1.PharmacyClaim)
		}
		for i, err := range batched.OnClaims(ctx, ctxs, cs) {
			if err != nil {
				t.Fatalf("claim %s: %v", cs[i].ClaimId, err)
			}
		}
	}
	perClaim := float64(rt.n.Load()) / claims
	t.Logf("%.3f Redis round trips per claim in %d batches", perClaim, len(batches))
	if perClaim >= 1 {
		t.Fatalf("%.2f Redis round trips per claim in batches of 16; want fewer than one (one pipeline per batch, plus saves)", perClaim)
	}
	changed := 0
	for m := 0; m < members; m++ {
		member := fmt.Sprintf("M%05d", m)
		want, err := oneStore.Fields(ctx, member)
		if err != nil {
			t.Fatal(err)
		}
		got, err := batchStore.Fields(ctx, member)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: profile after batches differs from one at a time:\n got %v\nwant %v", member, got, want)
		}
		wa, err := oneStore.Assessments(ctx, member)
		if err != nil {
			t.Fatal(err)
		}
		ga, err := batchStore.Assessments(ctx, member)
		if err != nil {
			t.Fatal(err)
		}
		if len(ga) != len(wa) {
			t.Fatalf("%s: %d assessments after batches, %d one at a time", member, len(ga), len(wa))
		}
		for i := range wa {
			if !proto.Equal(ga[i], wa[i]) {
				t.Fatalf("%s: assessment %d differs:\n got %v\nwant %v", member, i, ga[i], wa[i])
			}
		}
		changed += len(wa)
	}
	if changed == 0 {
		t.Fatal("no claim changed an assessment: the comparison says nothing")
	}
}
