package bus

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestOnlyPassingAPIFailuresAreRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{fmt.Errorf("create: %w", nats.ErrTimeout), true},
		{nats.ErrNoResponders, true},
		{&jetstream.APIError{Code: 503, Description: "JetStream system temporarily unavailable"}, true},
		{&jetstream.APIError{Code: 400, Description: "consumer name already in use"}, false},
		{nats.ErrPermissionViolation, false},
	}
	for _, tt := range tests {
		if got := transientAPIError(tt.err); got != tt.want {
			t.Errorf("transientAPIError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestWavesHoldNoKeyTwiceAndKeepEachKeysOrder(t *testing.T) {
	t.Parallel()
	type ev struct{ key, id string }
	key := func(e ev) string { return e.key }
	tests := []struct {
		name  string
		items []ev
		size  int
		want  [][]string
	}{
		{"distinct keys make one wave", []ev{{"a", "a1"}, {"b", "b1"}, {"c", "c1"}}, 8, [][]string{{"a1", "b1", "c1"}}},
		{"a key's second event waits for the next wave", []ev{{"a", "a1"}, {"a", "a2"}, {"b", "b1"}, {"a", "a3"}, {"b", "b2"}},
			8, [][]string{{"a1", "b1"}, {"a2", "b2"}, {"a3"}}},
		{"a wave over the size is cut, in order", []ev{{"a", "a1"}, {"b", "b1"}, {"c", "c1"}, {"a", "a2"}}, 2,
			[][]string{{"a1", "b1"}, {"c1"}, {"a2"}}},
		{"unkeyed events go one per wave", []ev{{"", "x"}, {"", "y"}}, 8, [][]string{{"x"}, {"y"}}},
		{"nothing makes no wave", nil, 8, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]string
			for _, w := range Waves(tt.items, key, tt.size) {
				var ids []string
				for _, e := range w {
					ids = append(ids, e.id)
				}
				got = append(got, ids)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("waves %v, want %v", got, tt.want)
			}
		})
	}
}
