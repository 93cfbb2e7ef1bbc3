// Package redisx connects to Redis with tracing and applies an event's effect
// exactly once: the effect and its processed-marker are written by one Lua
// script, so a redelivered event changes nothing.
package redisx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/otelx"
)

// Connect parses url, instruments the client with OpenTelemetry tracing and
// checks it answers PING. url is one server (redis://host:port/db or
// unix:///path), or a Redis Cluster: several redis:// URLs separated by
// commas (any of its masters; the rest are discovered), or one with cluster
// set. In a cluster only database 0 exists.
func Connect(ctx context.Context, url string, cluster bool, tel *otelx.Telemetry) (redis.UniversalClient, error) {
	rdb, addr, err := newClient(url, cluster)
	if err != nil {
		return nil, err
	}
	if tel != nil {
		// Statements are not recorded: arguments may carry member ids.
		if err := redisotel.InstrumentTracing(rdb,
			redisotel.WithTracerProvider(tel.TracerProvider),
			redisotel.WithDBStatement(false),
			// The caller's file and line on every span cost 6 % of the replay
			// benchmark's CPU (runtime.Callers per command) and name nothing an
			// operator needs: the span's parent names the operation.
			redisotel.WithCallerEnabled(false)); err != nil {
			_ = rdb.Close()
			return nil, fmt.Errorf("redis tracing: %w", err)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis at %s does not answer PING: %w", addr, err)
	}
	return rdb, nil
}

// newClient builds the client url names; addr says where, for messages.
func newClient(url string, cluster bool) (redis.UniversalClient, string, error) {
	urls := strings.Split(url, ",")
	if len(urls) == 1 && !cluster {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, "", fmt.Errorf("redis url: %w", err)
		}
		return redis.NewClient(opt), opt.Addr, nil
	}
	copt := &redis.ClusterOptions{}
	for i, u := range urls {
		opt, err := redis.ParseURL(strings.TrimSpace(u))
		if err != nil {
			return nil, "", fmt.Errorf("redis url %d of the cluster: %w", i+1, err)
		}
		if opt.DB != 0 {
			return nil, "", fmt.Errorf("redis url %d of the cluster: database %d: a cluster has only database 0", i+1, opt.DB)
		}
		if opt.Network == "unix" {
			return nil, "", fmt.Errorf("redis url %d of the cluster: a cluster is reached over TCP, not a unix socket", i+1)
		}
		copt.Addrs = append(copt.Addrs, opt.Addr)
		copt.Username, copt.Password, copt.TLSConfig = opt.Username, opt.Password, opt.TLSConfig
	}
	return redis.NewClusterClient(copt), "the cluster of " + strings.Join(copt.Addrs, ", "), nil
}

// Op is one write of an effect. Only the commands in allowed are accepted.
type Op struct {
	Cmd  string
	Key  string
	Args []any
}

var allowed = map[string]bool{
	"SET": true, "INCRBY": true, "HSET": true, "HINCRBY": true, "HDEL": true,
	"SADD": true, "SREM": true, "ZADD": true, "ZREM": true, "RPUSH": true, "DEL": true, "PEXPIRE": true,
}

// HSet, HIncrBy, SAdd, ZAdd, RPush, IncrBy, Set and SRem build Ops.
func HSet(key string, fieldValues ...any) Op { return Op{"HSET", key, fieldValues} }
func HIncrBy(key, field string, n int64) Op  { return Op{"HINCRBY", key, []any{field, n}} }
func SAdd(key string, members ...any) Op     { return Op{"SADD", key, members} }
func SRem(key string, members ...any) Op     { return Op{"SREM", key, members} }
func ZAdd(key string, score float64, member string) Op {
	return Op{"ZADD", key, []any{score, member}}
}
func RPush(key string, values ...any) Op { return Op{"RPUSH", key, values} }
func IncrBy(key string, n int64) Op      { return Op{"INCRBY", key, []any{n}} }
func Set(key string, value any) Op       { return Op{"SET", key, []any{value}} }
func HDel(key string, fields ...any) Op  { return Op{"HDEL", key, fields} }
func ZRem(key string, members ...any) Op { return Op{"ZREM", key, members} }
func PExpire(key string, ttl time.Duration) Op {
	return Op{"PEXPIRE", key, []any{ttl.Milliseconds()}}
}

// Apply writes ops and the marker key atomically unless the marker exists.
// It returns applied=false (and writes nothing) for an event already applied.
// ttl 0 keeps the marker for as long as Redis keeps data: markers must outlive
// any replay of the stream that could bring the event back.
func Apply(ctx context.Context, rdb redis.Scripter, marker string, ttl time.Duration, ops ...Op) (applied bool, err error) {
	if marker == "" {
		return false, errors.New("redisx.Apply: empty marker key")
	}
	mark := Op{"SET", marker, []any{time.Now().UTC().Format(time.RFC3339)}}
	if ttl > 0 {
		mark.Args = append(mark.Args, "PX", ttl.Milliseconds())
	}
	err = Commit(ctx, rdb, []Guard{Absent(marker)}, append(ops[:len(ops):len(ops)], mark)...)
	if errors.Is(err, ErrGuard) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redis apply: %w", err)
	}
	return true, nil
}

// Guard is a condition a Commit checks before it writes: the state a change
// was decided on still holds. It never decides anything else.
type Guard struct {
	kind  string // "field": HGET Key Field == Value; "value": GET Key == Value; "count": GET Key (0 if missing) == Value; "absent": EXISTS Key == 0
	Key   string
	Field string
	Value string
}

// FieldIs guards that hash key's field holds value ("" for a missing field).
func FieldIs(key, field, value string) Guard {
	return Guard{kind: "field", Key: key, Field: field, Value: value}
}

// ValueIs guards that string key holds value ("" for a missing key).
func ValueIs(key, value string) Guard { return Guard{kind: "value", Key: key, Value: value} }

// CountIs guards that counter key holds n (a missing key counts 0).
func CountIs(key string, n int64) Guard {
	return Guard{kind: "count", Key: key, Value: strconv.FormatInt(n, 10)}
}

// ZCardIs guards that sorted set key has n members.
func ZCardIs(key string, n int64) Guard {
	return Guard{kind: "zcard", Key: key, Value: strconv.FormatInt(n, 10)}
}

// Absent guards that key does not exist.
func Absent(key string) Guard { return Guard{kind: "absent", Key: key} }

// commitScript: KEYS are the guards' keys, then the ops' keys. ARGV: the
// number of guards, per guard its kind, field and value, then per op:
// command, arg count, args. Returns 0 (written) or the 1-based index of the
// first guard that failed (nothing written).
var commitScript = redis.NewScript(`
local g = tonumber(ARGV[1])
local a = 2
for i = 1, g do
  local kind, field, want = ARGV[a], ARGV[a+1], ARGV[a+2]
  local have
  if kind == 'field' then have = redis.call('HGET', KEYS[i], field) or ''
  elseif kind == 'value' then have = redis.call('GET', KEYS[i]) or ''
  elseif kind == 'zcard' then have = tostring(redis.call('ZCARD', KEYS[i]))
  elseif kind == 'count' then have = tostring(tonumber(redis.call('GET', KEYS[i]) or '0'))
  else if redis.call('EXISTS', KEYS[i]) == 0 then have = want else have = false end end
  if have ~= want then return i end
  a = a + 3
end
for k = g + 1, #KEYS do
  local cmd = ARGV[a]
  local n = tonumber(ARGV[a+1])
  local args = {}
  for j = 1, n do args[j] = ARGV[a+1+j] end
  redis.call(cmd, KEYS[k], unpack(args))
  a = a + 2 + n
end
return 0
`)

// ErrGuard is a Commit whose guard no longer held: the state changed after
// the change was decided; read again and decide again. The error is a
// *GuardError naming the guard.
var ErrGuard = errors.New("the state changed since it was read")

// GuardError names the guard of a Commit that failed (Index into its guards).
type GuardError struct {
	Index int
	Key   string
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("%v (guard %d, %s)", ErrGuard, e.Index, e.Key)
}

// Is makes errors.Is(err, ErrGuard) hold.
func (e *GuardError) Is(target error) bool { return target == ErrGuard }

// Commit writes ops atomically if every guard holds, else nothing (ErrGuard).
// Every key is built by the caller and passed in KEYS; the script decides
// nothing but whether the state it was decided on is still there.
func Commit(ctx context.Context, rdb redis.Scripter, guards []Guard, ops ...Op) error {
	keys := make([]string, 0, len(guards)+len(ops))
	argv := []any{len(guards)}
	for _, g := range guards {
		if g.Key == "" || g.kind == "" {
			return errors.New("redisx.Commit: a guard without a key")
		}
		keys = append(keys, g.Key)
		argv = append(argv, g.kind, g.Field, g.Value)
	}
	for _, op := range ops {
		if !allowed[op.Cmd] {
			return fmt.Errorf("redisx.Commit: command %q is not allowed", op.Cmd)
		}
		if op.Key == "" {
			return fmt.Errorf("redisx.Commit: %s with an empty key", op.Cmd)
		}
		keys = append(keys, op.Key)
		argv = append(argv, op.Cmd, len(op.Args))
		argv = append(argv, op.Args...)
	}
	if _, cluster := rdb.(*redis.ClusterClient); cluster {
		if err := SameSlot(keys...); err != nil {
			return fmt.Errorf("redis commit: %w", err) // Redis would say CROSSSLOT without naming the keys
		}
	}
	n, err := commitScript.Run(ctx, rdb, keys, argv...).Int()
	if err != nil {
		return fmt.Errorf("redis commit: %w", err)
	}
	if n != 0 {
		return &GuardError{Index: n - 1, Key: guards[n-1].Key}
	}
	return nil
}
