// Package adapters keeps risk-scoring's state in Redis: one hash per
// beneficiary (fills, reversal marks, conditions, Parts A/B events, birth
// date, plan, the last assessment emitted and a version), a set of the
// beneficiaries, and a set of beneficiaries per plan and tier. Every change to
// a profile is one Lua script that also returns the profile: one round trip.
package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/civil"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/services/risk-scoring/internal/assess"
	"github.com/emtm/emtm/services/risk-scoring/internal/cmr"
	"github.com/emtm/emtm/services/risk-scoring/internal/profile"
)

// LivePrefix is the key prefix of the live profiles.
const LivePrefix = "rs:"

// Store implements assess.Store on Redis under a key prefix. A beneficiary's
// profile and the per-partition sets it belongs to carry the hash tag of its
// partition, so a script changes one Redis Cluster slot; the sets are read
// over every partition.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	parts  redisx.Partitions
}

// NewStore returns a Store for keys under prefix (LivePrefix for the live
// profiles) in a deployment of partitions partitions.
func NewStore(rdb redis.UniversalClient, prefix string, partitions int) *Store {
	return &Store{rdb: rdb, prefix: prefix, parts: redisx.Partitions(partitions)}
}

// ProfileKey is the hash of a beneficiary's profile.
func (s *Store) ProfileKey(member string) string {
	return s.prefix + s.parts.Of(member) + ":p:" + member
}

// membersKey is the set of every beneficiary with a profile, of one partition (tag).
func (s *Store) membersKey(tag string) string { return s.prefix + tag + ":members" }

// tierKey is the set of beneficiaries of a plan in a tier, of one partition (tag).
func (s *Store) tierKey(tag, contract, pbp string, tier int) string {
	return s.prefix + tag + ":tier:" + planid.Key(contract, pbp) + ":" + strconv.Itoa(tier)
}

// Version counts the changes to a profile (for optimistic concurrency).
const fieldVersion = "v"

// applyClaim adds the fill unless the claim is in the profile or was reversed
// (a reversal that came first wins), updates birth date and plan, bumps the
// version and returns {applied, HGETALL}.
var applyClaim = redis.NewScript(`
local applied = 0
if redis.call('HEXISTS', KEYS[1], 'x:' .. ARGV[1]) == 0 then
  applied = redis.call('HSETNX', KEYS[1], 'c:' .. ARGV[1], ARGV[2])
end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'dob', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'plan', ARGV[4]) end
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('SADD', KEYS[2], ARGV[5])
return {applied, redis.call('HGETALL', KEYS[1])}
`)

// applyReversal removes the claim's fill and marks the reversal (a claim that
// arrives later is ignored); {applied, HGETALL}.
var applyReversal = redis.NewScript(`
redis.call('HDEL', KEYS[1], 'c:' .. ARGV[1])
local applied = redis.call('HSETNX', KEYS[1], 'x:' .. ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'plan', ARGV[3]) end
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('SADD', KEYS[2], ARGV[4])
return {applied, redis.call('HGETALL', KEYS[1])}
`)

// applyField sets one field (a condition, a Parts A/B event, an exclusion
// span: the same event again writes the same value), or deletes it when the
// value is empty (deleting a field that is not there changes nothing, and
// creates no profile); {applied, HGETALL}.
var applyField = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  if not old then return {0, redis.call('HGETALL', KEYS[1])} end
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'plan', ARGV[3]) end
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('SADD', KEYS[2], ARGV[4])
local applied = 1
if old == ARGV[2] then applied = 0 end
return {applied, redis.call('HGETALL', KEYS[1])}
`)

// save records the emitted assessment and prunes stale fields, only if the
// profile is still at the version the assessment was computed from.
// KEYS: profile, old tier set, new tier set. ARGV: version, fingerprint ("" to
// keep it), tier, member, stale fields...
var save = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
for i = 5, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'fp', ARGV[2], 'tier', ARGV[3])
  if KEYS[2] ~= KEYS[3] then redis.call('SREM', KEYS[2], ARGV[4]) end
  redis.call('SADD', KEYS[3], ARGV[4])
end
return 1
`)

func decode(member string, v any) (profile.Snapshot, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return profile.Snapshot{}, fmt.Errorf("profile script: unexpected reply %T", v)
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
	return profile.Snapshot{Applied: applied == 1, Profile: p, Hash: h, Version: h[fieldVersion]}, err
}

func (s *Store) run(ctx context.Context, script *redis.Script, member string, args ...any) (profile.Snapshot, error) {
	v, err := script.Run(ctx, s.rdb, []string{s.ProfileKey(member), s.membersKey(s.parts.Of(member))}, args...).Result()
	if err != nil {
		return profile.Snapshot{}, fmt.Errorf("profile update: %w", err)
	}
	return decode(member, v)
}

// ApplyClaim stores a fill.
func (s *Store) ApplyClaim(ctx context.Context, member string, f profile.Fill, birth, plan string) (profile.Snapshot, error) {
	return s.run(ctx, applyClaim, member, f.Key(), profile.EncodeFill(f), birth, plan, member)
}

// ApplyClaims stores the fills of several beneficiaries' claims (at most one
// each) in one pipelined round trip: the same script as ApplyClaim for each,
// run in Redis one after another. Each claim has its snapshot or its error.
func (s *Store) ApplyClaims(ctx context.Context, claims []assess.ClaimFill) ([]profile.Snapshot, []error) {
	snaps := make([]profile.Snapshot, len(claims))
	errs := make([]error, len(claims))
	cmds := make([]*redis.Cmd, len(claims))
	redisx.PipelinedScript(ctx, s.rdb, applyClaim, func(p redis.Pipeliner) {
		for i, c := range claims {
			cmds[i] = applyClaim.EvalSha(ctx, p, []string{s.ProfileKey(c.Member), s.membersKey(s.parts.Of(c.Member))},
				c.Fill.Key(), profile.EncodeFill(c.Fill), c.Birth, c.Plan, c.Member)
		}
	})
	for i, c := range claims {
		v, cerr := cmds[i].Result()
		if cerr != nil {
			errs[i] = fmt.Errorf("profile update: %w", cerr)
			continue
		}
		snaps[i], errs[i] = decode(c.Member, v)
	}
	return snaps, errs
}

// ApplyReversal reverses a claim (on is the reversal date).
func (s *Store) ApplyReversal(ctx context.Context, member, fillKey, on, plan string) (profile.Snapshot, error) {
	return s.run(ctx, applyReversal, member, fillKey, on, plan, member)
}

// ApplyCondition stores a condition.
func (s *Store) ApplyCondition(ctx context.Context, member string, c profile.Condition) (profile.Snapshot, error) {
	return s.run(ctx, applyField, member, profile.ConditionPrefix+c.ID, profile.EncodeCondition(c), "", member)
}

// ApplyMedical stores a Parts A/B event.
func (s *Store) ApplyMedical(ctx context.Context, member string, m profile.MedicalEvent, plan string) (profile.Snapshot, error) {
	return s.run(ctx, applyField, member, profile.MedicalPrefix+m.ID, profile.EncodeMedical(m), plan, member)
}

// ApplyProblem stores a pharmacist-identified problem (its latest state wins).
func (s *Store) ApplyProblem(ctx context.Context, member string, pr profile.Problem, plan string) (profile.Snapshot, error) {
	return s.run(ctx, applyField, member, profile.ProblemPrefix+pr.ID, profile.EncodeProblem(pr), plan, member)
}

// ApplySpan stores an exclusion span (a span without a name removes it).
func (s *Store) ApplySpan(ctx context.Context, member string, sp profile.Span) (profile.Snapshot, error) {
	value := ""
	if sp.Name != "" {
		value = profile.EncodeSpan(sp)
	}
	return s.run(ctx, applyField, member, profile.SpanPrefix+sp.ID, value, "", member)
}

// Save records an emitted assessment (fingerprint "" keeps the last one) and
// removes stale fields, if the profile is still at version. It reports false
// when another event changed the profile meanwhile.
func (s *Store) Save(ctx context.Context, snap profile.Snapshot, fingerprint string, tier int, stale []string) (bool, error) {
	p := snap.Profile
	oldTier := p.Tier
	if oldTier == 0 {
		oldTier = tier
	}
	args := []any{snap.Version, fingerprint, tier, p.MemberID}
	for _, f := range stale {
		args = append(args, f)
	}
	tag := s.parts.Of(p.MemberID)
	n, err := save.Run(ctx, s.rdb, []string{s.ProfileKey(p.MemberID), s.tierKey(tag, p.ContractID, p.PbpID, oldTier), s.tierKey(tag, p.ContractID, p.PbpID, tier)}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("save assessment: %w", err)
	}
	return n == 1, nil
}

// Load reads a profile; found is false when the beneficiary is unknown.
func (s *Store) Load(ctx context.Context, member string) (profile.Snapshot, bool, error) {
	h, err := s.rdb.HGetAll(ctx, s.ProfileKey(member)).Result()
	if err != nil {
		return profile.Snapshot{}, false, fmt.Errorf("load profile: %w", err)
	}
	if len(h) == 0 {
		return profile.Snapshot{}, false, nil
	}
	p, err := profile.FromHash(member, h)
	return profile.Snapshot{Profile: p, Hash: h, Version: h[fieldVersion]}, err == nil, err
}

// Fields returns the stored fields of a profile without the version counter
// (what two stores are compared by).
func (s *Store) Fields(ctx context.Context, member string) (map[string]string, error) {
	h, err := s.rdb.HGetAll(ctx, s.ProfileKey(member)).Result()
	delete(h, fieldVersion)
	return h, err
}

// Fingerprint is the fingerprint of the last assessment emitted ("" for none).
func (s *Store) Fingerprint(ctx context.Context, member string) (string, error) {
	fp, err := s.rdb.HGet(ctx, s.ProfileKey(member), profile.FieldPrint).Result()
	if err == redis.Nil {
		return "", nil
	}
	return fp, err
}

// Size is the memory Redis uses for a profile, in bytes, counted over every
// field (SAMPLES 0): Redis's default estimate from 5 random fields of a large
// hash differs from one call to the next.
func (s *Store) Size(ctx context.Context, member string) (int64, error) {
	n, err := s.rdb.MemoryUsage(ctx, s.ProfileKey(member), 0).Result()
	if err == redis.Nil {
		return 0, nil
	}
	return n, err
}

// assessmentsKey is the hash of the assessments emitted for a member (id -> RiskAssessment).
func (s *Store) assessmentsKey(member string) string {
	return s.prefix + s.parts.Of(member) + ":a:" + member
}

// RecordAssessment implements assess.Store.
func (s *Store) RecordAssessment(ctx context.Context, member string, a *riskv1.RiskAssessment) error {
	b, err := proto.Marshal(a)
	if err != nil {
		return err
	}
	return s.rdb.HSet(ctx, s.assessmentsKey(member), a.AssessmentId, b).Err()
}

// Assessments implements assess.Store: by date, then by when they were made.
func (s *Store) Assessments(ctx context.Context, member string) ([]*riskv1.RiskAssessment, error) {
	h, err := s.rdb.HGetAll(ctx, s.assessmentsKey(member)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*riskv1.RiskAssessment, 0, len(h))
	for id, v := range h {
		a := &riskv1.RiskAssessment{}
		if err := proto.Unmarshal([]byte(v), a); err != nil {
			return nil, fmt.Errorf("assessment %s: %w", id, err)
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := civil.FromProto(out[i].AsOf).Compare(civil.FromProto(out[j].AsOf)); c != 0 {
			return c < 0
		}
		if ti, tj := out[i].GetMeta().GetRecordedAt().AsTime(), out[j].GetMeta().GetRecordedAt().AsTime(); !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return out[i].AssessmentId < out[j].AssessmentId
	})
	return out, nil
}

// Summaries reads the sizes and fingerprints of many profiles in one
// pipeline (a Redis Cluster client splits it by node).
func (s *Store) Summaries(ctx context.Context, members []string, withBytes bool) ([]assess.Summary, error) {
	pipe := s.rdb.Pipeline()
	sizes := make([]*redis.IntCmd, len(members))
	prints := make([]*redis.StringCmd, len(members))
	for i, m := range members {
		if withBytes {
			sizes[i] = pipe.MemoryUsage(ctx, s.ProfileKey(m), 0)
		}
		prints[i] = pipe.HGet(ctx, s.ProfileKey(m), profile.FieldPrint)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, err
	}
	out := make([]assess.Summary, len(members))
	for i := range members {
		if withBytes {
			if n, err := sizes[i].Result(); err == nil {
				out[i].Bytes = n
			} else if err != redis.Nil {
				return nil, err
			}
		}
		if fp, err := prints[i].Result(); err == nil {
			out[i].Fingerprint = fp
		} else if err != redis.Nil {
			return nil, err
		}
	}
	return out, nil
}

// Members lists every beneficiary with a profile.
func (s *Store) Members(ctx context.Context) ([]string, error) {
	return s.parts.Union(ctx, s.rdb, s.membersKey)
}

// MembersByTier lists the beneficiaries of a plan in a tier.
func (s *Store) MembersByTier(ctx context.Context, contract, pbp string, tier int) ([]string, error) {
	return s.parts.Union(ctx, s.rdb, func(tag string) string { return s.tierKey(tag, contract, pbp, tier) })
}

// Shadow is an empty store in a fresh namespace of the same Redis, for a
// rebuild; the caller drops it or makes it the live one (ReplaceFrom).
func (s *Store) Shadow() assess.Store {
	return NewStore(s.rdb, fmt.Sprintf("rsrb:%d:", time.Now().UnixNano()), int(s.parts))
}

// ReplaceFrom makes this store's keys those of other, a Shadow of it:
// redisx.ReplaceNamespace.
func (s *Store) ReplaceFrom(ctx context.Context, other assess.Store) error {
	o, ok := other.(*Store)
	if !ok || o.rdb != s.rdb {
		return fmt.Errorf("replace profiles: %T is not a shadow of this store", other)
	}
	return redisx.ReplaceNamespace(ctx, s.rdb, o.prefix, s.prefix)
}

// reviewsKey is the hash of a partition's completed CMRs (encounter id -> cmr.Review, JSON).
func (s *Store) reviewsKey(tag string) string { return s.prefix + tag + ":cmr" }

// RecordReview implements assess.Store.
func (s *Store) RecordReview(ctx context.Context, r cmr.Review) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.rdb.HSet(ctx, s.reviewsKey(s.parts.Of(r.MemberID)), r.EncounterID, b).Err()
}

// Review implements assess.Store: the encounter id names no member, so every
// partition's hash is asked, in one pipeline.
func (s *Store) Review(ctx context.Context, encounterID string) (cmr.Review, bool, error) {
	pipe := s.rdb.Pipeline()
	var cmds []*redis.StringCmd
	for _, tag := range s.parts.All() {
		cmds = append(cmds, pipe.HGet(ctx, s.reviewsKey(tag), encounterID))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return cmr.Review{}, false, fmt.Errorf("find CMR %s: %w", encounterID, err)
	}
	for _, c := range cmds {
		v, err := c.Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			return cmr.Review{}, false, err
		}
		var r cmr.Review
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			return cmr.Review{}, false, fmt.Errorf("CMR %s: %w", encounterID, err)
		}
		return r, true, nil
	}
	return cmr.Review{}, false, nil
}

// Drop deletes every key of the store.
func (s *Store) Drop(ctx context.Context) error { return redisx.DropNamespace(ctx, s.rdb, s.prefix) }

var _ assess.Store = (*Store)(nil)
