package outbox_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/emtm/emtm/libs/outbox"
	"github.com/emtm/emtm/libs/testkit"
)

func TestOnlyTheCurrentVersionLeavesTheOutbox(t *testing.T) {
	t.Parallel()
	rdb := testkit.RedisClient(t)
	ctx := context.Background()
	box := outbox.New(rdb, func(string) string { return "unpub" }, []string{"unpub"}, func(id string) string { return "task:" + id })
	rdb.HSet(ctx, "task:t1", "v", 2, "pub", 1)
	rdb.SAdd(ctx, "unpub", "t1")
	// The event of version 1 arrives late: version 2 is still unpublished.
	if err := box.MarkPublished(ctx, "t1", 1); err != nil {
		t.Fatal(err)
	}
	if pub, _ := rdb.HGet(ctx, "task:t1", "pub").Result(); pub != "1" {
		t.Fatalf("pub %q after an old version's event, want 1", pub)
	}
	if done, _ := box.Published(ctx, "t1"); done {
		t.Fatal("version 2 reported published")
	}
	if ids, _ := box.Pending(ctx, 10); !slices.Equal(ids, []string{"t1"}) {
		t.Fatalf("pending %v: the record left before its current version was out", ids)
	}
	if err := box.MarkPublished(ctx, "t1", 2); err != nil {
		t.Fatal(err)
	}
	if done, _ := box.Published(ctx, "t1"); !done {
		t.Fatal("version 2 not reported published")
	}
	if ids, _ := box.Pending(ctx, 10); len(ids) != 0 {
		t.Fatalf("still pending: %v", ids)
	}
}

func TestRelayHandsEveryPendingRecordToThePublisherAndStopsAtAFailure(t *testing.T) {
	t.Parallel()
	rdb := testkit.RedisClient(t)
	ctx := context.Background()
	letters := outbox.New(rdb, func(string) string { return "unpub-letters" }, []string{"unpub-letters"}, nil) // letters never change: no version
	rdb.SAdd(ctx, "unpub-letters", "l1", "l2", "l3")
	var got []string
	err := letters.Relay(ctx, 10, func(ctx context.Context, id string) error {
		got = append(got, id)
		return letters.MarkPublished(ctx, id, 0)
	})
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"l1", "l2", "l3"}) {
		t.Fatalf("relayed %v, %v", got, err)
	}
	if done, _ := letters.Published(ctx, "l2"); !done {
		t.Fatal("a relayed letter is still pending")
	}
	rdb.SAdd(ctx, "unpub-letters", "l4", "l5")
	calls := 0
	err = letters.Relay(ctx, 10, func(context.Context, string) error { calls++; return errors.New("bus down") })
	if err == nil || calls != 1 {
		t.Fatalf("after a failure: %d calls, %v", calls, err)
	}
	if ids, _ := letters.Pending(ctx, 10); len(ids) != 2 {
		t.Fatalf("pending after a failed relay %v, want both kept", ids)
	}
}
