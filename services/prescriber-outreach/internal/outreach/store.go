package outreach

import (
	"context"

	"github.com/emtm/emtm/libs/civil"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
)

// Store is what outreach keeps (internal/adapters implements it on Redis).
// It decides nothing: the rules are decided here, in Go, and each change is
// written as a whole, only while the items are as they were read (else ErrConflict).
type Store interface {
	// Item reads an item's state; Standing the latest item for a problem of a patient with a prescriber.
	Item(ctx context.Context, id string) (Item, bool, error)
	Standing(ctx context.Context, npi, member, problemKey string) (Standing, error)
	// Create raises an item as r decided on standing: NotRaised, Created (with the id it superseded) or Exists.
	Create(ctx context.Context, it *outreachv1.OutreachItem, plan string, until civil.Date, r Raise, standing Standing) (CreateResult, string, error)
	Respond(ctx context.Context, a Answer) error
	// Send stores a letter and moves its pending items to SENT; false when the letter exists.
	Send(ctx context.Context, c *outreachv1.Communication, plan string, deadline civil.Date, items []Item) (bool, error)
	MarkNoResponse(ctx context.Context, it Item) error
	// Unsent drops an item that is no longer SENT from the index of sent items.
	Unsent(ctx context.Context, it Item) error
	PastDeadline(ctx context.Context, d civil.Date, limit int64) ([]string, error)

	// Get reads an item as published; Comm a letter.
	Get(ctx context.Context, id string) (*outreachv1.OutreachItem, error)
	Comm(ctx context.Context, id string) (*outreachv1.Communication, error)
	Published(ctx context.Context, id string) (bool, error)
	MarkItemPublished(ctx context.Context, id string, v int32) error
	MarkCommPublished(ctx context.Context, id string) error
	RelayItems(ctx context.Context, limit int64, publish func(ctx context.Context, id string) error) error
	RelayComms(ctx context.Context, limit int64, publish func(ctx context.Context, id string) error) error

	PendingQueues(ctx context.Context) ([][2]string, error)
	Oldest(ctx context.Context, plan, npi string) (civil.Date, error)
	PendingBefore(ctx context.Context, plan, npi string, d civil.Date, limit int64) ([]string, error)
	CommsInPeriod(ctx context.Context, plan, npi, period string) (int, error)
	LastItem(ctx context.Context, npi, member, problemKey string) (string, error)
	Unmatched(ctx context.Context, key string) error
	ItemsOf(ctx context.Context, npi string, limit int) ([]*outreachv1.OutreachItem, error)
	Comms(ctx context.Context, npi string, limit int) ([]string, error)
	// Counts are the items and letters of a plan ("<contract>-<pbp>"), or of every plan ("").
	Counts(ctx context.Context, plan string) (*Counts, error)
}
