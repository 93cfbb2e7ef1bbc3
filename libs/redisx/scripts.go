package redisx

import (
	"context"
	"slices"

	"github.com/redis/go-redis/v9"
)

// PipelinedScript sends what fill queues (EVALSHAs of script among other
// commands) in one pipeline. A Redis that has forgotten the script
// (restarted, flushed) refuses each of its EVALSHAs without running it
// (NOSCRIPT); the script is then loaded and fill's pipeline sent once more,
// so that the commands fill queued last carry the results. Each command
// carries its own result or error.
func PipelinedScript(ctx context.Context, rdb redis.UniversalClient, script *redis.Script, fill func(p redis.Pipeliner)) {
	send := func() ([]redis.Cmder, error) {
		return rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			fill(p)
			return nil
		})
	}
	cmds, err := send()
	if err == nil || !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return redis.HasErrorPrefix(c.Err(), "NOSCRIPT") }) {
		return
	}
	if script.Load(ctx, rdb).Err() == nil {
		_, _ = send()
	}
}
