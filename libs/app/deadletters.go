package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/emtm/emtm/libs/bus"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	"github.com/emtm/emtm/libs/grpcx"
)

// deadLetters serves emtm.ops.v1.DeadLetterService for the runtime's own
// consumers: it reads their dead letters back from EMTM_DLQ (an ordered
// consumer per dead-letter subject, which is all NATS lets a service read
// there) and hands one to its consumer again.
type deadLetters struct {
	opsv1.UnimplementedDeadLetterServiceServer
	rt *Runtime
}

// subjects are the service's dead-letter subjects that hold messages, with their counts.
func (d deadLetters) subjects(ctx context.Context) (map[string]uint64, error) {
	st, err := d.rt.JS.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(bus.DeadLetter.Filter()))
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for subj, n := range info.State.Subjects {
		if durable, ok := bus.DeadLetter.Parse(subj); ok && d.owner(durable[0]) != nil {
			out[subj] = n
		}
	}
	return out, nil
}

// owner is the runtime's consumer of a durable (one partition's name), or nil.
func (d deadLetters) owner(durable string) *bus.Consumer {
	for _, c := range d.rt.consumers {
		if c.Owns(durable) {
			return c
		}
	}
	return nil
}

// read reads up to max dead letters of one subject from sequence from (0: the first).
func (d deadLetters) read(ctx context.Context, subject string, from uint64, max int) ([]jetstream.Msg, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}}
	if from > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	cons, err := d.rt.JS.OrderedConsumer(ctx, bus.StreamDLQ, cfg)
	if err != nil {
		return nil, err
	}
	var out []jetstream.Msg
	batch, err := cons.Fetch(max, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		return nil, err
	}
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out, batch.Error()
}

func proto(m jetstream.Msg) *opsv1.DeadLetter {
	h := m.Headers()
	dl := &opsv1.DeadLetter{Consumer: h.Get(bus.HeaderDLQConsumer), Stream: h.Get(bus.HeaderDLQStream), Subject: h.Get(bus.HeaderDLQSubject),
		Error: h.Get(bus.HeaderDLQError)}
	dl.StreamSequence, _ = strconv.ParseUint(h.Get(bus.HeaderDLQSequence), 10, 64)
	dl.Deliveries, _ = strconv.ParseInt(h.Get(bus.HeaderDLQDeliveries), 10, 64)
	if md, err := m.Metadata(); err == nil {
		dl.Sequence, dl.DeadAt = md.Sequence.Stream, timestamppb.New(md.Timestamp)
	}
	return dl
}

func (d deadLetters) ListDeadLetters(ctx context.Context, req *opsv1.ListDeadLettersRequest) (*opsv1.ListDeadLettersResponse, error) {
	limit, err := grpcx.Limit(req.GetLimit(), 100, 1000)
	if err != nil {
		return nil, err
	}
	subjects, err := d.subjects(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dead letters: %v", err)
	}
	out := &opsv1.ListDeadLettersResponse{}
	names := make([]string, 0, len(subjects))
	for s, n := range subjects {
		names = append(names, s)
		out.Total += int64(n)
	}
	sort.Strings(names)
	for _, s := range names {
		ms, err := d.read(ctx, s, 0, min(int(subjects[s]), 1000))
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "dead letters of %s: %v", s, err)
		}
		for _, m := range ms {
			out.DeadLetters = append(out.DeadLetters, proto(m))
		}
	}
	sort.Slice(out.DeadLetters, func(i, j int) bool { return out.DeadLetters[i].Sequence > out.DeadLetters[j].Sequence })
	if len(out.DeadLetters) > limit {
		out.DeadLetters = out.DeadLetters[:limit]
	}
	return out, nil
}

func (d deadLetters) RedeliverDeadLetter(ctx context.Context, req *opsv1.RedeliverDeadLetterRequest) (*opsv1.RedeliverDeadLetterResponse, error) {
	c := d.owner(req.GetConsumer())
	if c == nil {
		return nil, grpcx.BadField("consumer", fmt.Sprintf("%q is not a consumer of %s", req.GetConsumer(), d.rt.Name))
	}
	if req.GetSequence() == 0 {
		return nil, grpcx.BadField("sequence", "required: the dead letter's EMTM_DLQ sequence")
	}
	ms, err := d.read(ctx, bus.DeadLetterSubject(req.GetConsumer()), req.GetSequence(), 1)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, status.Errorf(codes.Unavailable, "dead letter: %v", err)
	}
	if len(ms) == 0 {
		return nil, status.Errorf(codes.NotFound, "no dead letter %d of %s", req.GetSequence(), req.GetConsumer())
	}
	m := ms[0]
	dl := proto(m)
	if dl.Sequence != req.GetSequence() {
		return nil, status.Errorf(codes.NotFound, "no dead letter %d of %s", req.GetSequence(), req.GetConsumer())
	}
	if err := c.HandleDeadLetter(ctx, &bus.Msg{Subject: m.Subject(), Data: m.Data(), Header: m.Headers()}); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "%s failed again: %v (the dead letter stays)", req.GetConsumer(), err)
	}
	d.rt.Log.Info("dead letter redelivered", "consumer", req.GetConsumer(), "dlq_sequence", req.GetSequence())
	return &opsv1.RedeliverDeadLetterResponse{DeadLetter: dl}, nil
}
