package assess

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Replayer hands every recorded event the live consumers received to the
// given assessor's handlers, in order, and says how many it read.
type Replayer func(ctx context.Context, to *Assessor) (int64, error)

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
func (a *Assessor) Rebuild(ctx context.Context, replay Replayer, apply bool) (Report, error) {
	shadow := a.store.Shadow()
	rb := &Assessor{store: shadow, refs: a.refs, policies: a.policies, partitions: a.partitions}
	var rep Report
	defer func() {
		if !rep.Applied {
			_ = shadow.Drop(context.WithoutCancel(ctx))
		}
	}()
	n, err := replay(ctx, rb)
	rep.Events = n
	if err != nil {
		return rep, fmt.Errorf("replay: %w", err)
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
