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
