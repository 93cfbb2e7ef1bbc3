package redisx

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// OnceState is the state of a record created with CreateOnce.
type OnceState int

// States of CreateOnce.
const (
	// Created: the record is new; publish its event, then MarkPublished.
	Created OnceState = iota
	// Unpublished: the record exists but its event was never confirmed
	// published (a crash in between); publish again (the Nats-Msg-Id dedupes).
	Unpublished
	// Published: nothing to do.
	Published
)

// publishedField marks a record whose event is confirmed stored on the bus.
const publishedField = "_pub"

// createOnceScript: KEYS[1] record hash, KEYS[2..] index keys; ARGV[1] field count n,
// then n field/value pairs, then per index key: command, member (and score for ZADD).
var createOnceScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], '_pub') == '1' then return 2 end
  return 1
end
local n = tonumber(ARGV[1])
local a = 2
for i = 1, n do
  redis.call('HSET', KEYS[1], ARGV[a], ARGV[a+1])
  a = a + 2
end
redis.call('HSET', KEYS[1], '_pub', '0')
for k = 2, #KEYS do
  local cmd = ARGV[a]
  if cmd == 'ZADD' then
    redis.call('ZADD', KEYS[k], ARGV[a+1], ARGV[a+2]); a = a + 3
  else
    redis.call(cmd, KEYS[k], ARGV[a+1]); a = a + 2
  end
end
return 0
`)

// IndexOp adds a record to an index when it is created: SADD key member,
// ZADD key score member, or INCRBY key n (a counter).
type IndexOp struct {
	Cmd    string // SADD, ZADD or INCRBY
	Key    string
	Member string
	Score  float64
}

// CreateOnce creates the hash key with fields (and its index entries) in one
// atomic step if it does not exist, and reports whether its event still has
// to be published. It is the outbox of a handler that creates a record and
// publishes an event about it: create, publish, MarkPublished, acknowledge.
func CreateOnce(ctx context.Context, rdb redis.Scripter, key string, fields []string, index ...IndexOp) (OnceState, error) {
	if len(fields)%2 != 0 {
		return 0, fmt.Errorf("CreateOnce %s: fields must be name/value pairs", key)
	}
	keys := []string{key}
	argv := []any{len(fields) / 2}
	for _, f := range fields {
		argv = append(argv, f)
	}
	for _, ix := range index {
		keys = append(keys, ix.Key)
		switch ix.Cmd {
		case "ZADD":
			argv = append(argv, "ZADD", ix.Score, ix.Member)
		case "SADD", "INCRBY":
			argv = append(argv, ix.Cmd, ix.Member)
		default:
			return 0, fmt.Errorf("CreateOnce %s: index command %q is not allowed", key, ix.Cmd)
		}
	}
	n, err := createOnceScript.Run(ctx, rdb, keys, argv...).Int()
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", key, err)
	}
	return OnceState(n), nil
}

// MarkPublished records that the event of key is stored on the bus.
func MarkPublished(ctx context.Context, rdb redis.Cmdable, key string) error {
	if err := rdb.HSet(ctx, key, publishedField, "1").Err(); err != nil {
		return fmt.Errorf("mark %s published: %w", key, err)
	}
	return nil
}
