package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
)

// Header names emtm sets on every message.
const (
	HeaderContentType = "Content-Type"
	// HeaderEventType names an event's protobuf message (emtm.claims.v1.PharmacyClaim):
	// emtmctl dlq show decodes a dead letter by it.
	HeaderEventType = "Emtm-Event-Type"
	// HeaderOrderKey is a hash of the beneficiary an event is about: consumers
	// with several workers keep events of one key in order (ConsumerSpec.Workers).
	// A hash, not the member id, so that it says nothing on its own.
	HeaderOrderKey  = "Emtm-Order-Key"
	ContentProtobuf = "application/protobuf"
	ContentJSON     = "application/json"
	// ContentFHIRJSON is FHIR's JSON (a care plan).
	ContentFHIRJSON = "application/fhir+json"
)

// Ack is the stream's acknowledgement of one published message.
type Ack struct {
	Stream    string
	Sequence  uint64
	Duplicate bool // the stream had it already (the same Nats-Msg-Id): stored once
}

// Events is what a use case needs of the bus: publish its events and stamp
// their meta. *Publisher implements it; a use case takes an Events.
type Events interface {
	Publish(ctx context.Context, outs ...Out) ([]Ack, error)
	Meta(ctx context.Context, eventID, causationID string) *typesv1.EventMeta
}

// Out is one message to publish.
type Out struct {
	Subject string
	// MsgID is the Nats-Msg-Id: deterministic, from the event's business identity.
	MsgID string
	// Msg is a protobuf event; Data is used instead when Msg is nil (raw bytes).
	Msg  proto.Message
	Data []byte
	// Header holds extra headers (copied).
	Header nats.Header
}

// Publisher publishes events asynchronously and waits for every acknowledgement.
type Publisher struct {
	js        jetstream.JetStream
	tracer    trace.Tracer
	producer  string
	timeout   time.Duration
	published metric.Int64Counter
}

// NewPublisher returns a publisher for the service named producer.
func NewPublisher(js jetstream.JetStream, tel *otelx.Telemetry, producer string) *Publisher {
	published, _ := tel.Meter("emtm/bus").Int64Counter("emtm.bus.published",
		metric.WithDescription("events stored on a stream by this service (duplicate=true: dropped by the stream's duplicate window)"))
	return &Publisher{js: js, tracer: tel.Tracer("emtm/bus"), producer: producer, timeout: 10 * time.Second, published: published}
}

// Meta builds the EventMeta of an event this service produces in ctx.
func (p *Publisher) Meta(ctx context.Context, eventID, causationID string) *typesv1.EventMeta {
	return NewMeta(ctx, p.producer, eventID, causationID)
}

// NewMeta builds an EventMeta carrying the trace id of ctx.
func NewMeta(ctx context.Context, producer, eventID, causationID string) *typesv1.EventMeta {
	return &typesv1.EventMeta{
		EventId:     eventID,
		Producer:    producer,
		RecordedAt:  timestamppb.Now(),
		TraceId:     otelx.TraceID(ctx),
		CausationId: causationID,
	}
}

// Publish sends every message asynchronously, then waits until the stream has
// stored each one (a duplicate Nats-Msg-Id counts as stored). It returns the
// acknowledgements in order. Callers acknowledge their input only after Publish
// returns nil, so an output is never lost.
func (p *Publisher) Publish(ctx context.Context, outs ...Out) ([]Ack, error) {
	type pending struct {
		fut  jetstream.PubAckFuture
		span trace.Span
	}
	pend := make([]pending, 0, len(outs))
	endAll := func(err error) {
		for _, pd := range pend {
			if err != nil {
				pd.span.RecordError(err)
				pd.span.SetStatus(codes.Error, "publish failed")
			}
			pd.span.End()
		}
	}
	for _, o := range outs {
		if o.MsgID == "" {
			endAll(nil)
			return nil, fmt.Errorf("publish to %s: empty Nats-Msg-Id", o.Subject)
		}
		data := o.Data
		hdr := nats.Header{}
		for k, v := range o.Header {
			hdr[k] = append([]string(nil), v...)
		}
		if o.Msg != nil {
			b, err := proto.Marshal(o.Msg)
			if err != nil {
				endAll(nil)
				return nil, fmt.Errorf("marshal %T: %w", o.Msg, err)
			}
			data = b
			hdr.Set(HeaderContentType, ContentProtobuf)
			hdr.Set(HeaderEventType, string(o.Msg.ProtoReflect().Descriptor().FullName()))
			if m, ok := o.Msg.(interface{ GetMemberId() string }); ok && m.GetMemberId() != "" && hdr.Get(HeaderOrderKey) == "" {
				hdr.Set(HeaderOrderKey, OrderKey(m.GetMemberId()))
			}
		}
		sctx, span := p.tracer.Start(ctx, "publish "+o.Subject, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(
				attribute.String("messaging.system", "nats"),
				attribute.String("messaging.operation.type", "send"),
				attribute.String("messaging.destination.name", o.Subject),
				attribute.Int("messaging.message.body.size", len(data)),
			))
		otel.GetTextMapPropagator().Inject(sctx, HeaderCarrier(hdr))
		fut, err := p.js.PublishMsgAsync(&nats.Msg{Subject: o.Subject, Data: data, Header: hdr}, jetstream.WithMsgID(o.MsgID))
		if err != nil {
			span.RecordError(err)
			span.End()
			endAll(nil)
			return nil, fmt.Errorf("publish to %s: %w", o.Subject, err)
		}
		pend = append(pend, pending{fut, span})
	}
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	acks := make([]Ack, len(pend))
	var errs []error
	for i, pd := range pend {
		select {
		case ack := <-pd.fut.Ok():
			acks[i] = Ack{Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}
			p.published.Add(ctx, 1, metric.WithAttributes(attribute.String("stream", ack.Stream), attribute.Bool("duplicate", ack.Duplicate)))
			pd.span.SetAttributes(attribute.Int64("messaging.nats.stream_sequence", int64(ack.Sequence)),
				attribute.Bool("messaging.nats.duplicate", ack.Duplicate))
		case err := <-pd.fut.Err():
			errs = append(errs, fmt.Errorf("publish to %s: %w", pd.fut.Msg().Subject, err))
			pd.span.RecordError(err)
			pd.span.SetStatus(codes.Error, "not stored")
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("publish to %s: %w", pd.fut.Msg().Subject, ctx.Err()))
		case <-timer.C:
			errs = append(errs, fmt.Errorf("publish to %s: no acknowledgement within %s", pd.fut.Msg().Subject, p.timeout))
		}
		if len(errs) > 0 {
			endAll(nil)
			return nil, errors.Join(errs...)
		}
	}
	endAll(nil)
	return acks, nil
}

// WaitComplete waits (bounded by ctx) until every asynchronous publish has an answer.
func (p *Publisher) WaitComplete(ctx context.Context) {
	select {
	case <-p.js.PublishAsyncComplete():
	case <-ctx.Done():
	}
}
