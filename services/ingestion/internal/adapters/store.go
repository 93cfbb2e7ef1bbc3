// Package adapters holds ingestion's Redis state: idempotency keys and the
// index of rejections (the rejections themselves live on EMTM_REJECTIONS).
package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/civil"
	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/services/ingestion/internal/intake"
	"github.com/emtm/emtm/services/ingestion/internal/validate"
)

// Store implements intake.Store on Redis. Keys changed together share a
// Redis Cluster hash tag: a member's awaiting submissions and the indexes of
// its partition carry the partition's; the rejection index and the held
// reversals (rare, and about no one member) have a tag of their own each.
type Store struct {
	rdb   redis.UniversalClient
	parts redisx.Partitions
}

// NewStore returns a Store for a deployment of partitions partitions.
func NewStore(rdb redis.UniversalClient, partitions int) *Store {
	return &Store{rdb: rdb, parts: redisx.Partitions(partitions)}
}

// Keys.
func idemKey(key string) string { return "ing:idem:" + key }

const (
	rejectionsKey  = "ing:{rej}:rejections" // zset: raw seq -> rejection id
	rejectionSeqs  = "ing:{rej}:seq"        // hash: rejection id -> EMTM_REJECTIONS sequence
	rejectionKind  = "ing:{rej}:kind"       // hash: rejection id -> kind
	rejectionFixed = "ing:{rej}:resolved"   // hash: rejection id -> event id of the accepted resubmission
	rejectionLast  = "ing:{rej}:last"       // hash: rejection id -> rejection id of the latest failed resubmission
	rejectionTries = "ing:{rej}:tries"      // hash: rejection id -> resubmissions
	rejectionDone  = "ing:{rej}:handled"    // hash: rejection id -> "<when> by <caller>: <note>"
	rejectionClaim = "ing:{rej}:byclaim"    // zset (all scores 0): "<claim id>\x00<rejection id>" of rejected claims, read by lexical range
	heldKey        = "ing:{held}:held"      // hash: claim ref (npi:claim id) -> held reversal
	heldSinceKey   = "ing:{held}:since"     // zset: claim ref by the unix time it was held
)

func claimKey(ref string) string { return "ing:claim:" + ref } // "member|contract|pbp|date of service"

// journeyKey holds where the claims of one claim id went, by pharmacy NPI
// (hash: npi -> journeyRecord in JSON; two pharmacies may use one claim id).
func journeyKey(claimID string) string { return "ing:journey:" + claimID }

// journeyRecord is a ClaimRecord as stored.
type journeyRecord struct {
	Member     string    `json:"member"`
	Contract   string    `json:"contract"`
	PBP        string    `json:"pbp"`
	Date       string    `json:"date"`
	EventID    string    `json:"event"`
	TraceID    string    `json:"trace,omitempty"`
	RawSeq     uint64    `json:"raw_seq"`
	ClaimSeq   uint64    `json:"claim_seq"`
	RecordedAt time.Time `json:"at"`
}

// Of a partition (tag): submissions awaiting their member's enrollment.
func awaitKey(tag string) string      { return "ing:" + tag + ":await" }       // hash: raw seq -> submission (JSON)
func awaitSinceKey(tag string) string { return "ing:" + tag + ":await:since" } // zset: raw seq by the unix time it began waiting

// awaitMemberKey is the set of raw seqs of the member's awaiting submissions.
func (s *Store) awaitMemberKey(member string) string {
	return "ing:" + s.parts.Of(member) + ":await:m:" + member
}

func spansKey(member string) string { return "ing:enr:" + member }

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

// FirstRejection implements intake.Store.
func (s *Store) FirstRejection(ctx context.Context, key, id string) (string, error) {
	k := "ing:rejected:" + key
	ok, err := s.rdb.SetNX(ctx, k, id, 0).Result()
	if err != nil {
		return "", fmt.Errorf("rejection identity: %w", err)
	}
	if ok {
		return id, nil
	}
	first, err := s.rdb.Get(ctx, k).Result()
	if err != nil {
		return "", fmt.Errorf("rejection identity: %w", err)
	}
	return first, nil
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
		ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: rejectionsKey, Start: start, Stop: start + int64(limit) - 1, Rev: true}).Result()
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

// Spans implements intake.Store: the member's known enrollment spans.
func (s *Store) Spans(ctx context.Context, member string) ([]validate.Span, error) {
	h, err := s.rdb.HGetAll(ctx, spansKey(member)).Result()
	if err != nil {
		return nil, fmt.Errorf("enrollment spans: %w", err)
	}
	return parseSpans(h)
}

// SpansAndReserve implements intake.Store: the members' spans read and the
// keys reserved in one pipeline (sent again once the reservation's script is
// loaded, should Redis have forgotten it).
func (s *Store) SpansAndReserve(ctx context.Context, members, keys, hashes []string) ([][]validate.Span, []error, []intake.ReserveState, []error) {
	spans := make([][]validate.Span, len(members))
	serrs := make([]error, len(members))
	states := make([]intake.ReserveState, len(keys))
	rerrs := make([]error, len(keys))
	reads := make([]*redis.MapStringStringCmd, len(members))
	reserves := make([]*redis.Cmd, len(keys))
	redisx.PipelinedScript(ctx, s.rdb, reserveScript, func(p redis.Pipeliner) {
		for i, m := range members {
			if m != "" {
				reads[i] = p.HGetAll(ctx, spansKey(m))
			}
		}
		for i, k := range keys {
			reserves[i] = reserveScript.EvalSha(ctx, p, []string{idemKey(k)}, hashes[i])
		}
	})
	for i, cmd := range reads {
		if cmd == nil {
			continue
		}
		h, err := cmd.Result()
		if err != nil {
			serrs[i] = fmt.Errorf("enrollment spans: %w", err)
			continue
		}
		spans[i], serrs[i] = parseSpans(h)
	}
	for i, cmd := range reserves {
		n, err := cmd.Int()
		if err != nil {
			rerrs[i] = fmt.Errorf("idempotency reserve: %w", err)
			continue
		}
		states[i] = intake.ReserveState(n)
	}
	return spans, serrs, states, rerrs
}

// parseSpans reads a member's stored spans (enrollment id -> "start|end|contract|pbp").
func parseSpans(h map[string]string) ([]validate.Span, error) {
	var err error
	out := make([]validate.Span, 0, len(h))
	for _, v := range h {
		parts := strings.Split(v, "|")
		if len(parts) != 4 {
			return nil, fmt.Errorf("enrollment span %q malformed", v)
		}
		sp := validate.Span{Contract: parts[2], PBP: parts[3]}
		if sp.Start, err = civil.Parse(parts[0]); err != nil {
			return nil, err
		}
		if parts[1] != "" {
			if sp.End, err = civil.Parse(parts[1]); err != nil {
				return nil, err
			}
		}
		out = append(out, sp)
	}
	return out, nil
}

// RecordSpan implements intake.Store: a later version of an enrollment replaces the earlier one.
func (s *Store) RecordSpan(ctx context.Context, member, enrollmentID string, sp validate.Span) error {
	end := ""
	if !sp.End.IsZero() {
		end = sp.End.String()
	}
	v := sp.Start.String() + "|" + end + "|" + sp.Contract + "|" + sp.PBP
	if err := s.rdb.HSet(ctx, spansKey(member), enrollmentID, v).Err(); err != nil {
		return fmt.Errorf("record enrollment span: %w", err)
	}
	return nil
}

// unreserveScript deletes a reservation only while it is pending with the given hash.
var unreserveScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Unreserve implements intake.Store.
func (s *Store) Unreserve(ctx context.Context, key, hash string) error {
	if err := unreserveScript.Run(ctx, s.rdb, []string{idemKey(key)}, hash).Err(); err != nil {
		return fmt.Errorf("idempotency unreserve: %w", err)
	}
	return nil
}

func journeyOf(r intake.ClaimRecord) ([]byte, error) {
	return json.Marshal(journeyRecord{Member: r.Facts.Member, Contract: r.Facts.Contract, PBP: r.Facts.PBP, Date: r.Facts.Date.String(),
		EventID: r.EventID, TraceID: r.TraceID, RawSeq: r.RawSeq, ClaimSeq: r.ClaimSeq, RecordedAt: r.RecordedAt.UTC()})
}

// CompleteClaim implements intake.Store: the claim's journey record (HSETNX:
// the first stays), the completion, its facts and the held reversal, in one
// MULTI/EXEC (on a single Redis; four round trips on a Redis Cluster).
func (s *Store) CompleteClaim(ctx context.Context, key, hash string, r intake.ClaimRecord) (intake.Held, bool, error) {
	b, err := journeyOf(r)
	if err != nil {
		return intake.Held{}, false, err
	}
	ref := intake.ClaimRef(r.PharmacyNPI, r.ClaimID)
	if _, cluster := s.rdb.(*redis.ClusterClient); cluster {
		// On a Redis Cluster the four keys live in different slots, where no
		// transaction spans them: the same writes one at a time, in the order
		// a crash between two is mended in (the journey before the completion;
		// a redelivery that finds the claim complete records its facts and
		// takes its held reversal again).
		if err := s.rdb.HSetNX(ctx, journeyKey(r.ClaimID), r.PharmacyNPI, b).Err(); err != nil {
			return intake.Held{}, false, fmt.Errorf("record claim journey: %w", err)
		}
		if err := s.Complete(ctx, key, hash); err != nil {
			return intake.Held{}, false, err
		}
		if err := s.RecordClaim(ctx, ref, r.Facts); err != nil {
			return intake.Held{}, false, err
		}
		return heldOf(ref, s.rdb.HGet(ctx, heldKey, ref))
	}
	var held *redis.StringCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSetNX(ctx, journeyKey(r.ClaimID), r.PharmacyNPI, b)
		p.Set(ctx, idemKey(key), "d:"+hash, 0)
		p.Set(ctx, claimKey(ref), claimFacts(r.Facts), 0)
		held = p.HGet(ctx, heldKey, ref)
		return nil
	})
	if err != nil && err != redis.Nil {
		return intake.Held{}, false, fmt.Errorf("complete claim: %w", err)
	}
	return heldOf(ref, held)
}

// CompleteClaims implements intake.Store: CompleteClaim of several claims in
// one MULTI/EXEC (one at a time on a Redis Cluster, as CompleteClaim).
func (s *Store) CompleteClaims(ctx context.Context, cs []intake.Completion) ([]intake.Held, []bool, []error) {
	helds := make([]intake.Held, len(cs))
	isHeld := make([]bool, len(cs))
	errs := make([]error, len(cs))
	if len(cs) == 0 {
		return helds, isHeld, errs
	}
	if _, cluster := s.rdb.(*redis.ClusterClient); cluster {
		for i, c := range cs {
			helds[i], isHeld[i], errs[i] = s.CompleteClaim(ctx, c.Key, c.Hash, c.Record)
		}
		return helds, isHeld, errs
	}
	journeys := make([][]byte, len(cs))
	for i, c := range cs {
		b, err := journeyOf(c.Record)
		if err != nil {
			for j := range errs {
				errs[j] = err
			}
			return helds, isHeld, errs
		}
		journeys[i] = b
	}
	held := make([]*redis.StringCmd, len(cs))
	writes := make([][]redis.Cmder, len(cs))
	_, _ = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range cs {
			r := c.Record
			ref := intake.ClaimRef(r.PharmacyNPI, r.ClaimID)
			writes[i] = []redis.Cmder{
				p.HSetNX(ctx, journeyKey(r.ClaimID), r.PharmacyNPI, journeys[i]),
				p.Set(ctx, idemKey(c.Key), "d:"+c.Hash, 0),
				p.Set(ctx, claimKey(ref), claimFacts(r.Facts), 0),
			}
			held[i] = p.HGet(ctx, heldKey, ref)
		}
		return nil
	})
	// Each command carries its own result (a failed transaction's error on each).
	for i, c := range cs {
		for _, w := range writes[i] {
			if err := w.Err(); err != nil {
				errs[i] = fmt.Errorf("complete claim: %w", err)
				break
			}
		}
		if errs[i] == nil {
			helds[i], isHeld[i], errs[i] = heldOf(intake.ClaimRef(c.Record.PharmacyNPI, c.Record.ClaimID), held[i])
		}
	}
	return helds, isHeld, errs
}

// heldOf reads an HGET of the held reversals: none, one, or an error.
func heldOf(ref string, cmd *redis.StringCmd) (intake.Held, bool, error) {
	v, err := cmd.Result()
	if err == redis.Nil {
		return intake.Held{}, false, nil
	}
	if err != nil {
		return intake.Held{}, false, fmt.Errorf("held reversal: %w", err)
	}
	h, err := decodeHeld(ref, v)
	return h, err == nil, err
}

// RecordClaimRejection implements intake.Store.
func (s *Store) RecordClaimRejection(ctx context.Context, claimID, rejectionID string) error {
	if err := s.rdb.ZAddNX(ctx, rejectionClaim, redis.Z{Member: claimID + "\x00" + rejectionID}).Err(); err != nil {
		return fmt.Errorf("record claim rejection: %w", err)
	}
	return nil
}

// ClaimJourneys implements intake.Store, by pharmacy NPI.
func (s *Store) ClaimJourneys(ctx context.Context, claimID string) ([]intake.ClaimRecord, []string, error) {
	h, err := s.rdb.HGetAll(ctx, journeyKey(claimID)).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("claim journeys: %w", err)
	}
	npis := make([]string, 0, len(h))
	for f := range h {
		npis = append(npis, f)
	}
	sort.Strings(npis)
	rej, err := s.rdb.ZRangeByLex(ctx, rejectionClaim, &redis.ZRangeBy{Min: "[" + claimID + "\x00", Max: "(" + claimID + "\x01"}).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("claim rejections: %w", err)
	}
	rejections := make([]string, 0, len(rej))
	for _, m := range rej {
		rejections = append(rejections, strings.TrimPrefix(m, claimID+"\x00"))
	}
	out := make([]intake.ClaimRecord, 0, len(npis))
	for _, npi := range npis {
		var j journeyRecord
		if err := json.Unmarshal([]byte(h[npi]), &j); err != nil {
			return nil, nil, fmt.Errorf("claim journey record malformed: %w", err)
		}
		d, err := civil.Parse(j.Date)
		if err != nil {
			return nil, nil, fmt.Errorf("claim journey record: %w", err)
		}
		out = append(out, intake.ClaimRecord{PharmacyNPI: npi, ClaimID: claimID, Facts: intake.ClaimFacts{Member: j.Member, Contract: j.Contract, PBP: j.PBP, Date: d},
			EventID: j.EventID, TraceID: j.TraceID, RawSeq: j.RawSeq, ClaimSeq: j.ClaimSeq, RecordedAt: j.RecordedAt})
	}
	return out, rejections, nil
}

// RecordClaim implements intake.Store.
func (s *Store) RecordClaim(ctx context.Context, ref string, f intake.ClaimFacts) error {
	if err := s.rdb.Set(ctx, claimKey(ref), claimFacts(f), 0).Err(); err != nil {
		return fmt.Errorf("record claim: %w", err)
	}
	return nil
}

func claimFacts(f intake.ClaimFacts) string {
	return f.Member + "|" + f.Contract + "|" + f.PBP + "|" + f.Date.String()
}

// Claim implements intake.Store: the facts of a published claim.
func (s *Store) Claim(ctx context.Context, ref string) (intake.ClaimFacts, bool, error) {
	v, err := s.rdb.Get(ctx, claimKey(ref)).Result()
	if err == redis.Nil {
		return intake.ClaimFacts{}, false, nil
	}
	if err != nil {
		return intake.ClaimFacts{}, false, fmt.Errorf("claim facts: %w", err)
	}
	parts := strings.Split(v, "|")
	if len(parts) != 4 {
		return intake.ClaimFacts{}, false, fmt.Errorf("claim facts of %s malformed", ref)
	}
	d, err := civil.Parse(parts[3])
	if err != nil {
		return intake.ClaimFacts{}, false, fmt.Errorf("claim facts of %s: %w", ref, err)
	}
	return intake.ClaimFacts{Member: parts[0], Contract: parts[1], PBP: parts[2], Date: d}, true, nil
}

// Hold implements intake.Store (idempotent: a held reversal stays as first held).
func (s *Store) Hold(ctx context.Context, h intake.Held) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSetNX(ctx, heldKey, h.Ref(), encodeHeld(h))
		p.ZAddNX(ctx, heldSinceKey, redis.Z{Score: float64(h.Since.Unix()), Member: h.Ref()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("hold reversal: %w", err)
	}
	return nil
}

// TakeHeld implements intake.Store: the held reversal of a claim, if any (not removed).
func (s *Store) TakeHeld(ctx context.Context, ref string) (intake.Held, bool, error) {
	return heldOf(ref, s.rdb.HGet(ctx, heldKey, ref))
}

// Release implements intake.Store.
func (s *Store) Release(ctx context.Context, ref string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, heldKey, ref)
		p.ZRem(ctx, heldSinceKey, ref)
		return nil
	})
	if err != nil {
		return fmt.Errorf("release reversal: %w", err)
	}
	return nil
}

// Await implements intake.Store.
func (s *Store) Await(ctx context.Context, a intake.Awaiting) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	seq, tag := strconv.FormatUint(a.RawSeq, 10), s.parts.Of(a.Member)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSetNX(ctx, awaitKey(tag), seq, b)
		p.ZAddNX(ctx, awaitSinceKey(tag), redis.Z{Score: float64(a.Since.Unix()), Member: seq})
		p.SAdd(ctx, s.awaitMemberKey(a.Member), seq)
		return nil
	})
	if err != nil {
		return fmt.Errorf("keep submission awaiting enrollment: %w", err)
	}
	return nil
}

// awaiting reads the awaiting submissions seqs of one partition (tag).
func (s *Store) awaiting(ctx context.Context, tag string, seqs []string) ([]intake.Awaiting, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	vals, err := s.rdb.HMGet(ctx, awaitKey(tag), seqs...).Result()
	if err != nil {
		return nil, err
	}
	out := make([]intake.Awaiting, 0, len(vals))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var a intake.Awaiting
		if err := json.Unmarshal([]byte(str), &a); err != nil {
			return nil, fmt.Errorf("awaiting submission %s malformed: %w", seqs[i], err)
		}
		out = append(out, a)
	}
	return out, nil
}

// AwaitingOf implements intake.Store: the member's awaiting submissions, in raw order.
func (s *Store) AwaitingOf(ctx context.Context, member string) ([]intake.Awaiting, error) {
	seqs, err := s.rdb.SMembers(ctx, s.awaitMemberKey(member)).Result()
	if err != nil {
		return nil, err
	}
	sort.Slice(seqs, func(i, j int) bool {
		a, _ := strconv.ParseUint(seqs[i], 10, 64)
		b, _ := strconv.ParseUint(seqs[j], 10, 64)
		return a < b
	})
	return s.awaiting(ctx, s.parts.Of(member), seqs)
}

// ListAwaiting implements intake.Store: awaiting submissions, oldest first
// (by when they began waiting, then by raw sequence), over every partition.
func (s *Store) ListAwaiting(ctx context.Context, limit int) ([]intake.Awaiting, error) {
	var out []intake.Awaiting
	for _, tag := range s.parts.All() {
		seqs, err := s.rdb.ZRange(ctx, awaitSinceKey(tag), 0, int64(limit)-1).Result()
		if err != nil {
			return nil, err
		}
		as, err := s.awaiting(ctx, tag, seqs)
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].RawSeq < out[j].RawSeq
	})
	return out[:min(len(out), limit)], nil
}

// Unawait implements intake.Store.
func (s *Store) Unawait(ctx context.Context, a intake.Awaiting) error {
	seq, tag := strconv.FormatUint(a.RawSeq, 10), s.parts.Of(a.Member)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, awaitKey(tag), seq)
		p.ZRem(ctx, awaitSinceKey(tag), seq)
		p.SRem(ctx, s.awaitMemberKey(a.Member), seq)
		return nil
	})
	if err != nil {
		return fmt.Errorf("release awaiting submission: %w", err)
	}
	return nil
}

// ListHeld implements intake.Store: held reversals, oldest first.
func (s *Store) ListHeld(ctx context.Context, limit int) ([]intake.Held, error) {
	ids, err := s.rdb.ZRange(ctx, heldSinceKey, 0, int64(limit)-1).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	vals, err := s.rdb.HMGet(ctx, heldKey, ids...).Result()
	if err != nil {
		return nil, err
	}
	out := make([]intake.Held, 0, len(ids))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		h, err := decodeHeld(ids[i], str)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// encodeHeld: "<unix seconds>|<raw seq>|<hash>|<pharmacy npi>|<reversal bytes>".
func encodeHeld(h intake.Held) string {
	return fmt.Sprintf("%d|%d|%s|%s|%s", h.Since.Unix(), h.RawSeq, h.Hash, h.PharmacyNPI, h.Reversal)
}

func decodeHeld(ref, v string) (intake.Held, error) {
	_, claimID, _ := strings.Cut(ref, ":")
	parts := strings.SplitN(v, "|", 5)
	if len(parts) != 5 {
		return intake.Held{}, fmt.Errorf("held reversal of %s malformed", claimID)
	}
	since, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.ParseUint(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return intake.Held{}, fmt.Errorf("held reversal of %s malformed", claimID)
	}
	return intake.Held{ClaimID: claimID, Since: time.Unix(since, 0).UTC(), RawSeq: seq, Hash: parts[2], PharmacyNPI: parts[3], Reversal: []byte(parts[4])}, nil
}

// NextResubmission implements intake.Store: counts attempts to resubmit a rejection.
func (s *Store) NextResubmission(ctx context.Context, rejectionID string) (int64, error) {
	return s.rdb.HIncrBy(ctx, rejectionTries, rejectionID, 1).Result()
}

// ResolveRejection implements intake.Store.
func (s *Store) ResolveRejection(ctx context.Context, rejectionID, eventID string) error {
	return s.rdb.HSet(ctx, rejectionFixed, rejectionID, eventID).Err()
}

// ReRejected implements intake.Store.
func (s *Store) ReRejected(ctx context.Context, rejectionID, newRejectionID string) error {
	return s.rdb.HSet(ctx, rejectionLast, rejectionID, newRejectionID).Err()
}

// MarkHandled records an operator's mark on a rejection (the latest wins).
func (s *Store) MarkHandled(ctx context.Context, rejectionID, mark string) error {
	return s.rdb.HSet(ctx, rejectionDone, rejectionID, mark).Err()
}

// Statuses returns what became of each rejection.
func (s *Store) Statuses(ctx context.Context, ids []string) (resolved, last, handled []string, tries []int64, err error) {
	resolved, last, handled, tries = make([]string, len(ids)), make([]string, len(ids)), make([]string, len(ids)), make([]int64, len(ids))
	if len(ids) == 0 {
		return
	}
	var done []any
	if done, err = s.rdb.HMGet(ctx, rejectionDone, ids...).Result(); err != nil {
		return
	}
	for i := range ids {
		handled[i], _ = done[i].(string)
	}
	var fixed, lastRej, n []any
	if fixed, err = s.rdb.HMGet(ctx, rejectionFixed, ids...).Result(); err != nil {
		return
	}
	if lastRej, err = s.rdb.HMGet(ctx, rejectionLast, ids...).Result(); err != nil {
		return
	}
	if n, err = s.rdb.HMGet(ctx, rejectionTries, ids...).Result(); err != nil {
		return
	}
	for i := range ids {
		resolved[i], _ = fixed[i].(string)
		last[i], _ = lastRej[i].(string)
		if v, ok := n[i].(string); ok {
			tries[i], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return
}
