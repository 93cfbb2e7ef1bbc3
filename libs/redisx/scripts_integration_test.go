package redisx_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/redisx"
)

// A pipeline of a script Redis has forgotten (restarted, flushed) is sent
// again once the script is loaded: each command has its result, and each
// write is done once.
func TestAPipelineOfAForgottenScriptIsSentAgainOnceItIsLoaded(t *testing.T) {
	t.Parallel()
	rdb := connected(t)
	ctx := context.Background()
	incr := redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)
	if err := rdb.Set(ctx, "plain", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for round, flush := range []bool{true, false} {
		if flush {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		var get *redis.StringCmd
		cmds := make([]*redis.Cmd, 3)
		redisx.PipelinedScript(ctx, rdb, incr, func(p redis.Pipeliner) {
			get = p.Get(ctx, "plain")
			for i := range cmds {
				cmds[i] = incr.EvalSha(ctx, p, []string{"counter"}, 1)
			}
		})
		if v, err := get.Result(); err != nil || v != "v" {
			t.Fatalf("round %d: the plain command: %q %v", round, v, err)
		}
		for i, c := range cmds {
			if n, err := c.Int(); err != nil || n != 3*round+i+1 {
				t.Fatalf("round %d, script %d: %d %v, want %d", round, i, n, err, 3*round+i+1)
			}
		}
	}
}
