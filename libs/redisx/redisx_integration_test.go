package redisx_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/libs/testkit"
)

// connected starts a redis-server of the test's own and connects to it.
func connected(t *testing.T) redis.UniversalClient {
	t.Helper()
	url, _ := testkit.StartRedis(t)
	rdb, err := redisx.Connect(context.Background(), url, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func TestApplyIsExactlyOnce(t *testing.T) {
	t.Parallel()
	rdb := connected(t)
	ctx := context.Background()
	ops := []redisx.Op{redisx.HIncrBy("totals", "cents", 1250), redisx.RPush("entries", "e1"), redisx.SAdd("members", "m1")}
	for i, want := range []bool{true, false, false} {
		applied, err := redisx.Apply(ctx, rdb, "done:event-1", 0, ops...)
		if err != nil {
			t.Fatal(err)
		}
		if applied != want {
			t.Fatalf("delivery %d: applied=%v, want %v", i+1, applied, want)
		}
	}
	if n, _ := rdb.HGet(ctx, "totals", "cents").Int64(); n != 1250 {
		t.Fatalf("total %d, want 1250 (applied once)", n)
	}
	if n, _ := rdb.LLen(ctx, "entries").Result(); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
	if _, err := redisx.Apply(ctx, rdb, "done:event-2", 0, redisx.Op{Cmd: "FLUSHALL", Key: "x"}); err == nil {
		t.Fatal("a command outside the allow-list was run")
	}
	if ok, _ := rdb.Exists(ctx, "done:event-2").Result(); ok != 0 {
		t.Fatal("a refused apply left its marker")
	}
}

func TestCommitWritesOnlyWhileTheStateItWasDecidedOnHolds(t *testing.T) {
	t.Parallel()
	rdb := testkit.RedisClient(t)
	ctx := context.Background()
	rdb.HSet(ctx, "task:t1", "v", 3, "status", "SCHEDULED")
	rdb.Set(ctx, "cap:week", 2, 0)
	move := []redisx.Op{redisx.HSet("task:t1", "status", "LEASED"), redisx.HIncrBy("task:t1", "v", 1), redisx.IncrBy("cap:week", 1),
		redisx.ZAdd("leased", 5, "t1"), redisx.PExpire("cap:week", time.Hour)}
	tests := []struct {
		name   string
		guards []redisx.Guard
		wrote  bool
	}{
		{"a stale version writes nothing", []redisx.Guard{redisx.FieldIs("task:t1", "v", "2")}, false},
		{"a used capacity that moved writes nothing", []redisx.Guard{redisx.FieldIs("task:t1", "v", "3"), redisx.ValueIs("cap:week", "1")}, false},
		{"a count read as another number writes nothing", []redisx.Guard{redisx.CountIs("cap:week", 1)}, false},
		{"a missing counter counts zero", []redisx.Guard{redisx.CountIs("cap:other", 1)}, false},
		{"a queue that is not empty as read writes nothing", []redisx.Guard{redisx.ZCardIs("leased", 1)}, false},
		{"a record that should not exist yet writes nothing", []redisx.Guard{redisx.Absent("task:t1")}, false},
		{"the state as read writes the change", []redisx.Guard{redisx.FieldIs("task:t1", "v", "3"), redisx.ValueIs("cap:week", "2"), redisx.CountIs("cap:week", 2), redisx.CountIs("cap:none", 0), redisx.ZCardIs("leased", 0), redisx.Absent("task:t2"), redisx.FieldIs("task:t1", "worker", "")}, true},
		{"the same change again finds the version moved", []redisx.Guard{redisx.FieldIs("task:t1", "v", "3")}, false},
	}
	var ge *redisx.GuardError
	if err := redisx.Commit(ctx, rdb, []redisx.Guard{redisx.Absent("cap:none"), redisx.FieldIs("task:t1", "v", "0")}); !errors.As(err, &ge) || ge.Index != 1 || ge.Key != "task:t1" {
		t.Fatalf("the failing guard is not named: %v", err)
	}
	for _, tt := range tests {
		err := redisx.Commit(ctx, rdb, tt.guards, move...)
		if tt.wrote != (err == nil) || (err != nil && !errors.Is(err, redisx.ErrGuard)) {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	h, _ := rdb.HGetAll(ctx, "task:t1").Result()
	used, _ := rdb.Get(ctx, "cap:week").Int()
	ttl, _ := rdb.PTTL(ctx, "cap:week").Result()
	if h["status"] != "LEASED" || h["v"] != "4" || used != 3 || ttl <= 0 {
		t.Fatalf("after one commit: %v, capacity used %d, ttl %v", h, used, ttl)
	}
	if err := redisx.Commit(ctx, rdb, nil, redisx.Op{Cmd: "FLUSHALL", Key: "x"}); err == nil || errors.Is(err, redisx.ErrGuard) {
		t.Fatalf("a command outside the allow-list: %v", err)
	}
}
