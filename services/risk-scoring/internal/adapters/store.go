// Package adapters keeps risk-scoring's state in Redis: one hash per
// beneficiary (its fills, reversals, birth date, plan and last assessment),
// and a set of beneficiaries per plan and tier.
package adapters

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
)

// Store implements the profile store on Redis.
type Store struct{ rdb *redis.Client }

// NewStore returns a Store.
func NewStore(rdb *redis.Client) *Store { return &Store{rdb: rdb} }

// ProfileKey is the hash of a beneficiary's profile.
func ProfileKey(member string) string { return "rs:p:" + member }

// TierKey is the set of beneficiaries of a plan in a tier.
func TierKey(contract, pbp string, tier int) string {
	return "rs:tier:" + contract + "-" + pbp + ":" + strconv.Itoa(tier)
}

// applyClaim adds the fill unless the claim is already in the profile or was
// reversed (a reversal that came first wins), updates birth date and plan,
// and returns {applied, HGETALL}: one round trip per claim.
var applyClaim = redis.NewScript(`
local applied = 0
if redis.call('HEXISTS', KEYS[1], 'x:' .. ARGV[1]) == 0 then
  applied = redis.call('HSETNX', KEYS[1], 'c:' .. ARGV[1], ARGV[2])
end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'dob', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'plan', ARGV[4]) end
return {applied, redis.call('HGETALL', KEYS[1])}
`)

// applyReversal removes the claim's fill and records the reversal (so a claim
// that arrives later is ignored); {applied, HGETALL}.
var applyReversal = redis.NewScript(`
redis.call('HDEL', KEYS[1], 'c:' .. ARGV[1])
local applied = redis.call('HSETNX', KEYS[1], 'x:' .. ARGV[1], '1')
return {applied, redis.call('HGETALL', KEYS[1])}
`)

func decode(member string, v any) (bool, *profile.Profile, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return false, nil, fmt.Errorf("profile script: unexpected reply %T", v)
	}
	applied, _ := arr[0].(int64)
	flat, _ := arr[1].([]any)
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		h[k] = val
	}
	p, err := profile.FromHash(member, h)
	return applied == 1, p, err
}

// ApplyClaim stores a fill and returns whether it was new and the profile after it.
func (s *Store) ApplyClaim(ctx context.Context, member string, f profile.Fill, birth, plan string) (bool, *profile.Profile, error) {
	v, err := applyClaim.Run(ctx, s.rdb, []string{ProfileKey(member)}, f.ClaimID, profile.EncodeFill(f), birth, plan).Result()
	if err != nil {
		return false, nil, fmt.Errorf("apply claim: %w", err)
	}
	return decode(member, v)
}

// ApplyReversal reverses a claim and returns whether it was new and the profile after it.
func (s *Store) ApplyReversal(ctx context.Context, member, claimID string) (bool, *profile.Profile, error) {
	v, err := applyReversal.Run(ctx, s.rdb, []string{ProfileKey(member)}, claimID).Result()
	if err != nil {
		return false, nil, fmt.Errorf("apply reversal: %w", err)
	}
	return decode(member, v)
}

// SaveAssessment records the emitted assessment's fingerprint and tier and moves
// the beneficiary between tier sets, in one pipeline.
func (s *Store) SaveAssessment(ctx context.Context, p *profile.Profile, fingerprint string, tier int) error {
	_, err := s.rdb.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.HSet(ctx, ProfileKey(p.MemberID), profile.FieldPrint, fingerprint, profile.FieldTier, tier)
		if p.Tier != 0 && p.Tier != tier {
			pl.SRem(ctx, TierKey(p.ContractID, p.PbpID, p.Tier), p.MemberID)
		}
		pl.SAdd(ctx, TierKey(p.ContractID, p.PbpID, tier), p.MemberID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("save assessment: %w", err)
	}
	return nil
}

// Load reads a profile; found is false when the beneficiary is unknown.
func (s *Store) Load(ctx context.Context, member string) (*profile.Profile, bool, error) {
	h, err := s.rdb.HGetAll(ctx, ProfileKey(member)).Result()
	if err != nil {
		return nil, false, fmt.Errorf("load profile: %w", err)
	}
	if len(h) == 0 {
		return nil, false, nil
	}
	p, err := profile.FromHash(member, h)
	return p, err == nil, err
}

// MembersByTier lists the beneficiaries of a plan in a tier.
func (s *Store) MembersByTier(ctx context.Context, contract, pbp string, tier int) ([]string, error) {
	return s.rdb.SMembers(ctx, TierKey(contract, pbp, tier)).Result()
}
