package adapters

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/testkit"
)

// A profile of a few hundred fills is a Redis hash table, whose MEMORY USAGE
// Redis estimates by default from the first 5 fields it iterates (an order
// that changes with the server's hash seed and the order of the writes); the
// size of a profile counts every field, so a replay or a rebuild of the same
// fills reports the same figure give or take the table's own allocation.
func TestTheSizeOfALargeProfileCountsEveryField(t *testing.T) {
	t.Parallel()
	rdb := testkit.RedisClient(t)
	ctx := context.Background()
	s := NewStore(rdb, LivePrefix, 4)
	// 399 small fields and one large one: an estimate from 5 fields is either
	// far below the content (the large one not sampled) or far above it.
	const fields = 400
	content := int64(0)
	for i := range fields {
		field, value := fmt.Sprintf("c:%d", i), "2024-01-01|x"
		if i == 123 {
			value = strings.Repeat("x", 200_000)
		}
		content += int64(len(field) + len(value))
		if err := rdb.HSet(ctx, s.ProfileKey("M1"), field, value).Err(); err != nil {
			t.Fatal(err)
		}
	}
	size, err := s.Size(ctx, "M1")
	if err != nil {
		t.Fatal(err)
	}
	if size < content || size > 2*content {
		t.Errorf("size %d bytes for %d bytes of fields and values; want between 1 and 2 times as much", size, content)
	}
}
