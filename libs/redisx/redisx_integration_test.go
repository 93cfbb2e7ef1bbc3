package redisx_test

import (
	"context"
	"testing"

	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/libs/testkit"
)

func TestApplyIsExactlyOnce(t *testing.T) {
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

func TestCreateOnceIsAnOutbox(t *testing.T) {
	url, _ := testkit.StartRedis(t)
	ctx := context.Background()
	rdb, err := redisx.Connect(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	idx := []redisx.IndexOp{{Cmd: "SADD", Key: "open", Member: "t1"}, {Cmd: "ZADD", Key: "due", Member: "t1", Score: 20240131}, {Cmd: "INCRBY", Key: "count", Member: "1"}}
	st, err := redisx.CreateOnce(ctx, rdb, "task:t1", []string{"kind", "CMR"}, idx...)
	if err != nil || st != redisx.Created {
		t.Fatalf("first: %v %v", st, err)
	}
	// A crash before MarkPublished: the next delivery must publish again.
	st, _ = redisx.CreateOnce(ctx, rdb, "task:t1", []string{"kind", "TMR"}, idx...)
	if st != redisx.Unpublished {
		t.Fatalf("after a crash: %v, want Unpublished", st)
	}
	if err := redisx.MarkPublished(ctx, rdb, "task:t1"); err != nil {
		t.Fatal(err)
	}
	st, _ = redisx.CreateOnce(ctx, rdb, "task:t1", []string{"kind", "TMR"}, idx...)
	if st != redisx.Published {
		t.Fatalf("after publishing: %v, want Published", st)
	}
	if k, _ := rdb.HGet(ctx, "task:t1", "kind").Result(); k != "CMR" {
		t.Fatalf("record overwritten: kind %q", k)
	}
	if n, _ := rdb.Get(ctx, "count").Int(); n != 1 {
		t.Fatalf("index counted %d times", n)
	}
	if s, _ := rdb.ZScore(ctx, "due", "t1").Result(); s != 20240131 {
		t.Fatalf("zset score %v", s)
	}
}
