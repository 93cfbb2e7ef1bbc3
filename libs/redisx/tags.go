package redisx

import (
	"cmp"
	"context"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/bus"
)

// Partitions is a deployment's partition count (-partitions), seen as Redis
// hash tags. A beneficiary's keys carry the tag of its partition ("{p3}"), and
// so do the aggregates a change of them updates, kept once per partition and
// summed on read: everything one script or transaction changes is then in one
// Redis Cluster slot. A partition's instance (libs/bus) is the one writing them.
type Partitions int

// Of is the hash tag of member's partition, e.g. "{p3}".
func (n Partitions) Of(member string) string { return "{" + bus.Partition(member, int(n)) + "}" }

// All lists every partition's hash tag, "{p0}" first.
func (n Partitions) All() []string {
	toks := bus.PartitionTokens(max(int(n), 1))
	out := make([]string, len(toks))
	for i, p := range toks {
		out[i] = "{" + p + "}"
	}
	return out
}

// Union reads the set key(tag) of every partition (one pipelined round trip)
// and returns their members together.
func (n Partitions) Union(ctx context.Context, rdb redis.Cmdable, key func(tag string) string) ([]string, error) {
	tags := n.All()
	cmds := make([]*redis.StringSliceCmd, len(tags))
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range tags {
			cmds[i] = p.SMembers(ctx, key(t))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cmds {
		out = append(out, c.Val()...)
	}
	return out, nil
}

// ByScore reads, from the sorted set key(tag) of every partition, the
// members scored from min to max (ZRANGE BYSCORE bounds: "-inf", "(20240101")
// and merges them in score order, equal scores by member; limit > 0 keeps the
// first limit of them.
func (n Partitions) ByScore(ctx context.Context, rdb redis.Cmdable, key func(tag string) string, min, max string, limit int64) ([]redis.Z, error) {
	tags := n.All()
	cmds := make([]*redis.ZSliceCmd, len(tags))
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range tags {
			cmds[i] = p.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: key(t), ByScore: true, Start: min, Stop: max, Count: limit})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var all []redis.Z
	for _, c := range cmds {
		all = append(all, c.Val()...)
	}
	slices.SortStableFunc(all, func(a, b redis.Z) int {
		if c := cmp.Compare(a.Score, b.Score); c != 0 {
			return c
		}
		x, _ := a.Member.(string)
		y, _ := b.Member.(string)
		return cmp.Compare(x, y)
	})
	if limit > 0 && int64(len(all)) > limit {
		all = all[:limit]
	}
	return all, nil
}

// Members are the members of zs, in order.
func Members(zs []redis.Z) []string {
	out := make([]string, len(zs))
	for i, z := range zs {
		out[i], _ = z.Member.(string)
	}
	return out
}
