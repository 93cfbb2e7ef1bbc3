package ports

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
)

// ExportedStreams are the streams of the events ingestion publishes, in the
// order an export prefers when two events were stored at the same instant:
// a member's enrollment before the claims it covers.
var ExportedStreams = []string{bus.StreamEnrollment, bus.StreamMedical, bus.StreamClaims, bus.StreamEncounters}

// exportBatch bounds one response: events and bytes.
const (
	exportBatch      = 500
	exportBatchBytes = 2 << 20
)

// ExportEvents streams the events of ExportedStreams up to the last one each
// held when the call began, merged by the time they were stored.
func (g *GRPC) ExportEvents(req *ingestionv1.ExportEventsRequest, ss ingestionv1.IngestionService_ExportEventsServer) error {
	ctx := ss.Context()
	w, err := windowOf(req)
	if err != nil {
		return err
	}
	var heads []*exportReader
	var stored uint64
	defer func() {
		for _, h := range heads {
			h.stop()
		}
	}()
	for _, name := range ExportedStreams {
		r, n, err := openExport(ctx, g.js, name)
		if err != nil {
			return status.Errorf(codes.Unavailable, "stream %s: %v", name, err)
		}
		stored += n
		if r != nil {
			heads = append(heads, r)
		}
	}
	resp := &ingestionv1.ExportEventsResponse{Stored: stored}
	size := 0
	flush := func() error {
		if len(resp.Events) == 0 && resp.Read < stored {
			return nil
		}
		err := ss.Send(resp)
		resp = &ingestionv1.ExportEventsResponse{Stored: stored, Read: resp.Read}
		size = 0
		return err
	}
	for len(heads) > 0 {
		// The reader whose next event was stored first (ties: ExportedStreams' order).
		i := 0
		for j := 1; j < len(heads); j++ {
			if heads[j].next.StoredAt.AsTime().Before(heads[i].next.StoredAt.AsTime()) {
				i = j
			}
		}
		ev := heads[i].next
		resp.Read++
		if w.keeps(ev) {
			resp.Events = append(resp.Events, ev)
			size += len(ev.Data)
		}
		done, err := heads[i].advance(ctx)
		if err != nil {
			return status.Errorf(codes.Unavailable, "stream %s: %v", ev.Stream, err)
		}
		if done {
			heads[i].stop()
			heads = append(heads[:i], heads[i+1:]...)
		}
		if len(resp.Events) >= exportBatch || size >= exportBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// exportReader reads one stream in order with an ordered consumer, up to the
// last sequence the stream held when it was opened.
type exportReader struct {
	stream string
	last   uint64
	it     jetstream.MessagesContext
	next   *ingestionv1.RecordedEvent
}

// openExport opens a reader on stream and reads its first event (nil: the
// stream is empty), with the number of events it holds.
func openExport(ctx context.Context, js jetstream.JetStream, stream string) (*exportReader, uint64, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, 0, err
	}
	state := st.CachedInfo().State
	if state.Msgs == 0 {
		return nil, 0, nil
	}
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, 0, err
	}
	it, err := c.Messages(jetstream.PullMaxMessages(exportBatch))
	if err != nil {
		return nil, 0, err
	}
	r := &exportReader{stream: stream, last: state.LastSeq, it: it}
	if _, err := r.advance(ctx); err != nil {
		r.stop()
		return nil, 0, err
	}
	return r, state.Msgs, nil
}

// advance reads the next event into r.next; done when the last one has been read.
func (r *exportReader) advance(ctx context.Context) (done bool, err error) {
	if r.next != nil && r.next.Sequence >= r.last {
		return true, nil
	}
	stop := context.AfterFunc(ctx, r.it.Stop) // a caller gone stops the read
	defer stop()
	m, err := r.it.Next()
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, err
	}
	md, err := m.Metadata()
	if err != nil {
		return false, err
	}
	ev := &ingestionv1.RecordedEvent{Stream: r.stream, Sequence: md.Sequence.Stream, Subject: m.Subject(),
		Data: m.Data(), StoredAt: timestamppb.New(md.Timestamp), Headers: map[string]string{}}
	for k, v := range m.Headers() {
		if len(v) > 0 {
			ev.Headers[k] = v[0]
		}
	}
	r.next = ev
	return false, nil
}

func (r *exportReader) stop() { r.it.Stop() }

// window is an export's dates (zero: unbounded).
type window struct{ from, to civil.Date }

func windowOf(req *ingestionv1.ExportEventsRequest) (window, error) {
	w := window{}
	var bad []*errdetails.BadRequest_FieldViolation
	for _, f := range []struct {
		name string
		in   *typesv1.Date
		dst  *civil.Date
	}{{"from", req.GetFrom(), &w.from}, {"to", req.GetTo(), &w.to}} {
		if f.in == nil {
			continue
		}
		d := civil.FromProto(f.in)
		if !d.Valid() {
			bad = append(bad, &errdetails.BadRequest_FieldViolation{Field: f.name, Reason: "DATE_INVALID", Description: f.name + " is not a calendar date"})
			continue
		}
		*f.dst = d
	}
	if len(bad) == 0 && !w.from.IsZero() && !w.to.IsZero() && w.to.Before(w.from) {
		bad = append(bad, &errdetails.BadRequest_FieldViolation{Field: "to", Reason: "DATE_ORDER", Description: fmt.Sprintf("to (%s) is before from (%s)", w.to, w.from)})
	}
	if len(bad) > 0 {
		st := status.New(codes.InvalidArgument, bad[0].Description)
		if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: bad}); err == nil {
			st = d
		}
		return w, st.Err()
	}
	return w, nil
}

// in reports whether d falls within the window (an unknown date does).
func (w window) in(d civil.Date) bool {
	if d.IsZero() {
		return true
	}
	return (w.from.IsZero() || !d.Before(w.from)) && (w.to.IsZero() || !d.After(w.to))
}

// overlaps reports whether the span start..end (end zero: open) meets the window.
func (w window) overlaps(start, end civil.Date) bool {
	return (w.to.IsZero() || start.IsZero() || !start.After(w.to)) && (w.from.IsZero() || end.IsZero() || !end.Before(w.from))
}

// keeps reports whether an exported event is dated within the window: a
// claim, reversal or encounter by its date of service, a Parts A/B summary
// by its admission (else its month's first day), an enrollment span or a
// condition when it lasts into the window. An event that cannot be read is
// kept: the replay handles it as the live pipeline did.
func (w window) keeps(ev *ingestionv1.RecordedEvent) bool {
	if w.from.IsZero() && w.to.IsZero() {
		return true
	}
	read := func(m proto.Message) bool { return proto.Unmarshal(ev.Data, m) == nil }
	switch {
	case bus.ClaimPaid.Matches(ev.Subject):
		c := &claimsv1.PharmacyClaim{}
		return !read(c) || w.in(civil.FromProto(c.GetDateOfService()))
	case bus.ClaimReversed.Matches(ev.Subject):
		c := &claimsv1.ClaimReversal{}
		return !read(c) || w.in(civil.FromProto(c.GetReversalDate()))
	case bus.Encounter.Matches(ev.Subject):
		e := &encountersv1.MtmEncounter{}
		return !read(e) || w.in(civil.FromProto(e.GetServiceDate()))
	case bus.PartsAB.Matches(ev.Subject):
		s := &medicalv1.PartsAbSummary{}
		if !read(s) {
			return true
		}
		d := civil.FromProto(s.GetAdmitDate())
		if d.IsZero() && s.GetServiceMonth() != nil {
			d = civil.FromProto(&typesv1.Date{Year: s.GetServiceMonth().GetYear(), Month: s.GetServiceMonth().GetMonth(), Day: 1})
		}
		return w.in(d)
	case bus.Condition.Matches(ev.Subject):
		c := &medicalv1.Condition{}
		return !read(c) || w.overlaps(civil.FromProto(c.GetOnsetDate()), civil.FromProto(c.GetResolvedDate()))
	case bus.Enrollment.Matches(ev.Subject):
		e := &enrollmentv1.Enrollment{}
		return !read(e) || w.overlaps(civil.FromProto(e.GetStartDate()), civil.FromProto(e.GetEndDate()))
	}
	return true
}
