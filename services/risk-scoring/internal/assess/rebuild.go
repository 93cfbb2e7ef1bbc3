package assess

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	"github.com/emtm/emtm/services/risk-scoring/internal/adapters"
)

// Replayer delivers every message of a stream in order.
type Replayer func(ctx context.Context, stream string, fn func(subject string, data []byte) error) (int64, error)

// Report is the outcome of a rebuild.
type Report struct {
	Events, Rebuilt, Live, Equal int64
	Differences                  []string
	Applied                      bool
}

// Rebuild replays the claims, medical and enrollment streams into a fresh namespace (no
// assessment is published), compares every profile with the live one, and,
// with apply, makes the rebuilt profiles the live ones. Run it while the
// pipeline is quiet: events that arrive meanwhile show up as differences.
func (a *Assessor) Rebuild(ctx context.Context, replay Replayer, streams []string, apply bool) (Report, error) {
	shadow := adapters.NewStore(a.store.Client(), fmt.Sprintf("rsrb:%d:", time.Now().UnixNano()))
	rb := &Assessor{store: shadow, refs: a.refs, policies: a.policies, partitions: a.partitions}
	var rep Report
	defer func() {
		if !rep.Applied {
			_ = shadow.Drop(context.WithoutCancel(ctx))
		}
	}()
	for _, stream := range streams {
		n, err := replay(ctx, stream, func(subject string, data []byte) error { return rb.apply(ctx, subject, data) })
		rep.Events += n
		if err != nil {
			return rep, fmt.Errorf("replay %s: %w", stream, err)
		}
	}
	rebuilt, err := shadow.Members(ctx)
	if err != nil {
		return rep, err
	}
	live, err := a.store.Members(ctx)
	if err != nil {
		return rep, err
	}
	rep.Rebuilt, rep.Live = int64(len(rebuilt)), int64(len(live))
	all := map[string]bool{}
	for _, m := range append(rebuilt, live...) {
		all[m] = true
	}
	members := make([]string, 0, len(all))
	for m := range all {
		members = append(members, m)
	}
	sort.Strings(members)
	for _, m := range members {
		want, err := shadow.Fields(ctx, m)
		if err != nil {
			return rep, err
		}
		got, err := a.store.Fields(ctx, m)
		if err != nil {
			return rep, err
		}
		if diff := compare(got, want); diff != "" {
			if len(rep.Differences) < 20 {
				rep.Differences = append(rep.Differences, a.hasherOf(m)+": "+diff)
			}
			continue
		}
		rep.Equal++
	}
	if apply {
		if err := a.store.ReplaceFrom(ctx, shadow); err != nil {
			return rep, err
		}
		rep.Applied = true
	}
	return rep, nil
}

func (a *Assessor) hasherOf(member string) string {
	if a.hasher == nil {
		return member
	}
	return a.hasher.Of(member)
}

// apply handles one replayed message like the live consumers, without publishing.
func (a *Assessor) apply(ctx context.Context, subject string, data []byte) error {
	switch {
	case strings.HasSuffix(subject, ".paid"):
		var c claimsv1.PharmacyClaim
		if err := proto.Unmarshal(data, &c); err != nil {
			return nil // a message the live consumer dead-lettered too
		}
		return a.OnClaim(ctx, &c)
	case strings.HasSuffix(subject, ".reversed"):
		var r claimsv1.ClaimReversal
		if err := proto.Unmarshal(data, &r); err != nil {
			return nil
		}
		return a.OnReversal(ctx, &r)
	case strings.HasSuffix(subject, ".condition"):
		var c medicalv1.Condition
		if err := proto.Unmarshal(data, &c); err != nil {
			return nil
		}
		return a.OnCondition(ctx, &c)
	case strings.HasSuffix(subject, ".partsab"):
		var s medicalv1.PartsAbSummary
		if err := proto.Unmarshal(data, &s); err != nil {
			return nil
		}
		return a.OnPartsAB(ctx, &s)
	case strings.HasPrefix(subject, "emtm.enrollment."):
		var e enrollmentv1.Enrollment
		if err := proto.Unmarshal(data, &e); err != nil {
			return nil
		}
		return a.OnEnrollment(ctx, &e)
	}
	return nil
}

// compare describes how two stored profiles differ ("" when equal).
func compare(live, rebuilt map[string]string) string {
	var onlyLive, onlyRebuilt, differ []string
	for k, v := range live {
		w, ok := rebuilt[k]
		switch {
		case !ok:
			onlyLive = append(onlyLive, field(k))
		case v != w:
			differ = append(differ, field(k))
		}
	}
	for k := range rebuilt {
		if _, ok := live[k]; !ok {
			onlyRebuilt = append(onlyRebuilt, field(k))
		}
	}
	if len(onlyLive)+len(onlyRebuilt)+len(differ) == 0 {
		return ""
	}
	sort.Strings(onlyLive)
	sort.Strings(onlyRebuilt)
	sort.Strings(differ)
	return fmt.Sprintf("only live %v, only rebuilt %v, different %v", onlyLive, onlyRebuilt, differ)
}

// field names a hash field without the ids in it (they may be personal).
func field(k string) string {
	if prefix, _, ok := strings.Cut(k, ":"); ok {
		return prefix + ":…"
	}
	return k
}
