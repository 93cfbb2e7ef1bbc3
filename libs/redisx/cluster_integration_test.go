package redisx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/libs/testkit"
)

// Against a real three-master Redis Cluster: the client reaches every master,
// Slot agrees with the servers' CLUSTER KEYSLOT, a namespace is found and
// dropped on every master, and a commit names keys that would cross slots.
func TestARedisClusterIsUsedThroughItsHashSlots(t *testing.T) {
	t.Parallel()
	url := testkit.StartRedisCluster(t)
	ctx := context.Background()
	if !strings.Contains(url, ",") {
		t.Fatalf("cluster url %q names one server", url)
	}
	rdb, err := redisx.Connect(ctx, url, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("several URLs gave a %T, not a cluster client", rdb)
	}
	for i := 0; i < 200; i++ {
		key := fmt.Sprintf("ns:{p%d}:k%d", i%16, i)
		want, err := cc.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := redisx.Slot(key); int64(got) != want {
			t.Fatalf("Slot(%q) = %d, the cluster says %d", key, got, want)
		}
		if err := rdb.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	masters := map[string]bool{}
	_ = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { // concurrently
		if n, _ := c.DBSize(ctx).Result(); n > 0 {
			mu.Lock()
			masters[c.Options().Addr] = true
			mu.Unlock()
		}
		return nil
	})
	if len(masters) != 3 {
		t.Fatalf("the keys landed on %d masters, want all 3", len(masters))
	}
	keys, err := redisx.NamespaceKeys(ctx, rdb, "ns:")
	if err != nil || len(keys) != 200 {
		t.Fatalf("namespace: %d keys, %v; want 200 from every master", len(keys), err)
	}
	if err := redisx.Commit(ctx, rdb, []redisx.Guard{redisx.Absent("c:{p1}:a")}, redisx.Set("c:{p1}:a", 1), redisx.IncrBy("c:{p1}:n", 1)); err != nil {
		t.Fatalf("a commit within one hash tag: %v", err)
	}
	err = redisx.Commit(ctx, rdb, nil, redisx.Set("c:{p1}:b", 1), redisx.Set("c:{p2}:b", 1))
	var ge *redisx.GuardError
	if err == nil || errors.As(err, &ge) || !strings.Contains(err.Error(), "different cluster slots") {
		t.Fatalf("a commit across slots: %v, want it refused naming the slots", err)
	}
	if err := redisx.DropNamespace(ctx, rdb, "ns:"); err != nil {
		t.Fatal(err)
	}
	if keys, _ := redisx.NamespaceKeys(ctx, rdb, "ns:"); len(keys) != 0 {
		t.Fatalf("%d keys left after dropping the namespace", len(keys))
	}
}
