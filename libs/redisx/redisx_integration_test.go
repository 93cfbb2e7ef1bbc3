package redisx_test

import (
	"context"
	"testing"

	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/libs/testkit"
)

func TestApplyIsExactlyOnce(t *testing.T) {
	t.Parallel()
	url, _ := testkit.StartRedis(t)
	ctx := context.Background()
	rdb, err := redisx.Connect(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
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
