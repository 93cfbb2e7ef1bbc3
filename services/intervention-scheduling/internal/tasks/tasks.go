// Package tasks turns assessments into intervention tasks: one task per
// beneficiary, kind and period (its id says so), created once and published
// through an outbox so that neither the task nor its event is lost or doubled.
package tasks

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/pseudonym"
	"github.com/emtm/emtm/libs/redisx"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/policy"
)

// Publisher publishes to the bus.
type Publisher interface {
	Publish(ctx context.Context, outs ...bus.Out) ([]*jetstream.PubAck, error)
	Meta(ctx context.Context, eventID, causationID string) *typesv1.EventMeta
}

// Redis keys.
const (
	keyAll       = "is:tasks"           // zset: task id by due date (YYYYMMDD)
	keyScheduled = "is:count:scheduled" // counter of tasks ever scheduled
)

func taskKey(id string) string { return "is:task:" + id }

// countKey counts the tasks of a kind currently in a status.
func countKey(status schedulingv1.TaskStatus, kind schedulingv1.TaskKind) string {
	return "is:count:" + status.String() + ":" + kind.String()
}
func memberKey(member string) string { return "is:member:" + member }

// TaskID is deterministic: one task per beneficiary, kind and period.
func TaskID(member string, kind int, period string) string {
	return "task/" + member + "/" + policy.KindName(kind) + "/" + period
}

// Scheduler runs the use case.
type Scheduler struct {
	rdb        *redis.Client
	pub        Publisher
	partitions int
	hasher     *pseudonym.Hasher
}

// New returns a Scheduler.
func New(rdb *redis.Client, pub Publisher, partitions int, hasher *pseudonym.Hasher) *Scheduler {
	return &Scheduler{rdb: rdb, pub: pub, partitions: partitions, hasher: hasher}
}

// OnAssessment schedules the interventions the assessment's tier calls for.
func (s *Scheduler) OnAssessment(ctx context.Context, a *riskv1.RiskAssessment) error {
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("emtm.beneficiary", s.hasher.Of(a.MemberId)))
	on := civil.FromProto(a.AsOf)
	if !on.Valid() {
		return bus.Permanent(fmt.Errorf("assessment %s has no valid as_of date", a.AssessmentId))
	}
	for _, t := range policy.ForTier(int(a.Tier), on) {
		id := TaskID(a.MemberId, t.Kind, t.Period)
		task := &schedulingv1.InterventionTask{
			TaskId: id, MemberId: a.MemberId, ContractId: a.ContractId, PbpId: a.PbpId,
			Kind: schedulingv1.TaskKind(t.Kind), Status: schedulingv1.TaskStatus_TASK_STATUS_SCHEDULED,
			Priority: int32(t.Priority), ScheduledOn: on.Proto(), DueDate: t.Due.Proto(),
			Tier: a.Tier, Reason: t.Reason, AssessmentId: a.AssessmentId, Period: t.Period,
		}
		eventID := id + "@scheduled"
		task.Meta = s.pub.Meta(ctx, eventID, a.GetMeta().GetEventId())
		pb, err := proto.Marshal(task)
		if err != nil {
			return err
		}
		due, _ := strconv.ParseFloat(fmt.Sprintf("%04d%02d%02d", t.Due.Year, int(t.Due.Month), t.Due.Day), 64)
		state, err := redisx.CreateOnce(ctx, s.rdb, taskKey(id),
			[]string{"pb", string(pb), "status", task.Status.String()},
			redisx.IndexOp{Cmd: "ZADD", Key: keyAll, Member: id, Score: due},
			redisx.IndexOp{Cmd: "SADD", Key: memberKey(a.MemberId), Member: id},
			redisx.IndexOp{Cmd: "INCRBY", Key: keyScheduled, Member: "1"},
			redisx.IndexOp{Cmd: "INCRBY", Key: countKey(task.Status, task.Kind), Member: "1"})
		if err != nil {
			return err
		}
		if state == redisx.Published {
			continue // the task exists and its event is stored: at most one per period
		}
		if state == redisx.Unpublished {
			// Publish the stored version, not a new one: the event matches the record.
			stored, err := s.rdb.HGet(ctx, taskKey(id), "pb").Result()
			if err != nil {
				return err
			}
			task = &schedulingv1.InterventionTask{}
			if err := proto.Unmarshal([]byte(stored), task); err != nil {
				return bus.Permanent(fmt.Errorf("stored task %s unreadable: %w", id, err))
			}
		}
		if _, err := s.pub.Publish(ctx, bus.Out{Subject: bus.TaskSubject(bus.Partition(a.MemberId, s.partitions)), MsgID: eventID, Msg: task}); err != nil {
			return err
		}
		if err := redisx.MarkPublished(ctx, s.rdb, taskKey(id)); err != nil {
			return err
		}
	}
	return nil
}

// List returns tasks, earliest due first, for a member (or all), optionally by status.
func (s *Scheduler) List(ctx context.Context, member string, status schedulingv1.TaskStatus, limit int) ([]*schedulingv1.InterventionTask, error) {
	var ids []string
	var err error
	if member != "" {
		ids, err = s.rdb.SMembers(ctx, memberKey(member)).Result()
	} else {
		ids, err = s.rdb.ZRange(ctx, keyAll, 0, -1).Result()
	}
	if err != nil {
		return nil, err
	}
	var out []*schedulingv1.InterventionTask
	for _, id := range ids {
		vals, err := s.rdb.HMGet(ctx, taskKey(id), "pb", "status").Result()
		if err != nil {
			return nil, err
		}
		pb, _ := vals[0].(string)
		var t schedulingv1.InterventionTask
		if err := proto.Unmarshal([]byte(pb), &t); err != nil {
			return nil, fmt.Errorf("task %s unreadable: %w", id, err)
		}
		if st, _ := vals[1].(string); st != "" {
			t.Status = schedulingv1.TaskStatus(schedulingv1.TaskStatus_value[st])
		}
		if status != schedulingv1.TaskStatus_TASK_STATUS_UNSPECIFIED && t.Status != status {
			continue
		}
		out = append(out, &t)
	}
	sort.SliceStable(out, func(i, j int) bool {
		di, dj := civil.FromProto(out[i].DueDate), civil.FromProto(out[j].DueDate)
		if c := di.Compare(dj); c != 0 {
			return c < 0
		}
		return out[i].TaskId < out[j].TaskId
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Counts returns the non-zero task counts by kind and status, and the number
// of tasks ever scheduled.
func (s *Scheduler) Counts(ctx context.Context) ([]*schedulingv1.TaskCount, int64, error) {
	type combo struct {
		st schedulingv1.TaskStatus
		k  schedulingv1.TaskKind
	}
	var combos []combo
	keys := []string{keyScheduled}
	for st := range schedulingv1.TaskStatus_name {
		for k := range schedulingv1.TaskKind_name {
			if st == 0 || k == 0 {
				continue
			}
			c := combo{schedulingv1.TaskStatus(st), schedulingv1.TaskKind(k)}
			combos = append(combos, c)
			keys = append(keys, countKey(c.st, c.k))
		}
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, 0, err
	}
	num := func(v any) int64 {
		str, _ := v.(string)
		n, _ := strconv.ParseInt(str, 10, 64)
		return n
	}
	var out []*schedulingv1.TaskCount
	for i, c := range combos {
		if n := num(vals[i+1]); n != 0 {
			out = append(out, &schedulingv1.TaskCount{Kind: c.k, Status: c.st, Count: n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Status < out[j].Status
	})
	return out, num(vals[0]), nil
}
