package redisx

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A namespace is every key under a prefix. A rebuild builds a service's state
// into a shadow namespace of the service's own Redis, compares it with the
// live one, and may then replace the live namespace by it: nothing outside
// the two namespaces is read or changed, no database is flushed and no other
// server is dialled.

// NamespaceKeys lists every key under prefix (SCAN, never KEYS).
func NamespaceKeys(ctx context.Context, rdb redis.UniversalClient, prefix string) ([]string, error) {
	if prefix == "" {
		return nil, fmt.Errorf("a namespace needs a prefix")
	}
	scan := func(ctx context.Context, c redis.Cmdable) ([]string, error) {
		var out []string
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			out = append(out, iter.Val())
		}
		return out, iter.Err()
	}
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return scan(ctx, rdb)
	}
	// A cluster's SCAN sees one node's keys: every master is scanned.
	var mu sync.Mutex
	var out []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, err := scan(ctx, c)
		mu.Lock()
		out = append(out, keys...)
		mu.Unlock()
		return err
	})
	return out, err
}

// unlink deletes keys, a key per command (in a cluster, keys of one command
// must share a slot), pipelined.
func unlink(ctx context.Context, rdb redis.UniversalClient, keys []string) error {
	for i := 0; i < len(keys); i += 500 {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[i:min(i+500, len(keys))] {
				p.Unlink(ctx, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ReplaceNamespace makes the keys under live those under shadow: each shadow
// key is renamed over its live twin, and live keys without a twin are
// deleted. Keys under shadow are never taken for live ones even when the
// live prefix is a prefix of the shadow one.
func ReplaceNamespace(ctx context.Context, rdb redis.UniversalClient, shadow, live string) error {
	if shadow == "" || live == "" || shadow == live {
		return fmt.Errorf("replace namespace %q by %q: two different prefixes are needed", live, shadow)
	}
	theirs, err := NamespaceKeys(ctx, rdb, shadow)
	if err != nil {
		return err
	}
	mine, err := NamespaceKeys(ctx, rdb, live)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, k := range theirs {
		target := live + strings.TrimPrefix(k, shadow)
		keep[target] = true
		if err := SameSlot(k, target); err != nil {
			return fmt.Errorf("replace %s: %w", target, err)
		}
		if err := rdb.Rename(ctx, k, target).Err(); err != nil {
			return fmt.Errorf("replace %s: %w", target, err)
		}
	}
	var stale []string
	for _, k := range mine {
		if !keep[k] && !strings.HasPrefix(k, shadow) {
			stale = append(stale, k)
		}
	}
	return unlink(ctx, rdb, stale)
}

// DropNamespace deletes every key under prefix.
func DropNamespace(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	keys, err := NamespaceKeys(ctx, rdb, prefix)
	if err != nil || len(keys) == 0 {
		return err
	}
	return unlink(ctx, rdb, keys)
}
