// Package adapters holds ingestion's Redis state: idempotency keys and the
// index of rejections (the rejections themselves live on EMTM_REJECTIONS).
package adapters

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/services/ingestion/internal/intake"
)

// Store implements intake.Store on Redis.
type Store struct{ rdb *redis.Client }

// NewStore returns a Store.
func NewStore(rdb *redis.Client) *Store { return &Store{rdb: rdb} }

// Keys.
func idemKey(key string) string { return "ing:idem:" + key }

const (
	rejectionsKey = "ing:rejections"      // zset: raw seq -> rejection id
	rejectionSeqs = "ing:rejections:seq"  // hash: rejection id -> EMTM_REJECTIONS sequence
	rejectionKind = "ing:rejections:kind" // hash: rejection id -> kind
)

// reserve: "p:<hash>" while being published, "d:<hash>" once published.
var reserveScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1])
  return 0
end
if v == 'p:' .. ARGV[1] then return 1 end
if v == 'd:' .. ARGV[1] then return 2 end
return 3
`)

// Reserve implements intake.Store.
func (s *Store) Reserve(ctx context.Context, key, hash string) (intake.ReserveState, error) {
	n, err := reserveScript.Run(ctx, s.rdb, []string{idemKey(key)}, hash).Int()
	if err != nil {
		return 0, fmt.Errorf("idempotency reserve: %w", err)
	}
	return intake.ReserveState(n), nil
}

// Complete implements intake.Store.
func (s *Store) Complete(ctx context.Context, key, hash string) error {
	if err := s.rdb.Set(ctx, idemKey(key), "d:"+hash, 0).Err(); err != nil {
		return fmt.Errorf("idempotency complete: %w", err)
	}
	return nil
}

// IndexRejection implements intake.Store.
func (s *Store) IndexRejection(ctx context.Context, id, kind string, seq uint64) error {
	raw, err := strconv.ParseUint(id[len("rej-"):], 10, 64)
	if err != nil {
		return fmt.Errorf("rejection id %q: %w", id, err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, rejectionsKey, redis.Z{Score: float64(raw), Member: id})
		p.HSet(ctx, rejectionSeqs, id, seq)
		p.HSet(ctx, rejectionKind, id, kind)
		return nil
	})
	if err != nil {
		return fmt.Errorf("index rejection: %w", err)
	}
	return nil
}

// RejectionSeq returns the EMTM_REJECTIONS sequence of a rejection (0 if unknown).
func (s *Store) RejectionSeq(ctx context.Context, id string) (uint64, error) {
	v, err := s.rdb.HGet(ctx, rejectionSeqs, id).Uint64()
	if err == redis.Nil {
		return 0, nil
	}
	return v, err
}

// RecentRejections lists up to limit rejection ids, newest first, of kind (all when empty).
func (s *Store) RecentRejections(ctx context.Context, kind string, limit int) ([]string, error) {
	var out []string
	var start int64
	for len(out) < limit {
		ids, err := s.rdb.ZRevRange(ctx, rejectionsKey, start, start+int64(limit)-1).Result()
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			break
		}
		start += int64(len(ids))
		var kinds []any
		if kind != "" {
			kinds, err = s.rdb.HMGet(ctx, rejectionKind, ids...).Result()
			if err != nil {
				return nil, err
			}
		}
		for i, id := range ids {
			if kind == "" || kinds[i] == kind {
				out = append(out, id)
				if len(out) == limit {
					break
				}
			}
		}
	}
	return out, nil
}
