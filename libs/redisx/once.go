package redisx

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Versioned outbox. A record hash carries its version in field "v" and the
// version last confirmed on the bus in field "pub"; a set holds the ids of
// records with a change not yet published. A handler changes a record (v+1,
// id into the set) in one script, publishes the event, then MarkPublished; a
// sweep republishes what the set still holds after a crash in between.

// markPublishedScript: KEYS[1] record hash, KEYS[2] unpublished set; ARGV[1]
// id, ARGV[2] version. Only the current version counts: a later change keeps
// the record unpublished until its own event is out.
var markPublishedScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'v') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'pub', ARGV[2])
  redis.call('SREM', KEYS[2], ARGV[1])
end
return 1
`)

// MarkPublished records that version v of the record at key (id in the set
// unpublished) is stored on the bus.
func MarkPublished(ctx context.Context, rdb redis.Scripter, key, unpublished, id string, v int32) error {
	if err := markPublishedScript.Run(ctx, rdb, []string{key, unpublished}, id, v).Err(); err != nil {
		return fmt.Errorf("mark %s published: %w", key, err)
	}
	return nil
}
