// Package outreach records, per prescriber, the drug therapy problems they can
// act on: one item per problem, patient and prescriber in a year, created once
// and published through an outbox.
package outreach

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/pseudonym"
	"github.com/emtm/emtm/libs/redisx"
)

// Publisher publishes to the bus.
type Publisher interface {
	Publish(ctx context.Context, outs ...bus.Out) ([]*jetstream.PubAck, error)
	Meta(ctx context.Context, eventID, causationID string) *typesv1.EventMeta
}

// Redis keys.
const keyCount = "po:count:items"

func itemKey(id string) string           { return "po:item:" + id }
func prescriberKey(npi string) string    { return "po:prescriber:" + npi }
func problemCountKey(code string) string { return "po:count:problem:" + code }

// ItemID is deterministic: the same problem for the same patient goes to the
// same prescriber once per year.
func ItemID(npi, member, problemKey string, year int) string {
	return fmt.Sprintf("out/%s/%s/%s/%d", npi, member, problemKey, year)
}

// Recorder runs the use case.
type Recorder struct {
	rdb        *redis.Client
	pub        Publisher
	partitions int
	hasher     *pseudonym.Hasher
}

// New returns a Recorder.
func New(rdb *redis.Client, pub Publisher, partitions int, hasher *pseudonym.Hasher) *Recorder {
	return &Recorder{rdb: rdb, pub: pub, partitions: partitions, hasher: hasher}
}

// OnAssessment records an item for each problem and each prescriber who can act on it.
func (r *Recorder) OnAssessment(ctx context.Context, a *riskv1.RiskAssessment) error {
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("emtm.beneficiary", r.hasher.Of(a.MemberId)))
	on := civil.FromProto(a.AsOf)
	for _, p := range a.Problems {
		for _, npi := range p.PrescriberNpis {
			id := ItemID(npi, a.MemberId, p.Key, on.Year)
			item := &outreachv1.OutreachItem{
				ItemId: id, PrescriberNpi: npi, MemberId: a.MemberId, ProblemCode: p.Code,
				Description: p.Description, Recommendation: p.Recommendation, ClaimIds: p.ClaimIds,
				AssessmentId: a.AssessmentId, CreatedOn: a.AsOf, Status: outreachv1.OutreachStatus_OUTREACH_STATUS_PENDING,
				ContractId: a.ContractId, PbpId: a.PbpId,
			}
			item.Meta = r.pub.Meta(ctx, id, a.GetMeta().GetEventId())
			pb, err := proto.Marshal(item)
			if err != nil {
				return err
			}
			state, err := redisx.CreateOnce(ctx, r.rdb, itemKey(id), []string{"pb", string(pb)},
				redisx.IndexOp{Cmd: "ZADD", Key: prescriberKey(npi), Member: id, Score: float64(on.Year*10000 + int(on.Month)*100 + on.Day)},
				redisx.IndexOp{Cmd: "INCRBY", Key: keyCount, Member: "1"},
				redisx.IndexOp{Cmd: "INCRBY", Key: problemCountKey(p.Code), Member: "1"})
			if err != nil {
				return err
			}
			if state == redisx.Published {
				continue
			}
			if state == redisx.Unpublished {
				stored, err := r.rdb.HGet(ctx, itemKey(id), "pb").Result()
				if err != nil {
					return err
				}
				item = &outreachv1.OutreachItem{}
				if err := proto.Unmarshal([]byte(stored), item); err != nil {
					return bus.Permanent(fmt.Errorf("stored item %s unreadable: %w", id, err))
				}
			}
			if _, err := r.pub.Publish(ctx, bus.Out{Subject: bus.OutreachSubject(bus.Partition(a.MemberId, r.partitions)), MsgID: id, Msg: item}); err != nil {
				return err
			}
			if err := redisx.MarkPublished(ctx, r.rdb, itemKey(id)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ByPrescriber lists a prescriber's items, newest first.
func (r *Recorder) ByPrescriber(ctx context.Context, npi string, limit int) ([]*outreachv1.OutreachItem, error) {
	ids, err := r.rdb.ZRevRange(ctx, prescriberKey(npi), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*outreachv1.OutreachItem, 0, len(ids))
	for _, id := range ids {
		pb, err := r.rdb.HGet(ctx, itemKey(id), "pb").Result()
		if err != nil {
			return nil, err
		}
		var it outreachv1.OutreachItem
		if err := proto.Unmarshal([]byte(pb), &it); err != nil {
			return nil, fmt.Errorf("item %s unreadable: %w", id, err)
		}
		out = append(out, &it)
	}
	return out, nil
}

// Counts returns the number of items in total and per problem code.
func (r *Recorder) Counts(ctx context.Context, codes []string) (int64, map[string]int64, error) {
	total, err := r.rdb.Get(ctx, keyCount).Int64()
	if err != nil && err != redis.Nil {
		return 0, nil, err
	}
	keys := make([]string, len(codes))
	for i, c := range codes {
		keys[i] = problemCountKey(c)
	}
	vals, err := r.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return 0, nil, err
	}
	by := map[string]int64{}
	for i, v := range vals {
		s, _ := v.(string)
		if n, _ := strconv.ParseInt(s, 10, 64); n > 0 {
			by[codes[i]] = n
		}
	}
	return total, by, nil
}
