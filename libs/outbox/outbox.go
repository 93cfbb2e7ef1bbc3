// Package outbox is the versioned outbox of the services that change a
// record and then publish it (intervention-scheduling's tasks,
// prescriber-outreach's items and letters). A record hash carries its version
// in field "v" and the version last confirmed on the bus in field "pub"; a set
// holds the ids of records with a change not yet published. A change writes
// the record (v+1) and adds its id to the set in one atomic step; the service
// then publishes the event and calls MarkPublished. A sweep hands what the set
// still holds after a crash in between back to the publisher (Pending), so
// every change reaches the bus at least once, and its event id (record@v)
// makes the bus keep it once.
package outbox

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/redis/go-redis/v9"
)

// Fields of a versioned record.
const (
	FieldVersion   = "v"
	FieldPublished = "pub"
)

// Outbox is one kind of record's outbox.
type Outbox struct {
	rdb redis.Cmdable
	// unpublished is the set holding id while it has a change not yet on the
	// bus: one of sets, in the same Redis Cluster slot as the record.
	unpublished func(id string) string
	sets        []string
	// key is the record hash of an id; nil: records are not versioned (a
	// letter never changes once built), and publishing one removes it from the set.
	key func(id string) string
}

// New returns the outbox of records at key(id) whose pending ids are kept in
// the set unpublished(id), one of sets (one per partition, each with the
// partition's hash tag, as the records); key nil for records that never change.
func New(rdb redis.Cmdable, unpublished func(id string) string, sets []string, key func(id string) string) Outbox {
	return Outbox{rdb: rdb, unpublished: unpublished, sets: sets, key: key}
}

// Unpublished is the key of the set that holds id while it is pending (for
// the change that writes the record and adds its id atomically).
func (o Outbox) Unpublished(id string) string { return o.unpublished(id) }

// markPublished: KEYS[1] record hash, KEYS[2] unpublished set; ARGV[1] id,
// ARGV[2] version. Only the current version counts: a later change keeps the
// record pending until its own event is out.
var markPublished = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'v') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'pub', ARGV[2])
  redis.call('SREM', KEYS[2], ARGV[1])
end
return 1
`)

// MarkPublished records that version v of record id is stored on the bus.
func (o Outbox) MarkPublished(ctx context.Context, id string, v int32) error {
	var err error
	if o.key == nil {
		err = o.rdb.SRem(ctx, o.unpublished(id), id).Err()
	} else {
		err = markPublished.Run(ctx, o.rdb, []string{o.key(id), o.unpublished(id)}, id, v).Err()
	}
	if err != nil {
		return fmt.Errorf("mark %s published: %w", id, err)
	}
	return nil
}

// Published reports whether the record's current version is on the bus.
func (o Outbox) Published(ctx context.Context, id string) (bool, error) {
	if o.key == nil {
		pending, err := o.rdb.SIsMember(ctx, o.unpublished(id), id).Result()
		return !pending, err
	}
	vals, err := o.rdb.HMGet(ctx, o.key(id), FieldVersion, FieldPublished).Result()
	if err != nil {
		return false, err
	}
	return vals[0] != nil && vals[0] == vals[1], nil
}

// Pending lists up to limit ids with a change not yet on the bus, from
// every set in turn, starting at a random one (a backlog in one partition
// does not starve the others).
func (o Outbox) Pending(ctx context.Context, limit int64) ([]string, error) {
	var out []string
	first := 0
	if len(o.sets) > 1 {
		first = rand.IntN(len(o.sets))
	}
	for i := range o.sets {
		if int64(len(out)) >= limit {
			break
		}
		set := o.sets[(first+i)%len(o.sets)]
		ids, err := o.rdb.SRandMemberN(ctx, set, limit-int64(len(out))).Result()
		if err != nil {
			return out, err
		}
		out = append(out, ids...)
	}
	return out, nil
}

// Relay hands up to limit pending ids to publish, one by one, stopping at
// the first error (the next sweep goes on).
func (o Outbox) Relay(ctx context.Context, limit int64, publish func(ctx context.Context, id string) error) error {
	ids, err := o.Pending(ctx, limit)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := publish(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
